package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testConfig is how the tests of pages run the server: sign-in explicitly
// off (allowed on the default loopback listen address), and the Host
// httptest.NewRequest sends (example.com) accepted as the public URL. The
// tests of access itself (auth_test.go) build servers with sign-in on.
var testConfig = Config{AuthOff: true, PublicURL: "http://example.com"}

// bundle is what a web test needs: a fresh migrated database, its store, and
// the real router.
type bundle struct {
	t      *testing.T
	db     *pgtest.DB
	store  *eventstore.Store
	server *Server
}

// setup gives each test its own database and server. deps lets a test add
// services (time travel, live hub, projections) before routes are built.
func setup(t *testing.T, with ...func(*Deps)) *bundle {
	t.Helper()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	deps := Deps{Pool: db.Pool, Store: store}
	for _, f := range with {
		f(&deps)
	}
	return &bundle{t: t, db: db, store: store, server: New(testConfig, deps)}
}

// get requests path through the router with an Accept header.
func (b *bundle) get(path, accept string) *httptest.ResponseRecorder {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	b.server.Handler().ServeHTTP(rec, req)
	return rec
}

// page fetches an HTML page and parses it, failing unless the status is want.
func (b *bundle) page(path string, want int) *goquery.Document {
	b.t.Helper()
	rec := b.get(path, "text/html")
	if rec.Code != want {
		b.t.Fatalf("GET %s: status %d, want %d; body: %.500s", path, rec.Code, want, rec.Body.String())
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		b.t.Fatalf("GET %s: parse HTML: %v", path, err)
	}
	return doc
}

// append adds events to a stream, failing the test on error.
func (b *bundle) append(streamID, streamType string, events ...eventstore.NewEvent) []eventstore.Event {
	b.t.Helper()
	out, err := b.store.Append(b.t.Context(), streamID, streamType, eventstore.AnyVersion, events...)
	if err != nil {
		b.t.Fatalf("append to %s: %v", streamID, err)
	}
	return out
}

// ev is a NewEvent with JSON payload and metadata literals.
func ev(eventType, payload, metadata string) eventstore.NewEvent {
	return eventstore.NewEvent{EventType: eventType, Payload: []byte(payload), Metadata: []byte(metadata)}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
