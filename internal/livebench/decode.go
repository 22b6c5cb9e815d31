package livebench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
)

// The decoding run's WAL: ten events per transaction from four connections,
// the shape of concurrent appends.
const (
	decodeEventsPerTx = 10
	decodeWriters     = 4
)

// decodeThroughput creates pairs of slots at the same point, writes events,
// and drains one slot of each pair with auditd's consumer and the other with
// pg_recvlogical.
func (b *bench) decodeThroughput(ctx context.Context) ([]row, error) {
	// Several rounds, alternating, each on its own pair of slots made at
	// the same point: the machine may be shared, so one run of each is noise.
	rounds := max(b.DecodeRounds, 1)
	var ours, theirs, witnessed []string
	for r := range rounds {
		ours = append(ours, fmt.Sprintf("bench_ours_%d_%d", os.Getpid(), r))
		theirs = append(theirs, fmt.Sprintf("bench_recv_%d_%d", os.Getpid(), r))
		witnessed = append(witnessed, fmt.Sprintf("bench_ledger_%d_%d", os.Getpid(), r))
	}
	for _, s := range slices.Concat(ours, theirs, witnessed) {
		if err := b.db.createSlot(ctx, s); err != nil {
			return nil, err
		}
		defer b.db.dropSlot(s)
	}
	start, err := b.db.walLSN(ctx)
	if err != nil {
		return nil, err
	}
	txs, err := b.writeDecodeEvents(ctx)
	if err != nil {
		return nil, err
	}
	end, err := b.db.walLSN(ctx)
	if err != nil {
		return nil, err
	}
	events := txs * decodeEventsPerTx
	walMB := float64(end-start) / (1 << 20)

	var recvTimes, ourTimes, ledgerTimes []time.Duration
	for r := range rounds {
		d, err := b.drainRecvlogical(ctx, theirs[r], end)
		if err != nil {
			return nil, err
		}
		recvTimes = append(recvTimes, d)
		d, err = b.drainConsumer(ctx, ours[r], end, events, nil)
		if err != nil {
			return nil, err
		}
		ourTimes = append(ourTimes, d)
		d, err = b.drainWitnessed(ctx, witnessed[r], end, events, r)
		if err != nil {
			return nil, err
		}
		ledgerTimes = append(ledgerTimes, d)
	}
	recvMed, ourMed, ledgerMed := median(recvTimes), median(ourTimes), median(ledgerTimes)
	ratio := recvMed.Seconds() / ourMed.Seconds()
	return []row{
		{"decode: pre-written WAL", fmt.Sprintf("%d events in %d transactions (%d concurrent writers), %.1f MB of WAL", events, txs, decodeWriters, walMB), ""},
		{"decode: pg_recvlogical (pgoutput → /dev/null), median", fmt.Sprintf("%s = %.0f events/s (runs: %s)", recvMed.Round(time.Millisecond), float64(events)/recvMed.Seconds(), fmtDurations(recvTimes)), ""},
		{"decode: auditd consumer (decode + hub), median", fmt.Sprintf("%s = %.0f events/s (runs: %s)", ourMed.Round(time.Millisecond), float64(events)/ourMed.Seconds(), fmtDurations(ourTimes)), ""},
		{"decode: auditd / pg_recvlogical throughput", fmt.Sprintf("%.0f%%", ratio*100), "≥ 80%"},
		{"decode: auditd consumer + witness ledger (decode + hub + ledger written), median", fmt.Sprintf("%s = %.0f events/s (runs: %s)", ledgerMed.Round(time.Millisecond), float64(events)/ledgerMed.Seconds(), fmtDurations(ledgerTimes)), ""},
		{"decode: with the ledger / decode alone throughput", fmt.Sprintf("%.0f%%", 100*ourMed.Seconds()/ledgerMed.Seconds()), "≥ 80%"},
	}, nil
}

// drainWitnessed runs the consumer with a witness ledger (in a scratch
// database) on slot until it has processed end and the ledger holds every
// transaction, and returns how long it took.
func (b *bench) drainWitnessed(ctx context.Context, slot string, end pglogrepl.LSN, events, round int) (time.Duration, error) {
	l, err := b.db.newScratchLedger(ctx, strconv.Itoa(round))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	t0 := time.Now()
	if _, err := b.drainConsumer(ctx, slot, end, events, l.writer); err != nil {
		return 0, err
	}
	if !l.writer.WaitWritten(ctx) {
		return 0, fmt.Errorf("bench live: the ledger was not written: %s", l.writer.Stats().LastError)
	}
	return time.Since(t0), nil
}

// writeDecodeEvents writes DecodeEvents events (rounded down to whole
// transactions) and returns the number of transactions.
func (b *bench) writeDecodeEvents(ctx context.Context) (int, error) {
	txs := b.DecodeEvents / decodeEventsPerTx
	var wg sync.WaitGroup
	errs := make(chan error, decodeWriters)
	for w := range decodeWriters {
		wg.Go(func() {
			for i := w; i < txs; i += decodeWriters {
				_, err := b.db.pool.Exec(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
					SELECT 'decode-' || $1::text, 'bench', g, 'FundsDeposited',
					       jsonb_build_object('amount', g * 10, 'currency', 'EUR', 'reference', md5(g::text || $1::text)),
					       '{"actor": "bench", "source": "bench-live", "correlation_id": "c0ffee"}'
					FROM generate_series(1, $2::int) g`, strconv.Itoa(i), decodeEventsPerTx)
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("bench live: writing events: %w", err)
	}
	return txs, nil
}

// drainRecvlogical runs pg_recvlogical (pgoutput, to /dev/null) on slot
// until end and returns how long it took.
func (b *bench) drainRecvlogical(ctx context.Context, slot string, end pglogrepl.LSN) (time.Duration, error) {
	recv := filepath.Join(b.db.binDir, "pg_recvlogical")
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, recv, "-d", b.db.url, "--slot", slot, "--start", "--no-loop", "-E", end.String(),
		"-f", "/dev/null", "-o", "proto_version=1", "-o", "publication_names="+b.Publication)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("bench live: pg_recvlogical: %w: %s", err, out)
	}
	return time.Since(t0), nil
}

// drainConsumer runs auditd's consumer (decoding into a hub, and writing
// the witness ledger when witness is set) on slot until it has processed
// end, and returns how long it took.
func (b *bench) drainConsumer(ctx context.Context, slot string, end pglogrepl.LSN, events int, witness *ledger.Writer) (time.Duration, error) {
	hub := live.NewHub(live.HubConfig{})
	c := live.NewConsumer(live.ConsumerConfig{ConnString: b.db.url, Slot: slot, Publication: b.Publication, Ledger: witness, Logger: b.logger}, b.db.pool, hub, nil)
	t0 := time.Now()
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	defer c.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		st := c.Stats()
		if lsn, _ := pglogrepl.ParseLSN(st.LastLSN); lsn >= end {
			if st.EventsTotal != int64(events) {
				return 0, fmt.Errorf("bench live: the consumer decoded %d events, want %d", st.EventsTotal, events)
			}
			return time.Since(t0), nil
		}
		if time.Since(t0) > 10*time.Minute {
			return 0, errors.New("bench live: the consumer did not reach the end LSN in 10 minutes")
		}
		// Polling costs ~1 ms of resolution on runs of seconds.
		time.Sleep(time.Millisecond)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(time.Millisecond).String()
	}
	return strings.Join(parts, ", ")
}
