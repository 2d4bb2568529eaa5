package builtin_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
)

func setup(t *testing.T) *nodes.Registry {
	t.Helper()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	return reg
}

func TestEveryDesignKindIsRegistered(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	want := map[string][]string{
		"trigger_webhook": {"out"}, "trigger_event": {"out"}, "trigger_segment": {"out"}, "trigger_schedule": {"out"},
		"trigger_attribute": {"out"}, "condition": {"yes", "no"}, "switch": {"default"}, "split": {"holdout"}, "delay": {"out"},
		"wait_event": {"matched", "timeout"}, "send_email": {"out", "failed"}, "send_sms": {"out", "failed"},
		"send_webhook": {"out", "failed"}, "audience_add": {"out", "failed"}, "audience_remove": {"out", "failed"},
		"update_profile": {"out", "failed"}, "goal": {"out"}, "exit": {},
	}
	require.Len(t, reg.Specs(), len(want))
	for kind, ports := range want {
		s, ok := reg.Lookup(kind)
		require.True(t, ok, kind)
		var names []string
		for _, p := range s.Ports {
			names = append(names, p.Name)
		}
		if len(ports) == 0 {
			require.Empty(t, names, kind)
		} else {
			require.Equal(t, ports, names, kind)
		}
	}
	require.Error(t, builtin.Register(reg), "registering twice fails")
}

func TestFlags(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	for _, s := range reg.Specs() {
		switch s.Kind {
		case "delay", "wait_event":
			require.True(t, s.Waits, s.Kind)
		case "send_email", "send_sms", "send_webhook", "audience_add", "audience_remove":
			require.True(t, s.Acts, s.Kind)
			require.Equal(t, "out", s.DefaultPort)
			failed := s.Ports[1]
			require.Equal(t, nodes.Fail, failed.IfUnconnected, "an unconnected failed port fails the run")
			f, ok := s.Field("connector")
			require.True(t, ok)
			require.NotEmpty(t, f.Channel)
			require.NotNil(t, s.Action, "%s declares what it does", s.Kind)
			require.Equal(t, f.Channel, s.Action.Channel)
		case "exit":
			require.True(t, s.Terminal)
		}
		if s.Category == nodes.Trigger {
			require.False(t, s.Waits || s.Acts || s.Instant)
		} else {
			require.True(t, s.Waits || s.Acts || s.Instant, "%s: every non-trigger kind waits, acts or is instant", s.Kind)
		}
	}
}

func TestExamplesAreValid(t *testing.T) {
	t.Parallel()
	for _, s := range setup(t).Specs() {
		require.NotNil(t, s.Example, s.Kind)
		// Round-trip through JSON so numbers arrive as they do from a document.
		data, err := json.Marshal(s.Example)
		require.NoError(t, err)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(data, &raw))
		_, errs := s.Normalize(raw)
		require.Empty(t, errs, s.Kind)
	}
}

func TestKindChecks(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	tests := []struct {
		kind string
		cfg  map[string]any
		want []nodes.FieldError
	}{
		{"split", map[string]any{"variants": []any{map[string]any{"name": "a", "weight": 50.0}, map[string]any{"name": "b", "weight": 40.0}}},
			[]nodes.FieldError{{Field: "variants", Message: "weights plus holdout must add up to 100, got 90"}}},
		{"split", map[string]any{"variants": []any{map[string]any{"name": "a", "weight": 50.0}, map[string]any{"name": "a", "weight": 40.0}}, "holdout": 10.0},
			[]nodes.FieldError{{Field: "variants[1].name", Message: `duplicate name "a"`}}},
		{"split", map[string]any{"variants": []any{map[string]any{"name": "holdout", "weight": 100.0}}},
			[]nodes.FieldError{{Field: "variants[0].name", Message: `"holdout" is reserved`}}},
		{"switch", map[string]any{"cases": []any{map[string]any{"name": "Big Spender", "expr": "true"}, map[string]any{"name": "default", "expr": "true"}}},
			[]nodes.FieldError{
				{Field: "cases[0].name", Message: `"Big Spender" is not a valid port name: use 1-32 of a-z, 0-9, _ and -`},
				{Field: "cases[1].name", Message: `"default" is reserved`},
			}},
		{"split", map[string]any{"strategy": "bandit", "min_share": 40.0, "holdout": 10.0, "variants": []any{
			map[string]any{"name": "a", "weight": 0.0}, map[string]any{"name": "b", "weight": 0.0}, map[string]any{"name": "c", "weight": 0.0}}},
			[]nodes.FieldError{{Field: "min_share", Message: "40% for each of 3 variants is more than 100%"}}},
		{"split", map[string]any{"strategy": "bandit", "holdout": 10.0, "variants": []any{
			map[string]any{"name": "a", "weight": 0.0}, map[string]any{"name": "b", "weight": 0.0}}}, nil},
		{"split", map[string]any{"strategy": "bandit", "min_share": 60.0, "variants": []any{map[string]any{"name": "a", "weight": 100.0}}},
			[]nodes.FieldError{{Field: "min_share", Message: "must be at most 50"}}},
		{"delay", map[string]any{"mode": "best_time"}, nil},
		{"delay", map[string]any{"mode": "best_time", "window": "30m"}, []nodes.FieldError{{Field: "window", Message: "must be at least 1h"}}},
		{"delay", map[string]any{"mode": "best_time", "default_hour": 24.0}, []nodes.FieldError{{Field: "default_hour", Message: "must be at most 23"}}},
		{"delay", map[string]any{"mode": "until_time"}, []nodes.FieldError{{Field: "time", Message: "required when mode is until_time"}}},
		{"delay", map[string]any{"mode": "until_date"}, []nodes.FieldError{{Field: "date", Message: "required"}}},
		{"delay", map[string]any{"duration": "731d"}, []nodes.FieldError{{Field: "duration", Message: `duration "731d" is too long (at most 730d)`}}},
		{"trigger_schedule", map[string]any{"mode": "cron"}, []nodes.FieldError{{Field: "cron", Message: "required"}}},
		{"update_profile", map[string]any{"assignments": []any{
			map[string]any{"attribute": "external_id", "expr": "1"},
			map[string]any{"attribute": "9lives", "expr": "1"},
			map[string]any{"attribute": "score", "expr": "1"},
			map[string]any{"attribute": "score", "expr": "2"},
		}}, []nodes.FieldError{
			{Field: "assignments[0].attribute", Message: "external_id cannot be changed"},
			{Field: "assignments[1].attribute", Message: `"9lives" is not a valid attribute name: use letters, digits and _, starting with a letter or _`},
			{Field: "assignments[3].attribute", Message: `attribute "score" is assigned twice`},
		}},
		{"send_email", map[string]any{"connector": "sandbox", "subject": "Hi"}, []nodes.FieldError{{Field: "body", Message: "required"}}},
	}
	for _, tt := range tests {
		spec, ok := reg.Lookup(tt.kind)
		require.True(t, ok)
		_, errs := spec.Normalize(tt.cfg)
		require.Equal(t, tt.want, errs, tt.kind)
	}
}

func TestSpecsMarshal(t *testing.T) {
	t.Parallel()
	data, err := json.Marshal(setup(t).Specs())
	require.NoError(t, err)
	var out []map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	require.Equal(t, "trigger_webhook", out[0]["kind"])
	require.Equal(t, "trigger", out[0]["category"])
}
