package store_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func seedProfiles(t *testing.T, b testBundle, ps ...store.ProfileUpsert) {
	t.Helper()
	for _, p := range ps {
		p.WorkspaceID = b.ws
		_, _, err := b.store.UpsertProfile(b.ctx, p)
		require.NoError(t, err)
	}
}

func externalIDs(l store.ProfileList) []string {
	out := make([]string, len(l.Profiles))
	for i, p := range l.Profiles {
		out[i] = p.ExternalID
	}
	return out
}

// allPages follows the cursor to the end and returns every external id.
func allPages(t *testing.T, b testBundle, q store.ProfileQuery) []string {
	t.Helper()
	var ids []string
	for range 100 {
		l, err := b.store.ListProfiles(b.ctx, b.ws, q)
		require.NoError(t, err)
		ids = append(ids, externalIDs(l)...)
		if l.Next == "" {
			return ids
		}
		q.After = l.Next
	}
	t.Fatal("the cursor never ended")
	return nil
}

func TestListProfiles(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		seedProfiles(t, b,
			store.ProfileUpsert{ExternalID: "ada", Email: strp("ada@example.com"), Phone: strp("+14155550100"),
				Attributes: map[string]any{"plan": "Pro", "score": 12, "vip": true, "city": "Paris"}},
			store.ProfileUpsert{ExternalID: "adam", Email: strp("zed@example.com"), Attributes: map[string]any{"plan": "trial", "score": 3.5}},
			store.ProfileUpsert{ExternalID: "bob", Email: strp("adele@example.com"), Attributes: map[string]any{"plan": "pro", "score": "12", "vip": false}},
			store.ProfileUpsert{ExternalID: "carla", Phone: strp("+14155550199"), Attributes: map[string]any{"score": 40}},
			store.ProfileUpsert{ExternalID: "dan", Email: strp("dan@example.com")},
			store.ProfileUpsert{ExternalID: "Émile", Email: strp("emile@example.com"), Attributes: map[string]any{"city": "Île-de-France"}},
			store.ProfileUpsert{ExternalID: "gone", Email: strp("adrien@example.com")},
		)
		gone, err := b.store.GetProfileByExternalID(b.ctx, b.ws, "gone")
		require.NoError(t, err)
		_, err = b.store.EraseProfile(b.ctx, b.ws, gone.ID)
		require.NoError(t, err)

		// Every profile by external id (byte order), erased ones left out,
		// page by page.
		require.Equal(t, []string{"ada", "adam", "bob", "carla", "dan", "Émile"}, allPages(t, b, store.ProfileQuery{Limit: 2}))
		l, err := b.store.ListProfiles(b.ctx, b.ws, store.ProfileQuery{Limit: 6})
		require.NoError(t, err)
		require.Len(t, l.Profiles, 6)
		require.Empty(t, l.Next, "a page that holds the rest has no next page")

		for _, tc := range []struct {
			name    string
			search  string
			want    []string
			matched []string
		}{
			{"external id, then email, each once", "ad", []string{"ada", "adam", "bob"}, []string{"external_id", "external_id", "email"}},
			{"email in any case", "ADELE@", []string{"bob"}, []string{"email"}},
			{"phone with spaces", "+1 415 555 01", []string{"ada", "carla"}, []string{"phone", "phone"}},
			{"phone without plus", "1415555019", []string{"carla"}, []string{"phone"}},
			{"accented id", "Ém", []string{"Émile"}, []string{"external_id"}},
			{"nothing", "zzz", nil, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l, err := b.store.ListProfiles(b.ctx, b.ws, store.ProfileQuery{Search: tc.search})
				require.NoError(t, err)
				require.Equal(t, tc.want, nilIfEmpty(externalIDs(l)))
				require.Equal(t, tc.matched, nilIfEmpty(l.Matched))
				// The same, one per page: the cursor crosses parts.
				require.Equal(t, tc.want, nilIfEmpty(allPages(t, b, store.ProfileQuery{Search: tc.search, Limit: 1})))
			})
		}

		for _, tc := range []struct {
			name string
			cond store.AttributeCondition
			want []string
		}{
			{"is", store.AttributeCondition{Name: "plan", Op: store.AttrIs, Value: "pro"}, []string{"bob"}},
			{"is not keeps the missing", store.AttributeCondition{Name: "plan", Op: store.AttrIsNot, Value: "pro"}, []string{"ada", "adam", "carla", "dan", "Émile"}},
			{"contains ignores case", store.AttributeCondition{Name: "plan", Op: store.AttrContains, Value: "PR"}, []string{"ada", "bob"}},
			{"number equal, not the string 12", store.AttributeCondition{Name: "score", Op: store.AttrEq, Number: 12}, []string{"ada"}},
			{"number not equal", store.AttributeCondition{Name: "score", Op: store.AttrNe, Number: 12}, []string{"adam", "bob", "carla", "dan", "Émile"}},
			{"greater", store.AttributeCondition{Name: "score", Op: store.AttrGt, Number: 12}, []string{"carla"}},
			{"at least", store.AttributeCondition{Name: "score", Op: store.AttrGte, Number: 12}, []string{"ada", "carla"}},
			{"less, decimals", store.AttributeCondition{Name: "score", Op: store.AttrLt, Number: 4}, []string{"adam"}},
			{"at most", store.AttributeCondition{Name: "score", Op: store.AttrLte, Number: 3.5}, []string{"adam"}},
			{"true", store.AttributeCondition{Name: "vip", Op: store.AttrIsTrue}, []string{"ada"}},
			{"false", store.AttributeCondition{Name: "vip", Op: store.AttrIsFalse}, []string{"bob"}},
			{"set", store.AttributeCondition{Name: "city", Op: store.AttrSet}, []string{"ada", "Émile"}},
			{"not set", store.AttributeCondition{Name: "city", Op: store.AttrNotSet}, []string{"adam", "bob", "carla", "dan"}},
			{"a name with a dot and a space", store.AttributeCondition{Name: "a.b c", Op: store.AttrSet}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cond := tc.cond
				l, err := b.store.ListProfiles(b.ctx, b.ws, store.ProfileQuery{Attribute: &cond})
				require.NoError(t, err)
				require.Equal(t, tc.want, nilIfEmpty(externalIDs(l)))
				require.False(t, l.Partial)
				// With a scan budget of 2, pages stop early and say so, and
				// following them finds the same profiles, each once.
				require.Equal(t, tc.want, nilIfEmpty(allPages(t, b, store.ProfileQuery{Attribute: &cond, Scan: 2, Limit: 1})))
			})
		}

		// A search and a condition together.
		cond := store.AttributeCondition{Name: "plan", Op: store.AttrContains, Value: "pro"}
		require.Equal(t, []string{"ada", "bob"}, allPages(t, b, store.ProfileQuery{Search: "ad", Attribute: &cond, Scan: 1, Limit: 1}))
		l, err = b.store.ListProfiles(b.ctx, b.ws, store.ProfileQuery{Attribute: &store.AttributeCondition{Name: "score", Op: store.AttrGt, Number: 100}, Scan: 2})
		require.NoError(t, err)
		require.True(t, l.Partial, "the window ended before the table")
		require.NotEmpty(t, l.Next)
		require.Empty(t, l.Profiles)

		// Refusals.
		_, err = b.store.ListProfiles(b.ctx, b.ws, store.ProfileQuery{After: "not a cursor"})
		require.ErrorIs(t, err, store.ErrBadCursor)
		_, err = b.store.ListProfiles(b.ctx, b.ws, store.ProfileQuery{Search: "ad", After: base64.RawURLEncoding.EncodeToString([]byte(`{"p":3,"k":"x"}`))})
		require.ErrorIs(t, err, store.ErrBadCursor, "ad has no phone part")
		for _, c := range []store.AttributeCondition{{Name: "plan", Op: "like"}, {Name: `a"b`, Op: store.AttrSet}, {Name: "", Op: store.AttrSet}} {
			_, err = b.store.ListProfiles(b.ctx, b.ws, store.ProfileQuery{Attribute: &c})
			var qe *store.QueryError
			require.True(t, errors.As(err, &qe), "%+v: %v", c, err)
		}
	})
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
