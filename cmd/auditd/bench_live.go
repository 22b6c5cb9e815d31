package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgembed"
	"github.com/auditd/auditd/internal/schema"
	"github.com/auditd/auditd/web"
)

// liveBench is `auditd bench live`'s configuration.
type liveBench struct {
	DatabaseURL  string
	DataDir      string
	Subscribers  int
	Rate         float64
	Duration     time.Duration
	Writers      int
	Idle         int
	DecodeEvents int
	DecodeRounds int
	Out          string
	Publication  string
	Fsync        bool
	CPUProfile   string
	Linger       time.Duration
	Format       string

	url         string
	binDir      string
	stopCluster func() // stops the embedded cluster, if one was started
	pool        *pgxpool.Pool
	out         io.Writer
	logger      *slog.Logger
}

// benchRow is one line of the results table.
type benchRow struct{ Metric, Value, Target string }

// runBenchLive measures the live path end to end: commit-to-browser latency
// over real HTTP, decoding throughput against pg_recvlogical on the same
// WAL, and the memory cost of idle subscribers.
func runBenchLive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	b := &liveBench{out: stdout}
	fs := flag.NewFlagSet("auditd bench live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&b.DatabaseURL, "database-url", os.Getenv("AUDITD_DATABASE_URL"), "PostgreSQL URL (wal_level=logical); empty starts a throwaway embedded cluster")
	fs.StringVar(&b.DataDir, "data-dir", "", "data directory of the embedded cluster (default: a temporary directory, removed afterwards)")
	fs.IntVar(&b.Subscribers, "subscribers", 100, "SSE subscribers during the latency run")
	fs.Float64Var(&b.Rate, "rate", 2000, "target events per second written during the latency run")
	fs.DurationVar(&b.Duration, "duration", 10*time.Second, "length of the latency run")
	fs.IntVar(&b.Writers, "writers", 8, "concurrent writer connections (one event per transaction)")
	fs.IntVar(&b.Idle, "idle", 1000, "idle SSE subscribers for the memory measurement")
	fs.IntVar(&b.DecodeEvents, "decode-events", 200000, "events pre-written for the decoding throughput comparison")
	fs.IntVar(&b.DecodeRounds, "decode-rounds", 5, "alternating runs of pg_recvlogical and auditd's consumer (medians are compared)")
	fs.StringVar(&b.Out, "out", "docs/benchmarks.md", "file whose `## Live` section receives the results (empty: do not write)")
	fs.StringVar(&b.Publication, "publication", "auditd_events", "publication name")
	fs.DurationVar(&b.Linger, "linger", time.Millisecond, "SSE write coalescing delay (the server default is 1ms)")
	fs.StringVar(&b.Format, "format", "html", "feed format the subscribers request: html (as browsers) or json")
	fs.StringVar(&b.CPUProfile, "cpuprofile", "", "write a CPU profile of the latency run to this file")
	fs.BoolVar(&b.Fsync, "fsync", false, "run the embedded cluster with fsync on (the writers then measure the disk, not auditd)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if b.Subscribers < 1 || b.Rate <= 0 || b.Writers < 1 || b.Duration <= 0 {
		return errors.New("bench live: --subscribers, --rate, --writers and --duration must be positive")
	}
	b.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	b.stopCluster = func() {}
	err := b.openDatabase(ctx)
	defer b.stopCluster()
	if err != nil {
		return err
	}
	defer b.pool.Close()

	var rows []benchRow
	fmt.Fprintln(stdout, "decoding throughput: writing", b.DecodeEvents, "events…")
	dr, err := b.decodeThroughput(ctx)
	if err != nil {
		return err
	}
	rows = append(rows, dr...)
	fmt.Fprintf(stdout, "latency: %d subscribers, %.0f events/s for %s…\n", b.Subscribers, b.Rate, b.Duration)
	lr, srvAddr, stop, err := b.latency(ctx)
	if err != nil {
		return err
	}
	rows = append(rows, lr...)
	fmt.Fprintf(stdout, "memory: %d idle subscribers…\n", b.Idle)
	mr, err := b.idleMemory(ctx, srvAddr)
	stop()
	if err != nil {
		return err
	}
	rows = append(rows, mr...)

	table := formatTable(rows)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, table)
	if b.Out != "" {
		if err := writeLiveSection(b.Out, strings.TrimSpace("auditd bench live "+strings.Join(args, " ")), table); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "\nwritten to", b.Out)
	}
	return nil
}

