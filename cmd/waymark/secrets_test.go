package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/store"
)

func TestSecretsRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "w.db")
	key := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	oldKey, newKey := key(), key()
	raw, _ := base64.StdEncoding.DecodeString(oldKey)

	// A connector sealed with the old key.
	st, err := store.Open(ctx, dbURL, store.Options{})
	require.NoError(t, err)
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	ring, err := secrets.NewKeyring(raw)
	require.NoError(t, err)
	reg, err := builtin.NewRegistry()
	require.NoError(t, err)
	svc, err := connectors.NewService(st, ring, reg, connectors.Options{})
	require.NoError(t, err)
	_, err = svc.Create(ctx, store.DefaultWorkspaceID, connectors.Input{Type: "webhook", Name: "crm",
		Config: map[string]any{"url": "https://crm.example.com/hook", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
	require.NoError(t, err)
	require.NoError(t, st.Close())

	base := map[string]string{"WAYMARK_DATABASE_URL": dbURL, "WAYMARK_DATA_DIR": dir}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	r := runCLI(t, with("WAYMARK_SECRET_KEY", oldKey), "", "secrets", "check")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "1 secret value(s) in 1 connector(s)")

	// The new key alone cannot open the secrets: a loud failure, exit 1.
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey), "", "secrets", "check")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "does not open")
	require.Contains(t, r.stderr, `"crm"`)
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey), "", "secrets", "rotate")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "nothing more was changed")

	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey, "WAYMARK_SECRET_KEY_OLD", oldKey), "", "secrets", "rotate", "--dry-run")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "dry run: 1 secret value(s)")
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey, "WAYMARK_SECRET_KEY_OLD", oldKey), "", "secrets", "rotate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "sealed 1 secret value(s) in 1 connector(s) and 0 journey webhook(s) again")
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey, "WAYMARK_SECRET_KEY_OLD", oldKey), "", "secrets", "rotate")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "sealed 0 secret value(s)", "idempotent")

	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey), "", "secrets", "check")
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI(t, with("WAYMARK_SECRET_KEY", oldKey), "", "secrets", "check")
	require.Equal(t, 1, r.code, "the old key no longer opens them")

	// Usage mistakes: exit 2.
	for _, args := range [][]string{{"secrets"}, {"secrets", "spin"}, {"secrets", "rotate", "--bogus"}} {
		r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey), "", args...)
		require.Equal(t, 2, r.code, "%v", args)
	}
	r = runCLI(t, base, "", "secrets", "rotate")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "WAYMARK_SECRET_KEY")
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey, "WAYMARK_SECRET_KEY_OLD", "short"), "", "secrets", "rotate")
	require.Equal(t, 2, r.code)
	r = runCLI(t, nil, "", "secrets", "--help")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "WAYMARK_SECRET_KEY_OLD")
}
