package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

type fieldHistoryResponse struct {
	StreamID string `json:"stream_id"`
	Path     string `json:"path"`
	Points   []struct {
		Version    int       `json:"version"`
		RecordedAt time.Time `json:"recorded_at"`
		Value      any       `json:"value"`
		Removed    bool      `json:"removed"`
		EventType  string    `json:"event_type"`
		Actor      string    `json:"actor"`
		Source     string    `json:"source"`
		Carried    bool      `json:"carried"`
	} `json:"points"`
	FromVersion    int    `json:"from_version"`
	ThroughVersion int    `json:"through_version"`
	HeadVersion    int    `json:"head_version"`
	Next           string `json:"next"`
}

// A field's history lists every value it took, with the event, actor and
// source of each; events that did not touch it are left out.
func TestFieldHistoryJSONAndPage(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 4) // balance 0, 10, 30, 60
	tagged := ev("Tagged", `{"tag":"vip"}`, `{"actor":"m.okafor","source":"backoffice"}`)
	tagged.RecordedAt = ttT0.Add(5 * time.Minute)
	fee := ev("MoneyDeposited", `{"amount":-500}`, `{"actor":"billing","source":"annual-fee-job"}`)
	fee.RecordedAt = ttT0.Add(6 * time.Minute)
	b.append("wallet-1", "Wallet", tagged, fee)

	var got fieldHistoryResponse
	b.getJSONInto("/streams/wallet-1/fields?path=/balance", &got)
	if got.StreamID != "wallet-1" || got.Path != "/balance" || got.FromVersion != 0 || got.ThroughVersion != 6 || got.Next != "" {
		t.Errorf("header = %+v", got)
	}
	var seen []string
	for _, p := range got.Points {
		seen = append(seen, fmt.Sprintf("v%d=%v %s %s/%s", p.Version, p.Value, p.EventType, p.Actor, p.Source))
	}
	want := "v1=0 WalletOpened ann/signup | v2=10 MoneyDeposited agent-2/ | v3=30 MoneyDeposited agent-3/ | " +
		"v4=60 MoneyDeposited agent-4/ | v6=-440 MoneyDeposited billing/annual-fee-job"
	if strings.Join(seen, " | ") != want {
		t.Errorf("points:\n %s\nwant\n %s", strings.Join(seen, " | "), want)
	}
	if !got.Points[4].RecordedAt.Equal(ttT0.Add(6 * time.Minute)) {
		t.Errorf("recorded_at = %v", got.Points[4].RecordedAt)
	}

	// The page: the state panel links every field to it; a table and an
	// accessible SVG step chart.
	state := b.page("/streams/wallet-1/state", http.StatusOK)
	link := state.Find(`[data-testid=state-row][data-path="/balance"] [data-testid=field-history-link]`)
	if link.AttrOr("href", "") != "/streams/wallet-1/fields?path=%2Fbalance" {
		t.Fatalf("history link = %q", link.AttrOr("href", ""))
	}
	if src := strings.TrimSpace(state.Find(`[data-testid=state-row][data-path="/tags/0"] [data-testid=blame-source]`).Text()); src != "backoffice" {
		t.Errorf("the state's blame shows source %q", src)
	}
	doc := b.page(link.AttrOr("href", ""), http.StatusOK)
	rows := doc.Find(`[data-testid=field-table] [data-testid=field-point]`)
	if rows.Length() != 5 {
		t.Fatalf("rows = %d", rows.Length())
	}
	last := rows.Last()
	if last.AttrOr("data-version", "") != "6" || last.Find(`[data-testid=field-value]`).Text() != "-440" ||
		last.Find(`[data-testid=field-actor]`).Text() != "billing" || last.Find(`[data-testid=field-source]`).Text() != "annual-fee-job" {
		t.Errorf("last row = %q", last.Text())
	}
	svg := doc.Find(`[data-testid=field-chart] svg`)
	if svg.AttrOr("role", "") != "img" || svg.Find(`title#chart-title`).Text() != "balance over time" ||
		!strings.Contains(svg.Find(`desc`).Text(), "lowest -440, highest 60") {
		t.Errorf("chart = role %q title %q desc %q", svg.AttrOr("role", ""), svg.Find(`title`).First().Text(), svg.Find(`desc`).Text())
	}
	// A step line: one move, then horizontal and vertical segments only.
	if d := svg.Find(`[data-testid=chart-line]`).AttrOr("d", ""); !strings.HasPrefix(d, "M") || strings.Count(d, " V") != 4 || strings.ContainsAny(d, "LC") {
		t.Errorf("step path d = %q", d)
	}
	if svg.Find(`circle`).Length() != 5 {
		t.Errorf("dots = %d", svg.Find(`circle`).Length())
	}

	// A text field has a table and no chart; a field that was never set
	// says so.
	doc = b.page("/streams/wallet-1/fields?path=/owner", http.StatusOK)
	if doc.Find(`[data-testid=field-point]`).Length() != 1 || doc.Find(`[data-testid=no-chart]`).Length() != 1 {
		t.Errorf("owner history: %q", doc.Find(`[data-testid=field-history]`).Text())
	}
	doc = b.page("/streams/wallet-1/fields?path=/nope", http.StatusOK)
	if doc.Find(`[data-testid=field-empty]`).Length() != 1 {
		t.Errorf("unknown field: %q", doc.Find(`[data-testid=field-history]`).Text())
	}
}

// A long stream's history is paged: each page folds a bounded number of
// events from the snapshot before it, and the next link continues exactly
// where the page stopped.
func TestFieldHistoryPagesALongStream(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	n := maxFieldPoints + 50
	seedTTWallet(b, n)

	var first fieldHistoryResponse
	b.getJSONInto("/streams/wallet-1/fields?path=/balance", &first)
	if len(first.Points) != maxFieldPoints || first.ThroughVersion != maxFieldPoints || first.Next == "" {
		t.Fatalf("first page: %d points through v%d, next %q", len(first.Points), first.ThroughVersion, first.Next)
	}
	var second fieldHistoryResponse
	b.getJSONInto(first.Next, &second)
	if second.FromVersion != maxFieldPoints || second.ThroughVersion != n || second.Next != "" {
		t.Fatalf("second page: from v%d through v%d, next %q", second.FromVersion, second.ThroughVersion, second.Next)
	}
	// It opens with the value carried from the first page, then goes on.
	if !second.Points[0].Carried || second.Points[0].Version != maxFieldPoints ||
		fmt.Sprint(second.Points[0].Value) != fmt.Sprint(first.Points[len(first.Points)-1].Value) ||
		second.Points[1].Version != maxFieldPoints+1 || len(second.Points) != 51 {
		t.Errorf("second page starts %+v, %d points", second.Points[:2], len(second.Points))
	}
	doc := b.page(first.Next, http.StatusOK)
	if doc.Find(`[data-testid=field-first]`).Length() != 1 || doc.Find(`[data-testid=field-next]`).Length() != 0 {
		t.Error("the last page links back to the first and not further")
	}
}

// A path that is not a JSON pointer to a field is a 400 naming path.
func TestFieldHistoryBadPath(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 2)
	for _, q := range []string{"", "?path=", "?path=balance", "?path=/a~2b", "?path=/balance&after=x"} {
		rec := b.get("/streams/wallet-1/fields"+q, "application/json")
		want := "invalid path"
		if strings.Contains(q, "after") {
			want = "invalid after"
		}
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%q: %d %s", q, rec.Code, rec.Body.String())
		}
	}
	if rec := b.get("/streams/nope/fields?path=/balance", "text/html"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown stream: %d", rec.Code)
	}
}
