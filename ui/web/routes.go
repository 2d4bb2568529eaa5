package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
)

// Routes registers every page on r, the group behind LoadSession and CSRF.
// Who may open a page is the permission table's (ui/permissions.go): the
// guard in front of each route signs visitors in or refuses their role.
func (h *Handler) Routes(r fiber.Router) {
	r.Get("/login", h.loginForm)
	r.Post("/login", h.login)
	r.Post("/reauth", h.reauth) // sign in again from a page's dialog (JSON)
	r.Post("/logout", h.logout)
	r.Get("/setup/:token", h.setupForm)
	r.Post("/setup/:token", h.setup)
	r.Get("/invite/:token", h.tokenForm(store.TokenInvite))
	r.Post("/invite/:token", h.tokenAccept(store.TokenInvite))
	r.Get("/reset/:token", h.tokenForm(store.TokenReset))
	r.Post("/reset/:token", h.tokenAccept(store.TokenReset))
	r.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/journeys", fiber.StatusSeeOther) })
	r.Get("/journeys", h.journeyList)

	// The journey editor: viewers open everything read-only.
	r.Get("/journeys/new", h.journeyNewForm)
	r.Post("/journeys", h.journeyCreate)
	r.Post("/journeys/copy", h.journeySaveCopy)
	r.Get("/journeys/:id/edit", h.journeyEdit)
	r.Get("/journeys/:id/history", h.journeyHistory)
	r.Get("/journeys/:id/stats.json", h.journeyStatsUI)
	r.Get("/journeys/:id/versions/:version", h.journeyVersionView)
	r.Post("/journeys/:id/draft", h.journeySaveDraft)
	r.Get("/journeys/:id/publish", h.journeyPublishReview)
	r.Post("/journeys/:id/publish", h.journeyPublish)
	r.Post("/journeys/:id/duplicate", h.journeyDuplicate)
	r.Post("/journeys/:id/pause", h.journeySetStatus(store.JourneyPaused))
	r.Post("/journeys/:id/resume", h.journeySetStatus(store.JourneyLive))
	r.Post("/journeys/:id/archive", h.journeySetStatus(store.JourneyArchived))
	// Panels render forms; they change nothing, so viewers may use them
	// (read-only).
	r.Post("/journeys/:id/panel/node", h.nodePanel)
	r.Post("/journeys/:id/panel/settings", h.settingsPanel)
	r.Post("/journeys/:id/panel/preview", h.templatePreview)
	r.Get("/journeys/:id/panel/profiles", h.previewProfiles) // "Preview as" (preview_person.go)
	// The trigger panel's hook URL, secret and test requests
	// (trigger_panel.go).
	h.triggerRoutes(r)
	// Saved segments and their builder (segments.go).
	h.segmentRoutes(r)
	h.broadcastRoutes(r) // broadcasts.go

	// Connectors (admins), the Test inbox, and the public unsubscribe page
	// /u/{token}, which lives outside sessions and CSRF.
	r.Get("/connectors", h.needConnectors, h.connectorList)
	r.Get("/connectors/new", h.needConnectors, h.connectorNew)
	r.Post("/connectors", h.needConnectors, h.connectorCreate)
	r.Get("/connectors/:id", h.needConnectors, h.connectorEdit)
	r.Post("/connectors/:id", h.needConnectors, h.connectorUpdate)
	r.Post("/connectors/:id/test", h.needConnectors, h.connectorCheck)
	r.Post("/connectors/:id/enable", h.needConnectors, h.connectorSetEnabled(true))
	r.Post("/connectors/:id/disable", h.needConnectors, h.connectorSetEnabled(false))
	r.Post("/connectors/:id/delete", h.needConnectors, h.connectorDelete)
	r.Get("/test-inbox", h.testInbox)
	r.Get("/test-inbox/:id", h.testInboxMessage)
	r.Get("/test-inbox/:id/body", h.testInboxBody)
	r.Get("/u/:token", h.unsubscribeForm)
	r.Post("/u/:token", h.unsubscribe)

	// Profile import (only with a profile service).
	if h.profiles != nil {
		r.Get("/profiles/import", h.importForm)
		r.Post("/profiles/import", h.importUpload)
		r.Post("/profiles/import/:id/start", h.importStart)
		r.Get("/profiles/import/:id", h.importShow)
		r.Get("/profiles/import/:id/progress", h.importProgress)
	}

	// The run explorer, the Profiles page and a profile's page.
	r.Get("/runs", h.runList)
	r.Get("/runs/:id", h.runShow)
	r.Post("/runs/:id/cancel", h.runCancel)
	r.Post("/runs/:id/retry", h.runRetry)
	r.Post("/runs/:id/move", h.runMove)
	r.Get("/profiles", h.profileList)
	r.Get("/profiles/:external_id", h.profileShow)

	// Exports and the report.
	r.Get("/journeys/:id/runs.csv", h.runsCSVUI)
	r.Get("/journeys/:id/deliveries.csv", h.deliveriesCSVUI)
	r.Get("/journeys/:id/report", h.journeyReport)

	// Administration.
	r.Get("/admin/operations", h.operationsPage)
	r.Post("/admin/operations/retry", h.operationsRetry)
	r.Get("/users", h.usersPage)
	r.Post("/users/invite", h.userInvite)
	r.Post("/users/:id/role", h.userSetRole)
	r.Post("/users/:id/disable", h.userSetDisabled(true))
	r.Post("/users/:id/enable", h.userSetDisabled(false))
	r.Post("/users/:id/reset", h.userReset)
	r.Get("/sessions", h.sessionsPage)
	r.Post("/sessions/:id/revoke", h.sessionRevoke)
	r.Get("/api-keys", h.apiKeysPage)
	r.Post("/api-keys", h.apiKeyCreate)
	r.Post("/api-keys/:id/revoke", h.apiKeyRevoke)
	r.Get("/audit", h.auditPage)
	r.Get("/audit.csv", h.auditCSV)

	// The editor's simulator, rollback, test sends and bandit splits.
	r.Post("/journeys/:id/simulate", h.journeySimulateUI)
	r.Post("/journeys/:id/rollback", h.journeyRollback)
	r.Post("/journeys/:id/test-send", h.journeyTestSendUI)
	r.Get("/journeys/:id/splits.json", h.journeyBandits)
	r.Post("/journeys/:id/splits/:node/freeze", h.splitFreeze)
	r.Post("/journeys/:id/splits/:node/unfreeze", h.splitUnfreeze)
}