// openDatabase starts a throwaway cluster unless --database-url is given,
// and migrates.
func (b *liveBench) openDatabase(ctx context.Context) error {
	b.url = b.DatabaseURL
	if b.url == "" {
		dir := b.DataDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "auditd-bench-live-")
			if err != nil {
				return fmt.Errorf("bench live: %w", err)
			}
			dir = tmp
		}
		// Fast: fsync off, so that the write rate is not the disk's. The
		// writers still commit with synchronous_commit=on (below): a commit
		// returns once its WAL is written, and the walsender sends it then.
		cluster := pgembed.New(pgembed.Config{DataDir: dir, Logger: b.logger, Fast: !b.Fsync})
		b.stopCluster = func() {
			_ = cluster.Stop()
			if b.DataDir == "" {
				_ = os.RemoveAll(dir)
			}
		}
		if err := cluster.Start(ctx); err != nil {
			return err
		}
		if err := createDatabase(ctx, cluster.ConnString("postgres"), "auditd_bench"); err != nil {
			return err
		}
		b.url = cluster.ConnString("auditd_bench")
		b.binDir = cluster.BinDir()
	} else {
		dir, err := pgembed.FindBinDir()
		if err != nil {
			return err
		}
		b.binDir = dir
	}
	pcfg, err := pgxpool.ParseConfig(b.url)
	if err != nil {
		return errors.New("bench live: invalid --database-url")
	}
	pcfg.MaxConns = int32(b.Writers + 8)
	pcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	if b.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return fmt.Errorf("bench live: unable to connect: %w", err)
	}
	if _, err := schema.Migrate(ctx, b.pool); err != nil {
		return err
	}
	var exists bool
	if err := b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, b.Publication).Scan(&exists); err != nil {
		return fmt.Errorf("bench live: %w", err)
	}
	if !exists {
		if _, err := b.pool.Exec(ctx, `CREATE PUBLICATION `+pgx.Identifier{b.Publication}.Sanitize()+` FOR TABLE public.events, public.projection_checkpoints`); err != nil {
			return fmt.Errorf("bench live: unable to create publication: %w", err)
		}
	}
	return nil
}

func (b *liveBench) walLSN(ctx context.Context) (pglogrepl.LSN, error) {
	var lsn pglogrepl.LSN
	err := b.pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	return lsn, err
}

