package evidence

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/timetravel"
)

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))

// testFolder folds with merge patches, auditd's default.
var testFolder = timetravel.NewFolder(timetravel.DefaultConfig())

// builtBundle is a bundle made without a database: three transactions of
// stream s (one with another stream's event too), one checkpoint.
func builtBundle(t testing.TB) []byte {
	t.Helper()
	events := []Event{
		{Position: 1, StreamID: "s", Version: "1", EventType: "Opened", SchemaVersion: "1", Payload: `{"a": 1}`, Metadata: `{}`, RecordedAt: "2026-12-04 10:00:00.000001+00"},
		{Position: 3, StreamID: "s", Version: "2", EventType: "Moved", SchemaVersion: "1", Payload: `{"a": 2, "b": "<x>"}`, Metadata: `{"actor": "ann"}`, RecordedAt: "2026-12-04 10:00:01+00"},
		{Position: 4, StreamID: "s", Version: "3", EventType: "Moved", SchemaVersion: "1", Payload: `{"a": 3}`, Metadata: `{}`, RecordedAt: "2026-12-04 10:00:02+00"},
	}
	at := time.Date(2026, 12, 4, 10, 0, 3, 0, time.UTC)
	entries := []ledger.Entry{
		{CommitLSN: 0x100, Xid: 10, CommittedAt: at, Events: []ledger.Event{{Position: 1, StreamID: "s", Version: 1}}},
		{CommitLSN: 0x200, Xid: 11, CommittedAt: at, Events: []ledger.Event{{Position: 2, StreamID: "t", Version: 1, Hash: ledger.Hash{9}}, {Position: 3, StreamID: "s", Version: 2}}},
		{CommitLSN: 0x300, Xid: 12, Backfilled: true, Events: []ledger.Event{{Position: 4, StreamID: "s", Version: 3}}},
	}
	hashOf := map[int64]ledger.Hash{}
	for i := range events {
		hashOf[events[i].Position] = ledger.HashEvent(events[i].canonical())
	}
	var prev ledger.Hash
	var leaves []ledger.Hash
	b := Bundle{Query: Query{StreamID: "s", From: "v:0", To: "latest", FromVersion: 0, ToVersion: 3, Reducers: testFolder.Config().Fingerprint()},
		Viewer: Viewer{User: "ann", Role: "compliance", Method: "session"}, Events: events,
		States: States{From: State{Data: map[string]any{}}, To: State{Version: 3, Data: map[string]any{"a": 3, "b": "<x>"}}}}
	proven := make([]ledger.ProvenEntry, len(entries))
	for i := range entries {
		e := &entries[i]
		for j := range e.Events {
			if h, ok := hashOf[e.Events[j].Position]; ok {
				e.Events[j].Hash = h
				events[slicesIndex(events, e.Events[j].Position)].CommitLSN = lsnText(e.CommitLSN)
			}
		}
		e.Hash = e.ChainHash(prev)
		proven[i] = ledger.ProvenEntry{Entry: *e, Prev: prev, Checkpoint: 1, Index: i}
		prev = e.Hash
		leaves = append(leaves, e.Hash)
	}
	cp := ledger.Checkpoint{Seq: 1, HeadLSN: 0x300, Entries: 3, HeadHash: prev, MerkleRoot: ledger.MerkleRoot(leaves),
		CreatedAt: at, Reason: ledger.ReasonEvidence, KeyID: ledger.KeyID(testKey.Public().(ed25519.PublicKey))}
	cp.Signature = ed25519.Sign(testKey, cp.Statement())
	for i := range proven {
		b.Entries = append(b.Entries, EntryOf(&proven[i]))
	}
	b.Checkpoints = []Checkpoint{CheckpointOf(&ledger.SegmentProof{Checkpoint: cp, Proof: ledger.MerkleProof(leaves, []int{0, 1, 2})})}
	b.Verification = ledger.Verification{StreamID: "s", Status: ledger.StatusIntact, Checked: 3, Problems: []ledger.Problem{}}
	var buf bytes.Buffer
	if err := b.Write(&buf, cp.KeyID, at, func(m []byte) []byte { return ed25519.Sign(testKey, m) }); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func slicesIndex(events []Event, pos int64) int {
	for i := range events {
		if events[i].Position == pos {
			return i
		}
	}
	return -1
}

func lsnText(lsn uint64) string {
	e := EntryOf(&ledger.ProvenEntry{Entry: ledger.Entry{CommitLSN: lsn}})
	return e.CommitLSN
}

func TestVerifyABundleAndItsAlterations(t *testing.T) {
	t.Parallel()
	data := builtBundle(t)
	pub := testKey.Public().(ed25519.PublicKey)
	r, err := Verify(data, pub, testFolder)
	if err != nil || r.StreamID != "s" || r.Events != 3 || r.Entries != 3 || r.Viewer.User != "ann" || !r.StatesRefolded {
		t.Fatalf("a built bundle: %+v %v", r, err)
	}
	// Every byte of the file matters: changing any one is refused or
	// leaves the same JSON value (whitespace, or a byte no field holds).
	refused := 0
	for i := range data {
		altered := bytes.Clone(data)
		altered[i] ^= 0x01
		if _, err := Verify(altered, pub, testFolder); err != nil {
			refused++
			var inv *InvalidError
			if !errors.As(err, &inv) || len(inv.Problems) == 0 {
				t.Fatalf("byte %d: %v is not an InvalidError", i, err)
			}
		} else if !bytes.ContainsAny(data[i:i+1], " \n") {
			t.Fatalf("byte %d (%q) changed: still valid", i, data[i])
		}
	}
	if refused < len(data)*9/10 {
		t.Fatalf("only %d of %d single-byte changes refused", refused, len(data))
	}
	_, err = Verify(data, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, 32)).Public().(ed25519.PublicKey), testFolder)
	if err == nil || !strings.Contains(err.Error(), "signed by another key") {
		t.Fatalf("another key: %v", err)
	}
	dup := bytes.Replace(data, []byte("\n}\n"), []byte(",\n\"viewer\": {}\n}\n"), 1)
	if _, err := Verify(dup, pub, testFolder); err == nil || !strings.Contains(err.Error(), `the field "viewer" twice`) {
		t.Fatalf("a duplicated field: %v", err)
	}
}

// FuzzVerify: no input makes Verify panic, and only the signed bundle and
// equivalent whitespace verify.
func FuzzVerify(f *testing.F) {
	data := builtBundle(f)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte(`{"format": "auditd-evidence/1"}`))
	pub := testKey.Public().(ed25519.PublicKey)
	canon := strings.Join(strings.Fields(string(data)), "")
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := Verify(in, pub, testFolder); err == nil && strings.Join(strings.Fields(string(in)), "") != canon {
			t.Fatalf("a different file verified: %q", in)
		}
	})
}
