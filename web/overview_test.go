package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestOverviewShowsCountsHeadAndNewestEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("wallet-1", "Wallet",
		ev("WalletOpened", `{"owner":"ana"}`, `{"actor":"customer:ana"}`),
		ev("MoneyDeposited", `{"amount":10}`, `{"actor":"customer:ana"}`))
	last := b.append("order-1", "Order", ev("OrderPlaced", `{"total":5}`, `{}`))

	doc := b.page("/", http.StatusOK)
	if got := doc.Find(`[data-testid=stat-events]`).Text(); got != "3" {
		t.Errorf("events stat = %q, want 3", got)
	}
	if got := doc.Find(`[data-testid=stat-streams]`).Text(); got != "2" {
		t.Errorf("streams stat = %q, want 2", got)
	}
	if got := doc.Find(`[data-testid=stat-head]`).Text(); got != "#"+itoa64(last[0].Position) {
		t.Errorf("head stat = %q, want #%d", got, last[0].Position)
	}
	rows := doc.Find(`[data-testid=newest-events] [data-testid=event-row]`)
	if rows.Length() != 3 {
		t.Fatalf("newest rows = %d, want 3", rows.Length())
	}
	if got := rows.First().AttrOr("data-event-type", ""); got != "OrderPlaced" {
		t.Errorf("first row is %q, want the newest event OrderPlaced", got)
	}

	// The same data as JSON.
	rec := b.get("/", "application/json")
	if rec.Code != http.StatusOK {
		t.Fatalf("JSON status %d", rec.Code)
	}
	var body struct {
		Head struct {
			Position int64 `json:"position"`
		} `json:"head"`
		Events  int64 `json:"events"`
		Streams int64 `json:"streams"`
		Newest  []struct {
			EventType string `json:"event_type"`
		} `json:"newest"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Events != 3 || body.Streams != 2 || body.Head.Position != last[0].Position || len(body.Newest) != 3 {
		t.Errorf("JSON = %+v", body)
	}
}

func TestOverviewCountsSurviveFolding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("wallet-1", "Wallet", ev("WalletOpened", `{}`, `{}`))
	if _, err := b.store.FoldCounts(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.append("wallet-1", "Wallet", ev("MoneyDeposited", `{"amount":1}`, `{}`))
	doc := b.page("/", http.StatusOK)
	if got := doc.Find(`[data-testid=stat-events]`).Text(); got != "2" {
		t.Errorf("events after fold = %q, want 2", got)
	}
}

func TestPayloadWithScriptIsEscaped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("x-1", "X", ev("Evil", `{"note":"<script>alert(1)</script>"}`, `{"actor":"<img src=x onerror=alert(1)>"}`))
	rec := b.get("/", "text/html")
	body := rec.Body.String()
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<img src=x") {
		t.Fatalf("payload rendered unescaped")
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("escaped payload not shown")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if rec := b.get("/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("healthz = %d", rec.Code)
	}
	rec := b.get("/readyz", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("readyz = %d: %s", rec.Code, rec.Body.String())
	}
	// A database with a pending migration is not ready.
	if _, err := b.db.Pool.Exec(t.Context(), `DELETE FROM auditd.schema_migrations WHERE set = 'auditd'`); err != nil {
		t.Fatal(err)
	}
	rec = b.get("/readyz", "")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "pending") {
		t.Errorf("readyz with pending migrations = %d %s", rec.Code, rec.Body.String())
	}
}

func TestUnknownRouteIs404PageOrJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := b.page("/no/such/page", http.StatusNotFound)
	if doc.Find(`[data-testid=not-found-search]`).Length() != 1 {
		t.Error("404 page has no search box")
	}
	rec := b.get("/no/such/page", "application/json")
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("JSON 404 = %d %s", rec.Code, rec.Body.String())
	}
}

func TestStaticAssetsAreEmbedded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, p := range []string{"/static/htmx.min.js", "/static/htmx-sse.js", "/static/app.css", "/static/app.js"} {
		rec := b.get(p, "")
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET %s = %d (%d bytes)", p, rec.Code, rec.Body.Len())
		}
	}
}

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
