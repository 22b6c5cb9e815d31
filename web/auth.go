package web

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
)

// sessionCookie holds the session id; only its digest is in the database.
const sessionCookie = "auditd_session"

// Validate checks the combination of listen address, auth and public URL:
// sign-in can be off only where no one else can connect, and a server
// reachable from elsewhere must know the name it is reached by (the Host
// check and the cookie's Secure flag depend on it).
func (c Config) Validate() error {
	listen := c.Listen
	if listen == "" {
		listen = defaultListen
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("invalid --listen %q: %w", listen, err)
	}
	loopback := isLoopbackName(host)
	if c.AuthOff && c.RequireCase {
		return errors.New("--require-case needs sign-in: with --auth=off there is no session to keep a case reference on")
	}
	if c.AuthOff && !loopback {
		return fmt.Errorf("--auth=off is refused on --listen %s: without sign-in, anyone who reaches that address reads every customer's history; listen on 127.0.0.1 (or ::1, localhost) to run without sign-in, or keep sign-in on", listen)
	}
	if c.PublicURL != "" {
		if _, err := parsePublicURL(c.PublicURL); err != nil {
			return err
		}
	} else if !loopback {
		return fmt.Errorf("--public-url is required with --listen %s: give the address users open (e.g. https://auditd.example.org); only its host is accepted in requests, which defends against DNS rebinding, and an https URL makes the session cookie Secure", listen)
	}
	return nil
}

// parsePublicURL reads --public-url: http or https, a host, no path.
func parsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("invalid --public-url %q: want http(s)://host[:port], without a path", capEchoed(s))
	}
	return u, nil
}

// isLoopbackName reports whether host (no port) names this machine only.
func isLoopbackName(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// checkHost answers 421 to a Host header that names neither this machine
// nor --public-url: a page on a hostile site whose name was re-pointed at
// 127.0.0.1 (DNS rebinding) sends its own name, and is refused.
func (s *Server) checkHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		host := c.Request().Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if isLoopbackName(host) || (s.publicURL != nil && strings.EqualFold(strings.TrimSuffix(host, "."), s.publicURL.Hostname())) {
			return next(c)
		}
		want := "a loopback address"
		if s.publicURL != nil {
			want = s.publicURL.String()
		}
		return echo.NewHTTPError(http.StatusMisdirectedRequest, fmt.Sprintf("auditd does not answer for the host %q: open it at %s (set --public-url to the name users open)", capEchoed(c.Request().Host), want))
	}
}

// checkOrigin refuses state-changing requests sent by another site: the
// browser says so in Sec-Fetch-Site, or names the sending page in Origin.
// The CSRF token is checked besides; this catches what a leaked token
// would let through.
func (s *Server) checkOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			return echo.NewHTTPError(http.StatusForbidden, "cross-site request refused (Sec-Fetch-Site: "+capEchoed(site)+")")
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			u, err := url.Parse(origin)
			if err != nil || !s.sameOrigin(u, r) {
				return echo.NewHTTPError(http.StatusForbidden, "cross-origin request refused (Origin: "+capEchoed(origin)+")")
			}
		}
		return next(c)
	}
}

// sameOrigin reports whether origin is the server as the request reached
// it (its Host) or as --public-url names it.
func (s *Server) sameOrigin(origin *url.URL, r *http.Request) bool {
	if origin.Host == "" {
		return false // "null": a sandboxed or file page
	}
	if s.publicURL != nil && strings.EqualFold(origin.Scheme, s.publicURL.Scheme) && strings.EqualFold(origin.Host, s.publicURL.Host) {
		return true
	}
	return strings.EqualFold(origin.Host, r.Host)
}

// Route declarations: every route is registered through get, post or open,
// which record the role it needs; authorize refuses a route that declares
// none, so a route added without a role is closed, not open.

// get registers a GET route that needs role.
func (s *Server) get(path string, role access.Role, h echo.HandlerFunc) {
	s.guard(http.MethodGet, path, role, h)
}

// post registers a POST route that needs role.
func (s *Server) post(path string, role access.Role, h echo.HandlerFunc) {
	s.guard(http.MethodPost, path, role, h)
}

func (s *Server) guard(method, path string, role access.Role, h echo.HandlerFunc) {
	if !role.Valid() {
		panic(fmt.Sprintf("web: route %s %s declares no valid role", method, path))
	}
	s.needs[method+" "+path] = role
	s.echo.Add(method, path, h)
}

// open registers a route anyone may use: probes, static files, signing in.
func (s *Server) open(method, path string, h echo.HandlerFunc) {
	s.needs[method+" "+path] = 0
	s.echo.Add(method, path, h)
}

