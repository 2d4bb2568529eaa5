package ui_test

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIDescribesEveryRoute: every /api/v1 route is in the document,
// with its scope, so the description cannot drift from the routes.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.server.App().Test(httptest.NewRequest("GET", "/api/v1/openapi.json", nil), -1)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "public, no key needed")
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	n := 0
	for _, rt := range b.server.App().GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Method == "HEAD" {
			continue
		}
		p := param.ReplaceAllString(rt.Path, "{$1}")
		op, ok := doc.Paths[p][strings.ToLower(rt.Method)]
		require.True(t, ok, "%s %s is not in the OpenAPI document: add it to apiOps in ui/openapi.go", rt.Method, p)
		require.NotEmpty(t, op["summary"])
		n++
	}
	require.Greater(t, n, 20)
	events := doc.Paths["/api/v1/events"]["post"]
	require.Contains(t, mustMarshal(t, events["security"]), "events:write")
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
