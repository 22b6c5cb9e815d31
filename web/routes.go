package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/static"
)

// routes registers every route of the application, in one place, each
// with the role it needs (roles are ordered: support < engineer <
// compliance < admin, each having the rights of the ones below). A route
// registered without one is refused by authorize.
func (s *Server) routes() {
	s.middleware()

	// Open to anyone: probes, static files, signing in.
	s.open(http.MethodGet, "/healthz", s.healthz)
	s.open(http.MethodGet, "/readyz", s.readyz)
	// /metrics checks its own caller: loopback only without a session.
	s.open(http.MethodGet, "/metrics", s.showMetrics)
	s.open(http.MethodGet, "/static/*", echo.WrapHandler(static.Handler()))
	s.open(http.MethodGet, "/favicon.ico", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/static/favicon.svg") })
	s.open(http.MethodGet, "/login", s.showLogin)
	s.open(http.MethodPost, "/login", s.login)
	s.open(http.MethodPost, "/logout", s.logout)
	s.open(http.MethodGet, "/login/oidc", s.startOIDC)
	s.open(http.MethodGet, "/login/oidc/callback", s.finishOIDC)
	s.open(http.MethodGet, "/setup", s.showSetup)
	s.open(http.MethodPost, "/setup", s.completeSetup)

	s.get("/", access.Support, s.showOverview)

	// Streams, timelines, time travel and the global log.
	// The header search: any id, straight to its page.
	s.get("/find", access.Support, s.find)
	s.get("/streams", access.Support, s.listStreams)
	s.get("/streams/:id", access.Support, s.showTimeline)
	s.get("/streams/:id/export.csv", access.Compliance, s.exportCSV)
	s.get("/streams/:id/export.json", access.Compliance, s.exportJSON)
	s.get("/streams/:id/state", access.Support, s.showState)
	s.get("/streams/:id/diff", access.Support, s.showDiff)
	// One masked value in clear, with a reason, written to the access log.
	s.post("/streams/:id/reveal", access.Compliance, s.revealValue)
	s.get("/streams/:id/fields", access.Support, s.showFieldHistory)
	// Versions and verdicts only, no stored values.
	s.get("/streams/:id/verify", access.Support, s.showVerify)
	// The window's stored, unmasked values, signed: for those who may see them.
	s.get("/streams/:id/evidence", access.Compliance, s.downloadEvidence)
	s.get("/events", access.Support, s.listEvents)
	s.get("/events/:position", access.Support, s.showEvent)
	s.get("/events/:position/raw", access.Support, s.showEventRaw)

	// The access log: who saw what; the session's case reference, which
	// every entry of the session carries.
	s.get("/access-log", access.Compliance, s.showAccessLog)
	s.get("/access-log.csv", access.Compliance, s.showAccessLog)
	s.post("/session/case", access.Support, s.setCase)

	// Live: the SSE feed (the timelines' live updates use it), the live
	// tail, tamper alerts.
	s.get("/live", access.Engineer, s.showLive)
	s.get("/live/events", access.Support, s.liveEvents)
	s.get("/alerts", access.Engineer, s.showAlerts)
	// What a DBA runs for a mapped source: publication, indexes; the slot.
	s.get("/setup/source", access.Engineer, s.showSetupSource)

	// The public key of checkpoints and evidence (anyone may check a
	// bundle); signing a checkpoint now is for compliance.
	s.get("/about/keys", access.Support, s.showKeys)
	s.post("/about/keys/checkpoints", access.Compliance, s.signCheckpoint)
	// The whole store verified against the witness ledger (a heavy read:
	// for those who answer for the evidence).
	s.get("/verify", access.Compliance, s.showLedgerVerify)
	s.post("/verify", access.Compliance, s.startLedgerVerify)

	// Projections: lag panels, history, drift checks, per-stream status.
	s.get("/projections", access.Engineer, s.showProjections)
	s.get("/projections/:name", access.Engineer, s.showProjection)
	s.get("/projections/:name/drift", access.Engineer, s.showDrift)
	s.post("/projections/:name/drift/jobs", access.Engineer, s.startDriftJob)
	s.get("/projections/:name/drift/jobs/:id", access.Engineer, s.showDriftJob)
	s.get("/streams/:id/projections", access.Engineer, s.showStreamProjections)
}
