package timetravel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// serviceWalletRules is the reducer config of the service tests' wallets.
const serviceWalletRules = `{"reducers":{"Wallet":{
	"WalletOpened":[{"op":"set","path":"/owner","from":"/owner"},{"op":"set","path":"/balance","value":0}],
	"MoneyDeposited":[{"op":"inc","path":"/balance","from":"/amount"}],
	"MoneyWithdrawn":[{"op":"dec","path":"/balance","from":"/amount"}]}}}`

// tt0 is when the test wallets open; event v is recorded at tt0 + v minutes.
var tt0 = time.Date(2025, 5, 16, 2, 0, 0, 0, time.UTC)

// seedWallet appends a wallet opened by "ann" followed by n-1 deposits of
// v units each (v the event's version), one minute apart, and returns the
// store. The balance after version v is therefore 2+3+…+v.
func seedWallet(t testing.TB, streamID string, n int) *eventstore.Store {
	t.Helper()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	appendWallet(t, store, streamID, n)
	return store
}

func appendWallet(t testing.TB, store *eventstore.Store, streamID string, n int) {
	t.Helper()
	evs := make([]eventstore.NewEvent, 0, n)
	for v := 1; v <= n; v++ {
		e := eventstore.NewEvent{
			EventType:  "MoneyDeposited",
			Payload:    json.RawMessage(fmt.Sprintf(`{"amount":%d}`, v)),
			Metadata:   json.RawMessage(fmt.Sprintf(`{"actor":"agent-%d"}`, v%3)),
			RecordedAt: tt0.Add(time.Duration(v) * time.Minute),
		}
		if v == 1 {
			e.EventType, e.Payload, e.Metadata = "WalletOpened", json.RawMessage(`{"owner":"ann"}`), json.RawMessage(`{"actor":"ann"}`)
		}
		evs = append(evs, e)
	}
	ctx := context.Background()
	for len(evs) > 0 {
		k := min(len(evs), 5000)
		if _, err := store.Append(ctx, streamID, "Wallet", eventstore.AnyVersion, evs[:k]...); err != nil {
			t.Fatalf("append: %v", err)
		}
		evs = evs[k:]
	}
}

// balanceAfter is the seeded wallet's balance after version v.
func balanceAfter(v int) int {
	if v < 2 {
		return 0
	}
	return v*(v+1)/2 - 1
}

func balanceOf(t testing.TB, st *State) string {
	t.Helper()
	b, ok := st.Data["balance"]
	if !ok {
		t.Fatalf("state v%d has no balance: %v", st.Version, st.Data)
	}
	return fmt.Sprint(b)
}

func newService(t testing.TB, store *eventstore.Store, rules string, every int) *Service {
	t.Helper()
	return NewService(store, mustConfig(t, rules), nil, ServiceOptions{SnapshotEvery: every})
}

func TestServiceStateAtVersionAndTime(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 30)
	svc := newService(t, store, serviceWalletRules, 10)

	cases := []struct {
		name string
		p    Point
		want int // version
	}{
		{"latest", Point{}, 30},
		{"version", AtVersion(17), 17},
		{"version one", AtVersion(1), 1},
		{"time exactly at an event", AtTime(tt0.Add(12 * time.Minute)), 12},
		{"time between events", AtTime(tt0.Add(12*time.Minute + 30*time.Second)), 12},
		{"time after the last event", AtTime(tt0.Add(48 * time.Hour)), 30},
		{"version beyond the head is the latest", AtVersion(1000), 30},
	}
	for _, tc := range cases {
		st, err := svc.StateAt(ctx, "wallet-1", tc.p)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if st.Version != tc.want || balanceOf(t, st) != fmt.Sprint(balanceAfter(tc.want)) {
			t.Errorf("%s: v%d balance %s, want v%d balance %d", tc.name, st.Version, balanceOf(t, st), tc.want, balanceAfter(tc.want))
		}
		if st.StreamID != "wallet-1" || st.StreamType != "Wallet" || st.BeforeFirstEvent() {
			t.Errorf("%s: stream %q type %q before-first %v", tc.name, st.StreamID, st.StreamType, st.BeforeFirstEvent())
		}
		if b := st.Blame["/balance"]; tc.want > 1 && (b.Version != tc.want || b.EventType != "MoneyDeposited" || b.Actor != fmt.Sprintf("agent-%d", tc.want%3)) {
			t.Errorf("%s: blame of /balance = %+v", tc.name, b)
		}
		if want := tt0.Add(time.Duration(tc.want) * time.Minute); !st.At.Equal(want) {
			t.Errorf("%s: at %s, want %s", tc.name, st.At, want)
		}
	}
}

