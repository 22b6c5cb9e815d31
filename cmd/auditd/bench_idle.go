package main

import (
	"context"
	"flag"
	"io"

	"github.com/auditd/auditd/internal/livebench"
)

// runBenchIdle is `auditd bench idle`: flags in, livebench.Idle does the work.
func runBenchIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditd bench idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("connections", 10000, "idle SSE connections to open")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return livebench.Idle(ctx, *n, stdout, stderr)
}

// runBenchIdleClients is the client process of `auditd bench idle`.
func runBenchIdleClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditd bench idle-clients", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "server host:port")
	n := fs.Int("connections", 1, "connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return livebench.IdleClients(ctx, *addr, *n, stdout)
}
