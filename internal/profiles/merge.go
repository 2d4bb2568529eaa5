package profiles

import (
	"context"
	"strings"

	"github.com/waymarkhq/waymark/store"
)

// Anonymous profiles of the Segment-compatible intake (docs/cdp.md): a
// call that names only an anonymousId lands on the profile whose external
// id is AnonymousPrefix + that id, until an identify ties the anonymousId
// to a userId; then the anonymous profile merges into the identified one
// (store.MergeProfiles) and the anonymousId is an alias of it.

// AnonymousPrefix starts the external id of an anonymous profile.
const AnonymousPrefix = "anonymous:"

// MaxAnonymousID bounds an anonymousId (the external id stays within 256
// characters).
const MaxAnonymousID = 200

// AnonymousExternalID is the external id of an anonymous id's profile.
func AnonymousExternalID(anonymousID string) string { return AnonymousPrefix + anonymousID }

// IsAnonymous reports whether an external id names an anonymous profile.
func IsAnonymous(externalID string) bool { return strings.HasPrefix(externalID, AnonymousPrefix) }

// MergeStore is the storage identity resolution needs.
type MergeStore interface {
	AliasedProfile(ctx context.Context, workspaceID, anonymousID string) (string, bool, error)
	MergeProfiles(ctx context.Context, m store.ProfileMerge) (store.MergeResult, error)
}

// Resolve returns the external id of the profile a call is about: the
// userId when there is one; else the profile the anonymousId was
// identified as; else the anonymous profile.
func Resolve(ctx context.Context, st MergeStore, workspaceID, userID, anonymousID string) (string, error) {
	if userID != "" {
		return userID, nil
	}
	if ext, ok, err := st.AliasedProfile(ctx, workspaceID, anonymousID); err != nil || ok {
		return ext, err
	}
	return AnonymousExternalID(anonymousID), nil
}

// Identify ties an anonymousId to a userId: the anonymous profile merges
// into the identified one (the identified profile's values win; events and
// runs move; docs/cdp.md) and later calls with only the anonymousId land
// on the identified profile. Identifying again is harmless, and sweeps
// anything that reached the anonymous profile meanwhile.
func Identify(ctx context.Context, st MergeStore, workspaceID, userID, anonymousID string) (store.MergeResult, error) {
	return st.MergeProfiles(ctx, store.ProfileMerge{WorkspaceID: workspaceID, AnonymousID: anonymousID,
		From: AnonymousExternalID(anonymousID), Into: userID})
}
