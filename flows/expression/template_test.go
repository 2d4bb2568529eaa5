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

func TestTemplateBlocks(t *testing.T) {
	t.Parallel()
	env := testEnv()
	env.Event.Properties["items"] = []any{
		map[string]any{"name": "Mat", "price": 14.99}, map[string]any{"name": "<Lamp>", "price": 30.0}}
	tests := []struct {
		name string
		src  string
		esc  expression.Escaping
		want string
	}{
		{"if true", `{% if profile.plan == "pro" %}Pro{% end %}!`, expression.Text, "Pro!"},
		{"if false", `{% if profile.plan == "free" %}Free{% end %}!`, expression.Text, "!"},
		{"else if chain", `{% if profile.age < 18 %}minor{% else if profile.age < 30 %}young{% else if profile.age < 40 %}thirties{% else %}older{% end %}`, expression.Text, "thirties"},
		{"else", "{% if profile.nope %}yes{% else %}no{% end %}", expression.Text, "no"},
		{"truthy", `{% if profile.tags %}tags{% end %}{% if "" %}x{% end %}{% if 0 %}y{% end %}{% if [] %}z{% end %}`, expression.Text, "tags"},
		{"for", `{% for item in event.properties.items %}{{ loop.index }}. {{ item.name }} {{ item.price }}{% if !loop.last %}, {% end %}{% end %}`, expression.Text,
			"1. Mat 14.99, 2. <Lamp> 30"},
		{"for html escapes values", `<ul>{% for item in event.properties.items %}<li>{{ item.name }}</li>{% end %}</ul>`, expression.HTML,
			"<ul><li>Mat</li><li>&lt;Lamp&gt;</li></ul>"},
		{"nested loops see both items", `{% for t in profile.tags %}{% for item in event.properties.items %}{{ t }}:{{ item.name }};{% end %}{% end %}`, expression.Text,
			"vip:Mat;vip:<Lamp>;beta:Mat;beta:<Lamp>;"},
		{"nil list", `[{% for x in profile.nope %}{{ x }}{% end %}]`, expression.Text, "[]"},
		{"loop.first", `{% for t in profile.tags %}{% if loop.first %}{{ upper(t) }}{% else %}{{ t }}{% end %} {% end %}`, expression.Text, "VIP beta "},
		{"multi-line", "Hi {{ profile.first_name }},\n{% if profile.plan == \"pro\" %}\nThanks for Pro.\n{% end %}\nBye", expression.Text, "Hi Ann,\n\nThanks for Pro.\n\nBye"},
		{"literal {% that is not a tag", `100{% of {{ "{%" }} if`, expression.Text, "100{% of {% if"},
		{"tag in a string is not a tag", `{{ "{% if x %}" }}`, expression.Text, "{% if x %}"},
		{"spaces and dashes", "{%- if true -%}a{%end%}", expression.Text, "a"},
		{"json templates have no blocks", `{"text": "{% if x %}{{ profile.first_name }}{% end %}"}`, expression.JSONText, `{"text": "{% if x %}Ann{% end %}"}`},
		{"outside a loop, names are the env's", `{% for item in profile.tags %}{% end %}{{ profile.first_name }}`, expression.Text, "Ann"},
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
		})
	}
}

func TestTemplateBlockErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("{% if true %}", expression.MaxBlockDepth+1) + strings.Repeat("{% end %}", expression.MaxBlockDepth+1)
	tests := []struct {
		name, src string
		esc       expression.Escaping
		want      string
	}{
		{"end without a block", "Hi\n\nThere {% end %}", expression.Text, "line 3, column 7: {% end %} without a block"},
		{"not closed", "a\n{% if true %}x", expression.Text, "line 2, column 1: {% if %} is not closed by {% end %}"},
		{"for not closed", "{% for x in profile.tags %}{% if true %}{% end %}", expression.Text, "line 1, column 1: {% for %} is not closed by {% end %}"},
		{"else without if", "{% else %}", expression.Text, "line 1, column 1: {% else %} without {% if %}"},
		{"else in for", "{% for x in profile.tags %}{% else %}{% end %}", expression.Text, "{% else %} without {% if %}"},
		{"else after else", "{% if true %}{% else %}{% else %}{% end %}", expression.Text, "line 1, column 24: {% else %} after {% else %}"},
		{"bad condition", "Line 1\n{% if profle.x %}{% end %}", expression.Text, "line 2, column 7: unknown name profle"},
		{"empty condition", "{% if %}{% end %}", expression.Text, "line 1, column 1: {% if %} needs a condition"},
		{"bad for", "{% for x of profile.tags %}{% end %}", expression.Text, "write {% for item in list %}"},
		{"reserved loop name", "{% for profile in profile.tags %}{% end %}", expression.Text, "cannot name a loop's item"},
		{"loop variable out of scope", "{% for x in profile.tags %}{% end %}{{ x }}", expression.Text, "unknown name x"},
		{"guarded in a loop", "{% for x in profile.tags %}{{ len(map(1..100000000, # * 2)) }}{% end %}", expression.Text, "range operator"},
		{"not closed tag", "{% if true", expression.Text, "line 1, column 1: {% is not closed by %}"},
		{"unknown", "{% endfor %}", expression.Text, ""},
		{"too deep", deep, expression.Text, "blocks nest at most"},
		{"too many", strings.Repeat("{% if true %}{% end %}", expression.MaxPlaceholders), expression.Text, "too many placeholders and tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := expression.ParseTemplate(tt.src, tt.esc)
			if tt.want == "" {
				require.NoError(t, err, "{%% endfor %%} is literal text (no block keyword)")
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, expression.CheckTemplate(tt.src, tt.esc), tt.want)
			var e *expression.Error
			require.ErrorAs(t, err, &e)
		})
	}
}

func TestTemplateBlockLimits(t *testing.T) {
	t.Parallel()
	env := testEnv()
	many := make([]any, expression.MaxLoopIterations+1)
	env.Event.Properties["many"] = many
	tmpl, err := expression.ParseTemplate("{% for x in event.properties.many %}.{% end %}", expression.Text)
	require.NoError(t, err)
	_, err = tmpl.Render(env)
	require.ErrorIs(t, err, expression.ErrTooLarge)
	require.ErrorContains(t, err, "line 1, column 1")

	// Nested loops count every iteration: 40 × 40 > 1,000.
	env.Event.Properties["forty"] = many[:40]
	tmpl, err = expression.ParseTemplate("{% for a in event.properties.forty %}{% for b in event.properties.forty %}.{% end %}{% end %}", expression.Text)
	require.NoError(t, err)
	_, err = tmpl.Render(env)
	require.ErrorIs(t, err, expression.ErrTooLarge)

	// The output is bounded as without blocks.
	env.Event.Properties["big"] = strings.Repeat("x", 300<<10)
	env.Event.Properties["ten"] = many[:10]
	tmpl, err = expression.ParseTemplate("{% for a in event.properties.ten %}{{ event.properties.big }}{% end %}", expression.Text)
	require.NoError(t, err)
	_, err = tmpl.Render(env)
	require.ErrorIs(t, err, expression.ErrTooLarge)

	// A loop over something that is not a list says so.
	tmpl, err = expression.ParseTemplate("{% for a in profile.first_name %}x{% end %}", expression.Text)
	require.NoError(t, err)
	_, err = tmpl.Render(env)
	require.ErrorContains(t, err, "want a list")
}
