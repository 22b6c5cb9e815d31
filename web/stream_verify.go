package web

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/views"
)

// showVerify is GET /streams/{id}/verify: each of the stream's events
// hashed again from the table and compared with what the witness ledger
// saw commit.
func (s *Server) showVerify(c echo.Context) error {
	if s.deps.Ledger == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "the witness ledger is off (--no-live, or a mapped source)")
	}
	ctx := c.Request().Context()
	id, err := streamIDParam(c)
	if err != nil {
		return err
	}
	info, err := s.deps.Store.Stream(ctx, id)
	if err != nil {
		return err
	}
	v, err := s.deps.Ledger.VerifyStream(ctx, s.deps.Store, id)
	if err != nil {
		return err
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindVerify, StreamID: id, Window: versionWindow(1, info.Version), Filters: queryFilters(c)}); err != nil {
		return err
	}
	return s.renderResult(c, http.StatusOK, "Verify "+info.StreamID, "streams", verifyResult{info: info, v: v})
}

// verifyResult is a stream's verification against the ledger.
type verifyResult struct {
	info eventstore.StreamInfo
	v    ledger.Verification
}

func (r verifyResult) toJSON() any { return r.v }

func (r verifyResult) toView(chrome views.Chrome) templ.Component {
	id := r.info.StreamID
	vm := views.VerifyVM{
		StreamID: id, StreamType: r.info.StreamType, StreamURL: streamPath(id, ""),
		JSONURL: streamPath(id, "/verify") + "?format=json", EvidenceURL: streamPath(id, "/evidence"),
		Intact: r.v.Status == ledger.StatusIntact, Status: r.v.Status,
		Checked: r.v.Checked, Pending: r.v.Pending, Pruned: r.v.Pruned, FirstBrokenVersion: r.v.FirstBrokenVersion,
	}
	for _, p := range r.v.Problems {
		vm.Problems = append(vm.Problems, views.VerifyProblem{Version: p.Version, Kind: p.Kind,
			EventURL: "/events/" + views.Itoa(int(p.Position))})
	}
	return views.VerifyPage(chrome, vm)
}
