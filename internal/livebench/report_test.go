package livebench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteLiveSectionKeepsOtherSections(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\n## Event store\n\nstore figures\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeLiveSection(path, "Measured once.", "auditd bench live", "| a | 1 | |\n", "- note one\n"); err != nil {
		t.Fatal(err)
	}
	// Another section written after ours, then a second run of ours.
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, []byte("\n## Projections\n\nprojection figures\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeLiveSection(path, "Measured twice.", "auditd bench live --rate 10", "| a | 2 | |\n", "- note two\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"## Event store\n\nstore figures", "## Projections\n\nprojection figures", "Measured twice.", "auditd bench live --rate 10", "| a | 2 | |\n\n- note two\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Count(got, "## Live") != 1 || strings.Contains(got, "| a | 1 | |") || strings.Contains(got, "note one") {
		t.Fatalf("the live section was not replaced:\n%s", got)
	}
}

// The header and notes describe the machine and the flags of the run, not a
// machine the text was once written on.
func TestReportDescribesMachineAndFlags(t *testing.T) {
	t.Parallel()
	m := machine{Host: "box", CPUs: 16, OSArch: "linux/arm64", Load: "0.10 0.20 0.30", At: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)}
	embedded := Config{Subscribers: 250, Linger: 5 * time.Millisecond, DecodeRounds: 3, Idle: 400, Fsync: true}
	header, notes := embedded.header(m), embedded.notes(m)
	for _, want := range []string{"2026-12-01 09:30 UTC on box (16 CPUs, linux/arm64, load average 0.10 0.20 0.30", "fsync on"} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q: %s", want, header)
		}
	}
	for _, want := range []string{"5ms write coalescing delay", "250 HTTP clients", "share the 16 CPUs with PostgreSQL and the server", "Each of the 3 rounds", "400 idle SSE connections"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "2 cores") || strings.Contains(notes, "1 ms") {
		t.Errorf("notes carry fixed figures:\n%s", notes)
	}

	remote := Config{DatabaseURL: "postgres://elsewhere/db", Subscribers: 1, Linger: 0}
	header, notes = remote.header(m), remote.notes(m)
	if !strings.Contains(header, "--database-url") || strings.Contains(header, "embedded") {
		t.Errorf("a run against --database-url is described as embedded: %s", header)
	}
	if strings.Contains(header, "postgres://") {
		t.Errorf("the header shows the database URL: %s", header)
	}
	if !strings.Contains(notes, "no write coalescing delay") || !strings.Contains(notes, "share the 16 CPUs with the server.") {
		t.Errorf("notes for a remote database, no linger:\n%s", notes)
	}
}