func TestServiceTimeBeforeFirstEvent(t *testing.T) {
	t.Parallel()
	store := seedWallet(t, "wallet-1", 5)
	svc := newService(t, store, serviceWalletRules, 10)
	st, err := svc.StateAt(t.Context(), "wallet-1", AtTime(tt0.Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if !st.BeforeFirstEvent() || st.Version != 0 || len(st.Data) != 0 || len(st.Blame) != 0 || !st.At.IsZero() {
		t.Errorf("state before the first event = v%d %v %v at %s", st.Version, st.Data, st.Blame, st.At)
	}
	if st.StreamID != "wallet-1" || st.StreamType != "Wallet" {
		t.Errorf("empty state names %q/%q", st.StreamID, st.StreamType)
	}
}

// Version 0 and the zero time are moments before the first event, not the
// latest state; only the zero Point is the latest.
func TestServicePointsBeforeTheFirstEvent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 5)
	svc := newService(t, store, serviceWalletRules, 10)
	for _, p := range []Point{AtVersion(0), AtTime(time.Time{})} {
		if p.IsLatest() {
			t.Errorf("%v is the latest", p)
		}
		st, err := svc.StateAt(ctx, "wallet-1", p)
		if err != nil {
			t.Fatal(err)
		}
		if !st.BeforeFirstEvent() || len(st.Data) != 0 {
			t.Errorf("StateAt(%v) = v%d %v, want the empty state", p, st.Version, st.Data)
		}
	}
	if got := [3]string{AtVersion(0).String(), AtTime(time.Time{}).String(), Latest().String()}; got != [3]string{"v:0", "0001-01-01T00:00:00Z", "latest"} {
		t.Errorf("String() = %q", got)
	}
	latest, err := svc.StateAt(ctx, "wallet-1", Latest())
	if err != nil || latest.Version != 5 {
		t.Fatalf("latest = %v, %v", latest, err)
	}
	// From before the first event everything is added, each leaf credited
	// to the last event that set it; backwards, everything is removed and
	// credited to the first event undone.
	from, to, changes, err := svc.DiffBetween(ctx, "wallet-1", AtVersion(0), Latest())
	if err != nil {
		t.Fatal(err)
	}
	if from.Version != 0 || to.Version != 5 || len(changes) == 0 {
		t.Fatalf("diff v:0 to latest: v%d to v%d, %d changes", from.Version, to.Version, len(changes))
	}
	for _, c := range changes {
		if b := latest.Blame[c.Path]; c.Op != ChangeAdd || c.Version != b.Version {
			t.Errorf("forward change %+v, want an add by v%d", c, b.Version)
		}
	}
	_, _, back, err := svc.DiffBetween(ctx, "wallet-1", Latest(), AtTime(time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(changes) {
		t.Fatalf("backward diff has %d changes, forward %d", len(back), len(changes))
	}
	for _, c := range back {
		if c.Op != ChangeRemove || c.Version != 1 {
			t.Errorf("backward change %+v, want a remove undoing v1", c)
		}
	}
}

func TestServiceUnknownStreamAndBadPoints(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 3)
	svc := newService(t, store, serviceWalletRules, 10)
	if _, err := svc.StateAt(ctx, "nope", Point{}); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("StateAt(unknown) = %v, want ErrStreamNotFound", err)
	}
	if _, _, _, err := svc.DiffBetween(ctx, "nope", AtVersion(1), Point{}); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("DiffBetween(unknown) = %v, want ErrStreamNotFound", err)
	}
	// A version and a time at once cannot be written; a negative version can.
	for _, p := range []Point{AtVersion(-1)} {
		if _, err := svc.StateAt(ctx, "wallet-1", p); !errors.Is(err, ErrInvalidPoint) {
			t.Errorf("StateAt(%+v) = %v, want ErrInvalidPoint", p, err)
		}
	}
}

