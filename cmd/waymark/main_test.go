package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
)

// syncBuffer is a goroutine-safe buffer for a running command's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type result struct {
	code           int
	stdout, stderr string
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func runCLI(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: env(vars)}
	code := c.main(context.Background(), args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestHelpListsEveryVariableAndCommand(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "", "--help")
	require.Equal(t, 0, r.code)
	for _, v := range envVars {
		require.Contains(t, r.stdout, v.name)
	}
	for _, cmd := range commands() {
		require.Contains(t, r.stdout, "  "+cmd.name)
	}
	for _, sub := range []string{"serve", "web", "worker", "migrate", "version"} {
		r := runCLI(t, nil, "", sub, "--help")
		require.Equal(t, 0, r.code, sub)
		require.Contains(t, r.stdout, "Usage: waymark "+sub)
		require.Contains(t, r.stdout, "WAYMARK_DATABASE_URL", sub)
	}
	r = runCLI(t, nil, "", "users", "create", "--help")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "-role")
	r = runCLI(t, nil, "", "version")
	require.Equal(t, "waymark dev\n", r.stdout)
}

func TestBadInputIsOneLineAndExit2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"unknown command", nil, []string{"launch"}, `unknown command "launch"`},
		{"unknown flag", nil, []string{"--verbose"}, "unknown flag --verbose"},
		{"unknown subcommand flag", nil, []string{"serve", "--port", "1"}, "flag provided but not defined: -port"},
		{"mysql url", map[string]string{"WAYMARK_DATABASE_URL": "mysql://x/y"}, []string{"migrate"}, `WAYMARK_DATABASE_URL: unsupported database URL scheme "mysql"`},
		{"malformed postgres url", map[string]string{"WAYMARK_DATABASE_URL": "postgres://u:hunter2@host:port/db"}, []string{"serve"}, "WAYMARK_DATABASE_URL: malformed PostgreSQL URL"},
		{"bad redis url", map[string]string{"WAYMARK_DATA_DIR": dir, "WAYMARK_REDIS_URL": "http://x"}, []string{"serve"}, "WAYMARK_REDIS_URL: want redis://"},
		{"bad duration", map[string]string{"WAYMARK_SESSION_MAX_AGE": "forever"}, []string{"serve"}, "WAYMARK_SESSION_MAX_AGE"},
		{"bad int", map[string]string{"WAYMARK_WORKER_CONCURRENCY": "0"}, []string{"worker"}, "WAYMARK_WORKER_CONCURRENCY: want a whole number ≥ 1"},
		{"bad secret", map[string]string{"WAYMARK_SECRET_KEY": "short"}, []string{"serve"}, "WAYMARK_SECRET_KEY: want 32 bytes"},
		{"web on sqlite", map[string]string{"WAYMARK_DATA_DIR": dir}, []string{"web"}, "'waymark web' is split mode"},
		{"worker on embedded redis", map[string]string{"WAYMARK_DATABASE_URL": "postgres://localhost/db"}, []string{"worker"}, "needs WAYMARK_DATABASE_URL=postgres://… and WAYMARK_REDIS_URL"},
		{"postgres without secret key", map[string]string{"WAYMARK_DATABASE_URL": "postgres://localhost/db", "WAYMARK_REDIS_URL": "redis://127.0.0.1:1"}, []string{"web"}, "WAYMARK_SECRET_KEY: required with PostgreSQL"},
		{"users bad role", map[string]string{"WAYMARK_DATA_DIR": dir}, []string{"users", "create", "--email", "a@b.co", "--role", "root"}, "--role: want admin, editor or viewer"},
		{"apikeys bad scope", map[string]string{"WAYMARK_DATA_DIR": dir}, []string{"apikeys", "create", "--name", "x", "--scopes", "god"}, `unknown scope "god"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.vars, "", tt.args...)
			require.Equal(t, 2, r.code, r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			require.NotContains(t, r.stderr, "hunter2", "no passwords in errors")
			require.NotContains(t, r.stderr, "goroutine")
		})
	}
}

func TestUnreachableServicesAreOneLine(t *testing.T) {
	t.Parallel()
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	r := runCLI(t, map[string]string{"WAYMARK_DATABASE_URL": "postgres://nobody@127.0.0.1:1/x?connect_timeout=2", "WAYMARK_REDIS_URL": "redis://127.0.0.1:1", "WAYMARK_SECRET_KEY": key}, "", "web")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "connecting to postgres database")
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)

	dir := t.TempDir()
	r = runCLI(t, map[string]string{"WAYMARK_DATA_DIR": dir, "WAYMARK_REDIS_URL": "redis://127.0.0.1:1", "WAYMARK_LOG_LEVEL": "error"}, "", "serve")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "connecting to Redis at 127.0.0.1:1")
}

// startServe runs `waymark serve` in-process and returns its base URL, its
// log and a stop function that cancels it and returns the exit code.
func startServe(t *testing.T, vars map[string]string, args ...string) (string, *syncBuffer, func() int) {
	t.Helper()
	vars["WAYMARK_LISTEN_ADDR"] = "127.0.0.1:0"
	var out, errb syncBuffer
	addrc := make(chan string, 1)
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: env(vars), onListen: func(a string) { addrc <- a }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- c.main(ctx, args) }()
	select {
	case addr := <-addrc:
		stopped := false
		stop := func() int {
			if stopped {
				return 0
			}
			stopped = true
			cancel()
			return <-done
		}
		t.Cleanup(func() { stop() })
		return "http://" + addr, &errb, stop
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d before listening: %s", code, errb.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("serve did not start: %s", errb.String())
	}
	return "", nil, nil
}

func httpGet(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeEmbeddedMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vars := map[string]string{"WAYMARK_DATA_DIR": dir}

	// Admin tasks work before the first start.
	r := runCLI(t, vars, "", "apikeys", "create", "--name", "ci", "--scopes", "journeys:read,events:write")
	require.Equal(t, 0, r.code, r.stderr)
	key := strings.TrimSpace(r.stdout)
	require.True(t, strings.HasPrefix(key, "wmk_"), key)

	base, log, stop := startServe(t, vars)
	code, body := httpGet(t, base+"/healthz")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"status":"ok"}`, body)
	code, body = httpGet(t, base+"/readyz")
	require.Equal(t, 200, code, body)
	code, body = httpGet(t, base+"/login")
	require.Equal(t, 200, code)
	require.Contains(t, body, "Sign in")
	code, _ = httpGet(t, base+"/")
	require.Equal(t, http.StatusSeeOther, code)
	code, body = httpGet(t, base+"/api/v1/whoami", "Authorization", "Bearer "+key)
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"ci"`)

	logs := log.String()
	require.Contains(t, logs, "single-node mode")
	require.Contains(t, logs, filepath.Join(dir, "waymark.db"))
	require.Contains(t, logs, "setup_url=")
	require.FileExists(t, filepath.Join(dir, "waymark.db"))
	require.FileExists(t, filepath.Join(dir, "secret.key"))
	require.Equal(t, 0, stop())
	require.Contains(t, log.String(), "stopped")

	// The setup link is offered only while no user exists.
	r = runCLI(t, vars, "a very long password\n", "users", "create", "--email", "ada@example.com", "--role", "admin", "--password-stdin")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "created admin user ada@example.com")
	require.NotContains(t, r.stdout, "password (shown once)")
	r = runCLI(t, vars, "", "users", "create", "--email", "ADA@example.com", "--role", "viewer")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "already exists")
	r = runCLI(t, vars, "", "users", "create", "--email", "bob@example.com", "--role", "viewer")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "password (shown once): ")

	_, log, stop = startServe(t, vars)
	require.Equal(t, 0, stop())
	require.NotContains(t, log.String(), "setup_url=")
	require.NotContains(t, log.String(), "applied database migrations", "migrations ran once")
}

func TestSplitModeOnPostgresAndRedis(t *testing.T) {
	t.Parallel()
	pg := testenv.PostgresURL(t)
	rd := testenv.RedisURL(t, testenv.RedisDBCmd)
	vars := map[string]string{
		"WAYMARK_DATABASE_URL": pg, "WAYMARK_REDIS_URL": rd,
		"WAYMARK_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	r := runCLI(t, vars, "", "web")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "run 'waymark migrate' first")

	r = runCLI(t, vars, "", "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `applied \d+ migration\(s\)`, r.stdout)
	r = runCLI(t, vars, "", "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "up to date")

	base, webLog, stopWeb := startServe(t, vars, "web")
	var wout, werr syncBuffer
	wc := &cli{stdin: strings.NewReader(""), stdout: &wout, stderr: &werr, getenv: env(vars)}
	wctx, wcancel := context.WithCancel(context.Background())
	wdone := make(chan int, 1)
	go func() { wdone <- wc.main(wctx, []string{"worker"}) }()

	code, body := httpGet(t, base+"/readyz")
	require.Equal(t, 200, code, body)
	code, _ = httpGet(t, base+"/login")
	require.Equal(t, 200, code)
	require.Contains(t, webLog.String(), "production mode")
	require.Eventually(t, func() bool { return strings.Contains(werr.String(), "worker started") }, 30*time.Second, 50*time.Millisecond, werr.String())
	require.NotContains(t, webLog.String(), "worker started", "web runs no worker")

	wcancel()
	require.Equal(t, 0, <-wdone, werr.String())
	require.Equal(t, 0, stopWeb())
}

// TestServeStopsOnSIGINT runs the real binary and interrupts it, as Ctrl-C would.
func TestServeStopsOnSIGINT(t *testing.T) {
	t.Parallel()
	bin := waymarkBinary(t)

	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "WAYMARK_DATA_DIR="+t.TempDir(), "WAYMARK_LISTEN_ADDR=127.0.0.1:0")
	var logb syncBuffer
	cmd.Stderr = &logb
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { return strings.Contains(logb.String(), "Waymark is listening") }, 60*time.Second, 50*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		require.NoError(t, err, logb.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve did not stop on SIGINT: %s", logb.String())
	}
	require.Contains(t, logb.String(), "shutting down")
	require.Contains(t, logb.String(), "stopped")
}
