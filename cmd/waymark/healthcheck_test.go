package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	handler := func(status int, body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body + "\n"))
		}))
		t.Cleanup(s.Close)
		return s
	}
	ok := handler(200, `{"status":"ok"}`)
	down := handler(503, `{"status":"unavailable","checks":{"database":"ok","redis":"unavailable"}}`)
	dead := "127.0.0.1:" + strconv.Itoa(freePort(t, false))
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

	tests := []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"web answers", map[string]string{"WAYMARK_LISTEN_ADDR": host(ok)}, nil, 0, "ok: http://" + host(ok) + "/healthz"},
		{"ready", map[string]string{"WAYMARK_LISTEN_ADDR": host(ok)}, []string{"--ready"}, 0, "/readyz"},
		{"wildcard host is probed on loopback", map[string]string{"WAYMARK_LISTEN_ADDR": "0.0.0.0:" + strings.Split(host(ok), ":")[1]}, nil, 0, "ok: http://127.0.0.1:"},
		{"worker address when the web one is closed", map[string]string{"WAYMARK_LISTEN_ADDR": dead, "WAYMARK_WORKER_LISTEN_ADDR": host(ok)}, nil, 0, "ok: http://" + host(ok)},
		{"503 names the failing check", map[string]string{"WAYMARK_LISTEN_ADDR": host(down)}, []string{"--ready"}, 1, "answered 503: redis unavailable"},
		{"the first that answers decides", map[string]string{"WAYMARK_LISTEN_ADDR": host(down), "WAYMARK_WORKER_LISTEN_ADDR": host(ok)}, nil, 1, "answered 503"},
		{"nothing listens", map[string]string{"WAYMARK_LISTEN_ADDR": dead}, nil, 1, "no Waymark server answered at http://" + dead + "/healthz"},
		{"--url", nil, []string{"--url", ok.URL + "/healthz"}, 0, "ok: " + ok.URL},
		{"bad config is 1, not 2", map[string]string{"WAYMARK_WORKER_LISTEN_ADDR": "nope"}, nil, 1, "WAYMARK_WORKER_LISTEN_ADDR"},
		{"bad flag is 1, not 2", nil, []string{"--port", "1"}, 1, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.vars, "", append([]string{"healthcheck", "--timeout", "5s"}, tt.args...)...)
			require.Equal(t, tt.code, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			require.Contains(t, r.stdout+r.stderr, tt.want)
		})
	}
}

// TestHealthcheckServe probes a real `waymark serve`.
func TestHealthcheckServe(t *testing.T) {
	t.Parallel()
	base, _, stop := startServe(t, map[string]string{"WAYMARK_DATA_DIR": t.TempDir(), "WAYMARK_LOG_LEVEL": "error"})
	addr := strings.TrimPrefix(base, "http://")
	for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "--ready"}} {
		r := runCLI(t, map[string]string{"WAYMARK_LISTEN_ADDR": addr}, "", args...)
		require.Equal(t, 0, r.code, r.stderr)
	}
	require.Equal(t, 0, stop())
	r := runCLI(t, map[string]string{"WAYMARK_LISTEN_ADDR": addr}, "", "healthcheck")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "no Waymark server answered")
}

// TestWorkerHealthServer runs `waymark worker` with WAYMARK_WORKER_LISTEN_ADDR
// and checks its probes, its metrics and `waymark healthcheck` against it.
func TestWorkerHealthServer(t *testing.T) {
	t.Parallel()
	pg := testenv.PostgresURL(t)
	rd := testenv.RedisURL(t, testenv.RedisDBCmd)
	vars := map[string]string{"WAYMARK_DATABASE_URL": pg, "WAYMARK_REDIS_URL": rd, "WAYMARK_LOG_LEVEL": "error",
		"WAYMARK_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "WAYMARK_WORKER_LISTEN_ADDR": "127.0.0.1:0"}
	r := runCLI(t, vars, "", "migrate")
	require.Equal(t, 0, r.code, r.stderr)

	var errb syncBuffer
	addrc := make(chan string, 1)
	c := &cli{stdin: strings.NewReader(""), stdout: &errb, stderr: &errb, getenv: env(vars), onListen: func(a string) { addrc <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- c.main(ctx, []string{"worker"}) }()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		cancel()
		t.Fatalf("worker exited with %d: %s", code, errb.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("worker did not listen: %s", errb.String())
	}
	base := "http://" + addr
	for _, p := range workerHTTPPaths { // what the worker's probes in deploy/ may use
		code, body := httpGet(t, base+p)
		require.Equal(t, 200, code, "%s: %s", p, body)
	}
	code, body := httpGet(t, base+"/healthz")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"status":"ok"}`, body)
	code, body = httpGet(t, base+"/readyz")
	require.Equal(t, 200, code, body)
	require.JSONEq(t, `{"status":"ok","checks":{"database":"ok","redis":"ok"}}`, body)
	code, body = httpGet(t, base+"/metrics")
	require.Equal(t, 200, code)
	require.Contains(t, body, "go_goroutines")
	require.Contains(t, body, "process_cpu_seconds_total")
	require.NotContains(t, body, "waymark_queue_tasks", "install-wide metrics are the web role's")
	code, _ = httpGet(t, base+"/")
	require.Equal(t, 404, code)

	hc := map[string]string{"WAYMARK_LISTEN_ADDR": "127.0.0.1:" + strconv.Itoa(freePort(t, false)), "WAYMARK_WORKER_LISTEN_ADDR": addr}
	r = runCLI(t, hc, "", "healthcheck", "--ready")
	require.Equal(t, 0, r.code, r.stderr)

	cancel()
	require.Equal(t, 0, <-done, errb.String())
	r = runCLI(t, hc, "", "healthcheck")
	require.Equal(t, 1, r.code)
}
