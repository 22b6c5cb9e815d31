package eventstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

func TestCausationChainUpAndDown(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	id := func(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
	meta := func(cause string) string {
		return `{"correlation_id":"corr-1","causation_id":"` + cause + `"}`
	}
	at := searchT0
	evs := []eventstore.Event{
		{EventID: id(1), StreamID: "job-1", StreamType: "Job", Version: 1, EventType: "FeeRunStarted", Metadata: []byte(`{"correlation_id":"corr-1"}`)},
		{EventID: id(2), StreamID: "w-1", StreamType: "Wallet", Version: 1, EventType: "MoneyWithdrawn", Metadata: []byte(meta(id(1)))},
		{EventID: id(3), StreamID: "d-1", StreamType: "Dispute", Version: 1, EventType: "DisputeOpened", Metadata: []byte(meta(id(2)))},
		{EventID: id(4), StreamID: "d-1", StreamType: "Dispute", Version: 2, EventType: "DisputeResolved", Metadata: []byte(meta(id(3)))},
		{EventID: id(5), StreamID: "w-1", StreamType: "Wallet", Version: 2, EventType: "MoneyDeposited", Metadata: []byte(meta(id(4)))},
		{EventID: id(6), StreamID: "n-1", StreamType: "Notice", Version: 1, EventType: "Notified", Metadata: []byte(meta(id(3)))},
		// Malformed and dangling causes end walks without errors.
		{EventID: id(7), StreamID: "x-1", StreamType: "X", Version: 1, EventType: "Odd", Metadata: []byte(`{"causation_id":"not-a-uuid"}`)},
		{EventID: id(8), StreamID: "x-1", StreamType: "X", Version: 2, EventType: "Orphan", Metadata: []byte(`{"causation_id":"` + id(999) + `"}`)},
		// A loop: 9 caused by 10, 10 caused by 9.
		{EventID: id(9), StreamID: "l-1", StreamType: "L", Version: 1, EventType: "Ping", Metadata: []byte(`{"causation_id":"` + id(10) + `"}`)},
		{EventID: id(10), StreamID: "l-1", StreamType: "L", Version: 2, EventType: "Pong", Metadata: []byte(`{"causation_id":"` + id(9) + `"}`)},
	}
	for i := range evs {
		evs[i].Payload = []byte(`{}`)
		evs[i].RecordedAt = at.Add(time.Duration(i) * time.Minute)
	}
	importEvents(t, s, evs)
	ctx := t.Context()
	byID := func(n int) eventstore.Event {
		e, err := s.EventByID(ctx, id(n))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	types := func(c []eventstore.CausedEvent) string {
		out := ""
		for _, e := range c {
			out += fmt.Sprintf("%s@%d ", e.EventType, e.Depth)
		}
		return out
	}

	e4 := byID(4)
	up, err := s.Causes(ctx, &e4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := types(up); got != "DisputeOpened@1 MoneyWithdrawn@2 FeeRunStarted@3 " {
		t.Errorf("causes of DisputeResolved = %q", got)
	}
	e2 := byID(2)
	down, err := s.Effects(ctx, &e2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := types(down); got != "DisputeOpened@1 DisputeResolved@2 Notified@2 MoneyDeposited@3 " {
		t.Errorf("effects of MoneyWithdrawn = %q", got)
	}
	limited, err := s.Effects(ctx, &e2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := types(limited); got != "DisputeOpened@1 " {
		t.Errorf("effects depth 1 = %q", got)
	}
	for _, n := range []int{7, 8} {
		e := byID(n)
		c, err := s.Causes(ctx, &e, 0)
		if err != nil || len(c) != 0 {
			t.Errorf("causes of event %d = %v, %v", n, c, err)
		}
	}
	e9 := byID(9)
	loopUp, err := s.Causes(ctx, &e9, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := types(loopUp); got != "Pong@1 " {
		t.Errorf("causes in a loop = %q", got)
	}
	loopDown, err := s.Effects(ctx, &e9, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := types(loopDown); got != "Pong@1 " {
		t.Errorf("effects in a loop = %q", got)
	}

	corr, err := s.Correlated(ctx, "corr-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(corr) != 6 || corr[0].EventType != "FeeRunStarted" || corr[5].EventType != "Notified" {
		t.Errorf("correlated = %d events", len(corr))
	}
	none, err := s.Correlated(ctx, "nope", 0)
	if err != nil || len(none) != 0 {
		t.Errorf("unknown correlation = %v, %v", none, err)
	}
}

// TestEffectsFanOutIsCappedInLogOrder walks a fee run with more direct
// effects than MaxCausedEvents, some of which have effects of their own: the
// walk keeps the first MaxCausedEvents by depth, then position, and gives the
// same answer after pgx's cached statement has gone to PostgreSQL's generic
// plan (from the sixth execution on).
func TestEffectsFanOutIsCappedInLogOrder(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	id := func(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
	const fan = eventstore.MaxCausedEvents + 50
	evs := []eventstore.Event{{EventID: id(0), StreamID: "run-1", StreamType: "Job", Version: 1, EventType: "FeeRunStarted"}}
	for i := 1; i <= fan; i++ {
		evs = append(evs, eventstore.Event{EventID: id(i), StreamID: fmt.Sprintf("w-%03d", i), StreamType: "Wallet",
			Version: 1, EventType: "FeeCharged", Metadata: []byte(`{"causation_id":"` + id(0) + `"}`)})
	}
	// Effects of the first two fees, written after every fee: depth 2,
	// later in the log than every depth-1 event.
	for i := 1; i <= 2; i++ {
		evs = append(evs, eventstore.Event{EventID: id(1000 + i), StreamID: fmt.Sprintf("w-%03d", i), StreamType: "Wallet",
			Version: 2, EventType: "FeeRefunded", Metadata: []byte(`{"causation_id":"` + id(i) + `"}`)})
	}
	for i := range evs {
		evs[i].Payload = []byte(`{}`)
		if evs[i].Metadata == nil {
			evs[i].Metadata = []byte(`{}`)
		}
		evs[i].RecordedAt = searchT0.Add(time.Duration(i) * time.Second)
	}
	importEvents(t, s, evs)
	ctx := t.Context()
	root, err := s.EventByID(ctx, id(0))
	if err != nil {
		t.Fatal(err)
	}
	fee1, err := s.EventByID(ctx, id(1))
	if err != nil {
		t.Fatal(err)
	}
	for run := range 8 {
		down, err := s.Effects(ctx, &root, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(down) != eventstore.MaxCausedEvents {
			t.Fatalf("run %d: %d effects, want %d", run, len(down), eventstore.MaxCausedEvents)
		}
		for i, e := range down {
			if e.EventID != id(i+1) || e.Depth != 1 {
				t.Fatalf("run %d: effect %d = %s at depth %d, want %s at depth 1", run, i, e.EventID, e.Depth, id(i+1))
			}
		}
		one, err := s.Effects(ctx, &fee1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(one) != 1 || one[0].EventID != id(1001) || one[0].Depth != 1 {
			t.Fatalf("run %d: effects of the first fee = %+v", run, one)
		}
	}
}
