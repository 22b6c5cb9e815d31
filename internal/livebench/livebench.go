// Package livebench is `auditd bench live`: it measures the live path end to
// end — commit-to-browser latency over real HTTP, decoding throughput against
// pg_recvlogical on the same WAL, and the memory cost of idle subscribers —
// and writes the figures into the `## Live` section of docs/benchmarks.md.
package livebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config is the benchmark's configuration; cmd/auditd fills it from flags.
type Config struct {
	DatabaseURL  string        // empty starts a throwaway embedded cluster
	DataDir      string        // the embedded cluster's data directory; empty: a temporary one
	Subscribers  int           // SSE subscribers during the latency run
	Rate         float64       // target events per second during the latency run
	Duration     time.Duration // length of the latency run
	Writers      int           // concurrent writer connections, one event per transaction
	Idle         int           // idle SSE subscribers for the memory measurement
	DecodeEvents int           // events pre-written for the decoding comparison
	DecodeRounds int           // alternating runs of pg_recvlogical and the consumer
	Out          string        // file whose `## Live` section receives the results; empty: none
	Publication  string        // publication name
	Fsync        bool          // the embedded cluster runs with fsync on
	CPUProfile   string        // CPU profile of the latency run; empty: none
	Linger       time.Duration // SSE write coalescing delay
	Format       string        // feed format the subscribers request: html or json
	Command      string        // the command line, quoted above the table
}

// validate refuses settings that cannot produce a measurement.
func (c Config) validate() error {
	if c.Subscribers < 1 || c.Rate <= 0 || c.Writers < 1 || c.Duration <= 0 {
		return errors.New("bench live: --subscribers, --rate, --writers and --duration must be positive")
	}
	if c.Format != "html" && c.Format != "json" {
		return fmt.Errorf("bench live: invalid --format %q: use html or json", c.Format)
	}
	return nil
}

// row is one line of the results table.
type row struct{ Metric, Value, Target string }

// bench is one run: the configuration and the database it measures.
type bench struct {
	Config
	db     *database
	out    io.Writer
	logger *slog.Logger
	runs   int // latency runs so far
}

// Run runs the three measurements in turn, prints the table to out and, when
// cfg.Out is set, writes it into that file's `## Live` section.
func Run(ctx context.Context, cfg Config, out io.Writer, logger *slog.Logger) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	b := &bench{Config: cfg, db: db, out: out, logger: logger}

	var rows []row
	fmt.Fprintln(out, "decoding throughput: writing", b.DecodeEvents, "events…")
	dr, err := b.decodeThroughput(ctx)
	if err != nil {
		return err
	}
	rows = append(rows, dr...)
	fmt.Fprintf(out, "latency: %d subscribers, %.0f events/s for %s…\n", b.Subscribers, b.Rate, b.Duration)
	srv, err := b.startServer(ctx, false)
	if err != nil {
		return err
	}
	lr, plain, err := b.latency(ctx, srv)
	if err != nil {
		srv.Stop()
		return err
	}
	rows = append(rows, lr...)
	fmt.Fprintf(out, "memory: %d idle subscribers…\n", b.Idle)
	mr, err := b.idleMemory(ctx, srv.addr)
	// Stopped before the run with the ledger, which starts its own.
	srv.Stop()
	if err != nil {
		return err
	}
	rows = append(rows, mr...)
	fmt.Fprintf(out, "latency with the witness ledger: %d subscribers, %.0f events/s for %s…\n", b.Subscribers, b.Rate, b.Duration)
	lr, witnessed, err := b.witnessedLatency(ctx)
	if err != nil {
		return err
	}
	rows = append(rows, lr...)
	rows = append(rows, row{"latency: with the ledger / without, p50 and p99", fmt.Sprintf("%.2f× and %.2f×",
		witnessed.p50.Seconds()/max(plain.p50.Seconds(), 1e-9), witnessed.p99.Seconds()/max(plain.p99.Seconds(), 1e-9)), "≤ 1.20×"})

	table := formatTable(rows)
	fmt.Fprintln(out)
	fmt.Fprint(out, table)
	if b.Out != "" {
		m := thisMachine()
		if err := writeLiveSection(b.Out, b.header(m), strings.TrimSpace(b.Command), table, b.notes(m)); err != nil {
			return err
		}
		fmt.Fprintln(out, "\nwritten to", b.Out)
	}
	return nil
}

// witnessedLatency is the latency run again with the consumer writing a
// witness ledger, its rows named as such.
func (b *bench) witnessedLatency(ctx context.Context) ([]row, latencyFigures, error) {
	srv, err := b.startServer(ctx, true)
	if err != nil {
		return nil, latencyFigures{}, err
	}
	defer srv.Stop()
	rows, fig, err := b.latency(ctx, srv)
	for i := range rows {
		rows[i].Metric = strings.Replace(rows[i].Metric, "latency:", "latency with the ledger:", 1)
	}
	return rows, fig, err
}

// poolFor opens the benchmark's pool: enough connections for the writers
// plus the server's own, each committing with synchronous_commit=on so a
// commit returns once its WAL is written and the walsender sends it then.
func poolFor(ctx context.Context, url string, writers int) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may echo the URL, password included: do not wrap it.
		return nil, errors.New("bench live: invalid --database-url")
	}
	pcfg.MaxConns = int32(writers + 8)
	pcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("bench live: unable to connect: %w", err)
	}
	return pool, nil
}
