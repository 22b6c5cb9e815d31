package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// maxErrorPage bounds what a 400 may weigh: the layout and a capped
// message, never the input.
const maxErrorPage = 16 << 10

// Every route answers NUL, invalid UTF-8 and 100 KB values in any query
// parameter, and bad %-escapes, with a short 400 naming the parameter.
func TestEveryRouteRejectsBadQueryParameters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	evs := b.append("bad-1", "Bad", ev("Noted", `{"a":1}`, `{"actor":"ops"}`))
	fill := strings.NewReplacer(":id", "bad-1", ":position", fmt.Sprint(evs[0].Position), ":name", "orders", "*", "app.css")

	huge := strings.Repeat("x", 100<<10)
	bad := map[string]string{
		"NUL":           "a%00b",
		"invalid UTF-8": "a%FF%FEb",
		"100 KB":        huge,
	}
	routes := b.server.echo.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range routes {
		path := fill.Replace(r.Path)
		for _, param := range []string{"stream_id", "limit", "zz"} {
			for what, value := range bad {
				req := httptest.NewRequest(r.Method, path+"?"+param+"="+value, nil)
				req.Header.Set("Accept", "text/html")
				rec := httptest.NewRecorder()
				b.server.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusBadRequest {
					t.Errorf("%s %s with %s in %s: %d, want 400", r.Method, r.Path, what, param, rec.Code)
					continue
				}
				body := rec.Body.String()
				if len(body) > maxErrorPage || strings.Contains(body, huge[:200]) {
					t.Errorf("%s %s with %s in %s: a %d-byte answer", r.Method, r.Path, what, param, len(body))
				}
				if !strings.Contains(body, "invalid "+param) {
					t.Errorf("%s %s with %s in %s: the answer does not name it: %.300s", r.Method, r.Path, what, param, body)
				}
			}
		}
	}
	// A name that is not text, and a broken escape, in JSON this time.
	for path, want := range map[string]string{
		"/events?%FF=1":        "invalid parameter name",
		"/events?actor=%zz":    "invalid query",
		"/live?event_type=%00": "invalid event_type",
	} {
		rec := b.get(path, "application/json")
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusBadRequest || !strings.HasPrefix(body.Error, want) {
			t.Errorf("GET %s: %d %q, want 400 %q", path, rec.Code, rec.Body.String(), want)
		}
	}
}

// /live validates its filters as the other pages do, and echoes none of a
// long one back.
func TestLiveRejectsBadFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	long := strings.Repeat("w", 600)
	for _, path := range []string{"/live?stream_id=" + long, "/live?stream_type=" + long, "/live/events?event_type=" + long} {
		rec := b.get(path, "text/html")
		if rec.Code != http.StatusBadRequest || strings.Contains(rec.Body.String(), long[:100]) || rec.Body.Len() > maxErrorPage {
			t.Errorf("GET %.40s…: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
	}
	doc := b.page("/live?stream_type=Wallet", http.StatusOK)
	if v := doc.Find(`input[name=stream_type]`).AttrOr("value", ""); v != "Wallet" {
		t.Errorf("a good filter is not shown back: %q", v)
	}
}

// 404s say what was not found for people, without the store's texts.
func TestNotFoundPagesSpeakForPeople(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("here-1", "Here", ev("Noted", `{"a":1}`, ""))
	for path, want := range map[string]string{
		"/streams/nope-1":                              "No stream with id “nope-1”.",
		"/streams/nope-1/state":                        "No stream with id “nope-1”.",
		"/streams/nope-1/diff":                         "No stream with id “nope-1”.",
		"/streams/nope-1/export.csv":                   "No stream with id “nope-1”.",
		"/streams/" + strings.Repeat("n", 300):         "No stream with id “" + strings.Repeat("n", maxEchoed) + "…”.",
		"/events/999999":                               "No event at position 999999.",
		"/events/999999/raw":                           "No event at position 999999.",
		"/events/00000000-0000-4000-8000-0000000000AB": "No event with id “00000000-0000-4000-8000-0000000000ab”.",
	} {
		rec := b.get(path, "text/html")
		body := rec.Body.String()
		if rec.Code != http.StatusNotFound || !strings.Contains(body, want) || strings.Contains(body, "eventstore") {
			t.Errorf("GET %.60s: %d, want 404 saying %q; body %.200s", path, rec.Code, want, body)
		}
		var j errorBody
		b.getJSONError(path, &j)
		if j.Error != want {
			t.Errorf("GET %.60s as JSON: %q, want %q", path, j.Error, want)
		}
	}
}

// getJSONError fetches path as JSON into an error body.
func (b *bundle) getJSONError(path string, v *errorBody) {
	b.t.Helper()
	rec := b.get(path, "application/json")
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		b.t.Fatalf("GET %s: %v: %.200s", path, err, rec.Body.String())
	}
}

// /live's last_error is a sentence: the consumer's error, with its socket
// path and connection details, stays in the server log.
func TestLiveLastErrorLeaksNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	// The slot and publication are made through the pool; replication
	// dials a socket directory that does not exist, again and again.
	socketDir := filepath.Join(t.TempDir(), "no-server-here")
	conn := "host=" + socketDir + " port=5999 user=secret_user dbname=secret_db password=hunter2"
	slot := newLiveSlot(t, db)
	hub := live.NewHub(live.HubConfig{})
	c := live.NewConsumer(live.ConsumerConfig{ConnString: conn, Slot: slot, MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		db.Pool, hub, live.NewAlerts(db.Pool))
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	pgtest.WaitFor(t, "the consumer's first failure", 20*time.Second, func(context.Context) (bool, error) {
		return c.Stats().LastError != "", nil
	})
	if raw := c.Stats().LastError; !strings.Contains(raw, socketDir) {
		t.Fatalf("the consumer's error does not name the socket, so this test shows nothing: %q", raw)
	}
	b := &bundle{t: t, db: db, store: eventstore.New(db.Pool)}
	b.server = New(testConfig, Deps{Pool: db.Pool, Store: b.store, LiveHub: hub, LiveConsumer: c, LiveHeartbeat: time.Hour})
	rec := b.get("/live?format=json", "")
	var got liveJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Stats == nil {
		t.Fatalf("/live JSON: %v %s", err, rec.Body.String())
	}
	if got.Stats.LastError != liveErrorText(c.Stats().LastError) || !strings.HasPrefix(got.Stats.LastError, "Lost the replication connection") {
		t.Errorf("last_error = %q", got.Stats.LastError)
	}
	page := b.get("/live", "text/html").Body.String()
	for _, secret := range []string{socketDir, ".s.PGSQL", "secret_user", "secret_db", "hunter2", "5999"} {
		if strings.Contains(rec.Body.String(), secret) || strings.Contains(page, secret) {
			t.Errorf("/live shows %q", secret)
		}
	}
}
