package worker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// update_profile sets the profile's own time zone (not an attribute named
// timezone), and the delay after it waits in that zone; so do email and
// locale.
func TestUpdateProfileSetsBuiltinFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Move", "", `{"id": "set", "kind": "update_profile", "config": {"assignments": [
			{"attribute": "timezone", "expr": "event.body.tz"},
			{"attribute": "email", "expr": "\"Ada@Example.COM\""},
			{"attribute": "locale", "expr": "\"ja-JP\""},
			{"attribute": "moved", "expr": "profile.timezone == \"Asia/Tokyo\""}]}},
		{"id": "nine", "kind": "delay", "config": {"mode": "until_time", "time": "09:00"}},
		`+mailNode,
		`{"from": "start", "to": "set"}, {"from": "set", "to": "nine"}, {"from": "nine", "to": "mail"}`))
	p := h.profile("ada", nil, "timezone", "Europe/Paris", "email", "old@example.com")
	r := h.enter(jid, p, worker.EntryEvent{Body: map[string]any{"tz": "Asia/Tokyo"}})
	h.drain()

	got, err := h.st.GetProfile(h.ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "Asia/Tokyo", got.Timezone)
	require.Equal(t, "ada@example.com", got.Email, "normalised as the profile API does")
	require.Equal(t, "ja-JP", got.Locale)
	require.Equal(t, true, got.Attributes["moved"], "later assignments see earlier ones")
	require.NotContains(t, got.Attributes, "timezone", "not a custom attribute")
	require.NotContains(t, got.Attributes, "email")

	// 10:00 UTC on 1 June is 19:00 in Tokyo: 09:00 Tokyo is 00:00 UTC the
	// next day (in Paris it would have been 07:00 UTC).
	run := h.run(r.ID)
	require.Equal(t, store.RunWaiting, run.Status)
	require.Equal(t, time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC), run.WaitUntil.UTC())
	h.advance(14 * time.Hour)
	sent := h.inbox.sent()
	require.Len(t, sent, 1)
	require.Equal(t, "ada@example.com", sent[0].Email, "the send goes to the new address")
	require.Equal(t, "Asia/Tokyo", sent[0].Timezone)

	// null clears a built-in field.
	jid2 := h.publish(journey("Clear", "", `{"id": "set", "kind": "update_profile", "config": {"assignments": [{"attribute": "locale", "expr": "nil"}]}}`,
		`{"from": "start", "to": "set"}`))
	h.enter(jid2, got, worker.EntryEvent{})
	h.drain()
	got, err = h.st.GetProfile(h.ctx, p.ID)
	require.NoError(t, err)
	require.Empty(t, got.Locale)
}

// A value the profile API would refuse leaves through failed with the
// reason, and nothing of the node is written; unconnected, the run fails
// with that reason.
func TestUpdateProfileInvalidBuiltinFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	set := func(extra string) string {
		return `{"id": "set", "kind": "update_profile", "config": {"assignments": [
			{"attribute": "plan", "expr": "\"pro\""}, ` + extra + `]}}`
	}
	for _, tc := range []struct{ name, assignment, reason string }{
		{"time zone", `{"attribute": "timezone", "expr": "\"Mars/Olympus\""}`, `timezone: "Mars/Olympus" is not an IANA time zone`},
		{"email", `{"attribute": "email", "expr": "\"not-an-email\""}`, `email: "not-an-email" is not a valid email address`},
		{"phone", `{"attribute": "phone", "expr": "\"0612345678\""}`, `phone: "0612345678" is not an E.164 number`},
		{"locale", `{"attribute": "locale", "expr": "\"<b>\""}`, `locale: "<b>" is not a locale`},
		{"not a string", `{"attribute": "phone", "expr": "33612345678"}`, "phone: want a string, got a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jid := h.publish(journey("Bad "+tc.name, "", set(tc.assignment), `{"from": "start", "to": "set"}`))
			p := h.profile("u-"+tc.name, map[string]any{"plan": "free"}, "timezone", "Europe/Paris")
			r := h.enter(jid, p, worker.EntryEvent{})
			h.drain()
			run := h.run(r.ID)
			require.Equal(t, store.RunFailed, run.Status)
			require.Contains(t, run.Error, `"failed"`)
			require.Contains(t, run.Error, "assignments[1]: "+tc.reason)
			require.Equal(t, []string{"start:out:entered", "set:failed:failed"}, h.path(r.ID))
			got, err := h.st.GetProfile(h.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, "free", got.Attributes["plan"], "nothing of the node is written")
			require.Equal(t, "Europe/Paris", got.Timezone)
		})
	}

	// Connected, failed is a branch like any other; an older journey whose
	// edge names no port still leaves through out.
	jid := h.publish(journey("Branch", "", set(`{"attribute": "timezone", "expr": "event.body.tz"}`)+`, `+mailNode,
		`{"from": "start", "to": "set"}, {"from": "set", "port": "failed", "to": "mail"}`))
	p := h.profile("branch", nil, "email", "b@example.com")
	r := h.enter(jid, p, worker.EntryEvent{Body: map[string]any{"tz": "Nowhere/Else"}})
	h.drain()
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Len(t, h.inbox.sent(), 1)
	jid = h.publish(journey("Old", "", set(`{"attribute": "timezone", "expr": "event.body.tz"}`)+`, `+mailNode,
		`{"from": "start", "to": "set"}, {"from": "set", "to": "mail"}`))
	r = h.enter(jid, p, worker.EntryEvent{Body: map[string]any{"tz": "America/New_York"}})
	h.drain()
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Equal(t, []string{"start:out:entered", "set:out", "mail:out:sent"}, h.path(r.ID))
}
