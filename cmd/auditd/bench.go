package main

import (
	"context"
	"fmt"
	"io"
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
