package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func collect(t testing.TB, opts Options) []eventstore.Event {
	t.Helper()
	var all []eventstore.Event
	for b := range Generate(opts) {
		all = append(all, b...)
	}
	return all
}

type testMeta struct {
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
	Actor         string `json:"actor"`
	Source        string `json:"source"`
}

func meta(t *testing.T, e eventstore.Event) testMeta {
	t.Helper()
	var m testMeta
	if err := json.Unmarshal(e.Metadata, &m); err != nil {
		t.Fatalf("event %s: bad metadata %s: %v", e.EventID, e.Metadata, err)
	}
	return m
}

func amount(t *testing.T, e eventstore.Event) Money {
	t.Helper()
	var p struct {
		Amount jsonDecimal `json:"amount"`
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatalf("event %s: bad payload %s: %v", e.EventID, e.Payload, err)
	}
	return Money(p.Amount)
}

func TestGenerateDeterministic(t *testing.T) {
	t.Parallel()
	a := collect(t, Options{Seed: 7, Events: 3000, BatchSize: 700})
	b := collect(t, Options{Seed: 7, Events: 3000, BatchSize: 1000})
	c := collect(t, Options{Seed: 8, Events: 3000})
	if len(a) != 3000 || len(b) != 3000 || len(c) != 3000 {
		t.Fatalf("lengths %d, %d, %d; want 3000", len(a), len(b), len(c))
	}
	same := func(x, y eventstore.Event) bool {
		return x.EventID == y.EventID && x.StreamID == y.StreamID && x.Version == y.Version && x.EventType == y.EventType &&
			x.RecordedAt.Equal(y.RecordedAt) && bytes.Equal(x.Payload, y.Payload) && bytes.Equal(x.Metadata, y.Metadata)
	}
	for i := range a {
		if !same(a[i], b[i]) {
			t.Fatalf("same seed, event %d differs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	differ := 0
	for i := range a {
		if !same(a[i], c[i]) {
			differ++
		}
	}
	if differ < len(a)/2 {
		t.Fatalf("seeds 7 and 8 share %d of %d events", len(a)-differ, len(a))
	}
}

func TestGenerateShape(t *testing.T) {
	t.Parallel()
	events := collect(t, Options{Seed: 1, Events: 5000})
	if len(events) != 5000 {
		t.Fatalf("got %d events, want 5000", len(events))
	}
	seen := map[string]int{}
	schemas := map[int]int{}
	ids := map[string]bool{}
	versions := map[string]int{}
	var prev time.Time
	for i, e := range events {
		seen[e.EventType]++
		if !eventstore.IsEventID(e.EventID) || ids[e.EventID] {
			t.Fatalf("event %d: bad or duplicate id %q", i, e.EventID)
		}
		ids[e.EventID] = true
		if e.RecordedAt.Before(prev) {
			t.Fatalf("event %d recorded at %s, before the previous %s", i, e.RecordedAt, prev)
		}
		prev = e.RecordedAt
		if versions[e.StreamID]+1 != e.Version {
			t.Fatalf("event %d: stream %s version %d after %d", i, e.StreamID, e.Version, versions[e.StreamID])
		}
		versions[e.StreamID] = e.Version
		if e.EventType == EventOrderPlaced {
			schemas[e.SchemaVersion]++
		}
		m := meta(t, e)
		if m.CorrelationID == "" || m.Actor == "" || m.Source == "" {
			t.Fatalf("event %d (%s): incomplete metadata %s", i, e.EventType, e.Metadata)
		}
	}
	for st, types := range EventTypes {
		for _, typ := range types {
			if seen[typ] == 0 {
				t.Errorf("no %s/%s event in 5000 events", st, typ)
			}
		}
	}
	if schemas[1] == 0 || schemas[2] == 0 {
		t.Errorf("OrderPlaced schema versions: %v, want both 1 and 2", schemas)
	}
	first, last := events[0].RecordedAt, events[len(events)-1].RecordedAt
	if first.Before(DefaultStart) || last.After(DefaultStart.Add(Span+24*time.Hour)) || last.Sub(first) < Span*3/4 {
		t.Errorf("history spans %s .. %s, want about %s from %s", first, last, Span, DefaultStart)
	}
	// Amounts are written with exactly two decimals.
	if !bytes.Contains(events[len(events)-1].Payload, []byte(".")) && bytes.Contains(events[len(events)-1].Payload, []byte("amount")) {
		t.Errorf("amount without decimals: %s", events[len(events)-1].Payload)
	}
	for _, e := range events {
		if e.EventType == EventMoneyDeposited && !bytes.Contains(e.Payload, []byte(`"amount":`)) {
			t.Fatalf("deposit without amount: %s", e.Payload)
		}
	}
}

func TestTransfersArePaired(t *testing.T) {
	t.Parallel()
	events := collect(t, Options{Seed: 2, Events: 5000})
	sent := map[string]eventstore.Event{} // by transfer_id
	received := map[string]eventstore.Event{}
	type transfer struct {
		Amount     jsonDecimal `json:"amount"`
		ToWallet   string      `json:"to_wallet"`
		FromWallet string      `json:"from_wallet"`
		TransferID string      `json:"transfer_id"`
	}
	decode := func(e eventstore.Event) transfer {
		var p transfer
		if err := json.Unmarshal(e.Payload, &p); err != nil || p.TransferID == "" {
			t.Fatalf("bad transfer payload %s: %v", e.Payload, err)
		}
		return p
	}
	for _, e := range events {
		switch e.EventType {
		case EventTransferSent:
			sent[decode(e).TransferID] = e
		case EventTransferReceived:
			received[decode(e).TransferID] = e
		}
	}
	if len(sent) == 0 {
		t.Fatal("no transfers")
	}
	for id, s := range sent {
		r, ok := received[id]
		if !ok {
			// Only a transfer sent in the last second of history may be
			// cut off by the event count.
			if s.RecordedAt.Before(events[len(events)-1].RecordedAt.Add(-time.Second)) {
				t.Errorf("transfer %s has no TransferReceived", id)
			}
			continue
		}
		ps, pr := decode(s), decode(r)
		ms, mr := meta(t, s), meta(t, r)
		if ms.CorrelationID != mr.CorrelationID {
			t.Errorf("transfer %s: correlation %s vs %s", id, ms.CorrelationID, mr.CorrelationID)
		}
		if mr.CausationID != s.EventID {
			t.Errorf("transfer %s: received caused by %s, want %s", id, mr.CausationID, s.EventID)
		}
		if ps.Amount != pr.Amount || ps.ToWallet != r.StreamID || pr.FromWallet != s.StreamID || s.StreamID == r.StreamID {
			t.Errorf("transfer %s: mismatched legs %s / %s", id, s.Payload, r.Payload)
		}
	}
	for id := range received {
		if _, ok := sent[id]; !ok {
			t.Errorf("transfer %s received but never sent", id)
		}
	}
}

func TestDisputeStory(t *testing.T) {
	t.Parallel()
	for _, n := range []int{5000, StoryEvents, 1} {
		events := collect(t, Options{Seed: 3, Events: n})
		if want := max(n, StoryEvents); len(events) != want {
			t.Fatalf("Events %d: got %d events, want %d", n, len(events), want)
		}
		byID := map[string]eventstore.Event{}
		var balance Money
		var before Money
		for _, e := range events {
			byID[e.EventID] = e
			if e.StreamID != DisputeWalletID {
				continue
			}
			switch e.EventType {
			case EventMoneyDeposited, EventTransferReceived:
				balance += amount(t, e)
			case EventMoneyWithdrawn, EventTransferSent:
				if e.EventID == DisputeWithdrawalEventID {
					before = balance
				}
				balance -= amount(t, e)
			}
		}
		w, ok := byID[DisputeWithdrawalEventID]
		if !ok {
			t.Fatalf("Events %d: no disputed withdrawal", n)
		}
		m := meta(t, w)
		if w.StreamID != DisputeWalletID || w.EventType != EventMoneyWithdrawn || !bytes.Contains(w.Payload, []byte(`"amount":`+DisputeAmount)) {
			t.Errorf("disputed withdrawal is %s %s %s", w.StreamID, w.EventType, w.Payload)
		}
		if got := w.RecordedAt.UTC(); got.Hour() != 2 || got.Minute() != 0 || !got.Equal((Options{}).DisputeTime()) {
			t.Errorf("disputed withdrawal at %s, want 02:00 UTC on %s", got, (Options{}).DisputeTime())
		}
		if m.Actor != DisputeJobActor || m.Source != DisputeJobSource || m.CausationID != DisputeFeeRunEventID {
			t.Errorf("disputed withdrawal metadata %s", w.Metadata)
		}
		if job := byID[DisputeFeeRunEventID]; job.EventType != EventFeeRunStarted || meta(t, job).Actor != DisputeJobActor {
			t.Errorf("fee run event is %+v", job)
		}
		if before.String() != DisputeBalanceBefore || (before-50000).String() != DisputeBalanceAfter {
			t.Errorf("balance before the fee %s, want %s", before, DisputeBalanceBefore)
		}
		// The chain: withdrawal → DisputeOpened (customer, next morning) →
		// DisputeResolved (agent) → refund.
		chain := []struct{ id, typ, actor, cause string }{
			{DisputeOpenedEventID, EventDisputeOpened, DisputeCustomer, DisputeWithdrawalEventID},
			{DisputeResolvedEventID, EventDisputeResolved, DisputeAgent, DisputeOpenedEventID},
			{DisputeRefundEventID, EventMoneyDeposited, DisputeAgent, DisputeResolvedEventID},
		}
		for _, c := range chain {
			e, ok := byID[c.id]
			if !ok {
				t.Fatalf("Events %d: no %s", n, c.typ)
			}
			m := meta(t, e)
			if e.EventType != c.typ || m.Actor != c.actor || m.CausationID != c.cause || !e.RecordedAt.After(w.RecordedAt) ||
				e.RecordedAt.Sub(w.RecordedAt) > 12*time.Hour {
				t.Errorf("%s: got %s by %s caused by %s at %s", c.typ, e.EventType, m.Actor, m.CausationID, e.RecordedAt)
			}
		}
		if balance.String() != DisputeBalanceBefore {
			t.Errorf("final dispute wallet balance %s, want %s after the refund", balance, DisputeBalanceBefore)
		}
	}
}

func TestBalancesNeverNegative(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		events := collect(t, Options{Seed: seed, Events: 20000})
		balances := map[string]Money{}
		for _, e := range events {
			if e.StreamType != StreamWallet {
				continue
			}
			switch e.EventType {
			case EventMoneyDeposited, EventTransferReceived:
				balances[e.StreamID] += amount(t, e)
			case EventMoneyWithdrawn, EventTransferSent:
				balances[e.StreamID] -= amount(t, e)
			}
			if b := balances[e.StreamID]; b < 0 && e.StreamID != DisputeWalletID {
				t.Fatalf("seed %d: wallet %s at %s after %s %s", seed, e.StreamID, b, e.EventType, e.Payload)
			}
		}
		if len(balances) < 100 {
			t.Errorf("seed %d: only %d wallets", seed, len(balances))
		}
	}
}

func TestReducersJSON(t *testing.T) {
	t.Parallel()
	var cfg struct {
		Reducers  map[string]map[string][]map[string]any `json:"reducers"`
		Upcasters map[string][]struct {
			FromVersion int              `json:"from_version"`
			Ops         []map[string]any `json:"ops"`
		} `json:"upcasters"`
	}
	if err := json.Unmarshal(ReducersJSON, &cfg); err != nil {
		t.Fatalf("reducers.json: %v", err)
	}
	for st, types := range EventTypes {
		for _, typ := range types {
			if len(cfg.Reducers[st][typ]) == 0 {
				t.Errorf("no reducer rules for %s/%s", st, typ)
			}
		}
	}
	if up := cfg.Upcasters[EventOrderPlaced]; len(up) != 1 || up[0].FromVersion != 1 || len(up[0].Ops) != 4 {
		t.Errorf("OrderPlaced upcaster: %+v", up)
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	ctx := t.Context()

	seeded, err := Seeded(ctx, store)
	if err != nil || seeded {
		t.Fatalf("Seeded on an empty store = %v, %v", seeded, err)
	}
	var calls []int
	n, err := Seed(ctx, store, Options{Seed: 5, Events: 12345, BatchSize: 5000}, func(done, total int) {
		if total != 12345 {
			t.Errorf("progress total %d, want 12345", total)
		}
		calls = append(calls, done)
	})
	if err != nil || n != 12345 {
		t.Fatalf("Seed = %d, %v", n, err)
	}
	if want := []int{5000, 10000, 12345}; len(calls) != 3 || calls[0] != want[0] || calls[1] != want[1] || calls[2] != want[2] {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
	var rows int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 12345 {
		t.Errorf("%d rows, want 12345", rows)
	}
	// Positions follow time.
	var disorder int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT recorded_at < lag(recorded_at) OVER (ORDER BY position) AS back FROM events) x WHERE back`).Scan(&disorder); err != nil {
		t.Fatal(err)
	}
	if disorder != 0 {
		t.Errorf("%d events recorded before their predecessor in position order", disorder)
	}
	e, err := store.EventByID(ctx, DisputeWithdrawalEventID)
	if err != nil || e.StreamID != DisputeWalletID || e.Actor() != DisputeJobActor {
		t.Errorf("disputed withdrawal in the store: %+v, %v", e, err)
	}
	if seeded, err := Seeded(ctx, store); err != nil || !seeded {
		t.Errorf("Seeded after Seed = %v, %v", seeded, err)
	}
}

func TestGenerator(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	ctx := t.Context()
	if _, err := Seed(ctx, store, Options{Seed: 9, Events: 2000}, nil); err != nil {
		t.Fatal(err)
	}
	g := NewGenerator(store, slog.New(slog.DiscardHandler), GeneratorOptions{Rate: 200, Seed: 1, Wallets: 10})
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(ctx); err != ErrGeneratorStarted {
		t.Errorf("second Start = %v, want ErrGeneratorStarted", err)
	}
	// A competing writer on the generator's wallets forces version
	// conflicts, which the generator must absorb.
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var count, touched int
	for {
		if _, err := store.Append(ctx, "wallet-00001", StreamWallet, eventstore.AnyVersion, eventstore.NewEvent{
			EventType: EventMoneyDeposited, Payload: json.RawMessage(`{"amount": 10.00, "source": "card"}`),
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if err := db.Pool.QueryRow(ctx, `SELECT count(DISTINCT stream_id) FROM events WHERE recorded_at > now() - interval '1 hour' AND metadata ? 'actor'`).Scan(&touched); err != nil {
			t.Fatal(err)
		}
		if count >= 2000+200 && touched >= 5 {
			break
		}
		select {
		case <-wait.Done():
			t.Fatalf("generator appended only %d events on %d streams", count-2000, touched)
		case <-time.After(20 * time.Millisecond):
		}
	}
	g.Stop()
	g.Stop() // idempotent
	var after int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	var again int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&again); err != nil {
		t.Fatal(err)
	}
	if again != after {
		t.Errorf("events still appended after Stop: %d then %d", after, again)
	}
	// Live balances stay consistent: no live wallet went negative.
	var negative int
	if err := db.Pool.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT stream_id, sum(CASE WHEN event_type IN ('MoneyDeposited','TransferReceived') THEN (payload->>'amount')::numeric
			                           WHEN event_type IN ('MoneyWithdrawn','TransferSent') THEN -(payload->>'amount')::numeric END) AS balance
			FROM events WHERE stream_type = 'Wallet' AND stream_id <> $1 GROUP BY stream_id) b
		WHERE balance < 0`, DisputeWalletID).Scan(&negative); err != nil {
		t.Fatal(err)
	}
	if negative != 0 {
		t.Errorf("%d wallets with a negative balance after live traffic", negative)
	}
}

func BenchmarkSeed(b *testing.B) {
	for b.Loop() {
		// A fresh database each round: the demo world can be loaded once.
		b.StopTimer()
		store := eventstore.New(pgtest.NewDB(b).Pool)
		b.StartTimer()
		if _, err := Seed(b.Context(), store, Options{Seed: 1, Events: 100_000}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "events/s")
}
