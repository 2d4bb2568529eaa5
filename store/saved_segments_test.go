package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestSavedSegments(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		seg, err := b.store.CreateSegment(b.ctx, store.Segment{WorkspaceID: b.ws, Name: "vip", Description: "big spenders",
			Expr: `profile.plan == "pro"`, Rules: `{"match":"all"}`, CreatedBy: "u1"})
		require.NoError(t, err)
		require.NotEmpty(t, seg.ID)
		require.Equal(t, b.clock.Now().UTC(), seg.CreatedAt)

		_, err = b.store.CreateSegment(b.ctx, store.Segment{WorkspaceID: b.ws, Name: "vip", Expr: "true"})
		require.ErrorIs(t, err, store.ErrConflict)
		other, err := b.store.CreateSegment(b.ctx, store.Segment{WorkspaceID: b.ws, Name: "active", Expr: "true"})
		require.NoError(t, err)

		got, err := b.store.GetSegmentByName(b.ctx, b.ws, "vip")
		require.NoError(t, err)
		require.Equal(t, seg, got)
		got, err = b.store.GetSegment(b.ctx, b.ws, seg.ID)
		require.NoError(t, err)
		require.Equal(t, "big spenders", got.Description)
		_, err = b.store.GetSegment(b.ctx, "other", seg.ID)
		require.ErrorIs(t, err, store.ErrNotFound)

		list, err := b.store.ListSegments(b.ctx, b.ws)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "active", list[0].Name)
		require.Equal(t, "vip", list[1].Name)

		// Two updates in the same clock tick still move UpdatedAt.
		seg.Expr = `profile.plan == "team"`
		up1, err := b.store.UpdateSegment(b.ctx, seg)
		require.NoError(t, err)
		require.True(t, up1.UpdatedAt.After(seg.UpdatedAt))
		up2, err := b.store.UpdateSegment(b.ctx, up1)
		require.NoError(t, err)
		require.True(t, up2.UpdatedAt.After(up1.UpdatedAt))
		require.Equal(t, `profile.plan == "team"`, up2.Expr)

		up2.Name = "active"
		_, err = b.store.UpdateSegment(b.ctx, up2)
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.store.UpdateSegment(b.ctx, store.Segment{WorkspaceID: b.ws, ID: "nope", Name: "x", Expr: "true"})
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, b.store.DeleteSegment(b.ctx, b.ws, other.ID))
		require.ErrorIs(t, b.store.DeleteSegment(b.ctx, b.ws, other.ID), store.ErrNotFound)
	})
}

func TestEstimateProfiles(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		ids := map[string]string{}
		add := func(ext, email string, attrs map[string]any, consent map[string]string) {
			e := email
			p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: ext, Email: &e, Attributes: attrs, Consent: consent})
			require.NoError(t, err)
			ids[ext] = p.ID
		}
		add("a", "ann@example.com", map[string]any{"plan": "pro", "age": 30, "vip": true}, map[string]string{"email": "granted"})
		add("b", "bob@test.org", map[string]any{"plan": "free", "age": 17, "vip": false}, map[string]string{"email": "denied"})
		add("c", "", map[string]any{"plan": "Pro team", "age": "40"}, nil)
		add("d", "dan@example.com", nil, nil)
		erased, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "e", Attributes: map[string]any{"plan": "pro"}})
		require.NoError(t, err)
		_, err = b.store.EraseProfile(b.ctx, b.ws, erased.ID)
		require.NoError(t, err)

		tests := []struct {
			name string
			f    store.ProfileFilter
			want []string
		}{
			{"is", store.ProfileFilter{Attribute: "plan", Op: store.AttrIs, Value: "pro"}, []string{"a"}},
			{"is not keeps missing", store.ProfileFilter{Attribute: "plan", Op: store.AttrIsNot, Value: "pro"}, []string{"b", "c", "d"}},
			{"contains is case-sensitive", store.ProfileFilter{Attribute: "plan", Op: store.AttrContains, Value: "ro"}, []string{"a", "c"}},
			{"starts with", store.ProfileFilter{Attribute: "plan", Op: store.AttrStartsWith, Value: "Pro"}, []string{"c"}},
			{"number only", store.ProfileFilter{Attribute: "age", Op: store.AttrGte, Number: 18}, []string{"a"}},
			{"ne keeps others", store.ProfileFilter{Attribute: "age", Op: store.AttrNe, Number: 30}, []string{"b", "c", "d"}},
			{"true", store.ProfileFilter{Attribute: "vip", Op: store.AttrIsTrue}, []string{"a"}},
			{"set", store.ProfileFilter{Attribute: "vip", Op: store.AttrSet}, []string{"a", "b"}},
			{"email index", store.ProfileFilter{Field: "email", Op: store.AttrIs, Value: "bob@test.org"}, []string{"b"}},
			{"email prefix", store.ProfileFilter{Field: "email", Op: store.AttrStartsWith, Value: "da"}, []string{"d"}},
			{"email contains", store.ProfileFilter{Field: "email", Op: store.AttrContains, Value: "@example."}, []string{"a", "d"}},
			{"email unset", store.ProfileFilter{Field: "email", Op: store.AttrNotSet}, []string{"c"}},
			{"consent", store.ProfileFilter{Consent: "email", Op: store.ConsentGranted}, []string{"a"}},
			{"no consent", store.ProfileFilter{Consent: "email", Op: store.ConsentNotGranted}, []string{"b", "c", "d"}},
			{"any", store.ProfileFilter{Group: "any", Filters: []store.ProfileFilter{
				{Attribute: "plan", Op: store.AttrIs, Value: "free"}, {Field: "email", Op: store.AttrNotSet}}}, []string{"b", "c"}},
			{"not all", store.ProfileFilter{Group: "all", Not: true, Filters: []store.ProfileFilter{
				{Attribute: "age", Op: store.AttrLt, Number: 18}}}, []string{"a", "c", "d"}},
			{"empty any", store.ProfileFilter{Group: "any"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				est, err := b.store.EstimateProfiles(b.ctx, b.ws, tt.f, 10)
				require.NoError(t, err)
				var got []string
				for _, p := range est.Sample {
					got = append([]string{p.ExternalID}, got...) // newest first
				}
				require.Equal(t, tt.want, got)
				require.Equal(t, int64(len(tt.want)), est.Count)
			})
		}
		n, err := b.store.CountProfiles(b.ctx, b.ws)
		require.NoError(t, err)
		require.Equal(t, int64(4), n)

		_, err = b.store.EstimateProfiles(b.ctx, b.ws, store.ProfileFilter{Attribute: `a"b`, Op: store.AttrIs}, 1)
		require.True(t, store.IsQueryError(err))
		_, err = b.store.EstimateProfiles(b.ctx, b.ws, store.ProfileFilter{Field: "attributes", Op: store.AttrIs}, 1)
		require.True(t, store.IsQueryError(err))

		ctx, cancel := context.WithCancel(b.ctx)
		cancel()
		_, err = b.store.EstimateProfiles(ctx, b.ws, store.ProfileFilter{Group: "all"}, 1)
		require.Error(t, err)
	})
}
