package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// The stream catalogue (auditd.stream_catalogue, migration auditd/010) is
// one row per stream in auditd's own schema, with a trigram index on the
// id's text: it is what makes a search anywhere in an id, in any case, an
// index lookup on a store of any size. The index cannot be put on the event
// table, which may be an application's (a mapped source). Rows are keyed by
// the source's table name, so a changed mapping starts a catalogue of its
// own.

// catalogueTail is how many events above the catalogue's progress a search
// reads directly, so that a stream created since the last pass is found at
// once. While a first back-fill is still far behind, the search is partial
// for ids beyond it (the exact-id jump still finds them).
const catalogueTail = 10_000

// catalogueBatch is how many events one catalogue pass reads.
const catalogueBatch = 20_000

// catalogueSource is this store's key in the catalogue tables.
func (s *Store) catalogueSource() string { return s.sc.events }

// CataloguePass reads up to limit events after position after, in position
// order, and records their streams in the catalogue (first and last
// version, recorded times, last event type and position), then raises the
// source's progress to the last position read. The upsert keeps the least
// and greatest of each bound, so reading an event twice changes nothing:
// callers may re-read a window to catch transactions that committed late
// with lower positions. It returns the last position read (after when none)
// and how many events were read.
func (s *Store) CataloguePass(ctx context.Context, after int64, limit int) (last int64, n int, err error) {
	if limit <= 0 {
		limit = catalogueBatch
	}
	sql := s.sc.expand(`
		WITH e AS (
			SELECT {stream_id}::text AS stream_id, ({stream_type})::text AS stream_type, ({version})::bigint AS version,
				{event_type}::text AS event_type, {recorded_at_tz} AS recorded_at, ({position})::bigint AS position
			FROM {events} WHERE {position} > $2 ORDER BY {position} LIMIT $3
		), s AS (
			SELECT stream_id,
				(array_agg(stream_type ORDER BY version))[1] AS stream_type,
				min(version) AS first_version, max(version) AS last_version,
				(array_agg(event_type ORDER BY version DESC))[1] AS last_event_type,
				min(recorded_at) AS first_recorded_at, max(recorded_at) AS last_recorded_at,
				max(position) AS last_position
			FROM e GROUP BY stream_id ORDER BY stream_id
		), up AS (
			INSERT INTO auditd.stream_catalogue AS c (source, stream_id, stream_type, first_version, last_version,
				last_event_type, first_recorded_at, last_recorded_at, last_position)
			SELECT $1, stream_id, stream_type, first_version, last_version, last_event_type,
				first_recorded_at, last_recorded_at, last_position FROM s
			ON CONFLICT (source, stream_id) DO UPDATE SET
				stream_type = CASE WHEN EXCLUDED.first_version < c.first_version THEN EXCLUDED.stream_type ELSE c.stream_type END,
				first_version = LEAST(c.first_version, EXCLUDED.first_version),
				last_version = GREATEST(c.last_version, EXCLUDED.last_version),
				last_event_type = CASE WHEN EXCLUDED.last_version >= c.last_version THEN EXCLUDED.last_event_type ELSE c.last_event_type END,
				first_recorded_at = LEAST(c.first_recorded_at, EXCLUDED.first_recorded_at),
				last_recorded_at = GREATEST(c.last_recorded_at, EXCLUDED.last_recorded_at),
				last_position = GREATEST(c.last_position, EXCLUDED.last_position)
		), pr AS (
			INSERT INTO auditd.stream_catalogue_progress AS p (source, position)
			SELECT $1, max(position) FROM e HAVING count(*) > 0
			ON CONFLICT (source) DO UPDATE SET position = GREATEST(p.position, EXCLUDED.position), updated_at = now()
		)
		SELECT count(*), coalesce(max(position), $2) FROM e`)
	if err := s.db.QueryRow(ctx, sql, s.catalogueSource(), after, limit).Scan(&n, &last); err != nil {
		return after, 0, fmt.Errorf("eventstore: unable to catalogue streams: %w", err)
	}
	return last, n, nil
}