// TestServiceWritesAndUsesSnapshots checks the cache end to end: a first
// fold writes a snapshot every SnapshotEvery versions, later reads start
// from the newest one at or before the point and fold only the tail, and
// the result is the same as a fold from scratch.
func TestServiceWritesAndUsesSnapshots(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 1234)
	svc := newService(t, store, serviceWalletRules, 100)
	noSnap := newService(t, store, serviceWalletRules, -1)

	st, err := svc.StateAt(ctx, "wallet-1", Point{})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Stats(); got.EventsFolded != 1234 || got.SnapshotsLoaded != 0 || got.SnapshotsWritten != 12 {
		t.Fatalf("first fold stats = %+v, want 1234 events folded, 12 snapshots written", got)
	}
	if n, err := svc.snapshots.count(ctx, "wallet-1", svc.Fingerprint()); err != nil || n != 12 {
		t.Fatalf("snapshot rows = %d (%v), want 12", n, err)
	}
	if balanceOf(t, st) != fmt.Sprint(balanceAfter(1234)) {
		t.Fatalf("balance %s", balanceOf(t, st))
	}

	for _, v := range []int{1234, 1200, 1199, 550, 100, 99, 1} {
		before := svc.Stats()
		got, err := svc.StateAt(ctx, "wallet-1", AtVersion(v))
		if err != nil {
			t.Fatal(err)
		}
		after := svc.Stats()
		wantFolded := int64(v % 100)
		wantLoaded := int64(1)
		if v < 100 {
			wantFolded, wantLoaded = int64(v), 0
		}
		if after.EventsFolded-before.EventsFolded != wantFolded || after.SnapshotsLoaded-before.SnapshotsLoaded != wantLoaded {
			t.Errorf("v%d: folded %d events, loaded %d snapshots; want %d and %d", v,
				after.EventsFolded-before.EventsFolded, after.SnapshotsLoaded-before.SnapshotsLoaded, wantFolded, wantLoaded)
		}
		if after.SnapshotsWritten != before.SnapshotsWritten {
			t.Errorf("v%d: wrote %d snapshots again", v, after.SnapshotsWritten-before.SnapshotsWritten)
		}
		full, err := noSnap.StateAt(ctx, "wallet-1", AtVersion(v))
		if err != nil {
			t.Fatal(err)
		}
		if canon(t, got.Data) != canon(t, full.Data) || canon(t, got.Blame) != canon(t, full.Blame) || canon(t, got.Touched) != canon(t, full.Touched) {
			t.Errorf("v%d: state from snapshot differs from a full fold:\n%s\n%s", v, canon(t, got), canon(t, full))
		}
		if !got.At.Equal(full.At) || got.Version != full.Version {
			t.Errorf("v%d: snapshot state v%d at %s, full fold v%d at %s", v, got.Version, got.At, full.Version, full.At)
		}
	}
	if n, err := noSnap.snapshots.count(ctx, "wallet-1", noSnap.Fingerprint()); err != nil || n != 12 {
		t.Errorf("a service without snapshots wrote some: %d rows (%v)", n, err)
	}
}

// TestServiceReadsTheSnapshotItWrote proves the state really comes from the
// snapshot row: a doctored snapshot shows through.
func TestServiceReadsTheSnapshotItWrote(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 25)
	svc := newService(t, store, serviceWalletRules, 10)
	if _, err := svc.StateAt(ctx, "wallet-1", Point{}); err != nil {
		t.Fatal(err)
	}
	_, err := store.Pool().Exec(ctx, `UPDATE auditd.snapshots SET state = jsonb_set(state, '{data,balance}', '1000000')
		WHERE stream_id = 'wallet-1' AND version = 20`)
	if err != nil {
		t.Fatal(err)
	}
	st, err := svc.StateAt(ctx, "wallet-1", AtVersion(22))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(1000000 + 21 + 22); balanceOf(t, st) != want {
		t.Errorf("balance = %s, want %s (the doctored snapshot plus two deposits)", balanceOf(t, st), want)
	}
}

