package httpkit

import (
	"slices"

	"github.com/waymarkhq/waymark/store"
)

// Permissions a role grants in the UI.
const (
	PermSignedIn      = "signed_in"      // any signed-in user (sign out, own account)
	PermJourneysRead  = "journeys:read"  // journeys, versions, runs, reports
	PermJourneysWrite = "journeys:write" // create, edit, publish, pause, archive; templates
	PermProfilesRead  = "profiles:read"  // profiles and their attributes, the test inbox
	PermProfilesWrite = "profiles:write" // import, erase
	PermAdmin         = "admin"          // users, roles, sessions, API keys, connectors, audit log
)

// rolePermissions is what each role may do. Admin has every permission.
var rolePermissions = map[store.Role][]string{
	store.RoleViewer: {PermSignedIn, PermJourneysRead},
	store.RoleEditor: {PermSignedIn, PermJourneysRead, PermJourneysWrite, PermProfilesRead},
	store.RoleAdmin:  {PermSignedIn, PermJourneysRead, PermJourneysWrite, PermProfilesRead, PermProfilesWrite, PermAdmin},
}

// RoleAllows reports whether role grants perm.
func RoleAllows(role store.Role, perm string) bool {
	return slices.Contains(rolePermissions[role], perm)
}