func (b *liveBench) dropSlot(slot string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = b.pool.Exec(ctx, `SELECT pg_drop_replication_slot($1) WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, slot)
}

// decodeThroughput creates two slots at the same point, writes events, and
// drains one with auditd's consumer and the other with pg_recvlogical.
func (b *liveBench) decodeThroughput(ctx context.Context) ([]benchRow, error) {
	// Several rounds, alternating, each on its own pair of slots made at
	// the same point: the machine is shared, so one run of each is noise.
	rounds := max(b.DecodeRounds, 1)
	var ours, theirs []string
	for r := range rounds {
		ours = append(ours, fmt.Sprintf("bench_ours_%d_%d", os.Getpid(), r))
		theirs = append(theirs, fmt.Sprintf("bench_recv_%d_%d", os.Getpid(), r))
	}
	for _, s := range append(slices.Clone(ours), theirs...) {
		if _, err := b.pool.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, s); err != nil {
			return nil, fmt.Errorf("bench live: unable to create slot: %w", err)
		}
		defer b.dropSlot(s)
	}
	start, err := b.walLSN(ctx)
	if err != nil {
		return nil, err
	}
	// Ten events per transaction, from four connections, like appends.
	const perTx = 10
	txs := b.DecodeEvents / perTx
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < txs; i += 4 {
				_, err := b.pool.Exec(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
					SELECT 'decode-' || $1::text, 'bench', g, 'FundsDeposited',
					       jsonb_build_object('amount', g * 10, 'currency', 'EUR', 'reference', md5(g::text || $1::text)),
					       '{"actor": "bench", "source": "bench-live", "correlation_id": "c0ffee"}'
					FROM generate_series(1, $2::int) g`, strconv.Itoa(i), perTx)
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("bench live: writing events: %w", err)
	}
	end, err := b.walLSN(ctx)
	if err != nil {
		return nil, err
	}
	events := txs * perTx
	walMB := float64(end-start) / (1 << 20)

	var recvTimes, ourTimes []time.Duration
	for r := range rounds {
		d, err := b.drainRecvlogical(ctx, theirs[r], end)
		if err != nil {
			return nil, err
		}
		recvTimes = append(recvTimes, d)
		d, err = b.drainConsumer(ctx, ours[r], end, events)
		if err != nil {
			return nil, err
		}
		ourTimes = append(ourTimes, d)
	}
	recvMed, ourMed := median(recvTimes), median(ourTimes)
	ratio := recvMed.Seconds() / ourMed.Seconds()
	return []benchRow{
		{"decode: pre-written WAL", fmt.Sprintf("%d events in %d transactions (4 concurrent writers), %.1f MB of WAL", events, txs, walMB), ""},
		{"decode: pg_recvlogical (pgoutput → /dev/null), median", fmt.Sprintf("%s = %.0f events/s (runs: %s)", recvMed.Round(time.Millisecond), float64(events)/recvMed.Seconds(), fmtDurations(recvTimes)), ""},
		{"decode: auditd consumer (decode + hub), median", fmt.Sprintf("%s = %.0f events/s (runs: %s)", ourMed.Round(time.Millisecond), float64(events)/ourMed.Seconds(), fmtDurations(ourTimes)), ""},
		{"decode: auditd / pg_recvlogical throughput", fmt.Sprintf("%.0f%%", ratio*100), "≥ 80%"},
	}, nil
}

// drainRecvlogical runs pg_recvlogical (pgoutput, to /dev/null) on slot
// until end and returns how long it took.
func (b *liveBench) drainRecvlogical(ctx context.Context, slot string, end pglogrepl.LSN) (time.Duration, error) {
	recv := filepath.Join(b.binDir, "pg_recvlogical")
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, recv, "-d", b.url, "--slot", slot, "--start", "--no-loop", "-E", end.String(),
		"-f", "/dev/null", "-o", "proto_version=1", "-o", "publication_names="+b.Publication)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("bench live: pg_recvlogical: %w: %s", err, out)
	}
	return time.Since(t0), nil
}