func TestServiceIgnoresSnapshotsOfAnotherConfig(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 45)
	a := newService(t, store, serviceWalletRules, 10)
	if _, err := a.StateAt(ctx, "wallet-1", Point{}); err != nil {
		t.Fatal(err)
	}
	// The same stream folded with other rules: deposits now count.
	b := newService(t, store, `{"reducers":{"Wallet":{"MoneyDeposited":[{"op":"inc","path":"/deposits","value":1}]}}}`, 10)
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("two configs share a fingerprint")
	}
	st, err := b.StateAt(ctx, "wallet-1", AtVersion(33))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Stats(); got.SnapshotsLoaded != 0 || got.EventsFolded != 33 {
		t.Errorf("stats with a new config = %+v: the old config's snapshots were used", got)
	}
	if _, has := st.Data["balance"]; has || fmt.Sprint(st.Data["deposits"]) != "32" || st.Data["owner"] != "ann" {
		t.Errorf("state with the new config = %v", st.Data)
	}
	if n, err := b.snapshots.count(ctx, "wallet-1", b.Fingerprint()); err != nil || n != 3 {
		t.Errorf("new config's snapshots = %d (%v), want 3", n, err)
	}
	// The first config still finds its own.
	before := a.Stats()
	if _, err := a.StateAt(ctx, "wallet-1", AtVersion(33)); err != nil {
		t.Fatal(err)
	}
	if got := a.Stats(); got.SnapshotsLoaded != before.SnapshotsLoaded+1 || got.EventsFolded != before.EventsFolded+3 {
		t.Errorf("first config after the second: %+v → %+v", before, got)
	}
}

// After a change of reducers the old configuration's snapshots are deleted;
// the current one's stay and are still used.
func TestServicePrunesSnapshotsOfOtherConfigs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 45)
	appendWallet(t, store, "wallet-2", 25)
	old := newService(t, store, serviceWalletRules, 10)
	for _, id := range []string{"wallet-1", "wallet-2"} {
		if _, err := old.StateAt(ctx, id, Point{}); err != nil {
			t.Fatal(err)
		}
	}
	current := newService(t, store, `{"reducers":{"Wallet":{"MoneyDeposited":[{"op":"inc","path":"/deposits","value":1}]}}}`, 10)
	if _, err := current.StateAt(ctx, "wallet-1", Point{}); err != nil {
		t.Fatal(err)
	}
	pruned, err := current.PruneSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The old config wrote snapshots at versions 10–40 of wallet-1 and 10–20
	// of wallet-2.
	if pruned != 6 {
		t.Errorf("pruned %d snapshots, want the old config's 6", pruned)
	}
	for _, id := range []string{"wallet-1", "wallet-2"} {
		if n, err := old.snapshots.count(ctx, id, old.Fingerprint()); err != nil || n != 0 {
			t.Errorf("%s: %d snapshots of the old config left (%v)", id, n, err)
		}
	}
	if n, err := current.snapshots.count(ctx, "wallet-1", current.Fingerprint()); err != nil || n != 4 {
		t.Errorf("current config's snapshots = %d (%v), want 4", n, err)
	}
	before := current.Stats()
	if _, err := current.StateAt(ctx, "wallet-1", AtVersion(33)); err != nil {
		t.Fatal(err)
	}
	if got := current.Stats(); got.SnapshotsLoaded != before.SnapshotsLoaded+1 {
		t.Errorf("the current config's snapshots are not used after pruning: %+v → %+v", before, got)
	}
	if again, err := current.PruneSnapshots(ctx); err != nil || again != 0 {
		t.Errorf("second prune: %d, %v; want nothing left to prune", again, err)
	}
}

