package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/eventstore"
)

// The header box takes any id and goes straight to what it names; several
// things get a short page, streams first; nothing gets a page that says
// what can be typed.
func TestFindGoesStraightToWhatAnIdNames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("wallet-dispute-0001", "Wallet", ev("WalletOpened", `{}`, `{"correlation_id":"corr-dispute-7"}`),
		ev("FeeCharged", `{"amount":500}`, `{"correlation_id":"corr-dispute-7"}`))
	b.append("wallet-dispute-0002", "Wallet", ev("WalletOpened", `{}`, `{}`))
	opened := b.append("wallet-0003", "Wallet", ev("WalletOpened", `{}`, `{"correlation_id":"wallet-0003"}`))

	redirect := func(q, want string) {
		t.Helper()
		rec := b.get("/find?q="+q, "text/html")
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != want {
			t.Errorf("find %q = %d to %q, want 303 to %q", q, rec.Code, rec.Header().Get("Location"), want)
		}
	}
	redirect("wallet-dispute-0001", "/streams/wallet-dispute-0001")
	redirect(opened[0].EventID, fmt.Sprintf("/events/%d", opened[0].Position))
	redirect(strings.ToUpper(opened[0].EventID), fmt.Sprintf("/events/%d", opened[0].Position))
	redirect(fmt.Sprint(opened[0].Position), fmt.Sprintf("/events/%d", opened[0].Position))
	redirect("corr-dispute-7", "/events?correlation_id=corr-dispute-7")
	redirect("DISPUTE-0002", "/streams/wallet-dispute-0002") // one stream contains it

	// Several streams contain "dispute": choose, in id order.
	doc := b.page("/find?q=Dispute", http.StatusOK)
	var got []string
	doc.Find(`[data-testid=find-match]`).Each(func(_ int, s *goquery.Selection) {
		got = append(got, s.AttrOr("data-kind", "")+":"+strings.TrimSpace(s.Find("a").Text()))
	})
	if fmt.Sprint(got) != "[stream:wallet-dispute-0001 stream:wallet-dispute-0002]" {
		t.Errorf("find Dispute lists %v", got)
	}
	// A stream id that is also a correlation id: both, the stream first.
	doc = b.page("/find?q=wallet-0003", http.StatusOK)
	got = nil
	doc.Find(`[data-testid=find-match]`).Each(func(_ int, s *goquery.Selection) { got = append(got, s.AttrOr("data-kind", "")) })
	if fmt.Sprint(got) != "[stream correlation]" {
		t.Errorf("find wallet-0003 lists %v", got)
	}
	// Nothing: a page that helps, with the search box.
	doc = b.page("/find?q=no-such-thing", http.StatusNotFound)
	if doc.Find(`[data-testid=find-none]`).Length() != 1 || doc.Find(`[data-testid=find-q]`).AttrOr("value", "") != "no-such-thing" ||
		doc.Find(`a[href="/streams"]`).Length() == 0 {
		t.Errorf("the no-match page lacks its help")
	}
	// JSON lists the matches instead of redirecting.
	rec := b.get("/find?q=wallet-dispute-0001", "application/json")
	var body findResult
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK || len(body.Matches) != 1 ||
		body.Matches[0].URL != "/streams/wallet-dispute-0001" || !body.Matches[0].Exact {
		t.Errorf("find JSON = %d %s (%v)", rec.Code, rec.Body, err)
	}
	// The header box is this search.
	if doc.Find(`form.quick-search`).AttrOr("action", "") != "/find" {
		t.Errorf("the header search does not go to /find")
	}
}

