// Package httpkit is the small kit the HTTP edge's packages share
// (ui/web, ui/api, ui/ingest and the composing ui): the error type
// handlers return and the one place domain errors become HTTP statuses,
// the request's locals (request id, user, session, API key), strict JSON
// decoding, the audit entry of a change, CSV exports and the HTTP
// metrics. It imports none of its siblings.
package httpkit
