package ledger

import (
	"context"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/pgtest"
)

func TestMerkleProofEverySizeAndSubset(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for size := 1; size <= 40; size++ {
		leaves := make([]Hash, size)
		for i := range leaves {
			leaves[i] = Hash{byte(i), byte(size)}
		}
		root := MerkleRoot(leaves)
		for range 20 {
			var idx []int
			for i := range size {
				if r.IntN(4) == 0 {
					idx = append(idx, i)
				}
			}
			if len(idx) == 0 {
				idx = []int{r.IntN(size)}
			}
			hs := make([]Hash, len(idx))
			for i, x := range idx {
				hs[i] = leaves[x]
			}
			proof := MerkleProof(leaves, idx)
			got, err := MerkleRootFromProof(size, idx, hs, proof)
			if err != nil || got != root {
				t.Fatalf("size %d, leaves %v: root %x, %v; want %x", size, idx, got, err, root)
			}
			for i := range proof {
				bad := append([]Hash{}, proof...)
				bad[i][0] ^= 1
				if got, _ := MerkleRootFromProof(size, idx, hs, bad); got == root {
					t.Fatalf("size %d: a changed proof hash %d still gives the root", size, i)
				}
			}
			if len(proof) > 0 {
				if _, err := MerkleRootFromProof(size, idx, hs, proof[1:]); !errors.Is(err, ErrBadProof) {
					t.Fatalf("a short proof: %v", err)
				}
			}
			if _, err := MerkleRootFromProof(size, idx, hs, append(proof, Hash{})); !errors.Is(err, ErrBadProof) {
				t.Fatalf("a long proof: %v", err)
			}
			if len(idx) > 1 {
				swapped := append([]Hash{}, hs...)
				swapped[0], swapped[1] = swapped[1], swapped[0]
				if got, _ := MerkleRootFromProof(size, idx, swapped, proof); got == root {
					t.Fatalf("size %d: swapped leaves still give the root", size)
				}
				rev := []int{idx[1], idx[0]}
				if _, err := MerkleRootFromProof(size, rev, hs[:2], proof); !errors.Is(err, ErrBadProof) {
					t.Fatalf("descending indices: %v", err)
				}
			}
		}
	}
}

