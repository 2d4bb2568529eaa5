package audience_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/internal/audience"
)

func TestNormalise(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ada.l@example.com", audience.MetaEmail("  Ada.L@Example.COM "))
	require.Equal(t, "", audience.MetaEmail("nope"))
	require.Equal(t, "33612345678", audience.MetaPhone("+33 6 12 34 56 78"))
	require.Equal(t, "15551234567", audience.MetaPhone("+1 (555) 123-4567"))
	require.Equal(t, "", audience.MetaPhone("06 12 34 56 78"), "no country code: not guessed")
	require.Equal(t, "adalovelace@gmail.com", audience.GoogleEmail(" Ada.Lovelace@GMail.com"))
	require.Equal(t, "ada.lovelace@example.com", audience.GoogleEmail("Ada.Lovelace@example.com"), "dots kept outside gmail")
	require.Equal(t, "+33612345678", audience.GooglePhone("+33 6 12 34 56 78"))
	require.Equal(t, "", audience.GooglePhone("0612345678"))
	// SHA-256 of "test@example.com", lowercase hex.
	require.Equal(t, "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b", audience.Hash("test@example.com"))
}

func TestBatches(t *testing.T) {
	t.Parallel()
	require.Equal(t, [][2]int{{0, 3}, {3, 6}, {6, 7}}, audience.Batches(7, 3))
	require.Empty(t, audience.Batches(0, 3))
}
