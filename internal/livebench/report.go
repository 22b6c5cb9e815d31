package livebench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// machine is what the report says about where it ran.
type machine struct {
	Host   string
	CPUs   int
	OSArch string // runtime.GOOS/runtime.GOARCH
	Load   string // the 1, 5 and 15 minute load averages
	At     time.Time
}

// thisMachine describes the machine now.
func thisMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, Load: "unknown", At: time.Now().UTC()}
	if h, err := os.Hostname(); err == nil {
		m.Host = h
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	return m
}

func formatTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| Measure | Result | Target |\n|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Metric, r.Value, r.Target)
	}
	return b.String()
}

// header is the sentence above the table: when, where and against which
// PostgreSQL the figures were taken.
func (c Config) header(m machine) string {
	pg := "PostgreSQL given by --database-url"
	if c.DatabaseURL == "" {
		fsync := "off"
		if c.Fsync {
			fsync = "on"
		}
		pg = "PostgreSQL on the same machine (an embedded cluster with fsync " + fsync + ")"
	}
	return fmt.Sprintf("Measured %s on %s (%d CPUs, %s, load average %s at the end of the run), "+
		"%s; writers commit with synchronous_commit=on; the subscribers run in the benchmark's own process.",
		m.At.Format("2006-01-02 15:04 UTC"), m.Host, m.CPUs, m.OSArch, m.Load, pg)
}

// notes explains the figures under the table, for the run's settings on m.
func (c Config) notes(m machine) string {
	linger := fmt.Sprintf("with a %s write coalescing delay", c.Linger)
	if c.Linger <= 0 {
		linger = "with no write coalescing delay"
	}
	sharers := "the server"
	if c.DatabaseURL == "" {
		sharers = "PostgreSQL and the server"
	}
	return fmt.Sprintf(`- Latency is measured from the moment a writer's INSERT returns (the commit) to the moment a
  subscriber reads the event's frame from its socket; every subscriber of every event counts.
  "commit → hub" is the same measure for an in-process subscriber of the hub: replication,
  pgoutput decoding and the hub, without HTTP. The rest is the SSE fan-out (%s)
  and the benchmark's own %d HTTP clients, which share the %d CPUs with %s.
- Decoding: two slots per round are created at the same LSN before the events are written; one is
  drained by `+"`pg_recvlogical -f /dev/null --no-loop -E <end LSN>`"+` (pgoutput, proto_version 1,
  the same publication), the other by auditd's consumer (decoding every row into an event and
  publishing it to a hub) until it has processed the same end LSN. A third slot per round is
  drained by the consumer writing the witness ledger too (into a fresh database of the same
  cluster, so each round starts from an empty ledger), until the ledger holds every transaction.
  Each of the %d rounds runs the three, one after the other; medians are compared.
- The latency run is repeated with the consumer writing the witness ledger (as serve runs it),
  on streams of its own; "with the ledger / without" compares the two runs' p50 and p99.
- Memory: resident set growth of the process after opening %d idle SSE connections (raw sockets in
  the same process, so the figure is essentially the server side: goroutine, connection buffers and
  a cursor into the shared window per subscriber).
- Figures move with the machine's load: compare runs made at similar load averages (given above).
`, linger, c.Subscribers, m.CPUs, sharers, max(c.DecodeRounds, 1), c.Idle)
}

// writeLiveSection replaces (or appends) the `## Live` section of path with
// the header, the command, the table and the notes, leaving the other
// sections as they are.
func writeLiveSection(path, header, command, table, notes string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bench live: %w", err)
	}
	section := fmt.Sprintf("## Live\n\n%s\n\n```\n%s\n```\n\n%s\n%s", header, command, table, notes)
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
