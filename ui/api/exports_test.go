package api_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func parseCSV(t *testing.T, body string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err, body)
	return recs
}

func column(t *testing.T, recs [][]string, name string) []string {
	t.Helper()
	i := -1
	for j, h := range recs[0] {
		if h == name {
			i = j
		}
	}
	require.GreaterOrEqual(t, i, 0, "no column %q in %v", name, recs[0])
	var out []string
	for _, r := range recs[1:] {
		out = append(out, r[i])
	}
	return out
}

func TestJourneyCSVExportsAPI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	jid := uitest.ExportScenario(t, b)
	reader := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	both := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "profiles:read")

	res := b.Call("GET", "/api/v1/journeys/"+jid+"/runs.csv", reader, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	require.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	require.Contains(t, res.Header.Get("Content-Disposition"), `attachment; filename="waymark-runs-`)
	recs := parseCSV(t, string(res.Body))
	require.Equal(t, []string{"run_id", "journey_id", "version", "profile_external_id", "status", "current_node", "entered_at",
		"updated_at", "finished_at", "converted_at", "conversion_value", "error"}, recs[0], "no personal columns without profiles:read")
	require.Len(t, recs, 3)
	require.ElementsMatch(t, []string{"'=1+1", "bob"}, column(t, recs, "profile_external_id"), "the formula is defused")
	require.ElementsMatch(t, []string{store.RunCompleted, store.RunFailed}, column(t, recs, "status"))
	require.NotContains(t, string(res.Body), "example.com")

	res = b.Call("GET", "/api/v1/journeys/"+jid+"/runs.csv", both, nil)
	require.Equal(t, 200, res.Status)
	recs = parseCSV(t, string(res.Body))
	require.ElementsMatch(t, []string{"ada@example.com", "bob@example.com"}, column(t, recs, "email"))
	require.Contains(t, column(t, recs, "phone"), "'+15550001", "a leading + is defused too")

	res = b.Call("GET", "/api/v1/journeys/"+jid+"/deliveries.csv", reader, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	recs = parseCSV(t, string(res.Body))
	require.NotContains(t, recs[0], "recipient")
	require.NotContains(t, recs[0], "subject")
	require.Equal(t, []string{"hello"}, column(t, recs, "node_id"), "late's connector cannot be resolved: no message")
	require.NotContains(t, string(res.Body), "example.com")
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/deliveries.csv", both, nil)
	recs = parseCSV(t, string(res.Body))
	require.Equal(t, []string{"ada@example.com"}, column(t, recs, "recipient"))
	require.Equal(t, []string{"Hi"}, column(t, recs, "subject"))

	// The period: entries far in the past or future match nothing.
	for _, q := range []string{"?from=2000-01-01&to=2000-01-02", "?from=2999-01-01", "?to=2000-01-01T00:00:00Z"} {
		for _, kind := range []string{"runs", "deliveries"} {
			res = b.Call("GET", "/api/v1/journeys/"+jid+"/"+kind+".csv"+q, reader, nil)
			require.Equal(t, 200, res.Status, string(res.Body))
			require.Len(t, parseCSV(t, string(res.Body)), 1, "%s%s: the header only", kind, q)
		}
	}
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/runs.csv?from=2000-01-01&to=2999-12-31", reader, nil)
	require.Len(t, parseCSV(t, string(res.Body)), 3)

	// Errors and access.
	for q, code := range map[string]int{"?from=yesterday": 400, "?from=2026-02-02&to=2026-02-01": 400} {
		res = b.Call("GET", "/api/v1/journeys/"+jid+"/runs.csv"+q, reader, nil)
		require.Equal(t, code, res.Status, q)
		require.Contains(t, string(res.Body), `"invalid_period"`)
	}
	res = b.Call("GET", "/api/v1/journeys/nope/runs.csv", reader, nil)
	require.Equal(t, 404, res.Status)
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/runs.csv", b.APIKey(store.DefaultWorkspaceID, "events:write"), nil)
	require.Equal(t, 403, res.Status)
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/deliveries.csv", b.APIKey("other-ws", "journeys:read"), nil)
	require.Equal(t, 404, res.Status, "another workspace's journey")
}

func TestJourneyCSVExportsUI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	jid := uitest.ExportScenario(t, b)
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)

	anon := b.Client()
	resp, _ := anon.Get("/journeys/" + jid + "/runs.csv")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "sign in first")

	vi := b.Client()
	vi.Login("vi@example.com", "correct horse battery")
	resp, body := vi.Get("/journeys/" + jid + "/runs.csv")
	require.Equal(t, 200, resp.StatusCode, body)
	recs := parseCSV(t, body)
	require.NotContains(t, recs[0], "email", "viewers do not read profiles")
	require.Len(t, recs, 3)
	resp, body = vi.Get("/journeys/" + jid + "/deliveries.csv")
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, body, "example.com")

	ed := b.Client()
	ed.Login("ed@example.com", "correct horse battery")
	resp, body = ed.Get("/journeys/" + jid + "/runs.csv?from=2000-01-01")
	require.Equal(t, 200, resp.StatusCode)
	require.ElementsMatch(t, []string{"ada@example.com", "bob@example.com"}, column(t, parseCSV(t, body), "email"))
	resp, _ = ed.Get("/journeys/" + jid + "/deliveries.csv?to=bad")
	require.Equal(t, 400, resp.StatusCode)
}
