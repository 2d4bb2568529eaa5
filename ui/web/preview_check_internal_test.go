package web

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestTemplateProfileRefs(t *testing.T) {
	t.Parallel()
	for src, want := range map[string][]profileRef{
		`Hi {{ profile.first_name }}`:                        {{Name: "first_name"}},
		`Hi {{ profile.first_name ?? "there" }}`:             {{Name: "first_name", Guarded: true}},
		`{{ profile["last-name"] }} {{ "}}" }}`:              {{Name: "last-name"}},
		`{{ profile.vip ? "VIP " + profile.tier : "" }}`:     {{Name: "vip", Guarded: true}, {Name: "tier"}},
		`{{ profile.a ?? "x" }} and {{ profile.a }}`:         {{Name: "a"}}, // one read without a fallback is enough
		`{{ upper(profile.city) }} {{ event.body.x }}`:       {{Name: "city"}},
		`{{ profile.first_name ?? profile.email ?? "you" }}`: {{Name: "first_name", Guarded: true}, {Name: "email", Guarded: true}},
		`no placeholders`:                                    nil,
		`{{ broken( }}`:                                      nil,
	} {
		require.Equal(t, want, templateProfileRefs(src), src)
	}
}

func TestCheckProfileRefs(t *testing.T) {
	t.Parallel()
	recent := []store.Profile{
		{ExternalID: "u1", Email: "a@example.com", Attributes: map[string]any{"first_name": "A", "plan": "pro"}},
		{ExternalID: "u2", Attributes: map[string]any{"first_name": "", "plan": "free"}},
		{ExternalID: "u3", Email: "c@example.com", Attributes: map[string]any{"first_name": "C", "plan": nil}},
	}
	refs := templateProfileRefs(`{{ profile.first_name }} {{ profile.FirstName }} {{ profile.plann }} {{ profile.email }} {{ profile.zzz }} {{ profile.plan ?? "-" }}`)
	kinds := map[string]string{}
	fixes := map[string]string{}
	for _, w := range checkProfileRefs(refs, nil, "The sample profile", recent) {
		kinds[w.Attribute], fixes[w.Attribute] = w.Kind, w.Fix
	}
	// first_name: empty on u2 (1 of 3); email: missing on u2 too.
	require.Equal(t, map[string]string{"first_name": "rare", "FirstName": "unknown", "plann": "unknown", "email": "rare", "zzz": "unknown"}, kinds)
	require.Equal(t, "{{ profile.first_name }}", fixes["FirstName"])
	require.Equal(t, "{{ profile.plan }}", fixes["plann"])
	require.Equal(t, "", fixes["zzz"], "nothing close")
	require.Equal(t, `{{ profile.first_name ?? "there" }}`, fixes["first_name"])

	// On a chosen profile: missing there.
	ws := checkProfileRefs(templateProfileRefs(`{{ profile.plan }}`), &recent[2], "c@example.com", recent)
	require.Len(t, ws, 1)
	require.Equal(t, "missing", ws[0].Kind)
	// No recent profiles (none yet, or no right to read them): only the
	// chosen profile counts, and nothing is called a typo.
	require.Empty(t, checkProfileRefs(templateProfileRefs(`{{ profile.firstname }}`), nil, "The sample profile", nil))
	require.Equal(t, `{{ profile["odd key"] ?? "there" }}`, fallbackFix("odd key"))
}
