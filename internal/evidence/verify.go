package evidence

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/timetravel"
)

// Report is what a valid bundle proves.
type Report struct {
	StreamID    string
	FromVersion int
	ToVersion   int
	Events      int
	Entries     int
	Checkpoints []int64
	KeyID       string
	CreatedAt   time.Time
	Viewer      Viewer
	// StatesRefolded: the end state matched the events folded onto the
	// start state; else StatesNote says why they were not folded (the
	// signature still covers them).
	StatesRefolded bool
	StatesNote     string
}

// InvalidError lists everything wrong with a bundle, most specific first
// (the content's own checks before the signature's).
type InvalidError struct {
	Problems []string
}

func (e *InvalidError) Error() string {
	return "the evidence bundle is not valid:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Verify checks a bundle offline with the public key: the manifest's
// signature, each section against the manifest, each checkpoint's
// signature, each ledger entry's chain hash and the entries against the
// checkpoints' Merkle roots, and each event's hash against the entry that
// witnessed it, with no version of the window missing. With a folder of
// the reducers the bundle names, the events are folded onto the start
// state and must give the end state; otherwise the signature alone covers
// the states (Report.StatesNote says why). A bundle with any problem is an
// *InvalidError listing them all.
func Verify(data []byte, pub ed25519.PublicKey, folder *timetravel.Folder) (Report, error) {
	var r Report
	raw, err := splitTopLevel(data)
	if err != nil {
		return r, &InvalidError{Problems: []string{err.Error()}}
	}
	v := verifier{pub: pub}
	var format string
	if err := json.Unmarshal(raw["format"], &format); err != nil || format != Format {
		return r, &InvalidError{Problems: []string{fmt.Sprintf("not an evidence bundle of format %s (format %s)", Format, raw["format"])}}
	}
	var m Manifest
	if err := json.Unmarshal(raw["manifest"], &m); err != nil {
		return r, &InvalidError{Problems: []string{"the manifest is malformed: " + err.Error()}}
	}
	r.KeyID, r.CreatedAt = m.KeyID, m.CreatedAt
	sigOK := v.signature(raw, &m)
	var b Bundle
	decoded := true
	for name, dst := range map[string]any{"query": &b.Query, "viewer": &b.Viewer, "events": &b.Events, "states": &b.States,
		"ledger_entries": &b.Entries, "checkpoints": &b.Checkpoints, "verification": &b.Verification} {
		dec := json.NewDecoder(bytes.NewReader(raw[name]))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			v.problem("the %s section is malformed: %v", name, err)
			decoded = false
		}
	}
	if decoded {
		v.content(&b)
		mismatch, skipped := refold(&b, folder)
		if mismatch != "" {
			v.problem("%s", mismatch)
		}
		r.StatesRefolded, r.StatesNote = mismatch == "" && skipped == "", skipped
	}
	// Then what the signature covers: the sections against the manifest,
	// and the manifest's signature. The content's problems come first:
	// they say what changed.
	for _, name := range sectionNames {
		if want, ok := m.Sections[name]; !ok {
			v.problem("the manifest does not cover the %s section", name)
		} else if digest(raw[name]) != want {
			v.problem("the %s section was altered after signing (its SHA-256 differs from the signed manifest's)", name)
		}
	}
	if !sigOK {
		v.problems = append(v.problems, v.sigProblem)
	}
	if len(v.problems) > 0 {
		return r, &InvalidError{Problems: v.problems}
	}
	r.StreamID, r.FromVersion, r.ToVersion, r.Viewer = b.Query.StreamID, b.Query.FromVersion, b.Query.ToVersion, b.Viewer
	r.Events, r.Entries = len(b.Events), len(b.Entries)
	for _, c := range b.Checkpoints {
		r.Checkpoints = append(r.Checkpoints, c.Seq)
	}
	return r, nil
}

type verifier struct {
	pub        ed25519.PublicKey
	problems   []string
	sigProblem string
}

