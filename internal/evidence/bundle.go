package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/ledger"
)

// Format names the bundle layout; Verify refuses any other.
const Format = "auditd-evidence/1"

// signaturePrefix separates a bundle's signature from any other use of the
// key (checkpoints sign a text statement starting otherwise).
const signaturePrefix = "auditd evidence bundle v1\x00"

// The sections of a bundle, in the order written. The manifest lists the
// SHA-256 of each one's bytes as written and is what the signature covers,
// so a verifier names the section that was altered.
var sectionNames = []string{"query", "viewer", "events", "states", "ledger_entries", "checkpoints", "verification"}

// Manifest is the signed part of a bundle.
type Manifest struct {
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	// Sections maps each section's name to the hex SHA-256 of its bytes.
	Sections map[string]string `json:"sections"`
}

// Query is what was asked for: the stream, the window as given (v:N or a
// time) and the versions it resolved to. The bundle holds the events with
// versions in (FromVersion, ToVersion].
type Query struct {
	StreamID    string `json:"stream_id"`
	StreamType  string `json:"stream_type"`
	From        string `json:"from"`
	To          string `json:"to"`
	FromVersion int    `json:"from_version"`
	ToVersion   int    `json:"to_version"`
	URL         string `json:"url"`
	// Reducers is the fingerprint of the reducer configuration the states
	// were folded with: verify-evidence folds them again with the same.
	Reducers string `json:"reducers"`
}

// Viewer is who downloaded the bundle.
type Viewer struct {
	User      string `json:"user"`
	Role      string `json:"role"`
	Method    string `json:"method"`
	RequestID string `json:"request_id,omitempty"`
}

// Event is one event as PostgreSQL prints its stored values
// (eventstore.CanonicalEvent), so that its ledger hash can be recomputed;
// CommitLSN names the ledger entry that witnessed it ("" for none).
type Event struct {
	Position      int64  `json:"position"`
	CommitLSN     string `json:"commit_lsn"`
	StreamID      string `json:"stream_id"`
	Version       string `json:"version"`
	EventType     string `json:"event_type"`
	SchemaVersion string `json:"schema_version"`
	Payload       string `json:"payload"`
	Metadata      string `json:"metadata"`
	RecordedAt    string `json:"recorded_at"`
}

// State is a folded state of the stream.
type State struct {
	Version int            `json:"version"`
	At      time.Time      `json:"at"`
	Data    map[string]any `json:"data"`
}

// States are the stream's states at both ends of the window.
type States struct {
	From State `json:"from"`
	To   State `json:"to"`
}

// EntryEvent is one event an entry lists (every event of its transaction,
// other streams' too: the entry's hash covers them all).
type EntryEvent struct {
	Position int64  `json:"position"`
	StreamID string `json:"stream_id"`
	Version  int    `json:"version"`
	Hash     string `json:"hash"`
}

// Entry is a ledger entry with its place in a checkpoint's tree.
type Entry struct {
	Checkpoint  int64        `json:"checkpoint"`
	Index       int          `json:"index"`
	CommitLSN   string       `json:"commit_lsn"`
	Xid         int64        `json:"xid"`
	CommittedAt *time.Time   `json:"committed_at"`
	Backfilled  bool         `json:"backfilled"`
	Events      []EntryEvent `json:"events"`
	PrevHash    string       `json:"prev_hash"`
	Hash        string       `json:"hash"`
}

// Checkpoint is a signed checkpoint and the Merkle proof of the bundle's
// entries in its segment.
type Checkpoint struct {
	Seq        int64     `json:"seq"`
	FromLSN    string    `json:"from_lsn"`
	HeadLSN    string    `json:"head_lsn"`
	Entries    int       `json:"entries"`
	HeadHash   string    `json:"head_hash"`
	MerkleRoot string    `json:"merkle_root"`
	CreatedAt  time.Time `json:"created_at"`
	Reason     string    `json:"reason"`
	KeyID      string    `json:"key_id"`
	Signature  string    `json:"signature"`
	Proof      []string  `json:"proof,omitempty"`
}

// Bundle is an evidence bundle's content.
type Bundle struct {
	Query        Query
	Viewer       Viewer
	Events       []Event
	States       States
	Entries      []Entry
	Checkpoints  []Checkpoint
	Verification ledger.Verification
}

// sections marshals each section.
func (b *Bundle) sections() (map[string][]byte, error) {
	values := map[string]any{"query": b.Query, "viewer": b.Viewer, "events": b.Events, "states": b.States,
		"ledger_entries": b.Entries, "checkpoints": b.Checkpoints, "verification": b.Verification}
	out := make(map[string][]byte, len(values))
	for name, v := range values {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("evidence: unable to encode the %s section: %w", name, err)
		}
		out[name] = data
	}
	return out, nil
}

