package access

import "context"

// Identity is who a request is, as the web layer established it: the
// signed-in user and how, with the request's id and client address. It
// travels in the request's context so that anything serving the request
// (an access log, masking) reads one value.
type Identity struct {
	User User
	// Method is how the user was identified: "session", "token", or
	// "off" when auth is off (then User is a stand-in with the admin role).
	Method     string
	RequestID  string
	ClientAddr string
	UserAgent  string
	// CaseRef is the case reference set on the session ("ticket 4711"),
	// written into the access log's entries; empty: none.
	CaseRef string
}

// SignedIn reports whether the identity has a user with a role.
func (id Identity) SignedIn() bool { return id.User.Role.Valid() }

type identityKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity NewContext put in ctx.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
