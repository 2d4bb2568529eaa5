package ui_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// TestProfileIDsThatNeedEscaping: an external id with a space, a quote,
// a < or an @ is sent percent-encoded (as encodeURIComponent and the UI's
// own links do); reading, exporting, the profile page and erasure all
// find the profile. Before, each answered 404 and erasure was impossible.
func TestProfileIDsThatNeedEscaping(t *testing.T) {
	t.Parallel()
	b, _, _ := setupProfiles(t)
	key := b.apiKey(store.DefaultWorkspaceID, "profiles:read", "profiles:write")
	b.createUser("viewer@example.com", "correct horse battery", store.RoleEditor)
	c := b.client()
	c.login("viewer@example.com", "correct horse battery")
	for _, id := range []string{"a b", `q"x`, "c<d", "user@example.com", "50%"} {
		r := b.call("POST", "/api/v1/profiles", key, []byte(`{"external_id": `+mustJSON(t, id)+`, "email": "p@example.com"}`))
		require.Equal(t, 201, r.status, string(r.body))
		path := "/api/v1/profiles/" + url.PathEscape(id)
		if id == "user@example.com" {
			path = "/api/v1/profiles/user%40example.com" // encodeURIComponent's form
		}
		r = b.call("GET", path, key, nil)
		require.Equal(t, 200, r.status, "%s: %s", id, r.body)
		require.Equal(t, id, r.json(t)["external_id"])
		require.Equal(t, 200, b.call("GET", path+"/export", key, nil).status, id)
		resp, page := c.get("/profiles/" + url.PathEscape(id))
		require.Equal(t, 200, resp.StatusCode, "%s: %s", id, page)
		require.Equal(t, 200, b.call("DELETE", path, key, nil).status, id)
		p, err := b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, id)
		require.True(t, errors.Is(err, store.ErrNotFound) || (err == nil && p.ErasedAt != nil), "%s was erased (%v)", id, err)
	}
}
