package flows_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	a := mustParseFile(t, "testdata/abandoned_cart.json")
	b := mustParseFile(t, "testdata/abandoned_cart.json")
	require.True(t, flows.Diff(a, b).Empty())

	b.Name = "Abandoned cart v2"
	b.Settings.Timezone = "Europe/Paris"
	b.Settings.FrequencyCap["email"] = flows.FrequencyCap{Count: 2, Period: "day"}
	b.Settings.QuietHours = &flows.QuietHours{Start: "22:00", End: "07:00"}
	b.Nodes[1].Config["timeout"] = "2h"       // wait_order
	b.Nodes[3].Title = "Reminder email"       // reminder
	b.Nodes[3].Position.X += 10               // and moved
	b.Nodes[6].Position.Y += 50               // has_phone: only moved
	delete(b.Nodes[0].Config, "filter")       // cart
	b.Nodes = append(b.Nodes[:7], flows.Node{ // drop sms, add push
		ID: "push", Kind: "send_webhook", Config: map[string]any{"connector": "sandbox"}})
	b.Edges[6] = flows.Edge{From: "has_phone", Port: "yes", To: "push"}

	d := flows.Diff(a, b)
	require.False(t, d.Empty())
	require.Equal(t, &flows.Change{Path: "name", From: "Abandoned cart", To: "Abandoned cart v2"}, d.Name)
	require.Equal(t, []flows.Change{
		{Path: "frequency_cap.email.count", From: 3.0, To: 2.0},
		{Path: "quiet_hours.end", From: nil, To: "07:00"},
		{Path: "quiet_hours.start", From: nil, To: "22:00"},
		{Path: "timezone", From: "America/New_York", To: "Europe/Paris"},
	}, d.Settings)
	require.Equal(t, []string{"push"}, d.Added)
	require.Equal(t, []string{"sms"}, d.Removed)
	require.Equal(t, []flows.NodeChange{
		{ID: "cart", Changes: []flows.Change{{Path: "filter", From: "event.properties.total >= 20", To: nil}}},
		{ID: "wait_order", Changes: []flows.Change{{Path: "timeout", From: "1h", To: "2h"}}},
		{ID: "reminder", Changes: []flows.Change{{Path: "title", From: "Reminder", To: "Reminder email"}}, Moved: true},
	}, d.Changed)
	require.Equal(t, []string{"has_phone"}, d.Moved)
	require.Equal(t, []flows.Edge{{From: "has_phone", Port: "yes", To: "push"}}, d.EdgesAdded)
	require.Equal(t, []flows.Edge{{From: "has_phone", Port: "yes", To: "sms"}}, d.EdgesRemoved)

	data, err := json.Marshal(d)
	require.NoError(t, err)
	require.Contains(t, string(data), `"nodes_changed"`)
}
