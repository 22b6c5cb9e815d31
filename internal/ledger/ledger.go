// Package ledger is auditd's witness ledger: one entry per committed
// transaction that touched the event table, in commit order, each entry's
// hash chained over the previous entry's. An entry lists, for each event of
// its transaction, the event's position, stream, version and a hash of its
// canonical form (eventstore.CanonicalEvent: PostgreSQL's own text output
// of the stored values), so that an event edited afterwards no longer
// matches what auditd saw commit.
//
// The live consumer writes entries through a Writer and confirms the
// replication slot only up to what the ledger holds.
package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// HashSize is the size of event and entry hashes (SHA-256).
const HashSize = sha256.Size

// Hash is an event's or an entry's SHA-256.
type Hash [HashSize]byte

// Event is one event of an entry.
type Event struct {
	Position int64
	StreamID string
	Version  int
	Hash     Hash
}

// Entry is one committed transaction.
type Entry struct {
	CommitLSN   uint64
	Xid         int64
	CommittedAt time.Time // zero when back-filled
	Backfilled  bool
	Events      []Event
	// Hash is ChainHash of the previous entry's hash; set by the Writer.
	Hash Hash
}

// eventDomain and entryDomain separate the two kinds of hash, so that an
// event's bytes can never be passed off as an entry's.
const (
	eventDomain = "auditd-ledger-event-v1\x00"
	entryDomain = "auditd-ledger-entry-v1\x00"
)

// HashEvent hashes an event's canonical form: each field's text,
// length-prefixed, in a fixed order. Position is not part of it: it is the
// key the entry lists the hash under, and the entry hash covers both.
func HashEvent(e *eventstore.CanonicalEvent) Hash {
	h := sha256.New()
	h.Write([]byte(eventDomain))
	var n [binary.MaxVarintLen64]byte
	for _, f := range [...][]byte{e.StreamID, e.Version, e.EventType, e.SchemaVersion, e.Payload, e.Metadata, e.RecordedAt} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write(f)
	}
	return sum(h)
}

func sum(h hash.Hash) Hash {
	var out Hash
	h.Sum(out[:0])
	return out
}

// ChainHash is the entry's hash given the previous entry's (zero for the
// first): it covers the previous hash, the commit LSN, the xid, the commit
// time, the back-fill flag and the packed events, so that removing,
// reordering or changing any entry breaks every hash after it.
func (e *Entry) ChainHash(prev Hash) Hash {
	h := sha256.New()
	h.Write([]byte(entryDomain))
	h.Write(prev[:])
	var b [25]byte
	binary.BigEndian.PutUint64(b[0:], e.CommitLSN)
	binary.BigEndian.PutUint64(b[8:], uint64(e.Xid))
	var micros int64
	if !e.CommittedAt.IsZero() {
		micros = e.CommittedAt.UnixMicro()
	}
	binary.BigEndian.PutUint64(b[16:], uint64(micros))
	if e.Backfilled {
		b[24] = 1
	}
	h.Write(b[:])
	h.Write(Pack(e.Events))
	return sum(h)
}

// packFormat is the first byte of a packed event list.
const packFormat = 1

// Pack encodes an entry's events compactly: a format byte, the count, then
// per event its position, version, stream id (a zero length meaning "the
// previous event's stream", as an append usually writes one stream) and its
// 32-byte hash. Varints keep small numbers small.
func Pack(events []Event) []byte {
	size := 1 + binary.MaxVarintLen64
	for i := range events {
		size += 3*binary.MaxVarintLen64 + len(events[i].StreamID) + HashSize
	}
	b := make([]byte, 0, size)
	b = append(b, packFormat)
	b = binary.AppendUvarint(b, uint64(len(events)))
	for i := range events {
		e := &events[i]
		b = binary.AppendUvarint(b, uint64(e.Position))
		b = binary.AppendUvarint(b, uint64(e.Version))
		if i > 0 && e.StreamID == events[i-1].StreamID && e.StreamID != "" {
			b = append(b, 0)
		} else {
			b = binary.AppendUvarint(b, uint64(len(e.StreamID))+1)
			b = append(b, e.StreamID...)
		}
		b = append(b, e.Hash[:]...)
	}
	return b
}

// ErrCorrupt is returned by Unpack for bytes Pack did not produce.
var ErrCorrupt = errors.New("ledger: corrupt packed events")

// Unpack decodes Pack's output.
func Unpack(b []byte) ([]Event, error) {
	if len(b) == 0 || b[0] != packFormat {
		return nil, fmt.Errorf("%w: unknown format", ErrCorrupt)
	}
	b = b[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	count, ok := uv()
	// Every event takes at least 3 bytes and a hash.
	if !ok || count > uint64(len(b)/(3+HashSize)) {
		return nil, fmt.Errorf("%w: bad count", ErrCorrupt)
	}
	out := make([]Event, count)
	for i := range out {
		e := &out[i]
		pos, ok1 := uv()
		ver, ok2 := uv()
		sl, ok3 := uv()
		if !ok1 || !ok2 || !ok3 || pos > 1<<63-1 || ver > 1<<31-1 {
			return nil, fmt.Errorf("%w: event %d", ErrCorrupt, i)
		}
		e.Position, e.Version = int64(pos), int(ver)
		switch {
		case sl == 0 && i > 0:
			e.StreamID = out[i-1].StreamID
		case sl == 0 || sl-1 > uint64(len(b)):
			return nil, fmt.Errorf("%w: event %d stream", ErrCorrupt, i)
		default:
			e.StreamID = string(b[:sl-1])
			b = b[sl-1:]
		}
		if len(b) < HashSize {
			return nil, fmt.Errorf("%w: event %d hash", ErrCorrupt, i)
		}
		copy(e.Hash[:], b)
		b = b[HashSize:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	return out, nil
}
