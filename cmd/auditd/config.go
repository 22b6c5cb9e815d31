package main

import (
	"flag"
	"fmt"
	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/timetravel"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// config is every setting of every subcommand. Each flag has an AUDITD_*
// environment equivalent (--database-url ↔ AUDITD_DATABASE_URL); a flag given
// on the command line wins over the environment.
type config struct {
	DatabaseURL string
	// StateDatabaseURL holds auditd's own schema when it is not the event
	// table's database (--state-database-url).
	StateDatabaseURL string
	DataDir          string
	Listen           string
	// ConfigFile is the one configuration file (--config; --reducers is
	// its older name): reducers, upcasters, drift mappings, and the
	// source mapping of an application's own event table.
	ConfigFile string
	// reducersFlag is --reducers, kept as an alias of --config.
	reducersFlag string
	// SnapshotEvery is how often (in versions) time travel snapshots a
	// folded state; negative turns snapshots off.
	SnapshotEvery int
	LogLevel      string
	LogFormat     string

	// reducersData is the configuration's content when it does not come
	// from --config (the demo's built-in file); see configFile.
	reducersData   []byte
	reducersSource string

	// seed and demo
	Events     int
	Seed       uint64
	Rate       float64
	DemoFaults bool
	// Shape is demo --shape: the table shape the demo world is written
	// in and read through a source mapping ("": auditd's own).
	Shape string

	// live
	Publication string
	Slot        string
	NoLive      bool
	// Byte bounds of the live hub (see live.HubConfig).
	LiveWindowBytes int64
	LiveBufferBytes int64
	LiveLargeEvent  int
	// The witness ledger: how often the whole store is verified (0: only
	// on demand, from /verify).
	LedgerVerifyEvery time.Duration
	// LedgerRetention prunes ledger entries committed longer ago (0: keep
	// everything).
	LedgerRetention time.Duration
	// BackdatedAfter flags an event recorded this long before its commit.
	BackdatedAfter time.Duration
	// MemoryLimit is the Go runtime's soft memory limit in bytes; 0 leaves
	// the runtime's own (GOMEMLIMIT, or none).
	MemoryLimit int64

	// projections
	StallAfter       time.Duration
	LagEventsWarn    int64
	LagSecondsWarn   float64
	RetainedWALWarn  int64
	HistoryRetention time.Duration
	HistoryInterval  time.Duration

	// sign-in
	Auth           string // "on" or "off"
	PublicURL      string
	TrustedProxies string // comma-separated CIDRs
	OIDC           access.OIDCConfig
	// RequireCase: recorded views need a case reference (see requireCase).
	RequireCase bool

	// evidence: the Ed25519 key signing checkpoints and bundles (empty:
	// the data directory's, generated on first use), how often serve signs
	// a checkpoint, and the key verify-evidence checks with.
	SigningKey         string
	CheckpointInterval time.Duration
	PublicKey          string

	// users and tokens
	Role         string
	PasswordFile string
	TokenUser    string
	TokenExpires time.Duration
	// positional are the arguments after the command that are not flags
	// (a user's name, a token's id).
	positional []string
}

// envName maps a flag name to its environment variable.
func envName(flagName string) string {
	return "AUDITD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet declares the flags a subcommand understands.
func newFlagSet(cmd string, cfg *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("auditd "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL 15+ URL with wal_level=logical; empty starts an embedded cluster in --data-dir")
	fs.StringVar(&cfg.StateDatabaseURL, "state-database-url", "", "PostgreSQL URL for auditd's own schema (users, sessions, ledger, snapshots, alerts, lag samples) when it is not --database-url, so that auditd needs only SELECT and REPLICATION on the application's database (with a source mapping)")
	fs.StringVar(&cfg.DataDir, "data-dir", "./.auditd", "where the embedded PostgreSQL cluster lives")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "text or json")
	switch cmd {
	case "serve", "demo":
		fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HTTP listen address")
		fs.StringVar(&cfg.Auth, "auth", "on", "sign-in: on, or off (accepted only on a loopback --listen; every page then shows a red banner)")
		fs.StringVar(&cfg.PublicURL, "public-url", "", "the address users open, e.g. https://auditd.example.org: its host is the only one accepted besides loopback names, and https makes the session cookie Secure (required on a non-loopback --listen)")
		fs.StringVar(&cfg.OIDC.Issuer, "oidc-issuer", "", "single sign-on: the OpenID Provider's issuer URL (empty: no single sign-on); needs --public-url, whose /login/oidc/callback is the redirect URI to register")
		fs.StringVar(&cfg.OIDC.ClientID, "oidc-client-id", "", "single sign-on: auditd's client id at the provider")
		fs.StringVar(&cfg.OIDC.ClientSecret, "oidc-client-secret", "", "single sign-on: auditd's client secret (prefer AUDITD_OIDC_CLIENT_SECRET: flags show in process lists)")
		fs.StringVar(&cfg.OIDC.RoleClaim, "oidc-role-claim", "auditd_role", "single sign-on: the claim holding the user's role (a role name, or a list whose highest role counts)")
		fs.BoolVar(&cfg.RequireCase, "require-case", false, "the access log: every recorded view needs a case reference set for the session (the header's Case box; API clients send X-Case-Ref); also \"access_log\": {\"require_case\": true} in --config")
		fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For gives the client address (empty: the peer's address)")
		fs.StringVar(&cfg.ConfigFile, "config", "", "the JSON configuration file: reducers/upcasters for time travel, drift mappings, and the source mapping of an existing event table (empty: auditd's own events table, merge-patch folding; the demo uses its own)")
		fs.StringVar(&cfg.reducersFlag, "reducers", "", "older name of --config")
		fs.IntVar(&cfg.SnapshotEvery, "snapshot-every", timetravel.DefaultSnapshotEvery, "time travel: snapshot a stream's state every N versions (lower: faster state reads, more rows in auditd.snapshots; -1: no snapshots)")
		fs.StringVar(&cfg.Publication, "publication", "auditd_events", "logical replication publication name")
		fs.StringVar(&cfg.Slot, "slot", "auditd", "logical replication slot name")
		fs.BoolVar(&cfg.NoLive, "no-live", false, "do not consume logical replication (no live updates)")
		fs.Int64Var(&cfg.LiveWindowBytes, "live-window-bytes", live.DefaultWindowBytes, "live: bytes of recent events kept for resuming clients")
		fs.Int64Var(&cfg.LiveBufferBytes, "live-buffer-bytes", live.DefaultBufferBytes, "live: bytes of unread events a subscriber may have before it is told to resync")
		fs.IntVar(&cfg.LiveLargeEvent, "live-large-event-bytes", live.DefaultLargeEvent, "live: events whose payload and metadata exceed this are sent as a link to the event page")
		fs.DurationVar(&cfg.LedgerVerifyEvery, "ledger-verify-every", ledger.DefaultAuditEvery, "witness ledger: verify the whole store against the ledger this often (the first run one interval after start; 0: only when started on /verify)")
		fs.DurationVar(&cfg.LedgerRetention, "ledger-retention", 0, "witness ledger: prune entries committed longer ago than this, at the start of each whole-store verification (e.g. 8760h; 0: keep everything). An anchor keeps the rest verifiable; cursors older than it get resync")
		fs.DurationVar(&cfg.BackdatedAfter, "backdated-after", ledger.DefaultBackdatedAfter, "witness ledger: flag an event whose recorded_at lies more than this before the commit the ledger saw (a writer setting its own timestamp)")
		fs.Int64Var(&cfg.MemoryLimit, "memory-limit", 1<<30, "soft memory limit of the Go runtime in bytes (the garbage collector works harder near it); 0: GOMEMLIMIT or none")
		fs.DurationVar(&cfg.StallAfter, "stall-after", 30*time.Second, "a projection behind the head with no progress for this long is stalled")
		fs.Int64Var(&cfg.LagEventsWarn, "lag-events-warn", 10000, "alert when a projection is this many positions behind")
		fs.Float64Var(&cfg.LagSecondsWarn, "lag-seconds-warn", 300, "alert when a projection is this many seconds behind")
		fs.Int64Var(&cfg.RetainedWALWarn, "retained-wal-warn", 1<<30, "alert when a replication slot retains this many bytes of WAL")
		fs.DurationVar(&cfg.HistoryRetention, "lag-history-retention", 24*time.Hour, "how long projection lag samples are kept")
		fs.DurationVar(&cfg.HistoryInterval, "lag-sample-interval", 5*time.Second, "how often projection lag is sampled")
	}
	switch cmd {
	case "serve", "demo", "keys", "checkpoint", "verify-evidence":
		fs.StringVar(&cfg.SigningKey, "signing-key", "", "the Ed25519 private key (PEM, PKCS #8) signing ledger checkpoints and evidence bundles; replicas of one store share it (empty: "+evidenceKeyFile+" in --data-dir, generated on first start)")
	}
	switch cmd {
	case "serve", "demo":
		fs.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", 24*time.Hour, "how often the witness ledger's head is signed (negative: only on demand)")
	case "verify-evidence":
		fs.StringVar(&cfg.ConfigFile, "config", "", "the configuration file serve folds states with (its reducers): the states are folded again with them (empty: merge patches, auditd's default)")
		fs.StringVar(&cfg.PublicKey, "public-key", "", "the public key (PEM, as auditd keys prints it) to check the bundle with (empty: the --signing-key, or the data directory's key)")
	}
	switch cmd {
	case "seed", "demo":
		def := 50000
		fs.IntVar(&cfg.Events, "events", def, "number of demo events to load")
		fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the demo world (same seed, same world)")
	}
	switch cmd {
	case "users add":
		fs.StringVar(&cfg.Role, "role", "", "the user's role: support, engineer, compliance or admin")
		fallthrough
	case "users passwd":
		fs.StringVar(&cfg.PasswordFile, "password-file", "", "read the password from this file's first line (empty: prompt without echo, or read stdin's first line when it is not a terminal)")
	case "tokens create":
		fs.StringVar(&cfg.TokenUser, "user", "", "the user the token acts as")
		fs.DurationVar(&cfg.TokenExpires, "expires", 720*time.Hour, "how long the token is valid (hours, e.g. 720h; there is no day unit)")
	}
	if cmd == "demo" {
		fs.Float64Var(&cfg.Rate, "rate", 3, "new demo events per second while the demo runs")
		fs.BoolVar(&cfg.DemoFaults, "demo-faults", false, "make one demo projection slow, one fail on a poison event and one drift")
		fs.StringVar(&cfg.Shape, "shape", "", "write the demo world into a team's table shape and read it through a source mapping: seed-000, seed-002 or seed-004 (empty: auditd's own events table)")
	}
	return fs
}

// parse reads flags, then fills every flag not given on the command line from
// its AUDITD_* variable. No positional argument is accepted.
func parse(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err == nil && len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	return err
}

// parseArgs is parse for commands that take arguments besides flags, and
// returns them. Flags may come before or after them (`users add NAME
// --role X`): the flag package stops at the first argument, so parsing
// resumes after each one.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return pos, fillFromEnv(fs)
}

// fillFromEnv sets every flag not given on the command line from its
// AUDITD_* variable.
func fillFromEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
			}
		}
	})
	if err != nil {
		return err
	}
	return mergeConfigAlias(fs)
}

