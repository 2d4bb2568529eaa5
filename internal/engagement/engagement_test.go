package engagement_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/waymarkhq/waymark/internal/engagement"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

// links returns a document's hrefs and img srcs, in order.
func links(doc string) (out []string) {
	z := html.NewTokenizer(strings.NewReader(doc))
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		tok := z.Token()
		for _, a := range tok.Attr {
			if a.Key == "href" || a.Key == "src" {
				out = append(out, a.Val)
			}
		}
	}
	return out
}

// TestHitsThatRecordNothing: a test send's and an erased profile's hits
// redirect but record nothing; a token of the other kind, or from another
// key, is refused.
func TestHitsThatRecordNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	later := func() time.Time { return time.Now().Add(time.Hour) }
	svc, err := engagement.New(engagement.Config{Store: st, Base: "https://wm.example/", Keys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, Now: later})
	require.NoError(t, err)
	other, err := engagement.New(engagement.Config{Store: st, Base: "https://wm.example", Keys: [][]byte{[]byte("fedcba9876543210fedcba9876543210")}})
	require.NoError(t, err)

	email := "ada@example.com"
	p, _, err := st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "ada", Email: &email})
	require.NoError(t, err)
	mk := func(test bool, recipient string) store.Delivery {
		d, err := st.CreateDelivery(ctx, store.Delivery{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, IdempotencyKey: store.NewID(),
			Connector: "sandbox", Channel: "send_email", Recipient: recipient, Status: store.DeliverySent, IsTest: test})
		require.NoError(t, err)
		return d
	}
	const body = `<p><a href="https://shop.example/">Shop</a></p>`
	for _, d := range []store.Delivery{mk(true, email), mk(false, "")} {
		got := links(svc.Track(store.DefaultWorkspaceID, d.ID, body))
		require.Len(t, got, 2)
		click := strings.TrimPrefix(got[0], "https://wm.example/t/c/")
		open := strings.TrimSuffix(strings.TrimPrefix(got[1], "https://wm.example/t/o/"), ".gif")
		res, err := svc.Click(ctx, engagement.Hit{Token: click, Method: "GET", UserAgent: chrome})
		require.NoError(t, err)
		require.Equal(t, engagement.Result{URL: "https://shop.example/"}, res, "redirects, counts nothing")
		res, err = svc.Open(ctx, engagement.Hit{Token: open, Method: "GET", UserAgent: chrome})
		require.NoError(t, err)
		require.False(t, res.Counted)

		_, err = svc.Click(ctx, engagement.Hit{Token: open, Method: "GET", UserAgent: chrome})
		require.ErrorIs(t, err, engagement.ErrBadToken, "an open token is no click token")
		_, err = svc.Open(ctx, engagement.Hit{Token: click, Method: "GET", UserAgent: chrome})
		require.ErrorIs(t, err, engagement.ErrBadToken)
		_, err = other.Click(ctx, engagement.Hit{Token: click, Method: "GET", UserAgent: chrome})
		require.ErrorIs(t, err, engagement.ErrBadToken, "another install's key")
	}
	evs, err := st.ListProfileEvents(ctx, p.ID, engagement.EventClicked, time.Now().Add(-time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, evs)

	// A real delivery counts.
	d := mk(false, email)
	got := links(svc.Track(store.DefaultWorkspaceID, d.ID, body))
	res, err := svc.Click(ctx, engagement.Hit{Token: strings.TrimPrefix(got[0], "https://wm.example/t/c/"), Method: "GET", UserAgent: chrome, IP: "203.0.113.7"})
	require.NoError(t, err)
	require.Equal(t, engagement.Result{URL: "https://shop.example/", Human: true, Counted: true}, res)
	evs, err = st.ListProfileEvents(ctx, p.ID, engagement.EventClicked, time.Now().Add(-time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
}
