package nodes_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
)

func minimalSpec(kind string, cat nodes.Category) nodes.Spec {
	return nodes.Spec{Kind: kind, Title: kind, Category: cat, Ports: []nodes.Port{{Name: "out"}}}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := nodes.NewRegistry()
	require.NoError(t, reg.Register(minimalSpec("b_action", nodes.Action)))
	require.NoError(t, reg.Register(minimalSpec("a_flow", nodes.Flow)))
	require.NoError(t, reg.Register(minimalSpec("z_trigger", nodes.Trigger)))
	require.NoError(t, reg.Register(minimalSpec("c_flow", nodes.Flow)))
	require.ErrorContains(t, reg.Register(minimalSpec("a_flow", nodes.Flow)), "already registered")
	require.Panics(t, func() { reg.MustRegister(minimalSpec("a_flow", nodes.Flow)) })

	var kinds []string
	for _, s := range reg.Specs() {
		kinds = append(kinds, s.Kind)
	}
	require.Equal(t, []string{"z_trigger", "a_flow", "c_flow", "b_action"}, kinds)

	s, ok := reg.Lookup("c_flow")
	require.True(t, ok)
	require.Equal(t, "c_flow", s.Kind)
	require.NotNil(t, s.Fields, "nil slices become empty for JSON")
	_, ok = reg.Lookup("nope")
	require.False(t, ok)
}

func TestRegisterRejectsMalformedSpecs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*nodes.Spec)
		want string
	}{
		{"kind", func(s *nodes.Spec) { s.Kind = "Send Email" }, "snake_case"},
		{"title", func(s *nodes.Spec) { s.Title = "" }, "title is required"},
		{"category", func(s *nodes.Spec) { s.Category = "other" }, "unknown category"},
		{"no ports", func(s *nodes.Spec) { s.Ports = nil }, "at least one port"},
		{"terminal with ports", func(s *nodes.Spec) { s.Terminal = true }, "terminal kind has no ports"},
		{"duplicate port", func(s *nodes.Spec) { s.Ports = append(s.Ports, nodes.Port{Name: "out"}) }, "duplicate port"},
		{"bad port", func(s *nodes.Spec) { s.Ports = []nodes.Port{{Name: "Out!"}} }, "invalid port name"},
		{"default port", func(s *nodes.Spec) { s.DefaultPort = "nope" }, "default port"},
		{"field type", func(s *nodes.Spec) { s.Fields = []nodes.Field{{Name: "x", Title: "X", Type: "blob"}} }, "unknown type"},
		{"reserved field", func(s *nodes.Spec) { s.Fields = []nodes.Field{{Name: "title", Title: "X", Type: nodes.String}} }, "reserved"},
		{"duplicate field", func(s *nodes.Spec) {
			s.Fields = []nodes.Field{{Name: "x", Title: "X", Type: nodes.String}, {Name: "x", Title: "X", Type: nodes.String}}
		}, "duplicate field"},
		{"enum without values", func(s *nodes.Spec) { s.Fields = []nodes.Field{{Name: "x", Title: "X", Type: nodes.Enum}} }, "enum"},
		{"bad default", func(s *nodes.Spec) {
			s.Fields = []nodes.Field{{Name: "x", Title: "X", Type: nodes.Duration, Default: "soon"}}
		}, "default"},
		{"connector without channel", func(s *nodes.Spec) { s.Fields = []nodes.Field{{Name: "c", Title: "C", Type: nodes.Connector}} }, "channel"},
		{"dynamic ports on non-list", func(s *nodes.Spec) {
			s.Fields = []nodes.Field{{Name: "x", Title: "X", Type: nodes.String}}
			s.DynamicPorts = &nodes.DynamicPorts{Field: "x", NameKey: "name"}
		}, "not a list"},
		{"when on non-enum", func(s *nodes.Spec) {
			s.Fields = []nodes.Field{{Name: "x", Title: "X", Type: nodes.String, When: &nodes.When{Field: "y", Values: []string{"a"}}}}
		}, "not an enum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := minimalSpec("k", nodes.Flow)
			tt.mod(&s)
			require.ErrorContains(t, nodes.NewRegistry().Register(s), tt.want)
		})
	}
}

