package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestInviteAndResetInFreshBrowser: an admin invites a user and later
// resets their password from the Users page; each link is opened in a
// browser that has never seen Waymark, the password is set, and the user
// is signed in. The link pages send Referrer-Policy: no-referrer, so the
// browser posts their forms with "Origin: null": the form's token is the
// proof. No log line carries a link's token.
func TestInviteAndResetInFreshBrowser(t *testing.T) {
	t.Parallel()
	testenv.Chromium(t)
	b := uitest.Setup(t)
	logs := b.Logs
	b.CreateUser("admin@example.com", "correct horse battery", store.RoleAdmin)
	base := b.Listen()

	admin := browsertest.New(t)
	admin.Navigate(base + "/login")
	admin.Do(
		chromedp.SendKeys(chromedp.CSS(`#email`), "admin@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=current-user]`)),
	)
	admin.Navigate(base + "/users")
	admin.Do(
		chromedp.SendKeys(chromedp.CSS(`[data-testid=invite-form] #email`), "new@example.com"),
		chromedp.SetValue(chromedp.CSS(`[data-testid=invite-form] #role`), "editor"),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=link]`)),
	)
	invite := strings.TrimSpace(browsertest.Eval[string](admin, `document.querySelector('[data-testid=link]').textContent`))
	require.Contains(t, invite, "/invite/")

	setPassword := func(link, password string) {
		t.Helper()
		br := browsertest.New(t) // a fresh profile: no cookie from Waymark yet
		br.Navigate(base + link[strings.Index(link, "/"+strings.SplitN(link, "/", 4)[3]):])
		require.Equal(t, "new@example.com", browsertest.Eval[string](br, `document.querySelector('[data-testid=link-email]').textContent`))
		br.Do(
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.SendKeys(chromedp.CSS(`#password_confirm`), password),
			chromedp.Click(chromedp.CSS(`[data-testid=password-form] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=current-user]`)),
		)
		require.Contains(t, browsertest.Eval[string](br, `document.querySelector('[data-testid=current-user]').textContent`), "new@example.com")
	}
	setPassword(invite, "first password here")

	// The admin resets the password; the new link works the same way.
	admin.Navigate(base + "/users")
	require.True(t, browsertest.Eval[bool](admin, `(() => {
		const row = [...document.querySelectorAll('[data-testid=user-row]')].find(r => r.textContent.includes('new@example.com'));
		const button = [...row.querySelectorAll('button')].find(b => b.textContent.includes('Reset password'));
		button.dataset.testid = 'reset-new';
		return true;
	})()`))
	admin.Do(chromedp.Click(chromedp.CSS(`[data-testid=reset-new]`)))
	admin.WaitJS(`!!document.querySelector('[data-testid=link]')`)
	reset := strings.TrimSpace(browsertest.Eval[string](admin, `document.querySelector('[data-testid=link]').textContent`))
	require.Contains(t, reset, "/reset/")
	setPassword(reset, "second password here")

	c := b.Client()
	c.Login("new@example.com", "second password here")
	for _, link := range []string{invite, reset} {
		token := link[strings.LastIndex(link, "/")+1:]
		require.NotContains(t, logs.String(), token, "a one-time token was logged")
	}
	require.Contains(t, logs.String(), "path=/invite/…")
}
