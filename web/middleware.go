package web

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// csrfContextKey is where the CSRF middleware leaves the token for views.
const csrfContextKey = "csrf"

func (s *Server) middleware() {
	e := s.echo
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{
		Skipper: func(c echo.Context) bool { return c.Request().URL.Path == "/" },
	}))
	e.Pre(s.checkHost)
	e.Use(middleware.RequestID())
	e.Use(middleware.Recover())
	e.Use(s.metrics.observe)
	e.Use(s.logRequests())
	e.Use(securityHeaders)
	e.Use(s.checkOrigin)
	e.Use(validQuery)
	// Every state-changing request carries the token from the page's meta tag
	// (htmx sends it as a header, forms as a field). Safe methods pass.
	// Static files and probes get no cookie (they may be cached and shared);
	// a request with an Authorization header carries no cookie a foreign
	// page could make the browser send, so it needs no token.
	e.Use(middleware.CSRFWithConfig(middleware.CSRFConfig{
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			return strings.HasPrefix(p, "/static/") || p == "/favicon.ico" || p == "/healthz" || p == "/readyz" ||
				c.Request().Header.Get(echo.HeaderAuthorization) != ""
		},
		TokenLookup:    "header:X-CSRF-Token,form:_csrf",
		ContextKey:     csrfContextKey,
		CookieName:     "auditd_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteStrictMode,
		// Missing or wrong, the answer is the same refusal.
		ErrorHandler: func(error, echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "the CSRF token is missing or wrong: reload the page and try again")
		},
	}))
	e.Use(s.authorize)
}

// logRequests logs one structured line per request with its request id. It
// logs the path without the query string: queries may carry customer ids.
func (s *Server) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus:    true,
		LogURIPath:   true,
		LogMethod:    true,
		LogLatency:   true,
		LogRequestID: true,
		LogError:     true,
		HandleError:  true,
		Skipper: func(c echo.Context) bool {
			return strings.HasPrefix(c.Request().URL.Path, "/static/")
		},
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			attrs := []slog.Attr{
				slog.String("request_id", v.RequestID),
				slog.String("method", v.Method),
				slog.String("path", v.URIPath),
				slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency.Round(time.Microsecond)),
			}
			if v.Error != nil && v.Status >= 500 {
				attrs = append(attrs, slog.String("error", v.Error.Error()))
			}
			s.logger.LogAttrs(c.Request().Context(), level, "http request", attrs...)
			return nil
		},
	})
}

// securityHeaders forbids inline and foreign scripts: every script is a
// static file of ours, so an event payload carrying <script> can never run.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		return next(c)
	}
}
