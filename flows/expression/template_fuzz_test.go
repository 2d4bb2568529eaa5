package expression_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/waymarkhq/waymark/flows/expression"
)

// The template parser with blocks never panics; ParseTemplate and
// CheckTemplate agree; a parse error is positioned; a render ends with
// text or an error, within the output bound.
func FuzzTemplateBlocks(f *testing.F) {
	for _, s := range []string{
		`Hi {{ profile.first_name ?? "there" }}`,
		`{% if profile.plan == "pro" %}Pro{% else if profile.age > 30 %}Old{% else %}Other{% end %}`,
		`{% for item in profile.tags %}{{ loop.index }}:{{ item }}{% if !loop.last %}, {% end %}{% end %}`,
		`{% for a in profile.tags %}{% for b in profile.tags %}{{ a + b }}{% end %}{% end %}`,
		"line\n{% end %}", `{% if %}`, `{% for x in %}{% end %}`, `{% else if true %}`, `{{ "{%" }} if`,
		`{%- if true -%}x{%end%}`, `{% if "%}" %}y{% end %}`, `100{% off`, `{% for loop in profile.tags %}{% end %}`,
	} {
		f.Add(s, false)
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, src string, html bool) {
		esc := expression.Text
		if html {
			esc = expression.HTML
		}
		tmpl, err := expression.ParseTemplate(src, esc)
		if checkErr := expression.CheckTemplate(src, esc); (checkErr == nil) != (err == nil) {
			t.Fatalf("CheckTemplate and ParseTemplate disagree on %q: %v vs %v", src, checkErr, err)
		}
		if err != nil {
			var e *expression.Error
			if !errors.As(err, &e) {
				t.Fatalf("%q: error %T is not positioned: %v", src, err, err)
			}
			if strings.Contains(src, "{%") && e.Line == 0 && !strings.Contains(e.Message, "too long") && !strings.Contains(e.Message, "UTF-8") {
				t.Fatalf("%q: a block error names no line: %v", src, err)
			}
			return
		}
		out, err := tmpl.Render(env)
		if err == nil && len(out) > expression.MaxRenderBytes {
			t.Fatalf("%q: rendered %d bytes", src, len(out))
		}
	})
}
