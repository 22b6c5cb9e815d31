package live

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidCursor is returned for a Last-Event-ID that is not a cursor this
// server hands out.
var ErrInvalidCursor = errors.New("live: invalid cursor: want <commit LSN as 16 hex digits>-<index>")

// Cursor is an event's place in commit order: the LSN of its transaction's
// commit record and its index within the transaction. Positions cannot serve
// as cursors: a transaction that took a position earlier may commit later,
// so position order is not the order events become visible.
type Cursor struct {
	LSN   uint64
	Index uint32
}

// String is the SSE id: fixed-width hex so that the text sorts like the value.
func (c Cursor) String() string {
	return fmt.Sprintf("%016X-%d", c.LSN, c.Index)
}

// Less orders cursors by commit, then by order within the transaction.
func (c Cursor) Less(o Cursor) bool {
	if c.LSN != o.LSN {
		return c.LSN < o.LSN
	}
	return c.Index < o.Index
}

// IsZero reports whether c is the zero cursor (before every event).
func (c Cursor) IsZero() bool { return c == Cursor{} }

// ParseCursor parses Cursor.String's output.
func ParseCursor(s string) (Cursor, error) {
	lsn, idx, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok || len(lsn) != 16 {
		return Cursor{}, ErrInvalidCursor
	}
	l, err := strconv.ParseUint(lsn, 16, 64)
	if err != nil {
		return Cursor{}, ErrInvalidCursor
	}
	i, err := strconv.ParseUint(idx, 10, 32)
	if err != nil {
		return Cursor{}, ErrInvalidCursor
	}
	return Cursor{LSN: l, Index: uint32(i)}, nil
}
