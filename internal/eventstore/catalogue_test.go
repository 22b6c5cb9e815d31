package eventstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// A search anywhere in the id, in any case, finds streams before the
// catalogue has them (the tail above its progress), after a back-fill
// (the trigram index) and after new appends (the tail again), and re-reading
// catalogued events changes nothing.
func TestSearchStreamsMatchesAnywhereInAnyCase(t *testing.T) {
	t.Parallel()
	s, db := setup(t)
	ctx := t.Context()
	var evs []eventstore.Event
	for i := range 60 {
		evs = append(evs, mkEvent(fmt.Sprintf("wallet-%04d", i), "Wallet", 1, "WalletOpened", searchT0, `{}`))
	}
	evs = append(evs,
		mkEvent("wallet-dispute-0001", "Wallet", 1, "WalletOpened", searchT0, `{}`),
		mkEvent("wallet-dispute-0001", "Wallet", 2, "FeeCharged", searchT0.Add(1), `{}`),
		mkEvent("order-Dispute-7", "Order", 1, "OrderPlaced", searchT0, `{}`),
		mkEvent("wallet-100%", "Wallet", 1, "WalletOpened", searchT0, `{}`))
	importEvents(t, s, evs)

	search := func(q eventstore.StreamSearch) []string {
		t.Helper()
		p, err := s.SearchStreams(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return ids(p.Streams)
	}
	want := fmt.Sprint([]string{"order-Dispute-7", "wallet-dispute-0001"})
	if got := fmt.Sprint(search(eventstore.StreamSearch{Match: "DISPUTE"})); got != want {
		t.Fatalf("before the catalogue: DISPUTE = %s, want %s", got, want)
	}

	n, err := s.RefreshCatalogue(ctx)
	if err != nil || n != len(evs) {
		t.Fatalf("refresh = %d, %v; want %d events", n, err, len(evs))
	}
	if got := fmt.Sprint(search(eventstore.StreamSearch{Match: "DISPUTE"})); got != want {
		t.Fatalf("from the catalogue: DISPUTE = %s, want %s", got, want)
	}
	if got := fmt.Sprint(search(eventstore.StreamSearch{Match: "dispute", StreamType: "Wallet"})); got != "[wallet-dispute-0001]" {
		t.Errorf("dispute of type Wallet = %s", got)
	}
	if got := fmt.Sprint(search(eventstore.StreamSearch{Match: "0%"})); got != "[wallet-100%]" {
		t.Errorf("%% is literal: 0%% = %s", got)
	}
	if got := fmt.Sprint(search(eventstore.StreamSearch{Match: "dispute", EventType: "FeeCharged"})); got != "[wallet-dispute-0001]" {
		t.Errorf("dispute with a FeeCharged event = %s", got)
	}
	page := search(eventstore.StreamSearch{Match: "WALLET-00", After: "wallet-0009", Limit: 5})
	if fmt.Sprint(page) != "[wallet-0010 wallet-0011 wallet-0012 wallet-0013 wallet-0014]" {
		t.Errorf("page after wallet-0009 = %v", page)
	}

	// The catalogue's row, and re-reading everything changes nothing.
	if _, _, err := s.CataloguePass(ctx, 0, 1000); err != nil {
		t.Fatal(err)
	}
	var rows, last int64
	var lastType string
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM auditd.stream_catalogue), last_version, last_event_type
		FROM auditd.stream_catalogue WHERE stream_id = 'wallet-dispute-0001'`).Scan(&rows, &last, &lastType); err != nil {
		t.Fatal(err)
	}
	if rows != 63 || last != 2 || lastType != "FeeCharged" {
		t.Errorf("catalogue = %d rows, dispute at version %d (%s)", rows, last, lastType)
	}

	// pg_trgm went into auditd's schema, and the index exists.
	var extSchema string
	if err := db.Pool.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		JOIN pg_indexes i ON i.indexname = 'stream_catalogue_id_trgm' WHERE e.extname = 'pg_trgm'`).Scan(&extSchema); err != nil || extSchema != "auditd" {
		t.Errorf("pg_trgm in %q (%v), want auditd with the trigram index", extSchema, err)
	}

	// A stream appended since the last pass is found from the tail.
	if _, err := s.Append(ctx, "refund-DISPUTE-9", "Refund", 0, newEv("RefundRequested", `{}`)); err != nil {
		t.Fatal(err)
	}
	if got := search(eventstore.StreamSearch{Match: "dispute"}); len(got) != 3 || got[1] != "refund-DISPUTE-9" {
		t.Errorf("after an append: dispute = %v", got)
	}
}

// The keeper back-fills in the background, and says when it reached the
// head.
func TestCatalogueKeeperBackfillsAndFollows(t *testing.T) {
	t.Parallel()
	s, db := setup(t)
	ctx := t.Context()
	var evs []eventstore.Event
	for i := range 50 {
		evs = append(evs, mkEvent(fmt.Sprintf("loan-%03d", i), "Loan", 1, "LoanOpened", searchT0, `{}`))
	}
	importEvents(t, s, evs)
	k := eventstore.NewCatalogueKeeper(s, nil, time.Hour)
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	<-k.CaughtUp()
	var rows int
	var progress int64
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM auditd.stream_catalogue),
		(SELECT position FROM auditd.stream_catalogue_progress)`).Scan(&rows, &progress); err != nil {
		t.Fatal(err)
	}
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 50 || progress != head.Position {
		t.Errorf("after the back-fill: %d rows, progress %d, head %d", rows, progress, head.Position)
	}
}
