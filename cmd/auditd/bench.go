package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/auditd/auditd/internal/livebench"
)

// runBench dispatches `auditd bench <name>`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: auditd bench live|idle [flags]")
	}
	switch args[0] {
	case "live":
		return runBenchLive(ctx, args[1:], stdout, stderr)
	case "idle":
		return runBenchIdle(ctx, args[1:], stdout, stderr)
	case "idle-clients": // the client process of bench idle
		return runBenchIdleClients(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown benchmark %q (available: live, idle)", args[0])
}

// runBenchLive is `auditd bench live`: flags to livebench.Config, then the run.
func runBenchLive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseBenchLive(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return livebench.Run(ctx, cfg, stdout, logger)
}

// parseBenchLive reads `auditd bench live`'s flags.
func parseBenchLive(args []string, stderr io.Writer) (livebench.Config, error) {
	cfg := livebench.Config{Command: benchCommand(args)}
	fs := flag.NewFlagSet("auditd bench live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("AUDITD_DATABASE_URL"), "PostgreSQL URL (wal_level=logical); empty starts a throwaway embedded cluster")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "data directory of the embedded cluster (default: a temporary directory, removed afterwards)")
	fs.IntVar(&cfg.Subscribers, "subscribers", 100, "SSE subscribers during the latency run")
	fs.Float64Var(&cfg.Rate, "rate", 2000, "target events per second written during the latency run")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the latency run")
	fs.IntVar(&cfg.Writers, "writers", 8, "concurrent writer connections (one event per transaction)")
	fs.IntVar(&cfg.Idle, "idle", 1000, "idle SSE subscribers for the memory measurement")
	fs.IntVar(&cfg.DecodeEvents, "decode-events", 200000, "events pre-written for the decoding throughput comparison")
	fs.IntVar(&cfg.DecodeRounds, "decode-rounds", 5, "alternating runs of pg_recvlogical and auditd's consumer (medians are compared)")
	fs.StringVar(&cfg.Out, "out", "docs/benchmarks.md", "file whose `## Live` section receives the results (empty: do not write)")
	fs.StringVar(&cfg.Publication, "publication", "auditd_events", "publication name")
	fs.DurationVar(&cfg.Linger, "linger", time.Millisecond, "SSE write coalescing delay (the server default is 1ms)")
	fs.StringVar(&cfg.Format, "format", "html", "feed format the subscribers request: html (as browsers) or json")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the latency run to this file")
	fs.BoolVar(&cfg.Fsync, "fsync", false, "run the embedded cluster with fsync on (the writers then measure the disk, not auditd)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// benchCommand is the command line quoted in the report, the database URL
// (which may carry a password) left out.
func benchCommand(args []string) string {
	shown := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--database-url" || a == "-database-url":
			shown = append(shown, a, "…")
			i++
		case strings.HasPrefix(a, "--database-url=") || strings.HasPrefix(a, "-database-url="):
			name, _, _ := strings.Cut(a, "=")
			shown = append(shown, name+"=…")
		default:
			shown = append(shown, a)
		}
	}
	return strings.TrimSpace("auditd bench live " + strings.Join(shown, " "))
}