// TestServiceFoldErrorIsReported: a rule that cannot apply (inc on a
// string) is recorded at its event, the fold goes on, and the error
// survives a snapshot.
func TestServiceFoldErrorIsReported(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 5)
	_, err := store.Append(ctx, "wallet-1", "Wallet", eventstore.AnyVersion,
		eventstore.NewEvent{EventType: "MoneyDeposited", Payload: json.RawMessage(`{"amount":"lots"}`), RecordedAt: tt0.Add(6 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	appendMore := make([]eventstore.NewEvent, 0, 10)
	for v := 7; v <= 16; v++ {
		appendMore = append(appendMore, eventstore.NewEvent{EventType: "MoneyDeposited", Payload: json.RawMessage(`{"amount":1}`), RecordedAt: tt0.Add(time.Duration(v) * time.Minute)})
	}
	if _, err := store.Append(ctx, "wallet-1", "Wallet", eventstore.AnyVersion, appendMore...); err != nil {
		t.Fatal(err)
	}
	svc := newService(t, store, serviceWalletRules, 10)
	for _, p := range []Point{{}, AtVersion(12)} { // the second read starts from the v10 snapshot
		st, err := svc.StateAt(ctx, "wallet-1", p)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Errors) != 1 {
			t.Fatalf("%v: errors = %+v, want one", p, st.Errors)
		}
		fe := st.Errors[0]
		if fe.Version != 6 || fe.Stage != StageRule || fe.Op != OpInc || fe.Path != "/balance" || fe.EventType != "MoneyDeposited" {
			t.Errorf("%v: fold error = %+v", p, fe)
		}
		if want := fmt.Sprint(balanceAfter(5) + st.Version - 6); balanceOf(t, st) != want {
			t.Errorf("%v: balance %s, want %s: the events after the error were not folded", p, balanceOf(t, st), want)
		}
	}
	if got := svc.Stats(); got.SnapshotsLoaded != 1 {
		t.Errorf("stats = %+v, want the second read from a snapshot", got)
	}
}

func TestServiceDiffBetween(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 12)
	svc := newService(t, store, serviceWalletRules, 5)
	from, to, changes, err := svc.DiffBetween(ctx, "wallet-1", AtTime(tt0.Add(3*time.Minute+time.Second)), AtVersion(11))
	if err != nil {
		t.Fatal(err)
	}
	if from.Version != 3 || to.Version != 11 {
		t.Fatalf("diff between v%d and v%d, want v3 and v11", from.Version, to.Version)
	}
	if len(changes) != 1 {
		t.Fatalf("changes = %+v, want the balance only", changes)
	}
	c := changes[0]
	if c.Path != "/balance" || c.Op != ChangeReplace || fmt.Sprint(c.Old) != fmt.Sprint(balanceAfter(3)) ||
		fmt.Sprint(c.New) != fmt.Sprint(balanceAfter(11)) || c.Version != 11 || c.EventType != "MoneyDeposited" || c.Actor != "agent-2" {
		t.Errorf("change = %+v", c)
	}
	// From before the first event: everything is added, by its event.
	_, _, changes, err = svc.DiffBetween(ctx, "wallet-1", AtTime(tt0), AtVersion(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Path != "/balance" || changes[0].Op != ChangeAdd || changes[1].Path != "/owner" || changes[1].Version != 1 {
		t.Errorf("changes from the empty state = %+v", changes)
	}
}

// TestServiceConcurrentFirstFolds: requests racing on a cold stream write
// the same snapshot keys; none fails and each row exists once.
func TestServiceConcurrentFirstFolds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := seedWallet(t, "wallet-1", 300)
	svc := newService(t, store, serviceWalletRules, 50)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := svc.StateAt(ctx, "wallet-1", Point{})
			if err == nil && st.Version != 300 {
				err = fmt.Errorf("v%d", st.Version)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n, err := svc.snapshots.count(ctx, "wallet-1", svc.Fingerprint()); err != nil || n != 6 {
		t.Errorf("snapshot rows = %d (%v), want 6", n, err)
	}
}

// A backward diff credits each change to the first event it undoes: the
// one whose undoing brings the earlier value back.
func TestServiceBackwardDiffCreditsTheFirstEventUndone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := eventstore.New(pgtest.NewDB(t).Pool)
	ev := func(typ, payload, actor string) eventstore.NewEvent {
		return eventstore.NewEvent{EventType: typ, Payload: []byte(payload), Metadata: []byte(`{"actor":"` + actor + `"}`)}
	}
	if _, err := store.Append(ctx, "doc-1", "Doc", eventstore.AnyVersion,
		ev("Set", `{"a":{"b":1},"n":1}`, "ann"), // v1
		ev("Set", `{"a":{"b":2},"n":2}`, "bob"), // v2
		ev("Set", `{"a":"flat","n":3}`, "cy"),   // v3: /a becomes a scalar
		ev("Set", `{"n":4}`, "dee"),             // v4
	); err != nil {
		t.Fatal(err)
	}
	svc := NewService(store, nil, nil, ServiceOptions{SnapshotEvery: -1})
	_, _, changes, err := svc.DiffBetween(ctx, "doc-1", AtVersion(4), AtVersion(1))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range changes {
		got[c.Path] = fmt.Sprintf("%s v%d %s", c.Op, c.Version, c.Actor)
	}
	want := map[string]string{"/a": "replace v2 bob", "/n": "replace v2 bob"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("backward diff v4 to v1 = %v, want %v", got, want)
	}
	// Forward, the same changes go to the last event: its result is the
	// new value.
	_, _, changes, err = svc.DiffBetween(ctx, "doc-1", AtVersion(1), AtVersion(4))
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, c := range changes {
		got[c.Path] = fmt.Sprintf("%s v%d %s", c.Op, c.Version, c.Actor)
	}
	if want := map[string]string{"/a": "replace v3 cy", "/n": "replace v4 dee"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("forward diff v1 to v4 = %v, want %v", got, want)
	}
}
