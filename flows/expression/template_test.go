package expression_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows/expression"
)

func TestTemplateRender(t *testing.T) {
	t.Parallel()
	env := testEnv()
	env.Profile["first_name"] = `<b>Ann & "Bo"</b>`
	tests := []struct {
		name string
		src  string
		esc  expression.Escaping
		want string
	}{
		{"plain", "Hi {{ profile.first_name }}!", expression.Text, `Hi <b>Ann & "Bo"</b>!`},
		{"default with ??", `Hi {{ profile.nickname ?? "there" }}!`, expression.Text, "Hi there!"},
		{"default()", `Hi {{ default(profile.nickname, "there") }}!`, expression.Text, "Hi there!"},
		{"html escapes values only", `<p>Hi {{ profile.first_name }}</p>`, expression.HTML, `<p>Hi &lt;b&gt;Ann &amp; &#34;Bo&#34;&lt;/b&gt;</p>`},
		{"numbers", `{{ event.properties.total }} / {{ journey.version }} / {{ 1e21 }}`, expression.Text, "120.5 / 2 / 1000000000000000000000"},
		{"nil is empty", `[{{ profile.nope }}]`, expression.Text, "[]"},
		{"lists as JSON", `{{ profile.tags }}`, expression.Text, `["vip","beta"]`},
		{"time", `{{ now }}`, expression.Text, "2026-03-15T12:00:00Z"},
		{"braces in strings", `{{ "}}" + "{{" }}`, expression.Text, "}}{{"},
		{"map literal", `{{ {"a": {"b": 1}}.a.b }}`, expression.Text, "1"},
		{"no placeholders", "Just text }} here", expression.Text, "Just text }} here"},
		{"multi-line", "Line 1\n{{ upper(\"x\") }}\nLine 3", expression.Text, "Line 1\nX\nLine 3"},
		{"json values", `{"id": {{ profile.external_id }}, "total": {{ event.properties.total }}, "none": {{ profile.nope }}, "tags": {{ profile.tags }}}`, expression.JSONText,
			`{"id": "u1", "total": 120.5, "none": null, "tags": ["vip","beta"]}`},
		{"json in string", `{"greeting": "Hi {{ profile.first_name }}\n"}`, expression.JSONText, `{"greeting": "Hi \u003cb\u003eAnn \u0026 \"Bo\"\u003c/b\u003e\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := expression.ParseTemplate(tt.src, tt.esc)
			require.NoError(t, err)
			require.NoError(t, expression.CheckTemplate(tt.src, tt.esc))
			got, err := tmpl.Render(env)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			if tt.esc == expression.JSONText {
				require.True(t, json.Valid([]byte(got)), got)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		esc       expression.Escaping
		want      string
	}{
		{"unclosed", "Hi {{ profile.first_name", expression.Text, "line 1, column 4: {{ is not closed by }}"},
		{"bad expression", "Line 1\nHi {{ profle.x }}", expression.Text, "line 2, column 7: unknown name profle"},
		{"empty placeholder", "Hi {{ }}", expression.Text, "empty expression"},
		{"guarded", "{{ len(map(1..100000000, # * 2)) }}", expression.Text, "range operator"},
		{"invalid json", `{"id": {{ profile.external_id }}`, expression.JSONText, "not valid JSON"},
		{"too many placeholders", strings.Repeat("{{ 1 }}", expression.MaxPlaceholders+1), expression.Text, "too many placeholders"},
		{"too long", strings.Repeat("x", expression.MaxTemplateLength+1), expression.HTML, "template too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := expression.ParseTemplate(tt.src, tt.esc)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, expression.CheckTemplate(tt.src, tt.esc), tt.want)
		})
	}
}

func TestTemplateRenderError(t *testing.T) {
	t.Parallel()
	tmpl, err := expression.ParseTemplate("{{ days_since(profile.nope) }}", expression.Text)
	require.NoError(t, err)
	_, err = tmpl.Render(testEnv())
	require.ErrorContains(t, err, "rendering {{ days_since(profile.nope) }}")
}

func TestRenderConvenience(t *testing.T) {
	t.Parallel()
	out, err := expression.Render("<i>{{ profile.first_name }}</i>", testEnv(), true)
	require.NoError(t, err)
	require.Equal(t, "<i>Ann</i>", out)
}