func switchLike() nodes.Spec {
	return nodes.Spec{
		Kind: "pick", Title: "Pick", Category: nodes.Flow,
		Fields: []nodes.Field{
			{Name: "cases", Title: "Cases", Type: nodes.List, Required: true, Min: nodes.Bound(1), Items: []nodes.Field{
				{Name: "name", Title: "Name", Type: nodes.String, Required: true},
				{Name: "weight", Title: "Weight", Type: nodes.Integer, Min: nodes.Bound(0), Max: nodes.Bound(100)},
			}},
			{Name: "holdout", Title: "Holdout", Type: nodes.Integer, Default: int64(0)},
			{Name: "mode", Title: "Mode", Type: nodes.Enum, Enum: []string{"a", "b"}, Default: "a"},
			{Name: "wait", Title: "Wait", Type: nodes.Duration, Required: true, When: &nodes.When{Field: "mode", Values: []string{"a"}}},
			{Name: "at", Title: "At", Type: nodes.TimeOfDay, When: &nodes.When{Field: "mode", Values: []string{"b"}}},
			{Name: "days", Title: "Days", Type: nodes.Weekdays},
			{Name: "ratio", Title: "Ratio", Type: nodes.Number, Max: nodes.Bound(1)},
			{Name: "on", Title: "On", Type: nodes.Boolean},
			{Name: "tz", Title: "TZ", Type: nodes.Timezone},
			{Name: "schedule", Title: "Schedule", Type: nodes.Cron},
		},
		DynamicPorts: &nodes.DynamicPorts{Field: "cases", NameKey: "name", IfUnconnected: nodes.Complete},
		Ports: []nodes.Port{
			{Name: "default", IfUnconnected: nodes.Complete},
			{Name: "holdout", IfUnconnected: nodes.Complete, EnabledBy: "holdout"},
		},
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	spec := switchLike()
	require.NoError(t, nodes.NewRegistry().Register(spec))

	cfg, errs := spec.Normalize(map[string]any{
		"cases": []any{map[string]any{"name": "x", "weight": json.Number("40")}},
		"wait":  "1h30m", "days": []any{"mon", "fri"}, "ratio": 0.5, "on": true, "tz": "Asia/Tokyo",
		"at":       "09:00", // inactive in mode a: checked, then dropped
		"schedule": "*/15 9-17 * * mon-fri",
	})
	require.Empty(t, errs)
	require.Equal(t, 90*time.Minute, cfg.Duration("wait"))
	require.Equal(t, "a", cfg.String("mode"))
	require.Equal(t, int64(0), cfg.Int("holdout"))
	require.Equal(t, int64(40), cfg.List("cases")[0].Int("weight"))
	require.Equal(t, []time.Weekday{time.Monday, time.Friday}, cfg.Weekdays("days"))
	require.Equal(t, 0.5, cfg.Float("ratio"))
	require.True(t, cfg.Bool("on"))
	require.False(t, cfg.Has("at"))

	var names []string
	for _, p := range spec.PortsFor(cfg) {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"x", "default"}, names, "holdout port only when holdout > 0")
	names = nil
	for _, p := range spec.PortsFor(map[string]any{"cases": []any{map[string]any{"name": "y"}}, "holdout": json.Number("5")}) {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"y", "default", "holdout"}, names)
}

