package timetravel

import (
	"fmt"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
)

func walletConfig(t testing.TB) *Config {
	return mustConfig(t, `{"reducers":{"Wallet":{
		"MoneyDeposited":[{"op":"inc","path":"/balance","from":"/amount"},{"op":"set","path":"/last_note","from":"/note"}],
		"MoneyWithdrawn":[{"op":"dec","path":"/balance","from":"/amount"},{"op":"inc","path":"/withdrawals","value":1}]}}}`)
}

// walletEvents is an opening followed by deposits and withdrawals.
func walletEvents(n int) []eventstore.Event {
	events := make([]eventstore.Event, 0, n)
	events = append(events, event(1, "WalletOpened", `{"owner":{"name":"Ann","email":"ann@example.com"},"balance":0.00,"currency":"EUR"}`, "signup"))
	for v := 2; v <= n; v++ {
		actor := fmt.Sprintf("agent-%d", v%7)
		if v%3 == 0 {
			events = append(events, event(v, "MoneyWithdrawn", fmt.Sprintf(`{"amount":%d.%02d}`, v%50, v%100), actor))
		} else {
			events = append(events, event(v, "MoneyDeposited", fmt.Sprintf(`{"amount":%d.%02d,"note":"deposit %d"}`, v%90, v%97, v), actor))
		}
	}
	return events
}

// BenchmarkFold folds a 100,000-event wallet history from scratch: the cost
// a state-at-T read pays without snapshots.
func BenchmarkFold(b *testing.B) {
	f := NewFolder(walletConfig(b))
	events := walletEvents(100_000)
	b.ReportAllocs()
	var st *State
	for b.Loop() {
		st = f.Fold(nil, events)
	}
	if st.Version != 100_000 || len(st.Errors) != 0 {
		b.Fatalf("folded to v%d with %d errors", st.Version, len(st.Errors))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100_000, "ns/event")
}