func (v *verifier) problem(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// signature checks the manifest's signature; a failure is reported after
// the content's problems.
func (v *verifier) signature(raw map[string]json.RawMessage, m *Manifest) bool {
	keyID := ledger.KeyID(v.pub)
	var sig64 string
	if err := json.Unmarshal(raw["signature"], &sig64); err != nil {
		v.sigProblem = "the signature is not a base64 string"
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	switch {
	case err != nil:
		v.sigProblem = "the signature is not valid base64"
	case m.KeyID != keyID:
		v.sigProblem = fmt.Sprintf("signed by another key: the bundle names %s, the public key given is %s", m.KeyID, keyID)
	case !ed25519.Verify(v.pub, append([]byte(signaturePrefix), raw["manifest"]...), sig):
		v.sigProblem = fmt.Sprintf("the signature does not verify with the public key %s: the manifest was altered, or another key signed it", keyID)
	default:
		return true
	}
	return false
}

// content checks the sections against each other and the checkpoints.
func (v *verifier) content(b *Bundle) {
	q := &b.Query
	// Checkpoints: signed by the key, in order.
	type segment struct {
		cp      ledger.Checkpoint
		proof   []ledger.Hash
		indices []int
		leaves  []ledger.Hash
	}
	segments := map[int64]*segment{}
	order := map[int64]int{}
	for i := range b.Checkpoints {
		c := &b.Checkpoints[i]
		cp, proof, err := c.checkpoint()
		if err != nil {
			v.problem("checkpoint #%d is malformed: %v", c.Seq, err)
			continue
		}
		if err := cp.VerifySignature(v.pub); err != nil {
			v.problem("%v", err)
		}
		if i > 0 && c.Seq <= b.Checkpoints[i-1].Seq {
			v.problem("the checkpoints are out of order at #%d", c.Seq)
		}
		segments[c.Seq], order[c.Seq] = &segment{cp: cp, proof: proof}, i
	}

	// Entries: in commit order, each hash following from its fields.
	witnessed := map[int64]ledger.Event{}
	entryOf := map[int64]string{}
	var prev *ledger.Entry
	var prevSeg *segment
	prevIndex := 0
	for i := range b.Entries {
		be := &b.Entries[i]
		e, prevHash, err := be.entry()
		if err != nil {
			v.problem("ledger entry %s is malformed: %v", be.CommitLSN, err)
			continue
		}
		seg := segments[be.Checkpoint]
		switch {
		case seg == nil:
			v.problem("ledger entry %s names checkpoint #%d, which the bundle does not hold", be.CommitLSN, be.Checkpoint)
			continue
		case prev != nil && (e.CommitLSN <= prev.CommitLSN || order[be.Checkpoint] < order[prevSeg.cp.Seq] ||
			(seg == prevSeg && be.Index <= prevIndex)):
			v.problem("the ledger entries are out of commit order at %s (reordered)", be.CommitLSN)
		case e.CommitLSN <= seg.cp.FromLSN || e.CommitLSN > seg.cp.HeadLSN:
			v.problem("ledger entry %s is outside checkpoint #%d's segment", be.CommitLSN, seg.cp.Seq)
		}
		if e.ChainHash(prevHash) != e.Hash {
			v.problem("ledger entry %s: its hash does not follow from its fields and the previous entry's hash (altered)", be.CommitLSN)
		}
		if prev != nil && seg == prevSeg && be.Index == prevIndex+1 && prevHash != prev.Hash {
			v.problem("ledger entries %s and %s do not chain", pglogrepl.LSN(prev.CommitLSN), be.CommitLSN)
		}
		if be.Index == seg.cp.Entries-1 && e.Hash != seg.cp.HeadHash {
			v.problem("ledger entry %s is checkpoint #%d's head but not its signed head hash", be.CommitLSN, seg.cp.Seq)
		}
		seg.indices, seg.leaves = append(seg.indices, be.Index), append(seg.leaves, e.Hash)
		for _, ev := range e.Events {
			if ev.StreamID == q.StreamID {
				witnessed[ev.Position], entryOf[ev.Position] = ev, be.CommitLSN
			}
		}
		prev, prevSeg, prevIndex = &e, seg, be.Index
	}
	for _, c := range b.Checkpoints {
		seg := segments[c.Seq]
		if seg == nil {
			continue
		}
		if len(seg.indices) == 0 {
			v.problem("checkpoint #%d proves no entry of the bundle", c.Seq)
			continue
		}
		root, err := ledger.MerkleRootFromProof(seg.cp.Entries, seg.indices, seg.leaves, seg.proof)
		switch {
		case err != nil:
			v.problem("the entries of checkpoint #%d do not fit its proof: %v", c.Seq, err)
		case root != seg.cp.MerkleRoot:
			v.problem("the entries of checkpoint #%d do not lead to its signed Merkle root: an entry or a proof hash was altered, or the entries were reordered", c.Seq)
		}
	}

	// Events: every version of the window, each hashing to what its entry
	// witnessed.
	next := q.FromVersion + 1
	seen := map[int64]bool{}
	for i := range b.Events {
		ev := &b.Events[i]
		version, err := strconv.Atoi(ev.Version)
		switch {
		case err != nil:
			v.problem("event at position %d has a malformed version %q", ev.Position, ev.Version)
			continue
		case ev.StreamID != q.StreamID:
			v.problem("event v%d (position %d) is of stream %q, not %q", version, ev.Position, ev.StreamID, q.StreamID)
		case version != next:
			v.problem("event v%d (position %d) is out of order or a version is missing before it (want v%d)", version, ev.Position, next)
		}
		next = version + 1
		seen[ev.Position] = true
		w, ok := witnessed[ev.Position]
		switch {
		case !ok:
			v.problem("event v%d (position %d) has no ledger entry in the bundle: not witnessed", version, ev.Position)
		case entryOf[ev.Position] != ev.CommitLSN || w.Version != version:
			v.problem("event v%d (position %d) does not match the ledger entry listing its position", version, ev.Position)
		case w.Hash != ledger.HashEvent(ev.canonical()):
			v.problem("event v%d (position %d): its hash does not match ledger entry %s: the event was altered", version, ev.Position, ev.CommitLSN)
		}
	}
	if next != q.ToVersion+1 && q.ToVersion >= q.FromVersion {
		v.problem("the events end at v%d, the window at v%d", next-1, q.ToVersion)
	}
	positions := make([]int64, 0, len(witnessed))
	for p := range witnessed {
		positions = append(positions, p)
	}
	slices.Sort(positions)
	for _, p := range positions {
		if w := witnessed[p]; !seen[p] && w.Version > q.FromVersion && w.Version <= q.ToVersion {
			v.problem("ledger entry %s lists v%d (position %d), which the bundle leaves out", entryOf[p], w.Version, p)
		}
	}
	if b.States.From.Version != q.FromVersion || b.States.To.Version != q.ToVersion {
		v.problem("the states are at v%d and v%d, the window is v%d to v%d", b.States.From.Version, b.States.To.Version, q.FromVersion, q.ToVersion)
	}
}

func (e *Event) canonical() *eventstore.CanonicalEvent {
	return &eventstore.CanonicalEvent{Position: e.Position, StreamID: []byte(e.StreamID), Version: []byte(e.Version),
		EventType: []byte(e.EventType), SchemaVersion: []byte(e.SchemaVersion), Payload: []byte(e.Payload),
		Metadata: []byte(e.Metadata), RecordedAt: []byte(e.RecordedAt)}
}

// splitTopLevel reads the bundle's top-level object into its fields' raw
// bytes, refusing a duplicated or unknown field (two "events" would let a
// reader and the verifier see different ones) and anything after it.
func splitTopLevel(data []byte) (map[string]json.RawMessage, error) {
	const truncated = "the file is not a complete evidence bundle (truncated, or not JSON)"
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New(truncated + ": it does not start with a JSON object")
	}
	known := map[string]bool{"format": true, "manifest": true, "signature": true}
	for _, n := range sectionNames {
		known[n] = true
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", truncated, err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: the %q field: %v", truncated, key, err)
		}
		switch {
		case !known[key]:
			return nil, fmt.Errorf("the bundle has an unknown field %q", key)
		case out[key] != nil:
			return nil, fmt.Errorf("the bundle has the field %q twice", key)
		}
		out[key] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New(truncated + ": the object does not end")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the bundle has data after its JSON object")
	}
	for k := range known {
		if out[k] == nil {
			return nil, fmt.Errorf("the bundle lacks its %q field (truncated?)", k)
		}
	}
	return out, nil
}
