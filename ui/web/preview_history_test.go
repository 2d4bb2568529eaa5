package web_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// Previews as a real person read that profile's event history at the
// current time; the sample profile has none, and says so.
func TestPreviewHistoryAsRealProfile(t *testing.T) {
	f := newPreviewFixture(t)
	b := f.b
	sam, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u2")
	require.NoError(t, err)
	now := time.Now().UTC()
	for i, ago := range []time.Duration{2 * time.Hour, 5 * 24 * time.Hour, 45 * 24 * time.Hour} {
		_, err := b.Store.InsertEvent(b.Ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: sam.ID, Name: "purchase",
			Properties: map[string]any{"total": float64(10 * (i + 1))}, OccurredAt: now.Add(-ago)})
		require.NoError(t, err)
	}
	preview := func(value string) string {
		t.Helper()
		resp, live := f.editor.Post("/journeys/"+f.id+"/panel/preview", url.Values{"kind": {"send_email"}, "field": {"subject"}, "value": {value}})
		require.Equal(t, 200, resp.StatusCode, live)
		return live
	}
	const tmpl = `{{ count("purchase", within("30d")) }} orders, {{ sum("purchase", "total") }} in all, last {{ last("purchase").properties.total }}`
	live := preview(tmpl)
	require.Contains(t, live, `event history is not available here`, "the sample profile has no history")

	f.panel(t, f.editor, url.Values{"_preview_as": {"u2"}})
	live = preview(tmpl)
	require.Contains(t, live, `"preview":"2 orders, 60 in all, last 10"`)
	require.Contains(t, live, `"label":"Preview for sam@example.com"`)
	live = preview(`{{ in_segment("vip") }}`)
	require.Contains(t, live, `saved segments are not available here`)
}