// Write signs the bundle and writes it as one JSON object, a top-level
// field per line: format, manifest, signature, then the sections.
func (b *Bundle) Write(w io.Writer, keyID string, createdAt time.Time, sign func([]byte) []byte) error {
	sections, err := b.sections()
	if err != nil {
		return err
	}
	m := Manifest{KeyID: keyID, CreatedAt: createdAt.UTC(), Sections: map[string]string{}}
	for name, data := range sections {
		m.Sections[name] = digest(data)
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("evidence: unable to encode the manifest: %w", err)
	}
	sig := sign(append([]byte(signaturePrefix), manifest...))
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\"format\": %q,\n\"manifest\": %s,\n\"signature\": %q", Format, manifest, base64.StdEncoding.EncodeToString(sig))
	for _, name := range sectionNames {
		fmt.Fprintf(&buf, ",\n%q: %s", name, sections[name])
	}
	buf.WriteString("\n}\n")
	_, err = w.Write(buf.Bytes())
	return err
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// EntryOf is a ledger entry in the bundle's form.
func EntryOf(e *ledger.ProvenEntry) Entry {
	out := Entry{Checkpoint: e.Checkpoint, Index: e.Index, CommitLSN: pglogrepl.LSN(e.CommitLSN).String(), Xid: e.Xid,
		Backfilled: e.Backfilled, PrevHash: hex.EncodeToString(e.Prev[:]), Hash: hex.EncodeToString(e.Hash[:]),
		Events: make([]EntryEvent, len(e.Events))}
	if !e.CommittedAt.IsZero() {
		at := e.CommittedAt.UTC()
		out.CommittedAt = &at
	}
	for i, ev := range e.Events {
		out.Events[i] = EntryEvent{Position: ev.Position, StreamID: ev.StreamID, Version: ev.Version, Hash: hex.EncodeToString(ev.Hash[:])}
	}
	return out
}

// CheckpointOf is a checkpoint and its proof in the bundle's form.
func CheckpointOf(s *ledger.SegmentProof) Checkpoint {
	c := &s.Checkpoint
	out := Checkpoint{Seq: c.Seq, FromLSN: pglogrepl.LSN(c.FromLSN).String(), HeadLSN: pglogrepl.LSN(c.HeadLSN).String(),
		Entries: c.Entries, HeadHash: hex.EncodeToString(c.HeadHash[:]), MerkleRoot: hex.EncodeToString(c.MerkleRoot[:]),
		CreatedAt: c.CreatedAt, Reason: c.Reason, KeyID: c.KeyID, Signature: base64.StdEncoding.EncodeToString(c.Signature),
		Proof: make([]string, len(s.Proof))}
	for i, h := range s.Proof {
		out.Proof[i] = hex.EncodeToString(h[:])
	}
	return out
}

// entry decodes a bundle entry back into the ledger's form.
func (e *Entry) entry() (ledger.Entry, ledger.Hash, error) {
	var out ledger.Entry
	lsn, err := pglogrepl.ParseLSN(e.CommitLSN)
	if err != nil {
		return out, ledger.Hash{}, fmt.Errorf("bad commit_lsn %q", e.CommitLSN)
	}
	out.CommitLSN, out.Xid, out.Backfilled = uint64(lsn), e.Xid, e.Backfilled
	if e.CommittedAt != nil {
		out.CommittedAt = *e.CommittedAt
	}
	if out.Hash, err = parseHash(e.Hash); err != nil {
		return out, ledger.Hash{}, fmt.Errorf("hash: %w", err)
	}
	prev, err := parseHash(e.PrevHash)
	if err != nil {
		return out, ledger.Hash{}, fmt.Errorf("prev_hash: %w", err)
	}
	out.Events = make([]ledger.Event, len(e.Events))
	for i, ev := range e.Events {
		h, err := parseHash(ev.Hash)
		if err != nil {
			return out, ledger.Hash{}, fmt.Errorf("event %d: %w", ev.Position, err)
		}
		out.Events[i] = ledger.Event{Position: ev.Position, StreamID: ev.StreamID, Version: ev.Version, Hash: h}
	}
	return out, prev, nil
}

// checkpoint decodes a bundle checkpoint and its proof.
func (c *Checkpoint) checkpoint() (ledger.Checkpoint, []ledger.Hash, error) {
	out := ledger.Checkpoint{Seq: c.Seq, Entries: c.Entries, CreatedAt: c.CreatedAt, Reason: c.Reason, KeyID: c.KeyID}
	from, err1 := pglogrepl.ParseLSN(c.FromLSN)
	head, err2 := pglogrepl.ParseLSN(c.HeadLSN)
	if err := errors.Join(err1, err2); err != nil {
		return out, nil, fmt.Errorf("bad LSN: %w", err)
	}
	out.FromLSN, out.HeadLSN = uint64(from), uint64(head)
	var err error
	if out.HeadHash, err = parseHash(c.HeadHash); err != nil {
		return out, nil, fmt.Errorf("head_hash: %w", err)
	}
	if out.MerkleRoot, err = parseHash(c.MerkleRoot); err != nil {
		return out, nil, fmt.Errorf("merkle_root: %w", err)
	}
	if out.Signature, err = base64.StdEncoding.DecodeString(c.Signature); err != nil {
		return out, nil, fmt.Errorf("signature: %w", err)
	}
	proof := make([]ledger.Hash, len(c.Proof))
	for i, p := range c.Proof {
		if proof[i], err = parseHash(p); err != nil {
			return out, nil, fmt.Errorf("proof hash %d: %w", i, err)
		}
	}
	return out, proof, nil
}

func parseHash(s string) (ledger.Hash, error) {
	var h ledger.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ledger.HashSize {
		return h, fmt.Errorf("%q is not a %d-byte hex hash", s, ledger.HashSize)
	}
	copy(h[:], b)
	return h, nil
}