// authorize establishes who the request is and lets it through when that
// identity's role reaches the route's. Nobody signed in: a browser page
// view is sent to the sign-in form, anything else (JSON, CSV, SSE,
// htmx) gets 401.
func (s *Server) authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfgErr != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, s.cfgErr.Error())
		}
		need, declared := s.needs[c.Request().Method+" "+c.Path()]
		if !declared {
			if c.Path() == "" || c.Path() == "/*" {
				return next(c) // no route: the router's 404 or 405
			}
			return echo.NewHTTPError(http.StatusForbidden, "this route declares no role")
		}
		id := access.Identity{
			RequestID:  c.Response().Header().Get(echo.HeaderXRequestID),
			ClientAddr: c.RealIP(),
			UserAgent:  c.Request().UserAgent(),
		}
		if need.Valid() {
			var err error
			if id, err = s.identify(c, id); err != nil {
				return err
			}
		}
		// In the context before the role check: a refusal's page shows who
		// is signed in, and a refusal can be logged with its identity.
		c.SetRequest(c.Request().WithContext(access.NewContext(c.Request().Context(), id)))
		if need.Valid() && !id.SignedIn() {
			return s.unauthenticated(c)
		}
		if need.Valid() && !id.User.Role.Reaches(need) {
			return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("this needs the %s role or higher; you are signed in as %s, with the %s role", need, id.User.Name, id.User.Role))
		}
		return next(c)
	}
}

// identify fills id's user from the bearer token or the session cookie.
// A bearer token that does not work is a 401 at once: a client that sent
// one is not a browser to redirect.
func (s *Server) identify(c echo.Context, id access.Identity) (access.Identity, error) {
	if s.cfg.AuthOff {
		id.User, id.Method = access.User{Name: "auth-off", Role: access.Admin}, "off"
		return id, nil
	}
	if s.access == nil {
		return id, echo.NewHTTPError(http.StatusServiceUnavailable, "sign-in needs the database, which this server has none of")
	}
	ctx := c.Request().Context()
	if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return id, s.refuse(c, "the Authorization header must be: Bearer <token>")
		}
		u, err := s.access.TokenUser(ctx, strings.TrimSpace(secret))
		if errors.Is(err, access.ErrUnauthenticated) {
			return id, s.refuse(c, "the API token is unknown, expired or revoked")
		}
		if err != nil {
			return id, err
		}
		id.User, id.Method = u, "token"
		return id, nil
	}
	ck, err := c.Cookie(sessionCookie)
	if err != nil {
		return id, nil
	}
	o, err := s.access.Session(ctx, ck.Value)
	if errors.Is(err, access.ErrUnauthenticated) {
		s.clearSessionCookie(c)
		return id, nil
	}
	if err != nil {
		return id, err
	}
	id.User, id.Method, id.CaseRef = o.User, "session", o.CaseRef
	return id, nil
}

// refuse is a 401 that names the Bearer scheme.
func (s *Server) refuse(c echo.Context, msg string) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="auditd"`)
	return echo.NewHTTPError(http.StatusUnauthorized, msg)
}

// unauthenticated answers a request from nobody: the sign-in form for a
// page view, 401 for everything else.
func (s *Server) unauthenticated(c echo.Context) error {
	r := c.Request()
	if r.Method == http.MethodGet && !wantsJSON(c) && !isHTMX(c) && strings.Contains(r.Header.Get("Accept"), "text/html") {
		return c.Redirect(http.StatusFound, "/login?next="+url.QueryEscape(r.URL.RequestURI()))
	}
	if isHTMX(c) {
		// A fragment of a page whose session ended: htmx sends the whole
		// page to the sign-in form, to come back to that page.
		next := "/"
		if u, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil {
			next = localPath(u.RequestURI())
		}
		c.Response().Header().Set("HX-Redirect", "/login?next="+url.QueryEscape(next))
	}
	return s.refuse(c, "sign in first: send a session cookie from /login, or Authorization: Bearer <token>")
}

// identityOf is the request's identity as authorize established it.
func identityOf(c echo.Context) access.Identity {
	id, _ := access.FromContext(c.Request().Context())
	return id
}

// setSessionCookie sends the session id: HttpOnly (no script reads it),
// SameSite=Lax (no cross-site POST carries it), Secure when users reach
// auditd over https.
func (s *Server) setSessionCookie(c echo.Context, value string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.publicURL != nil && s.publicURL.Scheme == "https",
	})
}

func (s *Server) clearSessionCookie(c echo.Context) { s.setSessionCookie(c, "", -1) }

// localPath returns next when it is a path on this server, and "/"
// otherwise: /login?next=https://evil.example must not send a signed-in
// user elsewhere.
func localPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// ipExtractor decides the client address: the peer's, or the first
// address in X-Forwarded-For not among the trusted proxies when the peer
// is one of them. Nothing is trusted by default (not even loopback): a
// header anyone can send must not choose the address the throttle counts.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
