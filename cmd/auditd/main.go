// Command auditd is a web dashboard for auditing and time travel over a
// PostgreSQL event store.
//
//	auditd [serve]   run the dashboard (default)
//	auditd demo      embedded PostgreSQL + demo world + live traffic + dashboard
//	auditd detect    propose a source mapping for an existing event table
//	auditd migrate   apply pending migrations
//	auditd seed      load the demo world
//	auditd users     add, list, disable users, change passwords
//	auditd tokens    create and revoke API tokens
//	auditd bench     run a benchmark (auditd bench live)
//	auditd keys      print the public key of checkpoints and evidence
//	auditd checkpoint  sign the witness ledger's head now
//	auditd verify-evidence FILE  check an evidence bundle offline
//	auditd version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditd:", err)
		os.Exit(1)
	}
}

const usage = `usage: auditd <command> [flags]

commands:
  serve     run the dashboard (default)
  demo      embedded PostgreSQL, demo data, live traffic and the dashboard
  detect    propose a source mapping for a database's event table (--database-url)
  migrate   apply pending migrations
  seed      load the demo world (--events N)
  users     manage who may sign in: users add NAME --role ROLE, list, disable, passwd
  tokens    API tokens: tokens create --user NAME [--expires 720h], tokens revoke ID
  bench     benchmarks: auditd bench live
  keys      print the public key (PEM) that verifies checkpoints and evidence
  checkpoint  sign the witness ledger's head now
  verify-evidence FILE [--public-key F]  check an evidence bundle offline
  version   print the version

Every flag has an AUDITD_* environment equivalent: --database-url is
AUDITD_DATABASE_URL. Run 'auditd <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdout, stderr)
	case "demo":
		return runDemo(ctx, args, stdout, stderr)
	case "detect":
		return runDetect(ctx, args, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, stdout, stderr)
	case "seed":
		return runSeed(ctx, args, stdout, stderr)
	case "users":
		return runUsers(ctx, args, stdout, stderr)
	case "tokens":
		return runTokens(ctx, args, stdout, stderr)
	case "bench":
		return runBench(ctx, args, stdout, stderr)
	case "keys":
		return runKeys(ctx, args, stdout, stderr)
	case "checkpoint":
		return runCheckpoint(ctx, args, stdout, stderr)
	case "verify-evidence":
		return runVerifyEvidence(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "auditd", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
