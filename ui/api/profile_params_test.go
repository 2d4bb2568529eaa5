package api_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestProfileIDsThatNeedEscaping: an external id with a space, a quote,
// a < or an @ is sent percent-encoded (as encodeURIComponent and the UI's
// own links do); reading, exporting, the profile page and erasure all
// find the profile. Before, each answered 404 and erasure was impossible.
func TestProfileIDsThatNeedEscaping(t *testing.T) {
	t.Parallel()
	b, _, _ := uitest.SetupProfiles(t)
	key := b.APIKey(store.DefaultWorkspaceID, "profiles:read", "profiles:write")
	b.CreateUser("viewer@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()
	c.Login("viewer@example.com", "correct horse battery")
	for _, id := range []string{"a b", `q"x`, "c<d", "user@example.com", "50%"} {
		r := b.Call("POST", "/api/v1/profiles", key, []byte(`{"external_id": `+uitest.MustJSON(t, id)+`, "email": "p@example.com"}`))
		require.Equal(t, 201, r.Status, string(r.Body))
		path := "/api/v1/profiles/" + url.PathEscape(id)
		if id == "user@example.com" {
			path = "/api/v1/profiles/user%40example.com" // encodeURIComponent's form
		}
		r = b.Call("GET", path, key, nil)
		require.Equal(t, 200, r.Status, "%s: %s", id, r.Body)
		require.Equal(t, id, r.JSON(t)["external_id"])
		require.Equal(t, 200, b.Call("GET", path+"/export", key, nil).Status, id)
		resp, page := c.Get("/profiles/" + url.PathEscape(id))
		require.Equal(t, 200, resp.StatusCode, "%s: %s", id, page)
		require.Equal(t, 200, b.Call("DELETE", path, key, nil).Status, id)
		p, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, id)
		require.True(t, errors.Is(err, store.ErrNotFound) || (err == nil && p.ErasedAt != nil), "%s was erased (%v)", id, err)
	}
}