// submitEntries writes n single-event entries of the given streams (in
// turn) and returns the commit LSN after the last.
func submitEntries(t *testing.T, b *bundle, lsn uint64, n int, streams ...string) uint64 {
	t.Helper()
	versions := map[string]int{}
	entries, err := b.store.Entries(t.Context(), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		for _, ev := range e.Events {
			versions[ev.StreamID] = max(versions[ev.StreamID], ev.Version)
		}
	}
	for i := range n {
		s := streams[i%len(streams)]
		versions[s]++
		e := Entry{CommitLSN: lsn, Xid: int64(lsn), CommittedAt: time.Now(),
			Events: []Event{{Position: int64(lsn), StreamID: s, Version: versions[s], Hash: Hash{byte(i), 7}}}}
		if err := b.writer.Submit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		lsn += 0x100
	}
	if !b.writer.WaitWritten(t.Context()) {
		t.Fatal("entries not written")
	}
	return lsn
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestCheckpointsSignSegmentsAndProveAWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	key := newKey(t)
	cps := NewCheckpointer(CheckpointerConfig{Key: key, Interval: -1}, b.store)
	if _, err := cps.Checkpoint(ctx, ReasonOnDemand); !errors.Is(err, ErrEmptyLedger) {
		t.Fatalf("checkpoint of an empty ledger: %v", err)
	}
	// LSNs of two widths: the segment is read in LSN order, not text order.
	lsn := submitEntries(t, b, 0xE00, 30, "acct", "other", "third")
	first, err := cps.Checkpoint(ctx, ReasonOnDemand)
	if err != nil {
		t.Fatal(err)
	}
	all, err := b.store.Entries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([]Hash, len(all))
	for i, e := range all {
		leaves[i] = e.Hash
	}
	if first.Seq != 1 || first.FromLSN != 0 || first.HeadLSN != all[29].CommitLSN || first.Entries != 30 ||
		first.HeadHash != all[29].Hash || first.MerkleRoot != MerkleRoot(leaves) || first.VerifySignature(key.Public().(ed25519.PublicKey)) != nil {
		t.Fatalf("first checkpoint %+v", first)
	}
	if err := first.VerifySignature(newKey(t).Public().(ed25519.PublicKey)); !errors.Is(err, ErrOtherKey) {
		t.Fatalf("another key: %v", err)
	}
	altered := first
	altered.Entries++
	if err := altered.VerifySignature(cps.PublicKey()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("altered statement: %v", err)
	}

	// The next segment starts after the first's head; a window spanning
	// both is proven against both, the second signed for it.
	submitEntries(t, b, lsn, 9, "acct", "other", "third")
	proof, err := cps.Prove(ctx, "acct", 3, 12)
	if err != nil {
		t.Fatal(err)
	}
	if len(proof.Entries) != 9 || len(proof.Segments) != 2 {
		t.Fatalf("proof of acct v4..v12: %d entries, %d segments", len(proof.Entries), len(proof.Segments))
	}
	second := proof.Segments[1].Checkpoint
	if second.Seq != 2 || second.FromLSN != first.HeadLSN || second.Entries != 9 || second.Reason != ReasonEvidence {
		t.Fatalf("second checkpoint %+v", second)
	}
	for _, seg := range proof.Segments {
		var idx []int
		var hs []Hash
		for _, e := range proof.Entries {
			if e.Checkpoint == seg.Checkpoint.Seq {
				if e.ChainHash(e.Prev) != e.Hash {
					t.Fatalf("entry %X: the previous hash does not chain", e.CommitLSN)
				}
				idx, hs = append(idx, e.Index), append(hs, e.Hash)
			}
		}
		root, err := MerkleRootFromProof(seg.Checkpoint.Entries, idx, hs, seg.Proof)
		if err != nil || root != seg.Checkpoint.MerkleRoot {
			t.Fatalf("checkpoint #%d: root from the proof %x, %v", seg.Checkpoint.Seq, root, err)
		}
	}

	list, total, err := b.store.Checkpoints(ctx, 10)
	if err != nil || total != 2 || len(list) != 2 || list[0].Seq != 2 {
		t.Fatalf("checkpoints newest first: %v, %d, %v", list, total, err)
	}
	for _, cp := range list {
		if st, err := b.store.Check(ctx, cp, cps.PublicKey()); err != nil || !st.Valid {
			t.Fatalf("check #%d: %+v %v", cp.Seq, st, err)
		}
	}

	// The database owner rewrites a ledger entry: the checkpoint's head no
	// longer matches, and no bundle is proven against it.
	for _, sql := range []string{`ALTER TABLE auditd.ledger DISABLE TRIGGER ledger_immutable`,
		fmt.Sprintf(`UPDATE auditd.ledger SET hash = sha256(hash) WHERE commit_lsn = '%s'`, pglogrepl.LSN(first.HeadLSN)),
		`ALTER TABLE auditd.ledger ENABLE TRIGGER ledger_immutable`} {
		if _, err := b.db.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := b.store.Check(ctx, first, cps.PublicKey()); err != nil || st.Valid || st.Problem == "" {
		t.Fatalf("check after the edit: %+v %v", st, err)
	}
	if _, err := cps.Prove(ctx, "acct", 0, 3); !errors.Is(err, ErrCheckpointMismatch) {
		t.Fatalf("prove after the edit: %v", err)
	}
	for _, sql := range []string{`UPDATE auditd.ledger_checkpoints SET entries = 1`, `DELETE FROM auditd.ledger_checkpoints`, `TRUNCATE auditd.ledger_checkpoints`} {
		if _, err := b.db.Pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s: accepted", sql)
		}
	}
}

