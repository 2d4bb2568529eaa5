package expression_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows/expression"
)

// bomb nests join(split(e, ""), sep) levels times around e: each level
// multiplies the length by len(sep)+1.
func bomb(e string, levels, sepLen int) string {
	sep := `"` + strings.Repeat("x", sepLen) + `"`
	for range levels {
		e = fmt.Sprintf(`join(split(%s, ""), %s)`, e, sep)
	}
	return e
}

// TestAmplificationRefusedWhenSaved: the shapes that multiply their
// input are refused by Check (what saving a journey runs), with a
// position, before anything is evaluated.
func TestAmplificationRefusedWhenSaved(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src string }{
		{"review bomb, 5 levels of 100", `len(` + bomb(`"0123456789"`, 5, 100) + `) > 0`},
		{"3 levels of 100 from a literal", bomb(`"0123456789"`, 3, 100)},
		{"2 levels of 100 from an attribute", bomb(`profile.name`, 2, 100)},
		{"toJSON of toJSON of toJSON", `toJSON(toJSON(toJSON(event.body)))`},
		{"string of split", `string(split(string(split(string(split(string(split(profile.x, "")), "")), "")), ""))`},
		{"upper nested under join", `join(split(upper(join(split(profile.x, ""), "` + strings.Repeat("y", 60) + `")), ""), "` + strings.Repeat("z", 60) + `")`},
		{"concatenation of joins", strings.Repeat(bomb(`profile.x`, 1, 200)+" + ", 12) + `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.LessOrEqual(t, len(tt.src), expression.MaxLength)
			err := expression.Check(tt.src, expression.Any)
			require.Error(t, err)
			var e *expression.Error
			require.ErrorAs(t, err, &e)
			require.Contains(t, e.Message, "can build more than 2 MiB")
			require.Positive(t, e.Line)
			_, err = expression.Compile(tt.src, expression.Any)
			require.Error(t, err)
			_, err = expression.ParseTemplate("Hi {{ "+tt.src+" }}", expression.HTML)
			require.Error(t, err)
		})
	}
}

// TestOrdinaryBuildersStillAllowed: one level of split and join, toJSON
// of a body, concatenation: what journeys really write.
func TestOrdinaryBuildersStillAllowed(t *testing.T) {
	t.Parallel()
	env := testEnv()
	env.Profile["tags_csv"] = "a,b,c"
	tests := []struct {
		src  string
		want any
	}{
		{`join(split(profile.tags_csv, ","), " · ")`, "a · b · c"},
		{`split(profile.tags_csv, ",", 2)`, []string{"a", "b,c"}},
		{`join(profile.tags)`, "vipbeta"},
		{`join(profile.tags, ", ")`, "vip, beta"},
		{`profile.first_name + " " + upper(profile.country)`, "Ann FR"},
		{`"a" + "b"`, "ab"},
		{`profile.age + 1`, 35.0},
		{`1 + 2`, 3},
		{`(now + duration("1h")).Hour()`, 13},
		{`toJSON(event.body)`, "{\n  \"user_id\": \"u1\"\n}"},
		{`string(profile.tags)`, "[vip beta]"},
		{`lower(join(split(upper(profile.first_name), ""), "-"))`, "a-n-n"},
	}
	for _, tt := range tests {
		p, err := expression.Compile(tt.src, expression.Any)
		require.NoError(t, err, tt.src)
		got, err := p.Eval(env)
		require.NoError(t, err, tt.src)
		require.Equal(t, tt.want, got, tt.src)
	}
}

func TestHiddenMeterCannotBeNamed(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`__meter`, `split("a", "", 1, __meter)`, `__meter == nil`} {
		err := expression.Check(src, expression.Any)
		require.Error(t, err, src)
	}
	err := expression.Check(`split("a")`, expression.Any)
	require.ErrorContains(t, err, "split takes 2 or 3 arguments, not 1")
}

// allocated runs f and returns how many bytes the process allocated
// meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestRunTimeBudgetStopsAmplification: an expression that passes
// validation but meets a large input stops with ErrTooLarge before it
// allocates more than a few times the budget.
func TestRunTimeBudgetStopsAmplification(t *testing.T) {
	big := strings.Repeat("0123456789", 100_000) // 1 MB, as a webhook body may carry
	env := testEnv()
	env.Event.Body = map[string]any{"s": big, "list": []any{big}}
	tests := []string{
		bomb(`event.body.s`, 1, 100),
		`toJSON([event.body.s, event.body.s, event.body.s])`,
		`event.body.s + event.body.s + event.body.s`,
		`string([event.body.s, event.body.s, event.body.s])`,
		`upper(event.body.s) + lower(event.body.s)`,
		`[event.body.s, event.body.s, event.body.s]`, // the result itself is too large
		`join(split(event.body.s, "5"), event.body.s)`,
	}
	for _, src := range tests {
		p, err := expression.Compile(src, expression.Any)
		require.NoError(t, err, src)
		var evalErr error
		n := allocated(func() { _, evalErr = p.Eval(env) })
		require.ErrorIs(t, evalErr, expression.ErrTooLarge, src)
		require.Less(t, n, uint64(24<<20), "%s allocated %d bytes", src, n)
	}
}

// TestTemplateRenderIsBounded: placeholders share one budget and the
// output is capped, whatever the number of placeholders.
func TestTemplateRenderIsBounded(t *testing.T) {
	big := strings.Repeat("<b>", 200_000) // 600 KB
	env := testEnv()
	env.Event.Body = map[string]any{"s": big}
	src := strings.Repeat("{{ event.body.s }}", 200)
	tmpl, err := expression.ParseTemplate(src, expression.HTML)
	require.NoError(t, err)
	var renderErr error
	n := allocated(func() { _, renderErr = tmpl.Render(env) })
	require.ErrorIs(t, renderErr, expression.ErrTooLarge)
	require.ErrorContains(t, renderErr, "longer than 2 MiB")
	require.Less(t, n, uint64(32<<20))

	small, err := expression.ParseTemplate(`{"b": {{ event.body }}, "n": "{{ profile.first_name }}"}`, expression.JSONText)
	require.NoError(t, err)
	env.Event.Body = map[string]any{"s": "x"}
	out, err := small.Render(env)
	require.NoError(t, err)
	require.JSONEq(t, `{"b": {"s": "x"}, "n": "Ann"}`, out)
}

// TestJSONSizeMatchesEncoding: the size toJSON charges is the size it
// writes, for the values expressions see.
func TestJSONSizeMatchesEncoding(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(1))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := r.Intn(7); {
		case k == 0 && depth < 5:
			l := make([]any, 1+r.Intn(4))
			for i := range l {
				l[i] = gen(depth + 1)
			}
			return l
		case k == 1 && depth < 5:
			m := map[string]any{}
			for range 1 + r.Intn(4) {
				m[randString(r)] = gen(depth + 1)
			}
			return m
		case k == 2:
			return r.Float64() * 1e6
		case k == 3:
			return r.Intn(2) == 0
		case k == 4:
			return nil
		}
		return randString(r)
	}
	p, err := expression.Compile(`toJSON(event.body)`, expression.Any)
	require.NoError(t, err)
	for range 300 {
		v := gen(0)
		want, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		got, err := p.Eval(&expression.Env{Event: expression.Event{Body: v}})
		require.NoError(t, err)
		require.Equal(t, string(want), got)
		require.Equal(t, len(want), expression.JSONSizeForTest(v, true))
		compact, _ := json.Marshal(v)
		require.Equal(t, len(compact), expression.JSONSizeForTest(v, false))
	}
}

func randString(r *rand.Rand) string {
	const chars = "ab<>&\"\\\n\t\x01é\u2028"
	var b strings.Builder
	for range r.Intn(8) {
		b.WriteString(string([]rune(chars)[r.Intn(len([]rune(chars)))]))
	}
	if r.Intn(10) == 0 {
		b.WriteByte(0xff) // invalid UTF-8
	}
	return b.String()
}

// FuzzAmplification nests every function that can grow its input, in
// shapes chosen by the fuzzer, over inputs it picks: whatever validates
// must evaluate within a few times the budget.
func FuzzAmplification(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, "0123456789", uint8(100))
	f.Add([]byte{0, 0, 0, 0, 0}, "ab", uint8(255))
	f.Add([]byte{2, 2, 2, 2, 2, 2}, `<"\>`, uint8(3))
	f.Add([]byte{6, 6, 6, 6, 6, 6, 6, 6, 6, 6}, "x", uint8(50))
	shapes := []func(e, sep string) string{
		func(e, sep string) string { return fmt.Sprintf(`join(split(%s, ""), %s)`, e, sep) },
		func(e, sep string) string { return fmt.Sprintf(`join(split(%s, "a"), %s)`, e, sep) },
		func(e, _ string) string { return fmt.Sprintf(`toJSON(%s)`, e) },
		func(e, _ string) string { return fmt.Sprintf(`string(split(%s, ""))`, e) },
		func(e, _ string) string { return fmt.Sprintf(`upper(%s)`, e) },
		func(e, _ string) string { return fmt.Sprintf(`(%s + %s)`, e, e) },
		func(e, sep string) string { return fmt.Sprintf(`toJSON([%s, %s, %s])`, e, sep, e) },
		func(e, _ string) string { return fmt.Sprintf(`lower(%s ?? "")`, e) },
		func(e, _ string) string { return fmt.Sprintf(`string([%s, %s])`, e, e) },
		func(e, sep string) string { return fmt.Sprintf(`join([%s, %s], %s)`, e, e, sep) },
	}
	f.Fuzz(func(t *testing.T, plan []byte, seed string, sepLen uint8) {
		if len(plan) > 12 {
			plan = plan[:12]
		}
		sep := strings.Repeat("x", int(sepLen))
		sepLit := fmt.Sprintf("%q", sep)
		for _, leaf := range []string{fmt.Sprintf("%q", seed), "event.body.s"} {
			e := leaf
			for _, b := range plan {
				e = shapes[int(b)%len(shapes)](e, sepLit)
			}
			p, err := expression.Compile(e, expression.Any)
			if err != nil {
				continue
			}
			env := &expression.Env{Event: expression.Event{Body: map[string]any{"s": strings.Repeat(seed+sep, 1+(1<<16)/(1+len(seed)+len(sep)))}}}
			var evalErr error
			n := allocated(func() { _, evalErr = p.Eval(env) })
			if evalErr != nil && !errors.Is(evalErr, expression.ErrTooLarge) && !strings.Contains(evalErr.Error(), "not a string") {
				t.Logf("%s: %v", e, evalErr)
			}
			if n > 64<<20 {
				t.Fatalf("%s allocated %d bytes", e, n)
			}
		}
	})
}
