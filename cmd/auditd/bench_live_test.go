package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteLiveSectionKeepsOtherSections(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\n## Event store\n\nstore figures\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeLiveSection(path, "auditd bench live", "| a | 1 | |\n"); err != nil {
		t.Fatal(err)
	}
	// Another section written after ours, then a second run of ours.
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(b, []byte("\n## Projections\n\nprojection figures\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeLiveSection(path, "auditd bench live --rate 10", "| a | 2 | |\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"## Event store\n\nstore figures", "## Projections\n\nprojection figures", "auditd bench live --rate 10", "| a | 2 | |"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Count(got, "## Live") != 1 || strings.Contains(got, "| a | 1 | |") {
		t.Fatalf("the live section was not replaced:\n%s", got)
	}
}
