package flows_test

import (
	"testing"

	"github.com/waymarkhq/waymark/flows"
)

// BenchmarkValidate validates a generated 1,000-node journey (a fifth of
// the nodes carry a condition, a fifth a templated email, a fifth an
// update_profile expression).
func BenchmarkValidate(b *testing.B) {
	bd := setup(b)
	j := chain(1000)
	b.ReportAllocs()
	for b.Loop() {
		if p := flows.Validate(bd.reg, j, flows.ValidateOptions{}); len(p) > 0 {
			b.Fatal(p)
		}
	}
}

func BenchmarkCompileJourney(b *testing.B) {
	bd := setup(b)
	j := chain(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, p := flows.Compile(bd.reg, j, flows.ValidateOptions{}); len(p) > 0 {
			b.Fatal(p)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := flows.Marshal(chain(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := flows.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