func TestNormalizeProblems(t *testing.T) {
	t.Parallel()
	spec := switchLike()
	tests := []struct {
		name string
		cfg  map[string]any
		want []nodes.FieldError
	}{
		{"missing", map[string]any{}, []nodes.FieldError{{Field: "cases", Message: "required"}, {Field: "wait", Message: "required"}}},
		{"unknown and wrong types", map[string]any{"cases": "x", "wait": 5, "colour": "red"}, []nodes.FieldError{
			{Field: "colour", Message: `unknown field "colour"`},
			{Field: "cases", Message: "expected a list of objects, got a string"},
			{Field: "wait", Message: `expected a duration string such as "3d", got a number`},
		}},
		{"list items", map[string]any{"wait": "1h", "cases": []any{map[string]any{"weight": json.Number("101")}, "x"}}, []nodes.FieldError{
			{Field: "cases[0].name", Message: "required"},
			{Field: "cases[0].weight", Message: "must be at most 100"},
			{Field: "cases[1]", Message: "expected an object, got a string"},
		}},
		{"values", map[string]any{"cases": []any{map[string]any{"name": "a"}}, "mode": "c", "ratio": 2, "days": []any{"mon", "mon"},
			"tz": "Local", "schedule": "* * *", "on": "yes", "holdout": 1.5}, []nodes.FieldError{
			{Field: "holdout", Message: "expected a whole number, got 1.5"},
			{Field: "mode", Message: "must be one of a, b, got \"c\""},
			{Field: "days[1]", Message: `duplicate weekday "mon"`},
			{Field: "ratio", Message: "must be at most 1"},
			{Field: "on", Message: "expected true or false, got a string"},
			{Field: "tz", Message: `unknown time zone "Local": use an IANA name such as Europe/Paris`},
			{Field: "schedule", Message: `cron spec "* * *" has 3 fields, want 5 (minute hour day-of-month month day-of-week)`},
		}},
		{"empty list", map[string]any{"cases": []any{}, "wait": "1h"}, []nodes.FieldError{{Field: "cases", Message: "needs at least 1 item(s), got 0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errs := spec.Normalize(tt.cfg)
			require.Equal(t, tt.want, errs)
		})
	}
}

func TestDurations(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"90m": 90 * time.Minute, "2h": 2 * time.Hour, "3d": 3 * nodes.Day, "1w2d12h": 9*nodes.Day + 12*time.Hour,
		"-3d": -3 * nodes.Day, "730d": nodes.MaxDuration, "45s": 45 * time.Second,
	} {
		got, err := nodes.ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		back, err := nodes.ParseDuration(nodes.FormatDuration(got))
		require.NoError(t, err)
		require.Equal(t, got, back)
	}
	for _, in := range []string{"", "3", "d", "3y", "1.5h", "731d", "99999999999d", "-", "3d-1h", " 3d"} {
		_, err := nodes.ParseDuration(in)
		require.Error(t, err, in)
	}
	require.Equal(t, "9d12h", nodes.FormatDuration(9*nodes.Day+12*time.Hour))
	require.Equal(t, "0s", nodes.FormatDuration(0))
}

func TestClockWeekdayCron(t *testing.T) {
	t.Parallel()
	c, err := nodes.ParseClock("09:05")
	require.NoError(t, err)
	require.Equal(t, 545, c.Minutes())
	require.Equal(t, "09:05", c.String())
	for _, s := range []string{"9:05", "24:00", "12:60", "ab:cd", "12-00", "+1:00"} {
		_, err := nodes.ParseClock(s)
		require.Error(t, err, s)
	}
	d, err := nodes.ParseWeekday("sun")
	require.NoError(t, err)
	require.Equal(t, time.Sunday, d)
	_, err = nodes.ParseWeekday("Sunday")
	require.Error(t, err)
	for _, s := range []string{"0 9 * * mon-fri", "*/5 * * * *", "0 0 1,15 * *", "@daily", "30 8 * jan-mar sun"} {
		require.NoError(t, nodes.ValidateCron(s), s)
	}
	for _, s := range []string{"", "@sometimes", "60 * * * *", "* * * * * *", "5-1 * * * *", "*/0 * * * *", "* * 0 * *"} {
		require.Error(t, nodes.ValidateCron(s), s)
	}
}

func TestSpecMarshalsToSnakeCaseJSON(t *testing.T) {
	t.Parallel()
	spec := switchLike()
	spec.Check = func(nodes.Config) []nodes.FieldError { return nil }
	data, err := json.Marshal(spec)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	for _, k := range []string{"kind", "title", "category", "fields", "ports", "dynamic_ports", "waits", "acts", "instant", "terminal"} {
		require.Contains(t, m, k)
	}
	require.NotContains(t, m, "Check")
	port := m["ports"].([]any)[1].(map[string]any)
	require.Equal(t, "holdout", port["enabled_by"])
	require.Equal(t, "complete", port["if_unconnected"])
}
