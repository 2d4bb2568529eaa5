package expression_test

import (
	"testing"

	"github.com/waymarkhq/waymark/flows/expression"
)

func FuzzCompileExpression(f *testing.F) {
	for _, s := range []string{
		`profile.age >= 18 && profile.country in ["FR", "DE"]`,
		`event.properties.cart_id == run.entry.properties.cart_id`,
		`days_since(profile.signed_up_at) > 7`,
		`len(map(1..100000000, # * 2))`,
		`((((((1))))))`, `!!!!true`, `profile.x ?? "y"`, `"unterminated`, `{"a": [1, 2]}.a[0]`,
		`in_timezone(now, "Europe/Paris").Hour()`, `let x = 1; x`,
		`count("purchase", within("30d")) >= 2`, `sum("purchase", "total", within("90d")) > 100`,
		`last("purchase").properties.total`, `last("purchase")?.occurred_at`, `days_since(first_seen) > 30 && last_seen != nil`,
		`in_segment("vip")`, `count(profile.x)`, `within("30x")`, `count("a", within("401d"))`, `first_seen()`,
		`"purchase" | count(within("2w"))`, `__facts`, `count("a", within("1d"), __facts, now)`,
	} {
		f.Add(s, true)
	}
	env, _ := historyEnv()
	f.Fuzz(func(t *testing.T, src string, boolean bool) {
		kind := expression.Any
		if boolean {
			kind = expression.Bool
		}
		p, err := expression.Compile(src, kind)
		if checkErr := expression.Check(src, kind); (checkErr == nil) != (err == nil) {
			t.Fatalf("Check and Compile disagree on %q: %v vs %v", src, checkErr, err)
		}
		if err != nil {
			return
		}
		_, _ = p.Eval(env)
		_, _ = expression.Render("x {{ "+src+" }} y", env, true)
	})
}
