package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestStreamsSearchPageAndJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 60 {
		b.append(fmt.Sprintf("wallet-%03d", i), "Wallet", ev("WalletOpened", `{"owner":"x"}`, `{"actor":"customer:x"}`))
	}
	b.append("order-1", "Order", ev("OrderPlaced", `{}`, `{"actor":"agent:m.okafor","correlation_id":"corr-9"}`))
	b.append("wallet-007", "Wallet", ev("MoneyWithdrawn", `{"amount":5}`, `{"actor":"agent:m.okafor","correlation_id":"corr-9"}`))

	doc := b.page("/streams?q=wallet-", http.StatusOK)
	rows := doc.Find(`[data-testid=stream-row]`)
	if rows.Length() != 50 {
		t.Fatalf("rows = %d, want 50", rows.Length())
	}
	if got := rows.Eq(7).Find("td").Eq(2).Text(); got != "2" {
		t.Errorf("wallet-007 version cell = %q", got)
	}
	next, ok := doc.Find(`[data-testid=page-next]`).Attr("href")
	if !ok || !strings.Contains(next, "after=wallet-049") || !strings.Contains(next, "q=wallet-") {
		t.Fatalf("next link = %q", next)
	}
	doc2 := b.page(next, http.StatusOK)
	if got := doc2.Find(`[data-testid=stream-row]`).Length(); got != 10 {
		t.Errorf("page 2 rows = %d", got)
	}
	prev, _ := doc2.Find(`[data-testid=page-prev]`).Attr("href")
	doc3 := b.page(prev, http.StatusOK)
	if got := doc3.Find(`[data-testid=stream-row]`).First().AttrOr("data-stream-id", ""); got != "wallet-000" {
		t.Errorf("back to page 1 starts at %q", got)
	}

	// Event-level filters, JSON with cursors.
	rec := b.get("/streams?actor=agent:m.okafor", "application/json")
	if rec.Code != http.StatusOK {
		t.Fatalf("JSON status %d: %s", rec.Code, rec.Body)
	}
	var body struct {
		Streams []struct {
			StreamID   string `json:"stream_id"`
			StreamType string `json:"stream_type"`
			Version    int    `json:"version"`
		} `json:"streams"`
		Next *string `json:"next"`
		Prev *string `json:"prev"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Streams) != 2 || body.Streams[0].StreamID != "order-1" || body.Streams[1].StreamID != "wallet-007" ||
		body.Streams[1].Version != 2 || body.Next != nil || body.Prev != nil {
		t.Errorf("JSON = %+v", body)
	}
	doc = b.page("/streams?correlation_id=corr-9&type=Wallet&event_type=MoneyWithdrawn", http.StatusOK)
	if got := doc.Find(`[data-testid=stream-row]`).Length(); got != 1 {
		t.Errorf("combined filters rows = %d", got)
	}
	doc = b.page("/streams?event_type=Nope", http.StatusOK)
	if doc.Find(`[data-testid=empty]`).Length() != 1 {
		t.Error("no empty message")
	}
}

func TestStreamsQuickSearchRedirectsOnExactID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("wallet 1/ü", "Wallet", ev("WalletOpened", `{}`, `{}`))
	b.append("wallet 10", "Wallet", ev("WalletOpened", `{}`, `{}`))
	rec := b.get("/streams?q=wallet+1%2F%C3%BC", "text/html")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/streams/wallet%201%2F%C3%BC" {
		t.Fatalf("quick search = %d %q", rec.Code, rec.Header().Get("Location"))
	}
	// The redirect target resolves to that stream.
	doc := b.page(rec.Header().Get("Location"), http.StatusOK)
	if got := doc.Find(`[data-testid=stream-id]`).Text(); got != "wallet 1/ü" {
		t.Errorf("timeline of %q", got)
	}
	// A prefix that is not an id lists.
	doc = b.page("/streams?q=wallet", http.StatusOK)
	if got := doc.Find(`[data-testid=stream-row]`).Length(); got != 2 {
		t.Errorf("prefix rows = %d", got)
	}
}

func TestStreamsBadInputIs400NamingTheParameter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := map[string]string{
		"/streams?from=yesterday":                            "from",
		"/streams?to=2025-13-01T00:00":                       "to",
		"/streams?from=2025-05-02T00:00&to=2025-05-01T00:00": "to",
		"/streams?limit=-3":                                  "limit",
		"/streams?limit=100000":                              "limit",
		"/streams?after=a&before=b":                          "before",
		"/streams?q=%00":                                     "q",
		"/streams?actor=%FF%FE":                              "actor",
		"/streams?from=2025-05-01T10:00&tz=Mars":             "tz",
	}
	for path, param := range cases {
		rec := b.get(path, "application/json")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid "+param) {
			t.Errorf("%s = %d %s, want 400 naming %s", path, rec.Code, rec.Body.String(), param)
		}
	}
	doc := b.page("/streams?from=nope", http.StatusBadRequest)
	if msg := doc.Find(`[data-testid=error-message]`).Text(); !strings.Contains(msg, "RFC 3339") {
		t.Errorf("400 page message = %q", msg)
	}
}
