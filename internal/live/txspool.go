package live

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/auditd/auditd/internal/eventstore"
)

// DefaultTxMemory is how many bytes of one transaction's decoded events the
// consumer holds in memory before it spills the rest to a temporary file.
const DefaultTxMemory = 64 << 20

// txSpool holds one transaction's decoded events from its Begin to its
// Commit: pgoutput (protocol 1) sends a transaction whole at its commit, and
// nothing may reach the hub before the commit is known, so a transaction of
// many large rows would otherwise be held whole in memory. Up to budget
// bytes stay in memory; the events after spill, in order, to a temporary
// file that is read back a chunk at a time at commit and removed.
type txSpool struct {
	budget int64
	dir    string // "" is os.TempDir

	mem      []eventstore.Event
	memBytes int64 // what mem holds (eventBytes)
	file     *os.File
	w        *bufio.Writer
	enc      *gob.Encoder
	spilled  int // events in the file

	// peakBytes is the most bytes of events ever held in memory at once,
	// since the spool was made (Stats.TxPeakBytes).
	peakBytes int64
}

// eventBytes is what an event counts for in the budget: its data and a
// fixed overhead for the rest.
func eventBytes(e *eventstore.Event) int64 {
	return int64(len(e.Payload)+len(e.Metadata)+len(e.EventID)+len(e.StreamID)+len(e.StreamType)+len(e.EventType)) + 128
}

func newTxSpool(budget int64, dir string) *txSpool {
	if budget <= 0 {
		budget = DefaultTxMemory
	}
	return &txSpool{budget: budget, dir: dir}
}

// add appends an event, to the file once the memory budget is used up.
func (s *txSpool) add(e eventstore.Event) error {
	n := eventBytes(&e)
	if s.file == nil && s.memBytes+n <= s.budget {
		s.mem = append(s.mem, e)
		s.memBytes += n
		s.peakBytes = max(s.peakBytes, s.memBytes)
		return nil
	}
	if s.file == nil {
		f, err := os.CreateTemp(s.dir, "auditd-tx-*.spool")
		if err != nil {
			return fmt.Errorf("live: unable to spill a large transaction: %w", err)
		}
		s.file, s.w = f, bufio.NewWriterSize(f, 1<<20)
		s.enc = gob.NewEncoder(s.w)
	}
	if err := s.enc.Encode(&e); err != nil {
		return fmt.Errorf("live: unable to spill a large transaction: %w", err)
	}
	s.spilled++
	return nil
}

// each calls fn with the events in order, in chunks: the in-memory ones,
// then the spilled ones read back at most budget bytes at a time. first is
// the index of the chunk's first event in the transaction.
func (s *txSpool) each(fn func(first int, events []eventstore.Event)) error {
	if len(s.mem) > 0 {
		fn(0, s.mem)
	}
	if s.file == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("live: unable to spill a large transaction: %w", err)
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("live: unable to read a spilled transaction: %w", err)
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.file, 1<<20))
	first := len(s.mem)
	// The in-memory events were handed over: reuse their room.
	clear(s.mem)
	chunk, chunkBytes := s.mem[:0], int64(0)
	for read := 0; read < s.spilled; read++ {
		var e eventstore.Event
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("live: unable to read a spilled transaction: %w", err)
		}
		n := eventBytes(&e)
		if len(chunk) > 0 && chunkBytes+n > s.budget {
			fn(first, chunk)
			first += len(chunk)
			clear(chunk)
			chunk, chunkBytes = chunk[:0], 0
		}
		chunk = append(chunk, e)
		chunkBytes += n
		s.peakBytes = max(s.peakBytes, chunkBytes)
	}
	if len(chunk) > 0 {
		fn(first, chunk)
	}
	s.mem = chunk[:0]
	return nil
}

// reset empties the spool for the next transaction, removing its file.
func (s *txSpool) reset() error {
	clear(s.mem)
	s.mem, s.memBytes, s.spilled = s.mem[:0], 0, 0
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	err := errors.Join(s.file.Close(), os.Remove(name))
	s.file, s.w, s.enc = nil, nil, nil
	if err != nil {
		return fmt.Errorf("live: unable to remove a spilled transaction: %w", err)
	}
	return nil
}