// /streams matches any part of an id in any case, and its type filters are
// pick lists of the types that exist; /events takes a stream id prefix.
func TestStreamSearchForgivesAndPicksTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("wallet-dispute-0001", "Wallet", ev("WalletOpened", `{}`, `{}`), ev("FeeCharged", `{}`, `{}`))
	b.append("order-DISPUTE-9", "Order", ev("OrderPlaced", `{}`, `{}`))
	b.append("wallet-0002", "Wallet", ev("WalletOpened", `{}`, `{}`))
	if _, err := b.store.RefreshCatalogue(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.append("loan-dispute-3", "Loan", ev("LoanOpened", `{}`, `{}`)) // after the catalogue's pass

	doc := b.page("/streams?q=DISPUTE", http.StatusOK)
	var ids []string
	doc.Find(`[data-testid=stream-row]`).Each(func(_ int, s *goquery.Selection) { ids = append(ids, s.AttrOr("data-stream-id", "")) })
	if fmt.Sprint(ids) != "[loan-dispute-3 order-DISPUTE-9 wallet-dispute-0001]" {
		t.Errorf("q=DISPUTE finds %v", ids)
	}
	var opts []string
	doc.Find(`datalist#stream-types option`).Each(func(_ int, s *goquery.Selection) { opts = append(opts, s.AttrOr("value", "")) })
	if fmt.Sprint(opts) != "[Wallet Loan Order]" || doc.Find(`input[name=type]`).AttrOr("list", "") != "stream-types" {
		t.Errorf("stream type pick list = %v", opts)
	}
	opts = nil
	doc.Find(`datalist#event-types option`).Each(func(_ int, s *goquery.Selection) { opts = append(opts, s.AttrOr("value", "")) })
	if fmt.Sprint(opts) != "[WalletOpened LoanOpened OrderPlaced FeeCharged]" || doc.Find(`input[name=event_type]`).AttrOr("placeholder", "") != "WalletOpened" {
		t.Errorf("event type pick list = %v", opts)
	}

	var log struct {
		Events []struct {
			StreamID string `json:"stream_id"`
		} `json:"events"`
	}
	rec := b.get("/events?stream_id_prefix=wallet-&format=json", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &log); err != nil || rec.Code != http.StatusOK || len(log.Events) != 3 {
		t.Fatalf("stream_id_prefix=wallet- = %d %s", rec.Code, rec.Body)
	}
	for _, e := range log.Events {
		if !strings.HasPrefix(e.StreamID, "wallet-") {
			t.Errorf("stream_id_prefix=wallet- lists %s", e.StreamID)
		}
	}
}

// On a mapped source (an application's table, uuid ids) the search
// anywhere in an id works from the tail and from the catalogue, and the
// catalogue puts nothing in the application's schema.
func TestStreamSearchOnAMappedSource(t *testing.T) {
	t.Parallel()
	b := mappedSetup(t)
	ctx := t.Context()
	store := b.server.deps.Store
	appObjects := func() int {
		t.Helper()
		var n int
		if err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := appObjects()
	check := func(when string) {
		t.Helper()
		var body struct {
			Streams []eventstore.StreamInfo `json:"streams"`
		}
		b.getJSONInto("/streams?q="+strings.ToUpper(mappedWallet[9:18]), &body)
		if len(body.Streams) != 1 || body.Streams[0].StreamID != mappedWallet || body.Streams[0].Version != 3 {
			t.Errorf("%s: search by part of the uuid, upper case = %+v", when, body.Streams)
		}
		rec := b.get("/find?q="+mappedOther[:8], "text/html")
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/streams/"+mappedOther {
			t.Errorf("%s: find %s = %d %q", when, mappedOther[:8], rec.Code, rec.Header().Get("Location"))
		}
	}
	check("before the catalogue")
	if n, err := store.RefreshCatalogue(ctx); err != nil || n != 4 {
		t.Fatalf("catalogue the mapped table: %d, %v", n, err)
	}
	check("from the catalogue")
	var rows int
	if err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM auditd.stream_catalogue WHERE stream_type = 'Wallet' AND last_version > 0`).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("catalogue rows = %d, %v", rows, err)
	}
	if after := appObjects(); after != before {
		t.Errorf("objects in schema app: %d before, %d after", before, after)
	}
}
