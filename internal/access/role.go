// Package access is who may use auditd and with what rights: users with
// argon2id passwords, ordered roles, database sessions with idle and
// absolute expiry, API tokens, sign-in throttling, and the one-time setup
// token that creates the first admin. The web layer asks it who a request
// is (an Identity) and whether that identity's role reaches a route's.
package access

import (
	"fmt"
	"strings"
)

// Role is what a user may see. Roles are ordered: each one has every right
// of the ones below it. The zero Role is no role at all and reaches
// nothing.
type Role uint8

// The roles, lowest first.
const (
	Support    Role = iota + 1 // stream search, timelines, states, diffs, the log, event pages
	Engineer                   // + projections, drift, alerts, the live page
	Compliance                 // + exports
	Admin                      // everything
)

var roleNames = [...]string{"", "support", "engineer", "compliance", "admin"}

// Roles lists every role, lowest first.
func Roles() []Role { return []Role{Support, Engineer, Compliance, Admin} }

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	for r := Support; r <= Admin; r++ {
		if strings.EqualFold(s, roleNames[r]) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q: want support, engineer, compliance or admin", s)
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r >= Support && r <= Admin }

// Reaches reports whether a user with role r may use what needs role need.
func (r Role) Reaches(need Role) bool { return r.Valid() && need.Valid() && r >= need }

func (r Role) String() string {
	if !r.Valid() {
		return "none"
	}
	return roleNames[r]
}
