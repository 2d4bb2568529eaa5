package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// setupPasswords is a server on the database at dbURL (migrated here if
// needed) that hashes passwords with h, as one `waymark web` process would.
func setupPasswords(t *testing.T, dbURL string, h *auth.Hasher) *uitest.Bundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	srv, err := ui.New(ui.Config{Version: "test", SetupToken: "setup-token-123", BodyLimit: 64 << 10}, ui.Deps{
		Store:     st,
		Journeys:  journeys.New(st, reg),
		Logger:    slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil)),
		Passwords: h,
	})
	require.NoError(t, err)
	return &uitest.Bundle{T: t, Ctx: ctx, Store: st, Server: srv}
}

// dialectURLs runs fn on a fresh SQLite file and a fresh PostgreSQL schema.
func dialectURLs(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			if dialect == store.DialectSQLite {
				fn(t, testenv.SQLiteURL(t))
			} else {
				fn(t, testenv.PostgresURL(t))
			}
		})
	}
}

type loginResult struct {
	status     int
	retryAfter string
	body       string
}

// loginBurst sends POST /login for each email and password at once,
// spread over the servers (all from the same client IP), and returns the
// answers in order. csrf is a double-submit token, as a browser holds
// after GET /login.
func loginBurst(t *testing.T, servers []*uitest.Bundle, csrf string, emails, passwords []string) []loginResult {
	t.Helper()
	out := make([]loginResult, len(emails))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range emails {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"_csrf": {csrf}, "email": {emails[i]}, "password": {passwords[i]}}
			req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: "waymark_csrf", Value: csrf})
			<-start
			resp, err := servers[i%len(servers)].Server.App().Test(req, -1)
			if !assert.NoError(t, err) { // not require: this is not the test's goroutine
				return
			}
			body, _ := io.ReadAll(resp.Body)
			out[i] = loginResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(body)}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func statusCounts(rs []loginResult) map[int]int {
	n := map[int]int{}
	for _, r := range rs {
		n[r.status]++
	}
	return n
}

// TestAttackConcurrentLoginThrottling is finding F2 of the outside review:
// 30 wrong passwords for one account sent at once were all checked, where
// the policy allows 5. Two servers share the database, as two `waymark
// web` processes would; each has its own hashing cap.
func TestAttackConcurrentLoginThrottling(t *testing.T) {
	t.Parallel()
	dialectURLs(t, func(t *testing.T, dbURL string) {
		h1 := auth.NewHasher(2, 10*time.Minute)
		h2 := auth.NewHasher(2, 10*time.Minute)
		a := setupPasswords(t, dbURL, h1)
		b := setupPasswords(t, dbURL, h2)
		a.CreateUser("t2@example.com", uitest.Password, store.RoleViewer)
		_, page := a.Client().Get("/login")
		csrf := uitest.CSRFFrom(t, page)

		const n = 30
		emails := make([]string, n)
		passwords := make([]string, n)
		for i := range n {
			emails[i] = "t2@example.com"
			passwords[i] = fmt.Sprintf("wrong guess %02d", i)
		}
		rs := loginBurst(t, []*uitest.Bundle{a, b}, csrf, emails, passwords)

		require.Equal(t, map[int]int{http.StatusUnauthorized: 5, http.StatusTooManyRequests: 25}, statusCounts(rs))
		require.EqualValues(t, 5, h1.Runs()+h2.Runs(), "password checks that really ran")
		for _, r := range rs {
			if r.status == http.StatusTooManyRequests {
				require.NotEmpty(t, r.retryAfter)
				require.Contains(t, r.body, "Too many failed sign-ins")
			}
		}
		f, err := a.Store.LoginFailuresForEmail(a.Ctx, "t2@example.com", time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 5, f.Count, "the failures checked, no more")

		// Locked: the right password is refused without a check.
		c := b.Client()
		c.Cookies["waymark_csrf"] = csrf
		resp, _ := c.PostForm("/login", url.Values{"_csrf": {csrf}, "email": {"T2@example.com"}, "password": {uitest.Password}})
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.EqualValues(t, 5, h1.Runs()+h2.Runs())
	})
}

