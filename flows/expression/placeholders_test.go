package expression

import (
	"reflect"
	"strings"
	"testing"
)

func TestPlaceholders(t *testing.T) {
	cases := []struct {
		src  string
		want []string
	}{
		{"Hi {{ profile.first_name ?? \"there\" }}!", []string{` profile.first_name ?? "there" `}},
		{`{{ "}}" + a }} and {{ {"k": 1}.k }}`, []string{` "}}" + a `, ` {"k": 1}.k `}},
		{"no placeholders", nil},
		{"{{ a }} then {{ unclosed", []string{" a "}},
	}
	for _, c := range cases {
		if got := Placeholders(c.src); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Placeholders(%q) = %q, want %q", c.src, got, c.want)
		}
	}
	// Bounded like a template: at most MaxPlaceholders.
	if got := len(Placeholders(strings.Repeat("{{a}}", MaxPlaceholders+5))); got != MaxPlaceholders {
		t.Errorf("got %d placeholders, want at most %d", got, MaxPlaceholders)
	}
}