// CatalogueProgress returns the position up to which every event's stream
// is in the catalogue (0: nothing catalogued yet).
func (s *Store) CatalogueProgress(ctx context.Context) (int64, error) {
	var pos int64
	err := s.db.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM auditd.stream_catalogue_progress WHERE source = $1`,
		s.catalogueSource()).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to read the catalogue's progress: %w", err)
	}
	return pos, nil
}

// RefreshCatalogue catalogues every event after the catalogue's progress,
// a batch at a time, and returns how many events it read. Tests and the
// benchmark call it; auditd serve runs a CatalogueKeeper.
func (s *Store) RefreshCatalogue(ctx context.Context) (int, error) {
	from, err := s.CatalogueProgress(ctx)
	if err != nil {
		return 0, err
	}
	_, n, err := s.catalogueFrom(ctx, from)
	return n, err
}

// catalogueFrom runs passes from position from until one reads less than a
// batch, and returns the last position read.
func (s *Store) catalogueFrom(ctx context.Context, from int64) (int64, int, error) {
	total := 0
	for {
		last, n, err := s.CataloguePass(ctx, from, catalogueBatch)
		total += n
		if err != nil {
			return from, total, err
		}
		from = last
		if n < catalogueBatch {
			return from, total, nil
		}
	}
}

// matchPattern is the ILIKE pattern of a search anywhere in an id, with the
// user's text taken literally.
func matchPattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// catalogueCandidates is the statement of the ids (text, byte order) that
// match q.Match, from the catalogue and from the events above its progress
// (at most catalogueTail of them), after q's cursor and stream type, in
// order, at most limit. It adds its arguments to w.
func (s *Store) catalogueCandidates(w *predicates, q StreamSearch, order string, limit int) string {
	src, pat := w.arg(s.catalogueSource()), w.arg(matchPattern(q.Match))
	cat := `SELECT stream_id COLLATE "C" AS stream_id FROM auditd.stream_catalogue WHERE source = ` + src +
		` AND stream_id ILIKE ` + pat
	tail := s.sc.expand(`SELECT DISTINCT t.stream_id COLLATE "C" AS stream_id FROM (
			SELECT {stream_id}::text AS stream_id, ({stream_type})::text AS stream_type, ({version})::bigint AS version FROM {events}
			WHERE {position} > (SELECT coalesce(max(position), 0) FROM auditd.stream_catalogue_progress WHERE source = `+src+`)
			ORDER BY {position} LIMIT `) + w.arg(catalogueTail) + `) t WHERE t.stream_id ILIKE ` + pat
	if q.Prefix != "" {
		p := w.arg(likePrefix(q.Prefix))
		cat += ` AND stream_id COLLATE "C" LIKE ` + p
		tail += ` AND t.stream_id COLLATE "C" LIKE ` + p
	}
	if q.StreamType != "" {
		t := w.arg(q.StreamType)
		cat += ` AND stream_type = ` + t
		tail += ` AND t.stream_type = ` + t
	}
	switch {
	case q.After != "":
		a := w.arg(q.After)
		cat += ` AND stream_id COLLATE "C" > ` + a
		tail += ` AND t.stream_id COLLATE "C" > ` + a
	case q.Before != "":
		b := w.arg(q.Before)
		cat += ` AND stream_id COLLATE "C" < ` + b
		tail += ` AND t.stream_id COLLATE "C" < ` + b
	}
	return `SELECT stream_id FROM (` + cat + ` UNION ` + tail + `) u ORDER BY stream_id ` + order + ` LIMIT ` + w.arg(limit)
}

// CatalogueKeeper keeps the stream catalogue current by the same
// incremental pass as the back-fill, every interval: each round reads from
// where the round before the last one ended, so an event is read by two
// rounds and a transaction that commits up to an interval after a later
// one (a lower position arriving late) is still catalogued.
type CatalogueKeeper struct {
	store    *Store
	logger   *slog.Logger
	interval time.Duration
	loop     ticking
	// from is where the next round starts, prev where the last one ended;
	// only the loop's goroutine uses them.
	from, prev int64
	caughtUp   chan struct{} // closed after the first round that reached the head
	closed     bool
}

// NewCatalogueKeeper returns a keeper that runs every interval once
// started; a nil logger discards.
func NewCatalogueKeeper(store *Store, logger *slog.Logger, interval time.Duration) *CatalogueKeeper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &CatalogueKeeper{store: store, logger: logger, interval: interval, caughtUp: make(chan struct{})}
}

// CaughtUp is closed once a round has catalogued every event up to the head
// it saw: the back-fill is done.
func (k *CatalogueKeeper) CaughtUp() <-chan struct{} { return k.caughtUp }

// Start runs the back-fill and the rounds in the background until Stop:
// a first back-fill of a large store takes minutes, and search reads the
// events above the catalogue's progress meanwhile.
func (k *CatalogueKeeper) Start(ctx context.Context) error {
	from, err := k.store.CatalogueProgress(ctx)
	if err != nil {
		return err
	}
	k.from, k.prev = from, from
	k.loop.start(ctx, k.interval, k.round)
	k.loop.kick()
	return nil
}

// round catalogues from k.from to the head.
func (k *CatalogueKeeper) round(ctx context.Context) {
	end, n, err := k.store.catalogueFrom(ctx, k.from)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			k.logger.Warn("unable to catalogue streams", "error", err)
		}
	case n >= 4*catalogueBatch:
		// A back-fill (several batches in one round, far more than a
		// busy store appends between two rounds): no need to read it
		// all again.
		k.logger.Info("streams catalogued", "events", n, "position", end)
		k.from, k.prev = end, end
	default:
		k.from, k.prev = k.prev, end
	}
	if err == nil && !k.closed {
		k.closed = true
		close(k.caughtUp)
	}
}

// Stop ends the loop and waits for it.
func (k *CatalogueKeeper) Stop() { k.loop.stop() }

// ticking runs a function every interval in a goroutine of its own until
// stopped: the background loops of this package (count folding, the
// catalogue).
type ticking struct {
	cancel context.CancelFunc
	done   chan struct{}
	now    chan struct{}
}

// start runs fn every interval, with ctx's values but not its
// cancellation (stop ends it).
func (l *ticking) start(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.done, l.now = make(chan struct{}), make(chan struct{}, 1)
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-l.now:
			}
			fn(ctx)
		}
	}()
}

// kick runs fn once now, without waiting for the interval.
func (l *ticking) kick() {
	select {
	case l.now <- struct{}{}:
	default:
	}
}

// stop ends the loop and waits for a run in progress.
func (l *ticking) stop() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
}
