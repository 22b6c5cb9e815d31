package web

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/evidence"
	"github.com/auditd/auditd/internal/ledger"
)

// downloadEvidence is GET /streams/{id}/evidence?from=&to= (each v:N or a
// time, as for diffs): the signed evidence bundle of the window, as a JSON
// download. It carries the stored, unmasked values (their hashes need
// them), so its route needs the compliance role.
func (s *Server) downloadEvidence(c echo.Context) error {
	if s.deps.Ledger == nil || s.deps.Checkpoints == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "evidence needs the witness ledger, which is off (--no-live, or a mapped source)")
	}
	ctx := c.Request().Context()
	info, from, to, err := s.streamWindow(c)
	if err != nil {
		return err
	}
	who := identityOf(c)
	viewer := evidence.Viewer{User: who.User.Name, Role: who.User.Role.String(), Method: who.Method, RequestID: who.RequestID}
	win := evidence.Window{Info: info, From: from.point(), To: to.point(), FromText: from.String(), ToText: to.String(), URL: c.Request().URL.RequestURI()}
	if win.ToText == "" {
		win.ToText = "latest"
	}
	b := evidence.Builder{Store: s.deps.Store, Ledger: s.deps.Ledger, TimeTravel: s.deps.TimeTravel, Checkpoints: s.deps.Checkpoints}
	var buf bytes.Buffer
	q, err := b.Build(ctx, &buf, win, viewer, time.Now())
	switch {
	case errors.Is(err, evidence.ErrBackwards):
		return badRequest("from", "%v: a bundle's window runs forwards", err)
	case errors.Is(err, evidence.ErrPending):
		c.Response().Header().Set("Retry-After", "2")
		return echo.NewHTTPError(http.StatusConflict, err.Error()+": try again in a moment")
	case errors.Is(err, ledger.ErrCheckpointMismatch):
		return echo.NewHTTPError(http.StatusConflict, err.Error()+": the ledger was changed after it was signed, so nothing can be proven from it")
	case err != nil:
		return invalidPoint(err)
	}
	// The download is recorded before a byte of it is sent: a bundle whose
	// entry is not durable is not answered.
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindEvidence, StreamID: info.StreamID,
		Window: versionWindow(q.FromVersion, q.ToVersion), Filters: queryFilters(c)}); err != nil {
		return err
	}
	name := strings.TrimSuffix(exportFilename(info.StreamID, "json"), "-audit.json") + fmt.Sprintf("-evidence-v%d-v%d.json", q.FromVersion, q.ToVersion)
	startDownload(c, echo.MIMEApplicationJSON, name)
	_, err = c.Response().Write(buf.Bytes())
	return err
}
