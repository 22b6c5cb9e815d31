package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The kinds of view the access log records.
const (
	KindStream    = "stream"     // a stream's timeline (HTML or JSON)
	KindState     = "state"      // a state at a version or time
	KindDiff      = "diff"       // a diff between two versions or times
	KindEvent     = "event"      // one event's page or its raw JSON
	KindExport    = "export"     // a stream's CSV or JSON export
	KindEvidence  = "evidence"   // an evidence bundle
	KindReveal    = "reveal"     // one masked value shown in clear
	KindFields    = "fields"     // a field's history
	KindVerify    = "verify"     // a stream checked against the ledger
	KindSearch    = "search"     // a search over streams or events
	KindAccessLog = "access-log" // the access log itself
)

// kindList is every kind, in the order filters offer them.
var kindList = []string{KindStream, KindState, KindDiff, KindEvent, KindExport, KindEvidence, KindReveal,
	KindFields, KindVerify, KindSearch, KindAccessLog}

var kinds = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range kindList {
		m[k] = true
	}
	return m
}()

// Kinds lists every kind of view the access log records.
func Kinds() []string { return append([]string(nil), kindList...) }

// ValidKind reports whether kind is one of Kinds.
func ValidKind(kind string) bool { return kinds[kind] }

// ErrInvalidEntry is an access entry that cannot be recorded: no user, no
// valid role or an unknown kind. It is a programming error, not bad input.
var ErrInvalidEntry = errors.New("access: invalid access log entry")

// AccessEntry is one view as the access log records it: who (user, role,
// the session's case reference), what (kind, stream, event, window,
// filters, a reveal's reason) and from where (request id, client address,
// user agent). The time is the database's, set on insert.
type AccessEntry struct {
	Kind       string            // one of the Kind constants
	UserName   string            // who viewed
	Role       Role              // with which role
	StreamID   string            // the stream seen; empty: none
	EventKey   string            // the event seen (its position); empty: none
	Window     string            // e.g. "v:3..v:9", "at 2026-01-01T02:00:00Z", a JSON pointer for a reveal
	Filters    map[string]string // the query filters used
	Reason     string            // the stated reason (reveals)
	CaseRef    string            // the case the session works on ("ticket 4711")
	RequestID  string
	ClientAddr string
	UserAgent  string
}

// maxEntryText caps each text of an entry, in bytes: a user agent or a
// filter is the client's to choose, and the log must not grow by what a
// client sends. The cut is marked with "…".
const maxEntryText = 1024

// entryText makes s storable: valid UTF-8 without NUL (which PostgreSQL's
// text refuses, and a refused entry would refuse the view), at most
// maxEntryText bytes.
func entryText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= maxEntryText {
		return s
	}
	cut := maxEntryText - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// RecordAccess appends e to the access log. The entry is durable when it
// returns: the insert commits with synchronous_commit on whatever the
// server's default, so that a view answered after it cannot be lost to a
// crash. A view must not be answered when it returns an error.
func (s *Service) RecordAccess(ctx context.Context, e AccessEntry) error {
	if e.UserName == "" || !e.Role.Valid() || !kinds[e.Kind] {
		return fmt.Errorf("%w: user %q, role %v, kind %q", ErrInvalidEntry, e.UserName, e.Role, e.Kind)
	}
	filters := make(map[string]string, len(e.Filters))
	for k, v := range e.Filters {
		filters[entryText(k)] = entryText(v)
	}
	fj, err := json.Marshal(filters)
	if err != nil {
		return fmt.Errorf("access: unable to encode the access entry's filters: %w", err)
	}
	// set_config(…, true) is local to the statement's own transaction and
	// still in force at its commit: one round trip, and a server configured
	// with synchronous_commit = off cannot acknowledge an entry it has not
	// flushed.
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO auditd.access_log
			(user_name, role, kind, stream_id, event_key, view_window, filters, reason, case_ref, request_id, client_addr, user_agent)
		SELECT $1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12
		FROM (SELECT set_config('synchronous_commit', 'on', true)) AS durable`,
		entryText(e.UserName), e.Role.String(), e.Kind, entryText(e.StreamID), entryText(e.EventKey),
		entryText(e.Window), fj, entryText(e.Reason), entryText(e.CaseRef), entryText(e.RequestID),
		entryText(e.ClientAddr), entryText(e.UserAgent)); err != nil {
		return fmt.Errorf("access: unable to write the access log: %w", err)
	}
	return nil
}