func TestCheckpointerSignsAtItsInterval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	submitEntries(t, b, 0x1000, 3, "acct")
	cps := NewCheckpointer(CheckpointerConfig{Key: newKey(t), Interval: 20 * time.Millisecond}, b.store)
	if err := cps.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer cps.Stop()
	count := func(ctx context.Context) int {
		_, n, err := b.store.Checkpoints(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The first is due at start (there is none); the ledger does not grow,
	// so the next ones are skipped until it does.
	pgtest.WaitFor(t, "the first interval checkpoint", 10*time.Second, func(ctx context.Context) (bool, error) { return count(ctx) == 1, nil })
	submitEntries(t, b, 0x9000, 2, "acct")
	pgtest.WaitFor(t, "a checkpoint of the new entries", 10*time.Second, func(ctx context.Context) (bool, error) { return count(ctx) == 2, nil })
	list, _, err := b.store.Checkpoints(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if list[0].Entries != 2 || list[1].Entries != 3 || list[0].Reason != ReasonInterval {
		t.Fatalf("interval checkpoints: %+v", list)
	}
	cps.Stop()
	cps.Stop() // idempotent
}

// TestReplicasCheckpointInTurn: two checkpointers on one store (replicas
// sharing a key) signing at once continue each other's segments.
func TestReplicasCheckpointInTurn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := newKey(t)
	a, c := NewCheckpointer(CheckpointerConfig{Key: key, Interval: -1}, b.store), NewCheckpointer(CheckpointerConfig{Key: key, Interval: -1}, b.store)
	submitEntries(t, b, 0x1000, 5, "acct")
	errs := make(chan error, 20)
	for i := range 20 {
		cp := a
		if i%2 == 1 {
			cp = c
		}
		go func() {
			_, err := cp.Checkpoint(t.Context(), ReasonOnDemand)
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	list, total, err := b.store.Checkpoints(t.Context(), 100)
	if err != nil || total != 20 {
		t.Fatalf("%d checkpoints, %v", total, err)
	}
	for i, cp := range list {
		want := list[len(list)-1].HeadLSN
		if cp.Seq != int64(20-i) || cp.HeadLSN != want || (cp.Seq > 1 && cp.Entries != 0) {
			t.Fatalf("checkpoint %+v", cp)
		}
	}
}

// TestProveAfterAPrunedRange: once retention removed the first segment
// (an anchor keeps its last hash), the entries after it still prove: the
// first one's previous hash is the anchor's.
func TestProveAfterAPrunedRange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	cps := NewCheckpointer(CheckpointerConfig{Key: newKey(t), Interval: -1}, b.store)
	lsn := submitEntries(t, b, 0x1000, 10, "acct")
	first, err := cps.Checkpoint(ctx, ReasonOnDemand)
	if err != nil {
		t.Fatal(err)
	}
	submitEntries(t, b, lsn, 10, "acct")
	head := pglogrepl.LSN(first.HeadLSN).String()
	for _, sql := range []string{
		fmt.Sprintf(`INSERT INTO auditd.ledger_anchors (upto_lsn, from_lsn, hash, entries, events, max_position)
			SELECT '%s', '0/1000', hash, 10, 10, 0 FROM auditd.ledger WHERE commit_lsn = '%s'`, head, head),
		fmt.Sprintf(`DELETE FROM auditd.ledger_streams WHERE commit_lsn <= '%s'`, head),
		fmt.Sprintf(`DELETE FROM auditd.ledger WHERE commit_lsn <= '%s'`, head),
	} {
		if _, err := b.db.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	proof, err := cps.Prove(ctx, "acct", 10, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(proof.Entries) != 10 || len(proof.Segments) != 1 || proof.Entries[0].Prev != first.HeadHash {
		t.Fatalf("after the prune: %d entries, %d segments, first previous hash %x", len(proof.Entries), len(proof.Segments), proof.Entries[0].Prev)
	}
	var idx []int
	var hs []Hash
	for _, e := range proof.Entries {
		if e.ChainHash(e.Prev) != e.Hash {
			t.Fatalf("entry %X does not chain", e.CommitLSN)
		}
		idx, hs = append(idx, e.Index), append(hs, e.Hash)
	}
	seg := proof.Segments[0]
	if root, err := MerkleRootFromProof(seg.Checkpoint.Entries, idx, hs, seg.Proof); err != nil || root != seg.Checkpoint.MerkleRoot {
		t.Fatalf("root from the proof: %v", err)
	}
}
