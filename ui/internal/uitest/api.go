package uitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
)

// apiKey creates a key in workspace ws with scopes and returns it.
func (b *Bundle) APIKey(ws string, scopes ...string) string {
	b.T.Helper()
	_, err := b.Store.EnsureWorkspace(b.Ctx, ws, ws)
	require.NoError(b.T, err)
	key, prefix, hash := auth.NewAPIKey()
	_, err = b.Store.CreateAPIKey(b.Ctx, store.APIKey{WorkspaceID: ws, Name: "test", Prefix: prefix, KeyHash: hash, Scopes: scopes})
	require.NoError(b.T, err)
	return key
}

type APIResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r APIResp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

func (b *Bundle) Call(method, path, key string, body []byte, header ...string) APIResp {
	b.T.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.Server.App().Test(req, -1)
	require.NoError(b.T, err)
	out, _ := io.ReadAll(resp.Body)
	b.CheckOpenAPI(method, path, req.Header, body, resp.StatusCode, resp.Header, out) // openapi_replay_test.go
	return APIResp{Status: resp.StatusCode, Header: resp.Header, Body: out}
}

// FlowsTestdata reads a journey document of flows/testdata.
func FlowsTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(FlowsTestdataDir(), name))
	require.NoError(t, err)
	return b
}

// FlowsTestdataDir is flows/testdata, wherever the test runs.
func FlowsTestdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "flows", "testdata")
}
