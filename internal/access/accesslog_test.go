package access

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// An entry is one row with every field as given, the database's time,
// and the filters as JSON.
func TestRecordAccessWritesEveryField(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	ctx := t.Context()
	before := time.Now()
	e := AccessEntry{Kind: KindDiff, UserName: "carol", Role: Compliance, StreamID: "wallet-1", EventKey: "42",
		Window: "v:3..v:9", Filters: map[string]string{"from": "v:3", "to": "v:9"}, Reason: "dispute",
		CaseRef: "ticket 4711", RequestID: "req-1", ClientAddr: "192.0.2.7", UserAgent: "probe/1"}
	if err := b.svc.RecordAccess(ctx, e); err != nil {
		t.Fatal(err)
	}
	var got AccessEntry
	var role, filters string
	var at time.Time
	if err := b.db.Pool.QueryRow(ctx, `
		SELECT kind, user_name, role, stream_id, event_key, view_window, filters::text, reason, case_ref,
		       request_id, client_addr, user_agent, at
		FROM auditd.access_log`).Scan(&got.Kind, &got.UserName, &role, &got.StreamID, &got.EventKey, &got.Window,
		&filters, &got.Reason, &got.CaseRef, &got.RequestID, &got.ClientAddr, &got.UserAgent, &at); err != nil {
		t.Fatal(err)
	}
	got.Role, _ = ParseRole(role)
	got.Filters = e.Filters
	if got.Kind != e.Kind || got.UserName != e.UserName || got.Role != e.Role || got.StreamID != e.StreamID ||
		got.EventKey != e.EventKey || got.Window != e.Window || got.Reason != e.Reason || got.CaseRef != e.CaseRef ||
		got.RequestID != e.RequestID || got.ClientAddr != e.ClientAddr || got.UserAgent != e.UserAgent {
		t.Fatalf("stored %+v, want %+v", got, e)
	}
	if filters != `{"to": "v:9", "from": "v:3"}` {
		t.Fatalf("filters %s", filters)
	}
	// The database's clock: not the service's test clock (2026-03-01).
	if at.Before(before.Add(-time.Minute)) || at.After(time.Now().Add(time.Minute)) {
		t.Fatalf("at %v is not the database's now", at)
	}
}

// An entry without a user, a role or a known kind is refused, not stored
// half-filled.
func TestRecordAccessRefusesIncompleteEntries(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	for _, e := range []AccessEntry{
		{Kind: KindStream, Role: Support},
		{Kind: KindStream, UserName: "x"},
		{Kind: "peek", UserName: "x", Role: Support},
		{UserName: "x", Role: Support},
	} {
		if err := b.svc.RecordAccess(t.Context(), e); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%+v: %v", e, err)
		}
	}
	var n int
	if err := b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM auditd.access_log`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d entries stored (%v)", n, err)
	}
}

// What a client chooses (user agent, filters) is stored as valid text,
// capped: NUL and invalid UTF-8 would make PostgreSQL refuse the entry,
// and with it the view.
func TestRecordAccessStoresClientTextSafely(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	e := AccessEntry{Kind: KindEvent, UserName: "x", Role: Support, UserAgent: "a\x00b\xff" + strings.Repeat("é", 2000),
		Filters: map[string]string{"q\x00": "\xfe"}}
	if err := b.svc.RecordAccess(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	var ua, filters string
	if err := b.db.Pool.QueryRow(t.Context(), `SELECT user_agent, filters::text FROM auditd.access_log`).Scan(&ua, &filters); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ua, "a\uFFFDb\uFFFD") || len(ua) > maxEntryText || !strings.HasSuffix(ua, "…") {
		t.Fatalf("user agent %q… (%d bytes)", ua[:min(len(ua), 20)], len(ua))
	}
	if filters != "{\"q\uFFFD\": \"\uFFFD\"}" {
		t.Fatalf("filters %s", filters)
	}
}

// Append-only in the database: UPDATE, DELETE and TRUNCATE are refused
// whatever client is connected, as on the events table.
func TestAccessLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	ctx := t.Context()
	if err := b.svc.RecordAccess(ctx, AccessEntry{Kind: KindStream, UserName: "x", Role: Support, StreamID: "s"}); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE auditd.access_log SET user_name = 'someone else'`,
		`DELETE FROM auditd.access_log`,
		`TRUNCATE auditd.access_log`,
	} {
		_, err := b.db.Pool.Exec(ctx, sql)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", sql, err)
		}
	}
	var name string
	if err := b.db.Pool.QueryRow(ctx, `SELECT user_name FROM auditd.access_log`).Scan(&name); err != nil || name != "x" {
		t.Fatalf("entry after the attempts: %q, %v", name, err)
	}
}
