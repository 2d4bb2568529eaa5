package expression_test

import (
	"fmt"
	"time"

	"github.com/waymarkhq/waymark/flows/expression"
)

func Example() {
	// At publish: compile once.
	cond, err := expression.Compile(`profile.plan == "pro" && days_since(profile.signed_up_at) >= 7`, expression.Bool)
	if err != nil {
		panic(err)
	}
	subject, err := expression.ParseTemplate(`Hi {{ profile.first_name ?? "there" }}`, expression.Text)
	if err != nil {
		panic(err)
	}
	// Per step: build the env and evaluate.
	env := &expression.Env{
		Profile: expression.Profile(expression.ProfileFields{ExternalID: "u1"},
			map[string]any{"plan": "pro", "signed_up_at": "2026-01-01T00:00:00Z"}),
		Now: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC),
	}
	ok, err := cond.EvalBool(env)
	fmt.Println(ok, err)
	s, err := subject.Render(env)
	fmt.Println(s, err)
	_, err = expression.Compile(`len(map(1..100000000, # * 2))`, expression.Any)
	fmt.Println(err)
	// Output:
	// true <nil>
	// Hi there <nil>
	// line 1, column 10: the range operator .. is not allowed
}
