package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/views"
)

// loginResult is the sign-in form, with the failure of the last attempt.
type loginResult struct{ vm views.LoginVM }

func (r loginResult) toJSON() any {
	if r.vm.Error != "" {
		return errorBody{Error: r.vm.Error}
	}
	return map[string]string{"sign_in": "POST username, password and _csrf (from the auditd_csrf cookie) as a form to /login; API clients send Authorization: Bearer <token> instead"}
}

func (r loginResult) toView(ch views.Chrome) templ.Component { return views.LoginPage(ch, r.vm) }

// showLogin is the sign-in form.
func (s *Server) showLogin(c echo.Context) error {
	return s.renderLogin(c, http.StatusOK, views.LoginVM{Next: localPath(c.QueryParam("next"))})
}

func (s *Server) renderLogin(c echo.Context, status int, vm views.LoginVM) error {
	vm.SSO = s.deps.OIDC != nil
	return s.renderResult(c, status, "Sign in", "", loginResult{vm})
}

// login checks the form and starts a session. A wrong password and an
// unknown name get the same answer; a throttled account or address is
// told to wait.
func (s *Server) login(c echo.Context) error {
	if s.access == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "sign-in is off on this server")
	}
	vm := views.LoginVM{Next: localPath(c.FormValue("next")), Username: capEchoed(c.FormValue("username"))}
	u, err := s.access.SignIn(c.Request().Context(), c.FormValue("username"), c.FormValue("password"), c.RealIP())
	switch {
	case errors.Is(err, access.ErrInvalidCredentials):
		vm.Error = "Wrong username or password."
		return s.renderLogin(c, http.StatusUnauthorized, vm)
	case errors.Is(err, access.ErrThrottled):
		vm.Error = "Too many failed sign-ins for this account or address: wait a few minutes and try again."
		return s.renderLogin(c, http.StatusTooManyRequests, vm)
	case err != nil:
		return err
	}
	if err := s.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, vm.Next)
}

// startSession opens a session for u and sends its cookie.
func (s *Server) startSession(c echo.Context, u access.User) error {
	sid, err := s.access.StartSession(c.Request().Context(), u)
	if err != nil {
		return err
	}
	s.setSessionCookie(c, sid, int(s.access.Options().AbsoluteTimeout.Seconds()))
	return nil
}

// logout ends the session and returns to the sign-in form.
func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil && s.access != nil {
		if err := s.access.EndSession(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	s.clearSessionCookie(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// setupResult is the form creating the first admin.
type setupResult struct{ vm views.SetupVM }

func (r setupResult) toJSON() any {
	if r.vm.Error != "" {
		return errorBody{Error: r.vm.Error}
	}
	return map[string]string{"setup": "POST token, username, password and _csrf as a form to /setup"}
}

func (r setupResult) toView(ch views.Chrome) templ.Component { return views.SetupPage(ch, r.vm) }

// showSetup is the one-time form that creates the first admin; the link
// with its token is printed when auditd starts with no users.
func (s *Server) showSetup(c echo.Context) error {
	tok := c.QueryParam("token")
	if s.access == nil || !s.access.CheckSetupToken(tok) {
		return echo.NewHTTPError(http.StatusNotFound, access.ErrBadSetupToken.Error())
	}
	return s.renderSetup(c, http.StatusOK, views.SetupVM{Token: tok})
}

func (s *Server) renderSetup(c echo.Context, status int, vm views.SetupVM) error {
	return s.renderResult(c, status, "Create the first admin", "", setupResult{vm})
}

// completeSetup creates the first admin and signs them in.
func (s *Server) completeSetup(c echo.Context) error {
	if s.access == nil {
		return echo.NewHTTPError(http.StatusNotFound, access.ErrBadSetupToken.Error())
	}
	vm := views.SetupVM{Token: c.FormValue("token"), Username: capEchoed(c.FormValue("username"))}
	u, err := s.access.CompleteSetup(c.Request().Context(), vm.Token, c.FormValue("username"), c.FormValue("password"))
	switch {
	case errors.Is(err, access.ErrBadSetupToken):
		return echo.NewHTTPError(http.StatusForbidden, err.Error())
	case errors.Is(err, access.ErrSetupDone):
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	case errors.Is(err, access.ErrWeakPassword), errors.Is(err, access.ErrInvalidName):
		vm.Error = strings.TrimPrefix(err.Error(), "access: ")
		return s.renderSetup(c, http.StatusBadRequest, vm)
	case err != nil:
		return err
	}
	if err := s.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
