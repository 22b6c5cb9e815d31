package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// AccessRecord is an access log entry as stored: the entry with its id and
// the database's time.
type AccessRecord struct {
	ID int64
	At time.Time
	AccessEntry
}

// AccessCursor is a position in the log, newest first: the entries after
// it are the ones older than (At, ID).
type AccessCursor struct {
	At time.Time
	ID int64
}

// String is the cursor as pages link it: microseconds since the epoch (the
// database's precision, so the cursor is exact) and the id.
func (c AccessCursor) String() string {
	return strconv.FormatInt(c.At.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)
}

// The range of a cursor's time, in microseconds since the epoch.
var (
	minCursorMicro = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicro = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// ErrInvalidAccessCursor is a cursor no page gave out.
var ErrInvalidAccessCursor = errors.New("access: invalid access log cursor")

// ParseAccessCursor reads what AccessCursor.String wrote.
func ParseAccessCursor(s string) (AccessCursor, error) {
	us, id, ok := strings.Cut(s, ".")
	u, err1 := strconv.ParseInt(us, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	// Years 1 to 9999: a cursor PostgreSQL's timestamptz holds, or one
	// no page gave out (which would be a database error, not a 400).
	if !ok || err1 != nil || err2 != nil || n <= 0 || u < minCursorMicro || u > maxCursorMicro {
		return AccessCursor{}, ErrInvalidAccessCursor
	}
	return AccessCursor{At: time.UnixMicro(u), ID: n}, nil
}

// AccessQuery selects access log entries; empty fields do not filter.
type AccessQuery struct {
	UserName string
	StreamID string
	CaseRef  string
	Kind     string
	From, To time.Time     // entries at or after From and before To; zero: unbounded
	After    *AccessCursor // the page after this cursor (older entries); nil: the newest
	Limit    int           // at most this many (1 to MaxAccessPage; 0: DefaultAccessPage)
}

// Page sizes of AccessLog.
const (
	DefaultAccessPage = 100
	MaxAccessPage     = 1000
)

// AccessLog returns the entries q selects, newest first, and the cursor of
// the next (older) page, nil when there is none. Each filter is one of the
// log's indexes, keyset-paginated on (at, id).
func (s *Service) AccessLog(ctx context.Context, q AccessQuery) ([]AccessRecord, *AccessCursor, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAccessPage
	}
	limit = min(limit, MaxAccessPage)
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if q.UserName != "" {
		arg("user_name = $?", q.UserName)
	}
	if q.StreamID != "" {
		arg("stream_id = $?", q.StreamID)
	}
	if q.CaseRef != "" {
		arg("case_ref = $?", q.CaseRef)
	}
	if q.Kind != "" {
		arg("kind = $?", q.Kind)
	}
	if !q.From.IsZero() {
		arg("at >= $?", q.From)
	}
	if !q.To.IsZero() {
		arg("at < $?", q.To)
	}
	if q.After != nil {
		args = append(args, q.After.At, q.After.ID)
		where = append(where, fmt.Sprintf("(at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	sql := `SELECT id, at, kind, user_name, role, stream_id, event_key, view_window, filters, reason, case_ref,
		request_id, client_addr, user_agent FROM auditd.access_log`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit+1)
	sql += fmt.Sprintf(" ORDER BY at DESC, id DESC LIMIT $%d", len(args))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("access: unable to read the access log: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAccessRecord)
	if err != nil {
		return nil, nil, fmt.Errorf("access: unable to read the access log: %w", err)
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &AccessCursor{At: last.At, ID: last.ID}, nil
}

func scanAccessRecord(row pgx.CollectableRow) (AccessRecord, error) {
	var r AccessRecord
	var role string
	var filters []byte
	if err := row.Scan(&r.ID, &r.At, &r.Kind, &r.UserName, &role, &r.StreamID, &r.EventKey, &r.Window, &filters,
		&r.Reason, &r.CaseRef, &r.RequestID, &r.ClientAddr, &r.UserAgent); err != nil {
		return r, err
	}
	r.Role, _ = ParseRole(role) // written from a Role: always one
	if err := json.Unmarshal(filters, &r.Filters); err != nil {
		return r, err
	}
	if len(r.Filters) == 0 {
		r.Filters = nil
	}
	return r, nil
}

// Viewer is one user who viewed a stream: the latest view's time and role.
type Viewer struct {
	UserName string
	Role     Role
	At       time.Time
}

// viewersScanned bounds how many of a stream's latest entries Viewers
// reads: a stream viewed a million times costs what one viewed a thousand
// times does, and older viewers are in the access log.
const viewersScanned = 1000

// Viewers returns up to n users other than except who viewed stream
// (any kind of view), the latest first, each with their latest view.
func (s *Service) Viewers(ctx context.Context, streamID, except string, n int) ([]Viewer, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT user_name, (array_agg(role ORDER BY at DESC))[1], max(at) FROM (
			SELECT user_name, role, at FROM auditd.access_log
			WHERE stream_id = $1 ORDER BY at DESC, id DESC LIMIT $4
		) recent
		WHERE user_name <> $2
		GROUP BY user_name ORDER BY max(at) DESC LIMIT $3`, streamID, except, n, viewersScanned)
	if err != nil {
		return nil, fmt.Errorf("access: unable to read the stream's viewers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Viewer, error) {
		var v Viewer
		var role string
		err := row.Scan(&v.UserName, &role, &v.At)
		v.Role, _ = ParseRole(role)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("access: unable to read the stream's viewers: %w", err)
	}
	return out, nil
}

// MaxCaseRef is the longest case reference, in characters.
const MaxCaseRef = 120

// ErrInvalidCaseRef is a case reference that is too long or not a line of
// text.
var ErrInvalidCaseRef = fmt.Errorf("access: a case reference is a line of at most %d characters, such as \"ticket 4711\"", MaxCaseRef)

// CleanCaseRef returns ref trimmed, or ErrInvalidCaseRef when it is not
// one line of printable text of at most MaxCaseRef characters. Empty is
// valid: no case.
func CleanCaseRef(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if !utf8.ValidString(ref) || utf8.RuneCountInString(ref) > MaxCaseRef {
		return "", ErrInvalidCaseRef
	}
	for _, r := range ref {
		if !unicode.IsPrint(r) {
			return "", ErrInvalidCaseRef
		}
	}
	return ref, nil
}

// SetSessionCase sets the case reference of the session whose id (the
// cookie's value) is sessionID; "" clears it. Every later entry of the
// session carries it.
func (s *Service) SetSessionCase(ctx context.Context, sessionID, ref string) error {
	ref, err := CleanCaseRef(ref)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE auditd.sessions SET case_ref = $2 WHERE id_hash = $1`, digest(sessionID), ref)
	if err != nil {
		return fmt.Errorf("access: unable to set the session's case: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrUnauthenticated
	}
	return nil
}
