package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// TestSQLiteFilesArePrivate: the database and its WAL files are readable
// by their owner only, even in a data directory an operator created
// world-readable, and a file an older version left 0644 is narrowed.
func TestSQLiteFilesArePrivate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	path := filepath.Join(dir, "waymark.db")

	st, err := store.Open(ctx, "sqlite:"+path, store.Options{})
	require.NoError(t, err)
	_, err = st.Migrate(ctx) // writes: the -wal and -shm files appear
	require.NoError(t, err)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		require.NoError(t, err, p)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), p)
	}
	require.NoError(t, st.Close())

	require.NoError(t, os.Chmod(path, 0o644))
	st, err = store.Open(ctx, "sqlite:"+path, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}
