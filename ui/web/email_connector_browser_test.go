package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/postmark"
	"github.com/waymarkhq/waymark/connectors/postmark/pmtest"
	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestEmailProviderConnectorBrowser: an admin finds Amazon SES, SendGrid
// and Postmark among the connector types, sets up a Postmark connector
// through the generic form (a bad From address is named under its field,
// and the typed token is not sent back to the page), checks the
// connection against a fake that speaks Postmark's API, and reads the
// webhook URL with its credentials to paste into Postmark.
func TestEmailProviderConnectorBrowser(t *testing.T) {
	t.Parallel()
	testenv.Chromium(t)
	b, svc := uitest.SetupConnectors(t)
	api := pmtest.NewAPI(t, "pm-browser-token")
	b.CreateUser("admin@example.com", "correct horse battery", store.RoleAdmin)
	base := b.Listen()

	br := browsertest.New(t)
	br.AllowConsole(`status of 422`) // the refused form is re-rendered with 422
	br.Navigate(base + "/login")
	br.Do(
		chromedp.SendKeys(chromedp.CSS(`#email`), "admin@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=current-user]`)),
	)
	br.Navigate(base + "/connectors/new")
	for _, typ := range []string{"ses", "sendgrid", "postmark"} {
		require.True(t, browsertest.Eval[bool](br, `!!document.querySelector('[data-testid=choose-`+typ+`]')`), typ)
	}
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=choose-postmark]`)))
	br.WaitJS(`!!document.querySelector('[data-testid=connector-form] [name="config.server_token"]')`)
	require.Equal(t, "outbound", browsertest.Eval[string](br, `document.querySelector('[name="config.message_stream"]').value`))
	fill := func(from string) {
		br.Do(
			chromedp.SendKeys(chromedp.CSS(`[name="config.server_token"]`), "pm-browser-token"),
			chromedp.Clear(chromedp.CSS(`[name="config.from"]`)),
			chromedp.SendKeys(chromedp.CSS(`[name="config.from"]`), from),
			chromedp.Clear(chromedp.CSS(`[name="config.base_url"]`)),
			chromedp.SendKeys(chromedp.CSS(`[name="config.base_url"]`), api.URL),
			chromedp.Click(chromedp.CSS(`[data-testid=connector-form] button[type=submit]`)),
		)
	}
	br.Do(chromedp.SendKeys(chromedp.CSS(`#name`), "pm-browser"))
	fill("Acme news at acme")
	br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="config.from-error"]`)))
	require.Contains(t, browsertest.Eval[string](br, `document.querySelector('[data-testid="config.from-error"]').textContent`), "Want an email address")
	require.Equal(t, "", browsertest.Eval[string](br, `document.querySelector('[name="config.server_token"]').value`), "a secret is never sent back to the page")
	require.NotContains(t, browsertest.Eval[string](br, `document.documentElement.outerHTML`), "pm-browser-token")

	fill("Acme <news@acme.example>")
	br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid=connector-name]`)))
	require.Equal(t, "pm-browser", strings.TrimSpace(browsertest.Eval[string](br, `document.querySelector('[data-testid=connector-name]').textContent`)))

	br.Do(
		chromedp.Click(chromedp.CSS(`[data-testid=test-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=test-result]`)),
	)
	result := browsertest.Eval[string](br, `document.querySelector('[data-testid=test-result]').textContent`)
	require.Contains(t, result, `Connected: Postmark server "Staging Testing"`)

	views, err := svc.List(b.Ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	var id string
	for _, v := range views {
		if v.Name == "pm-browser" {
			id = v.ID
			require.Equal(t, "postmark", v.Type)
			require.Equal(t, []string{"server_token"}, v.SecretsSet)
			require.Equal(t, "Acme <news@acme.example>", v.Config["from"])
		}
	}
	require.NotEmpty(t, id)
	require.Contains(t, result, "https://waymark:"+postmark.WebhookPassword("pm-browser-token", id)+"@waymark.example.com/callbacks/postmark/"+id)
}
