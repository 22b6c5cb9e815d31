package eventstore_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

var searchT0 = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

// importEvents bulk-loads events, failing the test on error.
func importEvents(t *testing.T, s *eventstore.Store, evs []eventstore.Event) {
	t.Helper()
	if _, err := s.Import(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
}

func mkEvent(stream, streamType string, version int, eventType string, at time.Time, meta string) eventstore.Event {
	return eventstore.Event{StreamID: stream, StreamType: streamType, Version: version, EventType: eventType,
		Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(meta), RecordedAt: at}
}

func ids(streams []eventstore.StreamInfo) []string {
	out := make([]string, len(streams))
	for i, s := range streams {
		out[i] = s.StreamID
	}
	return out
}

func TestSearchStreamsByPrefixAndTypeWithCursorsBothWays(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	var evs []eventstore.Event
	for i := range 120 {
		evs = append(evs, mkEvent(fmt.Sprintf("wallet-%04d", i), "Wallet", 1, "WalletOpened", searchT0, `{}`),
			mkEvent(fmt.Sprintf("wallet-%04d", i), "Wallet", 2, "MoneyDeposited", searchT0.Add(time.Hour), `{}`))
	}
	evs = append(evs, mkEvent("wallet_x", "Order", 1, "OrderPlaced", searchT0, `{}`))
	importEvents(t, s, evs)
	ctx := t.Context()

	p1, err := s.SearchStreams(ctx, eventstore.StreamSearch{Prefix: "wallet-", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Streams) != 50 || p1.Streams[0].StreamID != "wallet-0000" || p1.Next != "wallet-0049" || p1.Prev != "" {
		t.Fatalf("page 1 = %d streams from %s, next %q prev %q", len(p1.Streams), p1.Streams[0].StreamID, p1.Next, p1.Prev)
	}
	if si := p1.Streams[3]; si.Version != 2 || si.StreamType != "Wallet" || !si.FirstAt.Equal(searchT0) || !si.LastAt.Equal(searchT0.Add(time.Hour)) {
		t.Errorf("stream info = %+v", si)
	}
	p3, err := s.SearchStreams(ctx, eventstore.StreamSearch{Prefix: "wallet-", After: "wallet-0099", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(p3.Streams) != 20 || p3.Next != "" || p3.Prev != "wallet-0100" {
		t.Fatalf("last page = %d, next %q prev %q", len(p3.Streams), p3.Next, p3.Prev)
	}
	back, err := s.SearchStreams(ctx, eventstore.StreamSearch{Prefix: "wallet-", Before: p3.Prev, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Streams) != 50 || back.Streams[0].StreamID != "wallet-0050" || back.Streams[49].StreamID != "wallet-0099" ||
		back.Prev != "wallet-0050" || back.Next != "wallet-0099" {
		t.Fatalf("backward page = %v… next %q prev %q", ids(back.Streams)[:2], back.Next, back.Prev)
	}
	// "_" in a prefix is literal, and type filters.
	lit, err := s.SearchStreams(ctx, eventstore.StreamSearch{Prefix: "wallet_"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(lit.Streams); len(got) != 1 || got[0] != "wallet_x" {
		t.Errorf("prefix wallet_ = %v", got)
	}
	orders, err := s.SearchStreams(ctx, eventstore.StreamSearch{StreamType: "Order"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(orders.Streams); len(got) != 1 || got[0] != "wallet_x" {
		t.Errorf("type Order = %v", got)
	}
}

func TestSearchStreamsByEventFilters(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	importEvents(t, s, []eventstore.Event{
		mkEvent("w-1", "Wallet", 1, "WalletOpened", searchT0, `{"actor":"customer:ana","correlation_id":"c-1"}`),
		mkEvent("w-1", "Wallet", 2, "MoneyWithdrawn", searchT0.Add(48*time.Hour), `{"actor":"job:fees","correlation_id":"c-2"}`),
		mkEvent("w-2", "Wallet", 1, "WalletOpened", searchT0, `{"actor":"customer:bo"}`),
		mkEvent("o-1", "Order", 1, "OrderPlaced", searchT0.Add(time.Hour), `{"actor":"customer:ana","correlation_id":"c-2"}`),
	})
	ctx := t.Context()
	cases := []struct {
		name string
		q    eventstore.StreamSearch
		want []string
	}{
		{"event type", eventstore.StreamSearch{EventType: "WalletOpened"}, []string{"w-1", "w-2"}},
		{"actor", eventstore.StreamSearch{Actor: "customer:ana"}, []string{"o-1", "w-1"}},
		{"correlation across streams", eventstore.StreamSearch{CorrelationID: "c-2"}, []string{"o-1", "w-1"}},
		{"correlation and type", eventstore.StreamSearch{CorrelationID: "c-2", StreamType: "Wallet"}, []string{"w-1"}},
		{"time range", eventstore.StreamSearch{From: searchT0.Add(24 * time.Hour)}, []string{"w-1"}},
		{"time range to", eventstore.StreamSearch{To: searchT0.Add(30 * time.Minute)}, []string{"w-1", "w-2"}},
		{"all filters on one event", eventstore.StreamSearch{EventType: "MoneyWithdrawn", Actor: "job:fees", Prefix: "w-"}, []string{"w-1"}},
		{"filters on different events do not combine", eventstore.StreamSearch{EventType: "MoneyWithdrawn", Actor: "customer:ana"}, []string{}},
		{"after cursor", eventstore.StreamSearch{Actor: "customer:ana", After: "o-1"}, []string{"w-1"}},
	}
	for _, tc := range cases {
		page, err := s.SearchStreams(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ids(page.Streams); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := s.SearchStreams(ctx, eventstore.StreamSearch{After: "a", Before: "b"}); err == nil {
		t.Error("after+before accepted")
	}
}

// A broad filter (more matching events than the selective bound) walks the
// stream heads with a budget: a page that finds nothing within it is
// Partial and resumes where it stopped.
func TestSearchStreamsBroadFilterIsBoundedAndResumes(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	var evs []eventstore.Event
	for i := range 6000 {
		evs = append(evs, mkEvent(fmt.Sprintf("a-%05d", i), "A", 1, "Quiet", searchT0, `{}`))
	}
	for v := 1; v <= 10_050; v++ {
		evs = append(evs, mkEvent("z-hot", "Z", v, "Hot", searchT0, `{}`))
	}
	importEvents(t, s, evs)

	q := eventstore.StreamSearch{EventType: "Hot", Limit: 10}
	var pages int
	var found []string
	for {
		page, err := s.SearchStreams(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		found = append(found, ids(page.Streams)...)
		if page.Next == "" || pages > 5 {
			break
		}
		if len(page.Streams) == 0 && !page.Partial {
			t.Fatalf("empty page with a next cursor but not partial: %+v", page)
		}
		q.After = page.Next
	}
	if fmt.Sprint(found) != "[z-hot]" || pages != 2 {
		t.Errorf("found %v in %d pages, want [z-hot] in 2", found, pages)
	}
}

func TestStreamWindowFiltersTimeAndPages(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	var evs []eventstore.Event
	for v := 1; v <= 30; v++ {
		evs = append(evs, mkEvent("w", "W", v, "Tick", searchT0.Add(time.Duration(v)*time.Minute), `{}`))
	}
	importEvents(t, s, evs)
	got, err := s.StreamWindow(t.Context(), "w", 0, searchT0.Add(10*time.Minute), searchT0.Add(20*time.Minute), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].Version != 10 || got[4].Version != 14 {
		t.Fatalf("window page 1 = %d events from v%d", len(got), got[0].Version)
	}
	got, err = s.StreamWindow(t.Context(), "w", 14, searchT0.Add(10*time.Minute), searchT0.Add(20*time.Minute), 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || got[0].Version != 15 || got[5].Version != 20 {
		t.Fatalf("window page 2 = %d events", len(got))
	}
}