// drainConsumer runs auditd's consumer (decoding into a hub) on slot until
// it has processed end, and returns how long it took.
func (b *liveBench) drainConsumer(ctx context.Context, slot string, end pglogrepl.LSN, events int) (time.Duration, error) {
	hub := live.NewHub(live.HubConfig{})
	c := live.NewConsumer(live.ConsumerConfig{ConnString: b.url, Slot: slot, Publication: b.Publication, Logger: b.logger}, b.pool, hub, nil)
	t0 := time.Now()
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	defer c.Stop()
	for {
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

// sample is one event received by one subscriber.
type sample struct {
	pos int64
	at  time.Time
}

// latency runs the server with its consumer, N subscribers over loopback
// HTTP and paced writers, and measures writer commit return → SSE receipt.
func (b *liveBench) latency(ctx context.Context) ([]benchRow, string, func(), error) {
	slot := fmt.Sprintf("bench_live_%d", os.Getpid())
	hub := live.NewHub(live.HubConfig{})
	c := live.NewConsumer(live.ConsumerConfig{ConnString: b.url, Slot: slot, Publication: b.Publication, Logger: b.logger}, b.pool, hub, nil)
	if err := c.Start(ctx); err != nil {
		return nil, "", nil, err
	}
	srv := web.New(web.Config{Listen: "127.0.0.1:0"}, web.Deps{Pool: b.pool, Store: eventstore.New(b.pool), Logger: b.logger, LiveHub: hub, LiveConsumer: c, LiveLinger: b.Linger})
	addr, err := srv.Start(ctx)
	if err != nil {
		c.Stop()
		return nil, "", nil, err
	}
	stop := func() {
		hub.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Stop(sctx)
		c.Stop()
		b.dropSlot(slot)
	}
	base := "http://" + addr.String()

	// Subscribers: the default (HTML) feed, as browsers get it.
	subCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()
	samples := make([][]sample, b.Subscribers)
	var ready, done sync.WaitGroup
	transport := &http.Transport{MaxConnsPerHost: 0, DisableCompression: true}
	client := &http.Client{Transport: transport}
	subErr := make(chan error, b.Subscribers)
	for i := range b.Subscribers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			readyOnce := sync.OnceFunc(ready.Done)
			defer readyOnce()
			req, _ := http.NewRequestWithContext(subCtx, http.MethodGet, base+"/live/events?format="+b.Format, nil)
			resp, err := client.Do(req)
			if err != nil {
				subErr <- err
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 64<<10)
			marker, dataPrefix := []byte(`data-position="`), []byte("data: <article")
			if b.Format == "json" {
				marker, dataPrefix = []byte(`"position":`), []byte("data: {")
			}
			for {
				line, err := r.ReadSlice('\n')
				if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
					return
				}
				if bytes.HasPrefix(line, []byte(": subscribed")) {
					readyOnce()
					continue
				}
				if !bytes.HasPrefix(line, dataPrefix) {
					continue
				}
				now := time.Now()
				if k := bytes.Index(line, marker); k >= 0 {
					rest := line[k+len(marker):]
					if q := bytes.IndexAny(rest, `",`); q > 0 {
						if p, err := strconv.ParseInt(string(rest[:q]), 10, 64); err == nil {
							samples[i] = append(samples[i], sample{p, now})
						}
					}
				}
			}
		}()
	}
	ready.Wait()
	select {
	case err := <-subErr:
		stop()
		return nil, "", nil, fmt.Errorf("bench live: subscriber: %w", err)
	default:
	}

	// An in-process subscriber on the hub splits the latency into
	// commit → hub (replication and decoding) and hub → client (SSE).
	probe, err := hub.Subscribe(live.Filter{}, nil)
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	var hubSamples []sample
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		var msgs []*live.Message
		for {
			select {
			case <-probe.Wake():
				now := time.Now()
				msgs = probe.Take(msgs[:0])
				for _, m := range msgs {
					if m.Kind == live.KindEvent {
						hubSamples = append(hubSamples, sample{m.Event.Position, now})
					}
				}
			case <-probe.Done():
				return
			}
		}
	}()

	if b.CPUProfile != "" {
		f, err := os.Create(b.CPUProfile)
		if err != nil {
			stop()
			return nil, "", nil, fmt.Errorf("bench live: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			stop()
			return nil, "", nil, fmt.Errorf("bench live: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	// Writers: one event per transaction, paced to the target rate.
	commits := make([]map[int64]time.Time, b.Writers)
	interval := time.Duration(float64(b.Writers) / b.Rate * float64(time.Second))
	t0 := time.Now()
	deadline := t0.Add(b.Duration)
	var wg sync.WaitGroup
	werr := make(chan error, b.Writers)
	for w := range b.Writers {
		commits[w] = map[int64]time.Time{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := b.pool.Acquire(ctx)
			if err != nil {
				werr <- err
				return
			}
			defer conn.Release()
			stream := fmt.Sprintf("live-%d-%d", os.Getpid(), w)
			// Stagger the writers across one interval.
			next := t0.Add(interval * time.Duration(w) / time.Duration(b.Writers))
			for v := 1; next.Before(deadline); v++ {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				var pos int64
				err := conn.QueryRow(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
					VALUES ($1, 'bench', $2, 'FundsDeposited', '{"amount": 125.50, "currency": "EUR"}', '{"actor": "bench", "source": "bench-live"}')
					RETURNING position`, stream, v).Scan(&pos)
				if err != nil {
					werr <- err
					return
				}
				commits[w][pos] = time.Now()
				next = next.Add(interval)
			}
		}()
	}
	wg.Wait()
	writeTime := time.Since(t0)
	close(werr)
	if err := <-werr; err != nil {
		cancelSubs()
		stop()
		return nil, "", nil, fmt.Errorf("bench live: writer: %w", err)
	}
	committed := map[int64]time.Time{}
	for _, m := range commits {
		for p, t := range m {
			committed[p] = t
		}
	}
	// Wait (bounded) for the subscribers to receive the last events.
	var last int64
	for p := range committed {
		last = max(last, p)
	}
	waitUntil := time.Now().Add(10 * time.Second)
	for time.Now().Before(waitUntil) {
		st := hub.Stats()
		if st.Subscribers < b.Subscribers {
			break // cut off: counted below
		}
		if c.Stats().EventsTotal >= int64(len(committed)) {
			time.Sleep(200 * time.Millisecond) // let the sockets drain
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancelSubs()
	done.Wait()
	probe.Close()
	<-probeDone

	var lats []time.Duration
	var received int
	for _, ss := range samples {
		received += len(ss)
		for _, s := range ss {
			if t, ok := committed[s.pos]; ok {
				// The SSE frame can beat the commit acknowledgement to the
				// writer by microseconds; count that as zero.
				lats = append(lats, max(s.at.Sub(t), 0))
			}
		}
	}
	want := len(committed) * b.Subscribers
	slices.Sort(lats)
	var hubLats []time.Duration
	for _, s := range hubSamples {
		if t, ok := committed[s.pos]; ok {
			hubLats = append(hubLats, max(s.at.Sub(t), 0))
		}
	}
	slices.Sort(hubLats)
	pctOf := func(l []time.Duration, p float64) string {
		if len(l) == 0 {
			return "n/a"
		}
		return fmtMs(l[min(len(l)-1, int(p*float64(len(l))))])
	}
	pct := func(p float64) string { return pctOf(lats, p) }
	st := hub.Stats()
	return []benchRow{
		{"latency: setup", fmt.Sprintf("%d SSE subscribers (format=%s) over loopback HTTP, %d writer connections, 1 event per transaction, %s, linger %s", b.Subscribers, b.Format, b.Writers, b.Duration, b.Linger), ""},
		{"latency: target rate", fmt.Sprintf("%.0f events/s", b.Rate), "2,000 events/s"},
		{"latency: sustained write rate", fmt.Sprintf("%.0f events/s (%d events)", float64(len(committed))/writeTime.Seconds(), len(committed)), "2,000 events/s"},
		{"latency: deliveries", fmt.Sprintf("%d of %d (%.2f%%), %d subscribers cut off", received, want, 100*float64(received)/float64(max(want, 1)), st.CutOff), "100%"},
		{"latency: commit → SSE receipt p50", pct(0.50), "< 10 ms"},
		{"latency: commit → SSE receipt p90", pct(0.90), ""},
		{"latency: commit → SSE receipt p99", pct(0.99), "< 50 ms"},
		{"latency: commit → SSE receipt max", pct(1), ""},
		{"latency: of which commit → hub (replication + decoding) p50 / p99", pctOf(hubLats, 0.5) + " / " + pctOf(hubLats, 0.99), ""},
	}, addr.String(), stop, nil
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// idleMemory opens idle SSE connections and reports the process's resident
// memory growth. The clients are raw sockets in this same process, so the
// figure is the server's cost plus a few hundred bytes per client socket.
func (b *liveBench) idleMemory(ctx context.Context, addr string) ([]benchRow, error) {
	before := rss()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var d net.Dialer
	for range b.Idle {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("bench live: idle subscriber: %w", err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /live/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
			return nil, err
		}
		// Wait for the subscription comment so every subscriber is in place.
		buf := make([]byte, 4096)
		var got []byte
		for !bytes.Contains(got, []byte(": subscribed")) {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Read(buf)
			if err != nil {
				return nil, fmt.Errorf("bench live: idle subscriber: %w", err)
			}
			got = append(got, buf[:n]...)
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	after := rss()
	delta := after - before
	return []benchRow{
		{"memory: idle SSE subscribers", strconv.Itoa(b.Idle), ""},
		{"memory: resident set growth", fmt.Sprintf("%.1f MB (%.1f KB per subscriber)", float64(delta)/(1<<20), float64(delta)/1024/float64(max(b.Idle, 1))), "< 100 MB per 1,000"},
	}, nil
}

// rss is the process's resident set size in bytes (Linux).
func rss() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	f, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(f)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func formatTable(rows []benchRow) string {
	var b strings.Builder
	b.WriteString("| Measure | Result | Target |\n|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Metric, r.Value, r.Target)
	}
	return b.String()
}

// liveBenchNotes explains the figures under the table.
const liveBenchNotes = `
- Latency is measured from the moment a writer's INSERT returns (the commit) to the moment a
  subscriber reads the event's frame from its socket; every subscriber of every event counts.
  "commit → hub" is the same measure for an in-process subscriber of the hub: replication,
  pgoutput decoding and the hub, without HTTP. The rest is the SSE fan-out (with a 1 ms write
  coalescing delay) and the benchmark's own 100 HTTP clients, which share the 2 cores with
  PostgreSQL and the server.
- Decoding: two slots per round are created at the same LSN before the events are written; one is
  drained by ` + "`pg_recvlogical -f /dev/null --no-loop -E <end LSN>`" + ` (pgoutput, proto_version 1,
  the same publication), the other by auditd's consumer (decoding every row into an event and
  publishing it to a hub) until it has processed the same end LSN. Rounds alternate; medians are
  compared.
- Memory: resident set growth of the process after opening the idle SSE connections (raw sockets in
  the same process, so the figure is essentially the server side: goroutine, connection buffers and
  a cursor into the shared window per subscriber).
- The machine is shared with other work: figures move with its load, so compare runs made at
  similar load averages (printed above).
`

// writeLiveSection replaces (or appends) the `## Live` section of path,
// leaving the other sections as they are.
func writeLiveSection(path, command, table string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bench live: %w", err)
	}
	var host string
	if h, err := os.Hostname(); err == nil {
		host = h
	}
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	section := fmt.Sprintf("## Live\n\nMeasured %s on %s (%d CPUs, %s/%s, load average %s at the end of the run), "+
		"PostgreSQL on the same machine (an embedded cluster with fsync off; writers commit with synchronous_commit=on), "+
		"the subscribers in the benchmark's own process.\n\n```\n%s\n```\n\n%s\n"+liveBenchNotes,
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, load, command, table)
	text := string(old)
	if text == "" {
		text = "# Benchmarks\n\n"
	}
	if i := strings.Index(text, "## Live\n"); i >= 0 {
		end := len(text)
		if j := strings.Index(text[i+len("## Live\n"):], "\n## "); j >= 0 {
			end = i + len("## Live\n") + j + 1
		}
		text = text[:i] + section + text[end:]
	} else {
		if !strings.HasSuffix(text, "\n\n") {
			text = strings.TrimRight(text, "\n") + "\n\n"
		}
		text += section
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("bench live: %w", err)
	}
	return os.WriteFile(path, []byte(text), 0o644)
}
