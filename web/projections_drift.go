package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/views"
)

func urlPathEscape(s string) string { return url.PathEscape(s) }

// requireDrift answers 503 when drift checks are not configured.
func (s *Server) requireDrift() error {
	if s.deps.Drift == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "drift checks are not enabled on this server (declare them under \"drift\" in the --reducers file)")
	}
	return nil
}

func driftStreams(in []projections.StreamDrift) []views.DriftStream {
	out := make([]views.DriftStream, 0, len(in))
	for _, d := range in {
		ds := views.DriftStream{StreamID: d.StreamID, Version: d.Version, MissingRow: d.MissingRow}
		for _, f := range d.Fields {
			ds.Fields = append(ds.Fields, views.DriftDiff{Pointer: f.Pointer, Column: f.Column, Expected: f.Expected, Actual: f.Actual})
		}
		out = append(out, ds)
	}
	return out
}

// showDrift is GET /projections/{name}/drift: checks a sample of recently
// processed streams (?sample=N, default 50, at most 500).
func (s *Server) showDrift(c echo.Context) error {
	if err := s.requireDrift(); err != nil {
		return err
	}
	name := c.Param("name")
	m, err := s.deps.Drift.Mapping(name)
	if err != nil {
		return projectionError(name, err)
	}
	n := 50
	if v := c.QueryParam("sample"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 500 {
			return badRequest("sample", "%q is not a number between 1 and 500", v)
		}
	}
	rep, err := s.deps.Drift.CheckSample(c.Request().Context(), name, n)
	if err != nil {
		return projectionError(name, err)
	}
	rep.Drifted = s.maskDrift(m.StreamType, rep.Drifted)
	vm := views.DriftVM{Projection: name, StreamType: m.StreamType, Table: m.Table, Checkpoint: rep.Checkpoint, Checked: rep.Checked, Drifted: driftStreams(rep.Drifted), At: rep.At}
	for _, p := range m.Pointers() {
		vm.Fields = append(vm.Fields, views.DriftField{Pointer: p, Column: m.Fields[p]})
	}
	return s.renderResult(c, http.StatusOK, name+" drift · Projections", "projections", driftResult{report: rep, vm: vm})
}

type driftJobCreated struct {
	JobID string `json:"job_id"`
	URL   string `json:"url"`
}

// startDriftJob is POST /projections/{name}/drift/jobs: starts checking
// every stream in the background. Browsers are redirected to the progress
// page; scripts get 202 with the job id. While the projection has a running
// job, that job is the answer; 429 when too many jobs run server-wide.
func (s *Server) startDriftJob(c echo.Context) error {
	if err := s.requireDrift(); err != nil {
		return err
	}
	name := c.Param("name")
	id, err := s.deps.Drift.StartJob(name)
	if err != nil {
		if errors.Is(err, projections.ErrNoDriftMapping) {
			return projectionError(name, err)
		}
		if errors.Is(err, projections.ErrTooManyJobs) {
			return echo.NewHTTPError(http.StatusTooManyRequests, err.Error())
		}
		return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
	}
	u := "/projections/" + url.PathEscape(name) + "/drift/jobs/" + url.PathEscape(id)
	if wantsJSON(c) {
		return c.JSON(http.StatusAccepted, driftJobCreated{JobID: id, URL: u})
	}
	return c.Redirect(http.StatusSeeOther, u)
}

// showDriftJob is GET /projections/{name}/drift/jobs/{id}: the progress
// page, its polled fragment (?fragment=progress) or JSON.
func (s *Server) showDriftJob(c echo.Context) error {
	if err := s.requireDrift(); err != nil {
		return err
	}
	frag := c.QueryParam("fragment")
	if frag != "" && frag != "progress" {
		return badRequest("fragment", "%q is not a fragment of this page (want progress)", frag)
	}
	name := c.Param("name")
	job, err := s.deps.Drift.Job(c.Param("id"))
	if err != nil || job.Projection != name {
		return notFound("No drift job “%s” for projection “%s”.", capEchoed(c.Param("id")), capEchoed(name))
	}
	if m, err := s.deps.Drift.Mapping(name); err == nil {
		job.Drifted = s.maskDrift(m.StreamType, job.Drifted)
	}
	if wantsJSON(c) {
		return c.JSON(http.StatusOK, job)
	}
	vm := views.DriftJobVM{Projection: name, ID: job.ID, Total: job.Total, Done: job.Done, Finished: job.Finished, Error: job.Error, Truncated: job.Truncated, Drifted: driftStreams(job.Drifted)}
	if job.Total > 0 {
		vm.Percent = int(job.Done * 100 / job.Total)
	}
	if job.Finished && job.Error == "" {
		vm.Percent = 100
	}
	if frag == "progress" {
		return s.renderHTML(c, http.StatusOK, views.DriftJobProgress(vm))
	}
	return s.renderHTML(c, http.StatusOK, views.DriftJobPage(s.chrome(c, name+" drift check · Projections", "projections"), vm))
}

// driftResult is a drift page's result: the report as JSON, or the page
// (whose "check all" form carries the layout's CSRF token).
type driftResult struct {
	report any
	vm     views.DriftVM
}

func (r driftResult) toJSON() any { return r.report }
func (r driftResult) toView(ch views.Chrome) templ.Component {
	r.vm.CSRFToken = ch.CSRFToken
	return views.DriftPage(ch, r.vm)
}
