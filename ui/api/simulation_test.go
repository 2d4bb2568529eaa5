package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func TestSimulateAPI(t *testing.T) {
	t.Parallel()
	b := uitest.SetupSim(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "profiles:read")
	r := b.Call("POST", "/api/v1/journeys", key, uitest.FlowsTestdata(t, "welcome_series.json"))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	email, tz := "ada@example.com", "Europe/Paris"
	ada, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "ada", Email: &email, Timezone: &tz,
		Attributes: map[string]any{"first_name": "Ada", "country": "FR"}})
	require.NoError(t, err)

	body := `{"start": "2026-06-01T10:00:00Z", "profile_ids": ["ada"],
	  "profiles": [{"external_id": "bob", "email": "bob@example.com", "attributes": {"first_name": "Bob"}}],
	  "entry": {"body": {"plan": "pro"}},
	  "events": [{"profile": "bob", "name": "subscription_started", "properties": {"amount": 49}, "after": "1d"}]}`
	r = b.Call("POST", "/api/v1/journeys/"+id+"/simulate", key, []byte(body))
	require.Equal(t, 200, r.Status, string(r.Body))
	var res sim.Result
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Equal(t, 2, res.Entered)
	require.Equal(t, "done", res.Stopped)
	byID := map[string]sim.ProfileTimeline{}
	for _, tl := range res.Timelines {
		byID[tl.ExternalID] = tl
	}
	adaRun := byID["ada"].Runs[0]
	require.Equal(t, "existing", byID["ada"].Source)
	require.Equal(t, store.RunCompleted, adaRun.Status)
	require.Equal(t, "Welcome to Waymark, Ada!", adaRun.Messages[0].Subject)
	require.Contains(t, adaRun.Messages[0].Body, "signing up on pro")
	require.Equal(t, "is_fr", adaRun.Steps[3].NodeID)
	require.Equal(t, "yes", adaRun.Steps[3].Port)
	require.Equal(t, store.RunExited, byID["bob"].Runs[0].Status)

	// Nothing real happened: no run, no delivery, and Ada is unchanged.
	runs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{})
	require.NoError(t, err)
	require.Empty(t, runs)
	ds, _, err := b.Store.ListDeliveries(b.Ctx, store.DefaultWorkspaceID, store.DeliveryFilter{})
	require.NoError(t, err)
	require.Empty(t, ds)
	_, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "bob")
	require.ErrorIs(t, err, store.ErrNotFound, "a typed profile stays in the simulation")
	got, err := b.Store.GetProfile(b.Ctx, ada.ID)
	require.NoError(t, err)
	require.Equal(t, ada.Attributes, got.Attributes)

	// A document given inline (the editor's canvas) and a cohort.
	doc := strings.Replace(string(uitest.FlowsTestdata(t, "welcome_series.json")), `profile.country == \"FR\"`, `profile.country == \"DE\"`, 1)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/simulate", key, []byte(`{"start": "2026-06-01T10:00:00Z", "document": `+doc+`,
	  "cohort": {"size": 20, "seed": 3, "attributes": {"country": {"values": ["FR", "DE"]}}}}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Equal(t, 20, res.Profiles)
	ports := map[string]int{}
	for _, n := range res.Nodes {
		if n.NodeID == "is_fr" {
			ports = n.Ports
		}
	}
	require.Equal(t, 20, ports["yes"]+ports["no"])
	require.Positive(t, ports["yes"])
	require.Positive(t, ports["no"])
}

func TestSimulateAPIBadInput(t *testing.T) {
	t.Parallel()
	b := uitest.SetupSim(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "profiles:read")
	r := b.Call("POST", "/api/v1/journeys", key, uitest.FlowsTestdata(t, "welcome_series.json"))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	bad := `{"format":1,"name":"Bad","nodes":[{"id":"t","kind":"trigger_event","config":{"event":"x"}},{"id":"c","kind":"condition","config":{"expr":"profile.("}}],"edges":[{"from":"t","to":"c"}]}`
	r = b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(bad))
	require.Equal(t, 201, r.Status, string(r.Body))
	badID := r.JSON(t)["id"].(string)

	for _, tc := range []struct {
		name, path, body string
		status           int
		code, field      string
		nodeID           string
	}{
		{"unknown profile", id, `{"profile_ids": ["nobody"]}`, 400, "invalid_simulation", "profile_ids[0]", ""},
		{"bad event offset", id, `{"profiles": [{"external_id": "x"}], "events": [{"name": "e", "after": "in two days"}]}`, 400, "invalid_simulation", "events[0].after", ""},
		{"negative offset", id, `{"profiles": [{"external_id": "x"}], "events": [{"name": "e", "after": "-1d"}]}`, 400, "invalid_simulation", "events[0].after", ""},
		{"cohort too large", id, `{"cohort": {"size": 501}}`, 400, "invalid_simulation", "cohort.size", ""},
		{"no profiles", id, `{}`, 400, "invalid_simulation", "profiles", ""},
		{"unknown field", id, `{"profile": "x"}`, 400, "bad_request", "", ""},
		{"not json", id, `nope`, 400, "bad_request", "", ""},
		{"invalid draft", badID, `{"profiles": [{"external_id": "x"}]}`, 422, "invalid_journey", "", "c"},
		{"unknown journey", "nope", `{"profiles": [{"external_id": "x"}]}`, 404, "not_found", "", ""},
		{"unknown version", id, `{"version": 7, "profiles": [{"external_id": "x"}]}`, 404, "not_found", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Call("POST", "/api/v1/journeys/"+tc.path+"/simulate", key, []byte(tc.body))
			require.Equal(t, tc.status, r.Status, string(r.Body))
			e := r.JSON(t)["error"].(map[string]any)
			require.Equal(t, tc.code, e["code"], string(r.Body))
			if tc.field != "" || tc.nodeID != "" {
				d := e["details"].([]any)[0].(map[string]any)
				if tc.field != "" {
					require.Equal(t, tc.field, d["field"], string(r.Body))
				}
				if tc.nodeID != "" {
					require.Equal(t, tc.nodeID, d["node_id"], string(r.Body))
				}
			}
		})
	}

	// Existing profiles need profiles:read; typed ones do not.
	readOnly := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	r = b.Call("POST", "/api/v1/journeys/"+id+"/simulate", readOnly, []byte(`{"profile_ids": ["ada"]}`))
	require.Equal(t, 403, r.Status, string(r.Body))
	r = b.Call("POST", "/api/v1/journeys/"+id+"/simulate", readOnly, []byte(`{"profiles": [{"external_id": "x", "email": "x@example.com"}], "horizon": "1h"}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	none := b.APIKey(store.DefaultWorkspaceID, "events:write")
	r = b.Call("POST", "/api/v1/journeys/"+id+"/simulate", none, []byte(`{"profiles": [{"external_id": "x"}]}`))
	require.Equal(t, 403, r.Status, string(r.Body))
}
