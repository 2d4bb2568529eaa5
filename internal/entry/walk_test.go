package entry_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// A webhook entry walks the run's instant steps in its own commit with
// what it knows of the profile: in the one-commit entry (one statement on
// PostgreSQL, one transaction on SQLite) the fields the trigger maps, in
// the step-by-step path (the profile is upserted first) the whole
// profile. A condition on anything else is decided by the run's first
// task, with the stored profile: either way it sees the profile's
// attributes.
func TestWebhookEntryWalksWithWhatItKnows(t *testing.T) {
	t.Parallel()
	for _, db := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			url := testenv.SQLiteURL(t)
			if db == store.DialectPostgres {
				url = testenv.PostgresURL(t)
			}
			b, eng := setupOn(t, url)

			byEmail := b.publish(t, `{"format": 1, "name": "By email", "settings": {"reentry": "always"}, "nodes": [
				{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.id", "email": "event.body.email"}},
				{"id": "check", "kind": "condition", "config": {"expr": "profile.email == \"ada@example.com\""}},
				{"id": "yes", "kind": "exit", "config": {}}, {"id": "no", "kind": "exit", "config": {}}],
				"edges": [{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "yes"}, {"from": "check", "port": "no", "to": "no"}]}`)
			rc, err := b.svc.Webhook(b.ctx, b.signed(t, byEmail.ID, "msg_1", `{"id": "ada", "email": "Ada@Example.com"}`, nil))
			require.NoError(t, err)
			run, err := b.store.GetRun(b.ctx, rc.RunID)
			require.NoError(t, err)
			require.Equal(t, store.RunCompleted, run.Status, "decided at entry: the entry writes the email")
			require.Equal(t, []string{"start:out", "check:yes", "yes:"}, ledger(t, b, run.ID))

			_, _, err = b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "bo",
				Attributes: map[string]any{"plan": "pro"}})
			require.NoError(t, err)
			byPlan := b.publish(t, `{"format": 1, "name": "By plan", "settings": {"reentry": "always"}, "nodes": [
				{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.id"}},
				{"id": "check", "kind": "condition", "config": {"expr": "profile.plan == \"pro\""}},
				{"id": "yes", "kind": "exit", "config": {}}, {"id": "no", "kind": "exit", "config": {}}],
				"edges": [{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "yes"}, {"from": "check", "port": "no", "to": "no"}]}`)
			rc, err = b.svc.Webhook(b.ctx, b.signed(t, byPlan.ID, "msg_2", `{"id": "bo"}`, nil))
			require.NoError(t, err)
			run, err = b.store.GetRun(b.ctx, rc.RunID)
			require.NoError(t, err)
			if !run.Final() {
				require.True(t, b.store.CanEnterWebhook(store.WebhookEntry{}), "only the one-commit entry leaves it to a task")
				require.Equal(t, "check", run.CurrentNode, "the one-commit entry does not know the stored attributes")
				require.NoError(t, eng.Advance(b.ctx, run.ID, run.Sequence))
			}
			require.Equal(t, []string{"start:out", "check:yes", "yes:"}, ledger(t, b, run.ID), "the condition saw the profile's attributes")
		})
	}
}

func ledger(t *testing.T, b *bundle, runID string) []string {
	t.Helper()
	steps, err := b.store.ListRunSteps(b.ctx, runID)
	require.NoError(t, err)
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.NodeID + ":" + s.Port
	}
	return out
}

// setupOn is setup on a given database, returning the engine too.
func setupOn(t *testing.T, url string) (*bundle, *worker.Engine) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	keys, err := secrets.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	b := &bundle{ctx: ctx, store: st, journeys: journeys.New(st, reg), hooks: hooks.New(st, keys, "http://waymark.test", nil)}
	eng := worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Enqueuer: &tasks{}})
	b.svc = entry.New(entry.Deps{Store: st, Hooks: b.hooks, Engine: eng})
	return b, eng
}
