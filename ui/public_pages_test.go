package ui_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/web"
)

// TestPublicPagesMatchPermissionTable: the pages SignedOut lets through
// without a session (web.IsPublicPage) are exactly the UI routes the
// permission table makes public, so a script's request to any other page
// gets 401 "signed_out" and never a misleading CSRF refusal.
func TestPublicPagesMatchPermissionTable(t *testing.T) {
	t.Parallel()
	for _, line := range ui.PermissionTable() {
		route, access, ok := strings.Cut(line, " → ")
		require.True(t, ok, line)
		_, path, _ := strings.Cut(route, " ")
		if !ui.IsUIPath(path) {
			continue
		}
		concrete := strings.NewReplacer(":token", "t0ken", ":id", "x1", ":external_id", "p1", ":version", "1", ":node", "n1", ":type", "smtp").Replace(path)
		public := strings.HasPrefix(access, "public:")
		require.Equal(t, public, web.IsPublicPage(concrete), "%s: the permission table says %s", line, access)
	}
}
