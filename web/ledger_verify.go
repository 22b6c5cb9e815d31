package web

import (
	"context"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/views"
)

// requireAudit answers 503 when the whole-store verification is off.
func (s *Server) requireAudit() error {
	if s.deps.LedgerAudit == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "the witness ledger is off (--no-live, or a mapped source): there is nothing to verify against")
	}
	return nil
}

// showLedgerVerify is GET /verify: the whole-store verification's current
// or last run, as a page, its polled fragment (?fragment=progress) or JSON.
func (s *Server) showLedgerVerify(c echo.Context) error {
	if err := s.requireAudit(); err != nil {
		return err
	}
	frag := c.QueryParam("fragment")
	if frag != "" && frag != "progress" {
		return badRequest("fragment", "%q is not a fragment of this page (want progress)", frag)
	}
	r := ledgerVerifyResult{report: s.deps.LedgerAudit.Report(), every: s.deps.LedgerAudit.Every()}
	if frag == "progress" && !wantsJSON(c) {
		return s.renderHTML(c, http.StatusOK, views.LedgerVerifyProgress(r.vm("")))
	}
	return s.renderResult(c, http.StatusOK, "Verify the whole store", "live", r)
}

// startLedgerVerify is POST /verify: starts a whole-store verification
// unless one is running (then that run is the answer). Browsers are sent
// back to the page, scripts get 202 and the report.
func (s *Server) startLedgerVerify(c echo.Context) error {
	if err := s.requireAudit(); err != nil {
		return err
	}
	s.deps.LedgerAudit.RunNow()
	if wantsJSON(c) {
		return c.JSON(http.StatusAccepted, s.deps.LedgerAudit.Report())
	}
	return c.Redirect(http.StatusSeeOther, "/verify")
}

// ledgerVerifyResult is /verify's page result.
type ledgerVerifyResult struct {
	report ledger.AuditReport
	every  string
}

func (r ledgerVerifyResult) toJSON() any { return r.report }

func (r ledgerVerifyResult) toView(ch views.Chrome) templ.Component {
	return views.LedgerVerifyPage(ch, r.vm(ch.CSRFToken))
}

func (r ledgerVerifyResult) vm(csrf string) views.LedgerVerifyVM {
	rep := r.report
	vm := views.LedgerVerifyVM{
		CSRFToken: csrf, CanStart: !rep.Running, Running: rep.Running, Never: rep.StartedAt.IsZero(),
		Trigger: rep.Trigger, Started: rep.StartedAt, Finished: rep.FinishedAt, Percent: int(rep.Percent),
		Total: rep.Total, Entries: rep.EntriesChecked, Events: rep.EventsChecked, Status: rep.Status,
		ProblemCount: rep.ProblemCount, Pending: rep.Pending, PrunedRows: rep.PrunedRows, Error: rep.Error, Every: r.every,
	}
	for _, p := range rep.Problems {
		lp := views.LedgerProblem{Kind: p.Kind, StreamID: p.StreamID, Version: p.Version, CommitLSN: p.CommitLSN}
		if p.Position > 0 {
			lp.EventURL, lp.StreamURL = "/events/"+views.I64(p.Position), streamPath(p.StreamID, "")
		}
		vm.Problems = append(vm.Problems, lp)
	}
	for _, a := range rep.Pruned {
		vm.Pruned = append(vm.Pruned, views.LedgerPruned{FromLSN: a.FromLSN, UptoLSN: a.UptoLSN, Entries: a.Entries, Events: a.Events, PrunedAt: a.PrunedAt})
	}
	return vm
}

// LedgerBanners is the banner source for a witness ledger that cannot be
// written (disk full, revoked rights): live goes on, the slot is not
// confirmed past what the ledger holds, and the writer retries; the banner
// clears by itself at the first write that works.
func LedgerBanners(w *ledger.Writer) BannerSource {
	return func(context.Context) ([]views.Banner, error) {
		st := w.Stats()
		if st.LastError == "" {
			return nil, nil
		}
		return []views.Banner{{Level: "danger", Href: "/live", ID: "banner-ledger",
			Text: "The witness ledger cannot be written: " + st.LastError + "; live continues, slot confirmation paused (" +
				views.Itoa(st.Queued) + " transactions waiting, nothing lost)."}}, nil
	}
}
