package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// TestSandboxEmailTextPart: an email step with an HTML body and a text part
// sends through the sandbox; the sandbox messages API returns both (body:
// the HTML, text: the plain-text part) and the Test inbox page shows the
// text part. Before, the text part was not kept at all.
func TestSandboxEmailTextPart(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "admin")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "Text part", "nodes": [
	  {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
	  {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi {{ profile.first_name }}",
	   "body": "<p>Hello <b>{{ profile.first_name }}</b></p>", "text": "Hello {{ profile.first_name }}, in plain text."}},
	  {"id": "sms", "kind": "send_sms", "config": {"connector": "sandbox", "body": "Code 1234"}}
	 ],
	 "edges": [{"from": "start", "to": "hello"}, {"from": "hello", "port": "out", "to": "sms"}]}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))

	email, phone := "ada@example.com", "+14155550100"
	p, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "ada",
		Email: &email, Phone: &phone, Attributes: map[string]any{"first_name": "Ada"}})
	require.NoError(t, err)
	run, err := b.Engine.Enter(b.Ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: id, ProfileID: p.ID, Event: worker.EntryEvent{Name: "signup"}})
	require.NoError(t, err)
	for i := 0; i < 10; i++ {
		b.Tasks.Mu.Lock()
		ts := b.Tasks.Tasks
		b.Tasks.Tasks = nil
		b.Tasks.Mu.Unlock()
		for _, task := range ts {
			require.NoError(t, b.Engine.ProcessTask(context.Background(), task))
		}
	}
	got, err := b.Store.GetRun(b.Ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, got.Status, got.Error)

	r = b.Call("GET", "/api/v1/sandbox/messages?run_id="+run.ID, key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	var out struct {
		Messages []map[string]any `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &out))
	require.Len(t, out.Messages, 2)
	sms, mail := out.Messages[0], out.Messages[1]
	require.Equal(t, "send_email", mail["kind"])
	require.Equal(t, "Hi Ada", mail["subject"])
	require.Equal(t, "<p>Hello <b>Ada</b></p>", mail["body"])
	require.Equal(t, "Hello Ada, in plain text.", mail["text"])
	require.NotContains(t, mail, "payload", "the text part is not a payload")
	require.Equal(t, "send_sms", sms["kind"])
	require.Equal(t, "Code 1234", sms["body"])
	require.NotContains(t, sms, "text", "an SMS's text is its body")

	c := b.EditorClient(store.RoleAdmin)
	resp, page := c.Get("/test-inbox/" + mail["id"].(string))
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `<pre data-testid="message-text">Hello Ada, in plain text.</pre>`)
	require.Contains(t, page, `data-testid="email-frame"`)
	require.NotContains(t, page, `data-testid="message-payload"`)

	// Erasing the profile blanks the text part with the rest.
	_, err = b.Store.EraseProfile(b.Ctx, store.DefaultWorkspaceID, p.ID)
	require.NoError(t, err)
	r = b.Call("GET", "/api/v1/sandbox/messages?run_id="+run.ID, key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.NotContains(t, string(r.Body), "plain text")
	require.NotContains(t, string(r.Body), "Ada")
}