// TestAttackConcurrentLoginThrottlingPerIP: unknown emails from one IP,
// all at once. Only the IP's 20 free failures are checked.
func TestAttackConcurrentLoginThrottlingPerIP(t *testing.T) {
	t.Parallel()
	dialectURLs(t, func(t *testing.T, dbURL string) {
		h := auth.NewHasher(2, 10*time.Minute)
		a := setupPasswords(t, dbURL, h)
		b := setupPasswords(t, dbURL, h)
		const n = 26
		emails := make([]string, n)
		passwords := make([]string, n)
		for i := range n {
			emails[i] = fmt.Sprintf("ghost%02d@example.com", i)
			passwords[i] = "x"
		}
		counts := statusCounts(loginBurst(t, []*uitest.Bundle{a, b}, "csrf-token-for-test", emails, passwords))
		require.Equal(t, map[int]int{http.StatusUnauthorized: 20, http.StatusTooManyRequests: 6}, counts)
		require.EqualValues(t, 20, h.Runs(), "unknown emails burn a hash each, within the allowance only")
	})
}

// TestLoginRefusedWhileHashingIsFull: with every hashing slot taken, a
// sign-in (known or unknown email), an invitation accept and the first-run
// setup answer 503 with Retry-After at once, run no hash, and count
// against no one.
func TestLoginRefusedWhileHashingIsFull(t *testing.T) {
	t.Parallel()
	h := auth.NewHasher(2, 0)
	b := setupPasswords(t, testenv.SQLiteURL(t), h)
	b.CreateUser("admin@example.com", uitest.Password, store.RoleAdmin)
	ac := b.Client()
	atok := ac.Login("admin@example.com", uitest.Password)
	_, page := ac.PostForm("/users/invite", url.Values{"_csrf": {atok}, "email": {"vic@example.com"}, "role": {"viewer"}})
	link := uitest.OneTimeLink(t, page)
	vc := b.Client()
	_, page = vc.Get(link)
	vtok := uitest.CSRFFrom(t, page)
	runs := h.Runs()

	var releases []func()
	for range h.Limit() {
		release, err := h.Acquire(context.Background())
		require.NoError(t, err)
		releases = append(releases, release)
	}

	c := b.Client()
	_, page = c.Get("/login")
	tok := uitest.CSRFFrom(t, page)
	// More refusals than the account's free failures: none of them count.
	for i := 0; i < 7; i++ {
		resp, body := c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"admin@example.com"}, "password": {"wrong guess " + fmt.Sprint(i)}})
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "attempt %d", i+1)
		require.Equal(t, "2", resp.Header.Get("Retry-After"))
		require.Contains(t, body, "The server is busy checking other passwords")
		require.Contains(t, body, `data-testid="login-error"`)
	}
	resp, _ := c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"nobody@example.com"}, "password": {"x"}})
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "an unknown email is refused the same way")
	resp, body := vc.PostForm(link, url.Values{"_csrf": {vtok}, "password": {uitest.Password}, "password_confirm": {uitest.Password}})
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	require.Contains(t, body, "The server is busy checking other passwords")
	require.Equal(t, runs, h.Runs(), "no hash ran while the slots were full")

	for _, release := range releases {
		release()
	}
	f, err := b.Store.LoginFailuresForIP(b.Ctx, "0.0.0.0", time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Zero(t, f.Count, "refused attempts were released")
	resp, _ = c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"admin@example.com"}, "password": {uitest.Password}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the account is not locked")
	resp, _ = vc.PostForm(link, url.Values{"_csrf": {vtok}, "password": {uitest.Password}, "password_confirm": {uitest.Password}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the invitation still works")
}

func TestSetupRefusedWhileHashingIsFull(t *testing.T) {
	t.Parallel()
	h := auth.NewHasher(1, 0)
	b := setupPasswords(t, testenv.SQLiteURL(t), h)
	c := b.Client()
	_, page := c.Get("/setup/setup-token-123")
	form := url.Values{"_csrf": {uitest.CSRFFrom(t, page)}, "email": {"root@example.com"}, "name": {"Root"}, "password": {uitest.Password}}
	release, err := h.Acquire(context.Background())
	require.NoError(t, err)
	resp, body := c.PostForm("/setup/setup-token-123", form)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	require.Contains(t, body, "The server is busy checking other passwords")
	n, err := b.Store.CountUsers(b.Ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	release()
	resp, _ = c.PostForm("/setup/setup-token-123", form)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}
