package live

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// TestHugeTransactionIsSpilledAndDelivered commits one transaction of 300
// rows of 30 KB (9 MB) through real replication with a 1 MiB memory budget:
// the consumer holds at most the budget (plus one event) in memory, spills
// the rest to a file it removes after the commit, and the subscriber gets
// every event, in order, with its payload intact.
func TestHugeTransactionIsSpilledAndDelivered(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	// Budgets of the hub large enough to hold the whole transaction for
	// one subscriber: this test is about the consumer's memory.
	hub := NewHub(HubConfig{WindowBytes: 1 << 30, BufferBytes: 1 << 30})
	spillDir := t.TempDir()
	const budget = 1 << 20
	c := startConsumer(t, db.Pool, db.ConnString, testSlot(), hub, func(cfg *ConsumerConfig) {
		cfg.TxMemory, cfg.SpillDir = budget, spillDir
	})
	sub, err := hub.Subscribe(Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	const rows, size = 300, 30 << 10
	evs := make([]eventstore.NewEvent, rows)
	for i := range evs {
		evs[i] = eventstore.NewEvent{EventType: "Imported", Metadata: []byte(`{}`),
			Payload: fmt.Appendf(nil, `{"row":%d,"blob":%q}`, i, strings.Repeat(string(rune('a'+i%26)), size))}
	}
	written, err := store.Append(t.Context(), "import-1", "Import", eventstore.NoStream, evs...)
	if err != nil {
		t.Fatal(err)
	}

	var first Cursor
	for i := range rows {
		m := nextEvent(t, sub)
		if i == 0 {
			first = m.Cursor
		}
		var p struct {
			Row  int    `json:"row"`
			Blob string `json:"blob"`
		}
		if err := json.Unmarshal(m.Event.Payload, &p); err != nil {
			t.Fatalf("event %d: payload: %v", i, err)
		}
		if m.Event.Position != written[i].Position || p.Row != i || len(p.Blob) != size || p.Blob[0] != byte('a'+i%26) ||
			m.Cursor != (Cursor{LSN: first.LSN, Index: uint32(i)}) {
			t.Fatalf("event %d: position %d (want %d), row %d, %d bytes, cursor %s", i, m.Event.Position, written[i].Position, p.Row, len(p.Blob), m.Cursor)
		}
	}
	st := c.Stats()
	if st.TxSpilled != 1 {
		t.Errorf("transactions spilled = %d, want 1", st.TxSpilled)
	}
	if one := int64(size + 200); st.TxPeakBytes > budget+one || st.TxPeakBytes < budget/2 {
		t.Errorf("peak bytes held in memory = %d, want about the budget %d (the transaction is %d)", st.TxPeakBytes, budget, rows*size)
	}
	left, err := os.ReadDir(spillDir)
	if err != nil || len(left) != 0 {
		t.Errorf("spill directory after the commit: %v, %v", left, err)
	}
}
