package web

import (
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/views"
)

// wantsJSON reports whether the client asked for JSON: an Accept header that
// names application/json before text/html, or ?format=json.
func wantsJSON(c echo.Context) bool {
	if c.QueryParam("format") == "json" {
		return true
	}
	accept := c.Request().Header.Get("Accept")
	j := strings.Index(accept, "application/json")
	if j < 0 {
		return false
	}
	h := strings.Index(accept, "text/html")
	return h < 0 || j < h
}

// pageResult is what one page handler computed, once: the page's two
// answers are mappings of it, so JSON and HTML cannot drift apart.
type pageResult interface {
	// toJSON is the result as the JSON API answers it.
	toJSON() any
	// toView is the result as the page shows it, in the layout ch.
	toView(ch views.Chrome) templ.Component
}

// renderResult is the one way pages answer: r mapped to JSON or to the page (titled title,
// with nav active), building only the mapping the client asked for.
func (s *Server) renderResult(c echo.Context, status int, title, nav string, r pageResult) error {
	c.Response().Header().Add("Vary", "Accept")
	if wantsJSON(c) {
		return c.JSON(status, r.toJSON())
	}
	return s.renderHTML(c, status, r.toView(s.chrome(c, title, nav)))
}

// renderHTML writes a templ component as the response.
func (s *Server) renderHTML(c echo.Context, status int, page templ.Component) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return page.Render(c.Request().Context(), c.Response())
}

// chrome is what every page's layout needs: title, the active nav entry, the
// CSRF token, who is signed in and the header banners. Banners tell of
// tamper alerts and projections: someone signed out (on the sign-in
// form) does not see them.
func (s *Server) chrome(c echo.Context, title, nav string) views.Chrome {
	ch := s.chromeNoBanners(c, title)
	ch.Nav = nav
	if identityOf(c).SignedIn() {
		ch.Banners = s.deps.Banners.Banners()
	}
	return ch
}

// isHTMX reports whether the request came from htmx (a fragment is wanted).
func isHTMX(c echo.Context) bool {
	return c.Request().Header.Get("HX-Request") == "true"
}
