package segments_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

type bundle struct {
	ctx context.Context
	st  *store.Store
	svc *segments.Service
	ws  string
}

func open(t testing.TB, url string, opts segments.Options) bundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	opts.Now = func() time.Time { return now }
	return bundle{ctx: ctx, st: st, svc: segments.New(st, opts), ws: store.DefaultWorkspaceID}
}

func setup(t *testing.T) bundle { return open(t, testenv.SQLiteURL(t), segments.Options{}) }

// both runs fn on SQLite and PostgreSQL.
func both(t *testing.T, fn func(t *testing.T, b bundle)) {
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			url := testenv.SQLiteURL(t)
			if d == "postgres" {
				url = testenv.PostgresURL(t)
			}
			fn(t, open(t, url, segments.Options{}))
		})
	}
}

func rules(t *testing.T, s string) *segments.Rule {
	t.Helper()
	r, err := segments.ParseRules(s)
	require.NoError(t, err)
	return &r
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, rules, want string }{
		{"empty all", `{"match":"all"}`, `true`},
		{"empty any", `{"match":"any"}`, `false`},
		{"string is", `{"match":"all","rules":[{"attribute":"plan","type":"string","op":"is","value":"pro"}]}`, `profile.plan == "pro"`},
		{"odd name", `{"match":"all","rules":[{"attribute":"first name","type":"string","op":"exists"}]}`, `profile["first name"] != nil`},
		{"keyword name", `{"match":"all","rules":[{"attribute":"in","type":"boolean","op":"is_true"}]}`, `profile["in"] == true`},
		{"two all", `{"match":"all","rules":[{"field":"email","op":"contains","value":"@acme.com"},{"attribute":"age","type":"number","op":"gte","value":18}]}`,
			`(profile.email ?? "") contains "@acme.com" && (type(profile.age) in ["int", "float"] && profile.age >= 18)`},
		{"nested any", `{"match":"all","rules":[{"consent":"email","op":"granted"},{"match":"any","rules":[{"segment":"vip","op":"in"},{"attribute":"plan","type":"string","op":"starts_with","value":"ent"}]}]}`,
			`profile.consent?.email == "granted" && (in_segment("vip") || (type(profile.plan) == "string" && hasPrefix(profile.plan, "ent")))`},
		{"not in", `{"match":"all","rules":[{"segment":"churned","op":"not_in"}]}`, `not in_segment("churned")`},
		{"dates", `{"match":"any","rules":[{"attribute":"signup","type":"date","op":"after","value":"2026-01-31"},{"attribute":"seen","type":"date","op":"within_days","value":7}]}`,
			`(has(profile.signup) && to_time(profile.signup) >= date("2026-02-01")) || (has(profile.seen) && to_time(profile.seen) >= now - duration("168h") && to_time(profile.seen) <= now)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rules(t, tt.rules)
			require.Empty(t, segments.Validate(*r))
			got := segments.Generate(*r)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestValidateNamesTheRule(t *testing.T) {
	t.Parallel()
	deep := `{"match":"all","rules":[{"match":"any","rules":[{"match":"all","rules":[{"match":"any","rules":[{"match":"all","rules":[]}]}]}]}]}`
	many := `{"match":"all","rules":[`
	for i := range 51 {
		if i > 0 {
			many += ","
		}
		many += `{"field":"email","op":"exists"}`
	}
	many += `]}`
	tests := []struct{ name, rules, field, msg string }{
		{"number", `{"match":"all","rules":[{"field":"email","op":"exists"},{"field":"phone","op":"exists"},{"attribute":"age","type":"number","op":"gt","value":"x"}]}`, "rules[2].value", "must be a number"},
		{"nested op", `{"match":"all","rules":[{"match":"any","rules":[{"attribute":"age","type":"number","op":"contains","value":1}]}]}`, "rules[0].rules[0].op", "must be one of eq, ne"},
		{"type", `{"match":"all","rules":[{"attribute":"age","op":"eq","value":1}]}`, "rules[0].type", `must be "string"`},
		{"field", `{"match":"all","rules":[{"field":"password","op":"is","value":"x"}]}`, "rules[0].field", "unknown field"},
		{"builtin as attribute", `{"match":"all","rules":[{"attribute":"email","type":"string","op":"exists"}]}`, "rules[0].attribute", "built-in field"},
		{"two things", `{"match":"all","rules":[{"field":"email","attribute":"x","op":"exists"}]}`, "rules[0]", "a rule is a group"},
		{"empty text", `{"match":"all","rules":[{"field":"email","op":"is","value":""}]}`, "rules[0].value", "must not be empty"},
		{"date", `{"match":"all","rules":[{"attribute":"d","type":"date","op":"before","value":"yesterday"}]}`, "rules[0].value", "YYYY-MM-DD"},
		{"days", `{"match":"all","rules":[{"attribute":"d","type":"date","op":"within_days","value":1.5}]}`, "rules[0].value", "whole number"},
		{"consent", `{"match":"all","rules":[{"consent":"Email!","op":"granted"}]}`, "rules[0].consent", "channel name"},
		{"match", `{"match":"all","rules":[{"match":"some","rules":[]}]}`, "rules[0].match", `"all" or "any"`},
		{"depth", deep, "rules[0].rules[0].rules[0].rules[0].rules", "at most 4 levels"},
		{"count", many, "rules", "at most 50 rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := segments.Validate(*rules(t, tt.rules))
			require.NotEmpty(t, ps)
			require.Equal(t, tt.field, ps[0].Field)
			require.Contains(t, ps[0].Message, tt.msg)
		})
	}
}

func problem(t *testing.T, err error) segments.Problem {
	t.Helper()
	var ve *segments.ValidationError
	require.ErrorAs(t, err, &ve)
	return ve.Problems[0]
}

func TestSegmentsCRUDAndCycles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	vip, err := b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "vip", Rules: rules(t, `{"match":"all","rules":[{"attribute":"spend","type":"number","op":"gte","value":1000}]}`)})
	require.NoError(t, err)
	require.Equal(t, `type(profile.spend) in ["int", "float"] && profile.spend >= 1000`, vip.Expr)
	require.NotNil(t, vip.Rules)

	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "vip", Expr: "true"})
	require.Equal(t, "name", problem(t, err).Field)
	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "Bad Name", Expr: "true"})
	require.Equal(t, "name", problem(t, err).Field)
	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "x", Expr: "profile.plan +"})
	require.Equal(t, "expr", problem(t, err).Field)
	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "x", Expr: `"text"`})
	require.Equal(t, "expr", problem(t, err).Field)
	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "x"})
	require.Equal(t, "rules", problem(t, err).Field)
	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "x", Expr: "true", Rules: rules(t, `{"match":"all"}`)})
	require.Equal(t, "expr", problem(t, err).Field)

	// References: a missing segment, then a chain, then a cycle.
	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "x", Rules: rules(t, `{"match":"all","rules":[{"field":"email","op":"exists"},{"segment":"nope","op":"in"}]}`)})
	p := problem(t, err)
	require.Equal(t, "rules[1].segment", p.Field)
	require.Contains(t, p.Message, `no segment named "nope"`)

	loyal, err := b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "loyal", Rules: rules(t, `{"match":"all","rules":[{"segment":"vip","op":"in"},{"consent":"email","op":"granted"}]}`)})
	require.NoError(t, err)
	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "top", Expr: `in_segment("loyal") && profile.plan == "pro"`})
	require.NoError(t, err)

	_, err = b.svc.Update(b.ctx, b.ws, vip.ID, segments.Input{Name: "vip", Rules: rules(t, `{"match":"any","rules":[{"field":"email","op":"exists"},{"segment":"top","op":"in"}]}`)})
	p = problem(t, err)
	require.Equal(t, "rules[1].segment", p.Field)
	require.Contains(t, p.Message, "top → loyal → vip")
	_, err = b.svc.Update(b.ctx, b.ws, vip.ID, segments.Input{Name: "vip", Expr: `in_segment("vip")`})
	require.Contains(t, problem(t, err).Message, "cannot contain itself")

	// In use: neither deleted nor renamed.
	_, err = b.svc.Delete(b.ctx, b.ws, vip.ID)
	var inUse *segments.InUseError
	require.ErrorAs(t, err, &inUse)
	require.Equal(t, []string{"loyal"}, inUse.By)
	_, err = b.svc.Update(b.ctx, b.ws, vip.ID, segments.Input{Name: "vips", Expr: "true"})
	require.Contains(t, problem(t, err).Message, `segment "loyal" refers to this segment`)

	// A zero is a value: it survives storing and reading the rules.
	zero, err := b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "no_spend", Rules: rules(t, `{"match":"all","rules":[{"attribute":"spend","type":"number","op":"eq","value":0}]}`)})
	require.NoError(t, err)
	got0, err := b.svc.Get(b.ctx, b.ws, zero.ID)
	require.NoError(t, err)
	require.Equal(t, 0.0, got0.Rules.Rules[0].Value)
	_, err = b.svc.Update(b.ctx, b.ws, zero.ID, segments.Input{Name: "no_spend", Rules: got0.Rules})
	require.NoError(t, err)
	_, err = b.svc.Delete(b.ctx, b.ws, zero.ID)
	require.NoError(t, err)

	list, err := b.svc.List(b.ctx, b.ws)
	require.NoError(t, err)
	require.Len(t, list, 3)
	got, err := b.svc.Get(b.ctx, b.ws, loyal.ID)
	require.NoError(t, err)
	require.Equal(t, `in_segment("vip") && profile.consent?.email == "granted"`, got.Expr)
	_, err = b.svc.Get(b.ctx, "other", loyal.ID)
	require.ErrorIs(t, err, segments.ErrNotFound)
}

func env(p store.Profile) *expression.Env {
	return &expression.Env{Profile: segments.ProfileMap(p), Now: now}
}

func TestMatchFollowsTheCurrentDefinition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	vip, err := b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "vip", Expr: `profile.plan == "pro"`})
	require.NoError(t, err)
	_, err = b.svc.Create(b.ctx, b.ws, "u1", segments.Input{Name: "loyal", Rules: rules(t, `{"match":"all","rules":[{"segment":"vip","op":"in"},{"consent":"email","op":"granted"}]}`)})
	require.NoError(t, err)
	p, _, err := b.st.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "p1", Attributes: map[string]any{"plan": "pro"}, Consent: map[string]string{"email": "granted"}})
	require.NoError(t, err)

	for _, name := range []string{"vip", "loyal"} {
		ok, err := b.svc.Match(b.ctx, b.ws, name, env(p))
		require.NoError(t, err)
		require.True(t, ok, name)
	}
	_, err = b.svc.Update(b.ctx, b.ws, vip.ID, segments.Input{Name: "vip", Expr: `profile.plan == "enterprise"`})
	require.NoError(t, err)
	for _, name := range []string{"vip", "loyal"} {
		ok, err := b.svc.Match(b.ctx, b.ws, name, env(p))
		require.NoError(t, err)
		require.False(t, ok, name+" after the change")
	}
	// An environment without consent (the engine's) gets it from the
	// profile.
	_, err = b.svc.Update(b.ctx, b.ws, vip.ID, segments.Input{Name: "vip", Expr: `profile.plan == "pro"`})
	require.NoError(t, err)
	bare := &expression.Env{Profile: expression.Profile(expression.ProfileFields{ExternalID: "p1"}, p.Attributes), Now: now}
	ok, err := b.svc.Match(b.ctx, b.ws, "loyal", bare)
	require.NoError(t, err)
	require.True(t, ok, "consent read from the store")
	require.NotContains(t, bare.Profile, "consent", "the caller's env is not changed")
	_, err = b.st.SetProfileConsent(b.ctx, p.ID, "email", "revoked", "test")
	require.NoError(t, err)
	ok, err = b.svc.Match(b.ctx, b.ws, "loyal", bare)
	require.NoError(t, err)
	require.False(t, ok)

	_, err = b.svc.Match(b.ctx, b.ws, "nope", env(p))
	require.ErrorIs(t, err, segments.ErrNotFound)
}

// The database's count of a rule and the expression's evaluation of the
// same rule agree, profile by profile, on both databases.
func TestEstimateSQLAgreesWithTheExpression(t *testing.T) {
	t.Parallel()
	both(t, func(t *testing.T, b bundle) {
		values := []map[string]any{
			{"plan": "pro", "age": 30, "vip": true, "city": "Paris"},
			{"plan": "free", "age": 17, "vip": false},
			{"plan": "Pro team", "age": "40", "city": "paris"},
			{"plan": 5, "age": 18.5, "vip": "true"},
			{"plan": nil, "city": ""},
			{},
		}
		emails := []string{"ann@example.com", "", "bob@test.org", "carl@example.com"}
		consents := []map[string]string{{"email": "granted"}, {"email": "denied"}, nil}
		var profiles []store.Profile
		for i := range 24 {
			e := emails[i%len(emails)]
			p, _, err := b.st.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: fmt.Sprint("p", i), Email: &e,
				Attributes: values[i%len(values)], Consent: consents[i%len(consents)]})
			require.NoError(t, err)
			profiles = append(profiles, p)
		}
		_, err := b.svc.Create(b.ctx, b.ws, "u", segments.Input{Name: "adults", Rules: rules(t, `{"match":"all","rules":[{"attribute":"age","type":"number","op":"gte","value":18}]}`)})
		require.NoError(t, err)
		conds := []string{
			`{"attribute":"plan","type":"string","op":"is","value":"pro"}`,
			`{"attribute":"plan","type":"string","op":"is_not","value":"pro"}`,
			`{"attribute":"plan","type":"string","op":"contains","value":"ro"}`,
			`{"attribute":"plan","type":"string","op":"starts_with","value":"Pro"}`,
			`{"attribute":"plan","type":"string","op":"exists"}`,
			`{"attribute":"plan","type":"string","op":"not_exists"}`,
			`{"attribute":"age","type":"number","op":"eq","value":30}`,
			`{"attribute":"age","type":"number","op":"ne","value":30}`,
			`{"attribute":"age","type":"number","op":"lt","value":18.5}`,
			`{"attribute":"age","type":"number","op":"gte","value":18.5}`,
			`{"attribute":"vip","type":"boolean","op":"is_true"}`,
			`{"attribute":"vip","type":"boolean","op":"is_false"}`,
			`{"field":"email","op":"is","value":"bob@test.org"}`,
			`{"field":"email","op":"is_not","value":"bob@test.org"}`,
			`{"field":"email","op":"contains","value":"@example."}`,
			`{"field":"email","op":"starts_with","value":"ca"}`,
			`{"field":"email","op":"not_exists"}`,
			`{"consent":"email","op":"granted"}`,
			`{"consent":"email","op":"not_granted"}`,
			`{"segment":"adults","op":"in"}`,
			`{"segment":"adults","op":"not_in"}`,
		}
		check := func(t *testing.T, rs string) {
			r := rules(t, rs)
			est, err := b.svc.Estimate(b.ctx, b.ws, segments.EstimateInput{Rules: r})
			require.NoError(t, err)
			require.Equal(t, "sql", est.Method)
			require.True(t, est.Exact)
			scan, err := b.svc.Estimate(b.ctx, b.ws, segments.EstimateInput{Expr: est.Expr})
			require.NoError(t, err)
			require.Equal(t, "scan", scan.Method)
			require.Equal(t, est.Count, scan.Count, "%s: sql and expression disagree", est.Expr)
			require.Equal(t, est.Sample, scan.Sample, est.Expr)
			require.Equal(t, int64(len(profiles)), est.Total)
		}
		for i, c := range conds {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				check(t, `{"match":"all","rules":[`+c+`]}`)
				// In an "any" group with a rule that matches nobody: a
				// condition never errors, so "any" means what it says.
				check(t, `{"match":"any","rules":[{"attribute":"age","type":"number","op":"gt","value":1000},`+c+`]}`)
			})
		}
		check(t, `{"match":"any","rules":[{"match":"all","rules":[`+conds[0]+`,`+conds[17]+`]},{"match":"all","rules":[`+conds[16]+`,`+conds[9]+`]}]}`)
	})
}

func TestEstimateScanBudget(t *testing.T) {
	t.Parallel()
	b := open(t, testenv.SQLiteURL(t), segments.Options{ScanRows: 2500})
	for i := range 5000 {
		_, _, err := b.st.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: fmt.Sprintf("p%05d", i),
			Attributes: map[string]any{"signup": now.AddDate(0, 0, -(i % 20)).Format(time.DateOnly)}})
		require.NoError(t, err)
	}
	// A date rule has no SQL form: the expression is evaluated, and the
	// row budget stops it after two pages.
	est, err := b.svc.Estimate(b.ctx, b.ws, segments.EstimateInput{Rules: rules(t, `{"match":"all","rules":[{"attribute":"signup","type":"date","op":"within_days","value":10}]}`)})
	require.NoError(t, err)
	require.Equal(t, "scan", est.Method)
	require.False(t, est.Exact)
	require.Equal(t, int64(4000), est.Scanned)
	require.Equal(t, int64(5000), est.Total)
	require.Equal(t, int64(2000), est.Count) // 10 of every 20 days: 0…9 days ago (10 days ago at midnight is more than 240 h)
	require.Len(t, est.Sample, 10)
	require.Equal(t, "at least 2,000 profiles (scanned 4,000 of 5,000)", est.String())

	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	_, err = b.svc.Estimate(ctx, b.ws, segments.EstimateInput{Expr: "true"})
	require.ErrorIs(t, err, context.Canceled)

	_, err = b.svc.Estimate(b.ctx, b.ws, segments.EstimateInput{Rules: rules(t, `{"match":"all","rules":[{"attribute":"x","type":"number","op":"gt","value":"many"}]}`)})
	require.Equal(t, "rules[0].value", problem(t, err).Field)
	attrs, err := b.svc.Attributes(b.ctx, b.ws)
	require.NoError(t, err)
	require.Equal(t, []segments.Attribute{{Name: "signup", Type: "date"}}, attrs)
}

// TestEstimatesTakeTurns: at most Options.Estimates run at once; another
// waits for a turn and gives up when its context ends.
func TestEstimatesTakeTurns(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	b := open(t, testenv.SQLiteURL(t), segments.Options{Estimates: 1,
		History: func(context.Context, *expression.Env, string, string) {
			select {
			case started <- struct{}{}:
			default:
			}
			<-release
		}})
	_, _, err := b.st.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "ada"})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := b.svc.Estimate(b.ctx, b.ws, segments.EstimateInput{Expr: "true"})
		done <- err
	}()
	<-started // the first estimate holds the only turn
	ctx, cancel := context.WithTimeout(b.ctx, 100*time.Millisecond)
	defer cancel()
	_, err = b.svc.Estimate(ctx, b.ws, segments.EstimateInput{Expr: "true"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(release)
	require.NoError(t, <-done)
	est, err := b.svc.Estimate(b.ctx, b.ws, segments.EstimateInput{Expr: "true"})
	require.NoError(t, err, "the turn was given back")
	require.EqualValues(t, 1, est.Count)
}
