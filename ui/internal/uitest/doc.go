// Package uitest is the HTTP edge's test harness, shared by the tests of
// ui, ui/web, ui/api and ui/ingest: Setup builds the whole server over a
// real SQLite store (a file per test) with an engine whose tasks are
// recorded (Drain runs them); Client is a cookie-keeping browser over
// app.Test; Bundle.Call makes an API request and replays the exchange
// against the server's own OpenAPI document (openapi.go); the other files
// hold fixtures several packages use (journeys, hooks, runs, stats,
// connectors, profiles, simulations, test sends).
package uitest
