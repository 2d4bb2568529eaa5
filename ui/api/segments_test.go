package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

type segmentAnswer struct {
	ID    string         `json:"id"`
	Name  string         `json:"name"`
	Expr  string         `json:"expr"`
	Rules map[string]any `json:"rules"`
	Error struct {
		Code    string `json:"code"`
		Details []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

func segmentResp(t *testing.T, r uitest.APIResp) segmentAnswer {
	t.Helper()
	var a segmentAnswer
	require.NoError(t, json.Unmarshal(r.Body, &a), string(r.Body))
	return a
}

// The segments API: create from rules and from an expression, errors
// naming the rule, scopes, the estimate (its sample only with
// profiles:read), update, delete and in-use refusal. Every exchange is
// checked against the OpenAPI document by the harness.
func TestSegmentsAPI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	ws := store.DefaultWorkspaceID
	write := b.APIKey(ws, "journeys:read", "journeys:write", "profiles:read")
	read := b.APIKey(ws, "journeys:read")
	for i, plan := range []string{"pro", "pro", "free"} {
		_, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: ws, ExternalID: []string{"a", "b", "c"}[i], Attributes: map[string]any{"plan": plan, "age": 20 + i}})
		require.NoError(t, err)
	}

	res := b.Call("POST", "/api/v1/segments", write, []byte(`{"name": "pros", "description": "paying", "rules": {"match": "all", "rules": [
		{"attribute": "plan", "type": "string", "op": "is", "value": "pro"}]}}`))
	require.Equal(t, 201, res.Status, string(res.Body))
	pros := segmentResp(t, res)
	require.Equal(t, `profile.plan == "pro"`, pros.Expr)
	require.Equal(t, "all", pros.Rules["match"])

	// A bad rule is named by its path.
	res = b.Call("POST", "/api/v1/segments", write, []byte(`{"name": "old", "rules": {"match": "all", "rules": [
		{"segment": "pros", "op": "in"}, {"field": "email", "op": "exists"}, {"attribute": "age", "type": "number", "op": "gt", "value": "forty"}]}}`))
	require.Equal(t, 422, res.Status, string(res.Body))
	bad := segmentResp(t, res)
	require.Equal(t, "rules[2].value", bad.Error.Details[0].Field)
	require.Equal(t, "must be a number", bad.Error.Details[0].Message)

	res = b.Call("POST", "/api/v1/segments", write, []byte(`{"name": "Pros!", "expr": "true"}`))
	require.Equal(t, 422, res.Status)
	require.Equal(t, "name", segmentResp(t, res).Error.Details[0].Field)
	res = b.Call("POST", "/api/v1/segments", write, []byte(`{"name": "x", "expr": "profile.plan =="}`))
	require.Equal(t, 422, res.Status)
	require.Equal(t, "expr", segmentResp(t, res).Error.Details[0].Field)
	res = b.Call("POST", "/api/v1/segments", write, []byte(`{"name": "x", "expr": "true", "bogus": 1}`))
	require.Equal(t, 400, res.Status)
	res = b.Call("POST", "/api/v1/segments", read, []byte(`{"name": "x", "expr": "true"}`))
	require.Equal(t, 403, res.Status, "journeys:read cannot create")

	res = b.Call("POST", "/api/v1/segments", write, []byte(`{"name": "older_pros", "expr": "in_segment(\"pros\") && profile.age >= 21"}`))
	require.Equal(t, 201, res.Status, string(res.Body))
	older := segmentResp(t, res)

	// Estimates: rules in SQL, an expression by scanning; the sample
	// needs profiles:read.
	res = b.Call("POST", "/api/v1/segments/estimate", write, []byte(`{"rules": {"match": "all", "rules": [{"segment": "pros", "op": "in"}]}}`))
	require.Equal(t, 200, res.Status, string(res.Body))
	var est struct {
		Count  int64  `json:"count"`
		Exact  bool   `json:"exact"`
		Method string `json:"method"`
		Text   string `json:"text"`
		Sample []struct {
			ExternalID string `json:"external_id"`
		} `json:"sample"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &est))
	require.Equal(t, int64(2), est.Count)
	require.Equal(t, "sql", est.Method)
	require.Equal(t, "2 profiles", est.Text)
	require.Len(t, est.Sample, 2)
	res = b.Call("POST", "/api/v1/segments/estimate", read, []byte(`{"expr": "in_segment(\"older_pros\")"}`))
	require.Equal(t, 200, res.Status, string(res.Body))
	require.NoError(t, json.Unmarshal(res.Body, &est))
	require.Equal(t, int64(1), est.Count)
	require.Equal(t, "scan", est.Method)
	require.Empty(t, est.Sample, "no profiles:read: no sample")
	// A segment that reads history is estimated by its real answer: "a"
	// bought twice in the last 30 days, "b" once, "c" never.
	for ext, n := range map[string]int{"a": 2, "b": 1} {
		p, err := b.Store.GetProfileByExternalID(b.Ctx, ws, ext)
		require.NoError(t, err)
		for i := 0; i < n; i++ {
			_, err := b.Store.InsertEvent(b.Ctx, store.Event{WorkspaceID: ws, ProfileID: p.ID, Name: "purchase",
				Properties: map[string]any{"total": 10}, OccurredAt: time.Now().Add(-time.Duration(i+1) * time.Hour)})
			require.NoError(t, err)
		}
	}
	res = b.Call("POST", "/api/v1/segments/estimate", read, []byte(`{"expr": "count(\"purchase\", within(\"30d\")) >= 2"}`))
	require.Equal(t, 200, res.Status, string(res.Body))
	require.NoError(t, json.Unmarshal(res.Body, &est))
	require.Equal(t, int64(1), est.Count, string(res.Body))
	res = b.Call("POST", "/api/v1/segments/estimate", read, []byte(`{"expr": "sum(\"purchase\", \"total\", within(\"30d\")) >= 10"}`))
	require.Equal(t, 200, res.Status, string(res.Body))
	require.NoError(t, json.Unmarshal(res.Body, &est))
	require.Equal(t, int64(2), est.Count, string(res.Body))

	res = b.Call("POST", "/api/v1/segments/estimate", read, []byte(`{"rules": {"match": "all", "rules": [{"consent": "email", "op": "maybe"}]}}`))
	require.Equal(t, 422, res.Status)
	require.Equal(t, "rules[0].op", segmentResp(t, res).Error.Details[0].Field)

	res = b.Call("GET", "/api/v1/segments", read, nil)
	require.Equal(t, 200, res.Status)
	var list struct {
		Segments []segmentAnswer `json:"segments"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &list))
	require.Len(t, list.Segments, 2)
	require.Equal(t, "older_pros", list.Segments[0].Name)
	require.Nil(t, list.Segments[0].Rules, "hand-written")

	// A cycle is refused, naming the rule; a segment in use is not deleted.
	res = b.Call("PUT", "/api/v1/segments/"+pros.ID, write, []byte(`{"name": "pros", "rules": {"match": "any", "rules": [{"segment": "older_pros", "op": "in"}]}}`))
	require.Equal(t, 422, res.Status, string(res.Body))
	cyc := segmentResp(t, res)
	require.Equal(t, "rules[0].segment", cyc.Error.Details[0].Field)
	require.Contains(t, cyc.Error.Details[0].Message, "older_pros → pros")
	res = b.Call("DELETE", "/api/v1/segments/"+pros.ID, write, nil)
	require.Equal(t, 409, res.Status)

	res = b.Call("PUT", "/api/v1/segments/"+pros.ID, write, []byte(`{"name": "pros", "expr": "profile.plan == \"free\""}`))
	require.Equal(t, 200, res.Status, string(res.Body))
	require.Nil(t, segmentResp(t, res).Rules)
	res = b.Call("GET", "/api/v1/segments/"+pros.ID, read, nil)
	require.Equal(t, 200, res.Status)
	require.Equal(t, `profile.plan == "free"`, segmentResp(t, res).Expr)

	require.Equal(t, 204, b.Call("DELETE", "/api/v1/segments/"+older.ID, write, nil).Status)
	require.Equal(t, 204, b.Call("DELETE", "/api/v1/segments/"+pros.ID, write, nil).Status)
	require.Equal(t, 404, b.Call("GET", "/api/v1/segments/"+pros.ID, read, nil).Status)
	require.Equal(t, 404, b.Call("DELETE", "/api/v1/segments/"+pros.ID, write, nil).Status)

	audit, err := b.Store.ListAudit(b.Ctx, ws, store.AuditFilter{})
	require.NoError(t, err)
	actions := map[string]int{}
	for _, e := range audit {
		actions[e.Action]++
	}
	require.Equal(t, 2, actions["segment.create"])
	require.Equal(t, 1, actions["segment.update"])
	require.Equal(t, 2, actions["segment.delete"])
}
