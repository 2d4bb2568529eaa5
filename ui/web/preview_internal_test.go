package web

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// TestPreviewSlotsAreBounded: when every preview slot is taken, a
// preview is refused with 429 instead of rendering beside the others.
func TestPreviewSlotsAreBounded(t *testing.T) {
	t.Parallel()
	s := &Handler{previews: make(chan struct{}, maxConcurrentPreviews)}
	var releases []func()
	for range maxConcurrentPreviews {
		release, err := s.previewSlot(context.Background())
		require.NoError(t, err)
		releases = append(releases, release)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // do not wait out previewWait
	_, err := s.previewSlot(ctx)
	var e *httpkit.Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, 429, e.Status)
	releases[0]()
	release, err := s.previewSlot(context.Background())
	require.NoError(t, err)
	release()
}
