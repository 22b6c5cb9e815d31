package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// VersionAt returns the version of the stream's event recorded last at or
// before t, or 0 when the stream has no event that old (t is before its
// first event). It is one backward probe of the (stream_id, recorded_at)
// index, whatever the stream's length.
//
// Versions and recorded_at grow together when events are appended (the
// column defaults to clock_timestamp()); on an imported stream whose times
// go backwards the answer is the event recorded last, not the highest
// version. It does not check that the stream exists.
func (s *Store) VersionAt(ctx context.Context, streamID string, t time.Time) (int, error) {
	if strings.TrimSpace(streamID) == "" {
		return 0, ErrEmptyStreamID
	}
	var v int
	if !s.sc.accept("stream_id", streamID) {
		return 0, nil
	}
	err := s.db.QueryRow(ctx, s.sc.expand(`
		SELECT {version} FROM {events}
		WHERE {stream_id} = $1{cast:stream_id} AND {recorded_at} <= $2{cast:recorded_at}
		ORDER BY {recorded_at} DESC, {version} DESC
		LIMIT 1`), streamID, t).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to find the version of stream %q at %s: %w", streamID, t.Format(time.RFC3339Nano), err)
	}
	return v, nil
}
