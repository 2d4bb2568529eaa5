package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPprofServesOnLoopback runs `waymark serve` with WAYMARK_PPROF_ADDR on
// loopback: the index answers, and a CPU profile comes back as a gzipped
// protobuf.
func TestPprofServesOnLoopback(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t, false))
	base, logs, stop := startServe(t, map[string]string{"WAYMARK_DATA_DIR": t.TempDir(), "WAYMARK_PPROF_ADDR": addr})
	code, body := httpGet(t, "http://"+addr+"/debug/pprof/")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "goroutine")
	require.Contains(t, logs.String(), "http://"+addr+"/debug/pprof/", "the log says where the profiler is")

	resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err, "a CPU profile is gzipped protobuf")
	_, err = io.ReadAll(zr)
	require.NoError(t, err)

	code, _ = httpGet(t, base+"/debug/pprof/")
	require.Equal(t, 404, code, "the web server itself does not serve the profiler")
	require.Equal(t, 0, stop())
}

func TestPprofAddrRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "[::]:6060", "192.0.2.1:6060", "example.com:6060"} {
		t.Run(addr, func(t *testing.T) {
			r := runCLI(t, map[string]string{"WAYMARK_DATA_DIR": t.TempDir(), "WAYMARK_PPROF_ADDR": addr}, "", "serve")
			require.Equal(t, 2, r.code, r.stderr)
			require.Contains(t, r.stderr, "WAYMARK_PPROF_ADDR: "+addr+" is not a loopback address")
			require.Contains(t, r.stderr, "WAYMARK_PPROF_ALLOW_REMOTE=true")
		})
	}
	for _, addr := range []string{"127.0.0.1:6060", "localhost:6060", "[::1]:6060", "127.0.0.2:0"} {
		_, err := loadConfig(env(map[string]string{"WAYMARK_PPROF_ADDR": addr}))
		require.NoError(t, err, addr)
	}
	cfg, err := loadConfig(env(map[string]string{"WAYMARK_PPROF_ADDR": "0.0.0.0:6060", "WAYMARK_PPROF_ALLOW_REMOTE": "true"}))
	require.NoError(t, err, "the opt-in allows any address")
	require.Equal(t, "0.0.0.0:6060", cfg.PprofAddr)
	_, err = loadConfig(env(map[string]string{"WAYMARK_PPROF_ADDR": "127.0.0.1:6060", "WAYMARK_PPROF_ALLOW_REMOTE": "yes please"}))
	require.ErrorContains(t, err, "WAYMARK_PPROF_ALLOW_REMOTE: want true or false")
	_, err = loadConfig(env(map[string]string{"WAYMARK_PPROF_ADDR": "6060"}))
	require.ErrorContains(t, err, "WAYMARK_PPROF_ADDR: want host:port")
}

// TestPprofRemoteOptIn binds every interface with the opt-in and reaches
// the profiler on loopback.
func TestPprofRemoteOptIn(t *testing.T) {
	t.Parallel()
	port := strconv.Itoa(freePort(t, false))
	_, _, stop := startServe(t, map[string]string{"WAYMARK_DATA_DIR": t.TempDir(), "WAYMARK_PPROF_ADDR": "0.0.0.0:" + port, "WAYMARK_PPROF_ALLOW_REMOTE": "true"})
	code, body := httpGet(t, "http://127.0.0.1:"+port+"/debug/pprof/")
	require.Equal(t, 200, code, body)
	require.Equal(t, 0, stop())
}
