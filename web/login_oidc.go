package web

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
)

// oidcCookie carries one single sign-on attempt (state, nonce, PKCE
// verifier, where to go after) from /login/oidc to the callback. It holds
// only this attempt's random values, so it need not be signed: the state
// in it must equal the state the provider sends back.
const oidcCookie = "auditd_oidc"

// startOIDC sends the browser to the identity provider.
func (s *Server) startOIDC(c echo.Context) error {
	if s.deps.OIDC == nil {
		return notFound("single sign-on is not configured (--oidc-issuer)")
	}
	state, nonce, verifier := access.NewOIDCState()
	next := base64.RawURLEncoding.EncodeToString([]byte(localPath(c.QueryParam("next"))))
	s.setOIDCCookie(c, strings.Join([]string{state, nonce, verifier, next}, "."), 600)
	return c.Redirect(http.StatusFound, s.deps.OIDC.AuthCodeURL(state, nonce, verifier))
}

// finishOIDC is the provider's redirect back: the code is exchanged, the
// ID token verified, the user recorded with the provider's role and
// signed in.
func (s *Server) finishOIDC(c echo.Context) error {
	if s.deps.OIDC == nil || s.access == nil {
		return notFound("single sign-on is not configured (--oidc-issuer)")
	}
	ck, err := c.Cookie(oidcCookie)
	s.setOIDCCookie(c, "", -1) // one attempt, one callback
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "this sign-in was not started here, or took longer than 10 minutes: sign in again")
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 4 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(c.QueryParam("state"))) != 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "the sign-in's state does not match: sign in again")
	}
	if e := c.QueryParam("error"); e != "" {
		return echo.NewHTTPError(http.StatusUnauthorized, "the identity provider refused the sign-in: "+capEchoed(e))
	}
	id, err := s.deps.OIDC.Exchange(c.Request().Context(), c.QueryParam("code"), parts[2], parts[1])
	if errors.Is(err, access.ErrNoRole) {
		return echo.NewHTTPError(http.StatusForbidden, strings.TrimPrefix(err.Error(), "access: ")+": ask your administrator for the support, engineer, compliance or admin role")
	}
	if err != nil {
		s.logger.Warn("single sign-on failed", "error", err)
		return echo.NewHTTPError(http.StatusUnauthorized, "single sign-on failed: see the server log")
	}
	u, err := s.access.SignInExternal(c.Request().Context(), id)
	if errors.Is(err, access.ErrInvalidCredentials) {
		return echo.NewHTTPError(http.StatusForbidden, "this user is disabled in auditd")
	}
	if err != nil {
		return echo.NewHTTPError(http.StatusForbidden, strings.TrimPrefix(err.Error(), "access: "))
	}
	if err := s.startSession(c, u); err != nil {
		return err
	}
	next, _ := base64.RawURLEncoding.DecodeString(parts[3])
	return c.Redirect(http.StatusSeeOther, localPath(string(next)))
}

func (s *Server) setOIDCCookie(c echo.Context, value string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: oidcCookie, Value: value, Path: "/login/oidc", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.publicURL != nil && s.publicURL.Scheme == "https",
	})
}