// mergeConfigAlias folds --reducers (AUDITD_REDUCERS) into --config: they
// name the same file, so two different files are an error, not a choice.
func mergeConfigAlias(fs *flag.FlagSet) error {
	cf, rf := fs.Lookup("config"), fs.Lookup("reducers")
	if cf == nil || rf == nil {
		return nil
	}
	c, r := cf.Value.String(), rf.Value.String()
	switch {
	case r == "" || r == c:
	case c == "":
		return cf.Value.Set(r)
	default:
		return fmt.Errorf("--config %q and --reducers %q name two files: --reducers is the older name of --config, give one", c, r)
	}
	return nil
}

// newLogger builds the process logger. Connection strings are never logged
// (they may carry passwords).
func newLogger(cfg *config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q: want text or json", cfg.LogFormat)
}

// configFile returns the configuration file's bytes and where they came
// from (for error messages); nil data means none was given. Time travel,
// drift checks and the source mapping all read it.
func configFile(cfg *config) (data []byte, source string, err error) {
	if cfg.ConfigFile != "" {
		data, err := os.ReadFile(cfg.ConfigFile)
		if err != nil {
			return nil, cfg.ConfigFile, fmt.Errorf("unable to read --config file: %w", err)
		}
		return data, cfg.ConfigFile, nil
	}
	return cfg.reducersData, cfg.reducersSource, nil
}

// loadMapping reads the configuration's source mapping (nil without one:
// auditd's own events table). Errors name the file and the key.
func loadMapping(cfg *config) (*eventstore.Mapping, error) {
	data, source, err := configFile(cfg)
	if err != nil || data == nil {
		return nil, err
	}
	m, err := eventstore.ParseMapping(data)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration in %s: %w", source, err)
	}
	return m, nil
}
