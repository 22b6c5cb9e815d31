package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/pgtest"
)

// loggedView is an access log row as the tests compare it.
type loggedView struct {
	Kind, User, Role, Stream, Event, Window, Filters, Case, RequestID, Client, UserAgent string
}

// accessEntries reads the access log, oldest first.
func accessEntries(t *testing.T, db *pgtest.DB) []loggedView {
	t.Helper()
	rows, err := db.Pool.Query(t.Context(), `
		SELECT kind, user_name, role, stream_id, event_key, view_window, filters::text, case_ref, request_id, client_addr, user_agent
		FROM auditd.access_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []loggedView
	for rows.Next() {
		var v loggedView
		if err := rows.Scan(&v.Kind, &v.User, &v.Role, &v.Stream, &v.Event, &v.Window, &v.Filters, &v.Case, &v.RequestID, &v.Client, &v.UserAgent); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A timeline view is in the access log by the time its response arrives,
// with who (user, role), what (stream, versions shown, filters) and from
// where (request id, client address, user agent), and nothing secret.
func TestTimelineViewIsRecordedBeforeTheResponse(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	seedCounter(ab.bundle, "counter-1", 12, tlT0)
	u := ab.signIn("support")
	resp, body := u.do(http.MethodGet, "/streams/counter-1?after=2&limit=5", nil, http.Header{"User-Agent": {"probe/1"}, "Accept": {"text/html"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "counter-1") {
		t.Fatalf("timeline: %d", resp.StatusCode)
	}
	got := accessEntries(t, ab.db)
	want := loggedView{Kind: "stream", User: "support", Role: "support", Stream: "counter-1", Window: "v:3..v:7",
		Filters: `{"after": "2", "limit": "5"}`, RequestID: resp.Header.Get("X-Request-Id"), Client: "127.0.0.1", UserAgent: "probe/1"}
	if len(got) != 1 || got[0] != want || want.RequestID == "" {
		t.Fatalf("access log %+v, want [%+v]", got, want)
	}

	// A token's JSON view is recorded too; neither the token nor the
	// session cookie nor the password is in any entry.
	tu := ab.withToken("compliance")
	if resp, _ := tu.do(http.MethodGet, "/streams/counter-1?format=json", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("timeline JSON: %d", resp.StatusCode)
	}
	got = accessEntries(t, ab.db)
	if len(got) != 2 || got[1].User != "compliance" || got[1].Role != "compliance" || got[1].Window != "v:1..v:12" {
		t.Fatalf("access log %+v", got)
	}
	var all strings.Builder
	for _, e := range got {
		all.WriteString(strings.Join([]string{e.Kind, e.User, e.Role, e.Stream, e.Event, e.Window, e.Filters, e.Case, e.RequestID, e.Client, e.UserAgent}, "|"))
	}
	base, _ := url.Parse(u.base)
	for _, c := range u.client.Jar.Cookies(base) {
		if strings.Contains(all.String(), c.Value) {
			t.Errorf("cookie %s is in the access log", c.Name)
		}
	}
	if strings.Contains(all.String(), tu.bearer) || strings.Contains(all.String(), testPassword) {
		t.Error("a token or a password is in the access log")
	}
}

// A view whose entry cannot be written is not answered: 503 with a clear
// message, and none of the stream's data.
func TestViewRefusedWhenTheAccessLogCannotBeWritten(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	seedCounter(ab.bundle, "counter-1", 3, tlT0)
	if _, err := ab.db.Pool.Exec(t.Context(), `
		CREATE FUNCTION refuse_entry() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END; $$;
		CREATE TRIGGER refuse BEFORE INSERT ON auditd.access_log FOR EACH ROW EXECUTE FUNCTION refuse_entry();`); err != nil {
		t.Fatal(err)
	}
	u := ab.signIn("support")
	resp, body := u.do(http.MethodGet, "/streams/counter-1", nil, http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "access log") || strings.Contains(body, "agent:m.okafor") {
		t.Fatalf("%d: %s", resp.StatusCode, body)
	}
}
