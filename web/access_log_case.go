package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/views"
)

// caseHeader is how an API client (a bearer token, which has no session)
// states its case reference, per request.
const caseHeader = "X-Case-Ref"

// caseChrome fills the layout's case form and access log link: the form
// for a signed-in session (a token has no session to keep a case on), the
// link for the roles that may read the log.
func (s *Server) caseChrome(c echo.Context, ch *views.Chrome) {
	id := identityOf(c)
	ch.AccessLog = id.SignedIn() && id.User.Role.Reaches(access.Compliance)
	if id.Method != "session" {
		return
	}
	ch.CaseForm, ch.CaseRef, ch.Path = true, id.CaseRef, "/"
	if c.Request().Method == http.MethodGet {
		ch.Path = localPath(c.Request().URL.RequestURI())
	}
}

// setCase is POST /session/case: the form in the header sets (or, empty,
// clears) the session's case reference, then returns to the page it was
// sent from.
func (s *Server) setCase(c echo.Context) error {
	id := identityOf(c)
	ck, err := c.Cookie(sessionCookie)
	if id.Method != "session" || err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "a case reference is kept on a signed-in browser session; API clients send it with each request in the "+caseHeader+" header")
	}
	if err := s.access.SetSessionCase(c.Request().Context(), ck.Value, c.FormValue("case_ref")); err != nil {
		if errors.Is(err, access.ErrInvalidCaseRef) {
			return badRequest("case_ref", "%s", err.Error())
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, localPath(c.FormValue("next")))
}

// caseRequired is the answer to a recorded view without a case reference
// when the configuration requires one: the page says what to do, and its
// header holds the form that does it.
func caseRequired(id access.Identity) error {
	msg := "This server records every view with a case reference, and this session has none: enter the case you are working on (e.g. ticket 4711) in the Case box at the top of this page, then the page is shown."
	if id.Method != "session" {
		msg = "This server records every view with a case reference: send the case you are working on in the " + caseHeader + " header (e.g. " + caseHeader + ": ticket 4711)."
	}
	return echo.NewHTTPError(http.StatusPreconditionRequired, msg)
}
