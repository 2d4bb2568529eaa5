package expression_test

import (
	"testing"

	"github.com/waymarkhq/waymark/flows/expression"
)

// BenchmarkEval measures a compiled condition on a typical profile.
// Each read of a map value (profile.x, event.properties.x) costs one
// small allocation inside expr's reflection-based fetch.
func BenchmarkEval(b *testing.B) {
	env := testEnv()
	for _, bc := range []struct{ name, src string }{
		{"two_attributes", `profile.plan == "pro" && profile.age >= 18`},
		{"three_lookups", `profile.age >= 18 && profile.country in ["FR", "DE"] && event.properties.total > 100`},
		{"struct_fields_only", `run.steps < 10 && journey.version >= 2`},
		{"helper", `days_since(profile.signed_up_at) >= 7`},
	} {
		p, err := expression.Compile(bc.src, expression.Bool)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.EvalBool(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	src := `profile.age >= 18 && profile.country in ["FR", "DE"] && event.properties.total > 100`
	b.Run("compile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := expression.Compile(src, expression.Bool); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := expression.Check(src, expression.Bool); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRender(b *testing.B) {
	tmpl, err := expression.ParseTemplate(`<p>Hi {{ profile.first_name ?? "there" }}, your cart ({{ event.properties.total }}) is waiting.</p>`, expression.HTML)
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}
