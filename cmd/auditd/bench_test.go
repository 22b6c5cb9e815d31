package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseBenchLiveFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseBenchLive([]string{"--subscribers", "7", "--rate", "50", "--duration", "3s", "--linger", "0s", "--format", "json", "--out", ""}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Subscribers != 7 || cfg.Rate != 50 || cfg.Duration != 3*time.Second || cfg.Linger != 0 || cfg.Format != "json" || cfg.Out != "" {
		t.Fatalf("flags not applied: %+v", cfg)
	}
	if cfg.Writers != 8 || cfg.Idle != 1000 || cfg.Publication != "auditd_events" {
		t.Fatalf("defaults lost: %+v", cfg)
	}
	if want := "auditd bench live --subscribers 7 --rate 50 --duration 3s --linger 0s --format json --out"; cfg.Command != want {
		t.Fatalf("command %q, want %q", cfg.Command, want)
	}
	for _, args := range [][]string{{"--database-url", "postgres://u:secret@h/db"}, {"--database-url=postgres://u:secret@h/db"}} {
		cfg, err := parseBenchLive(args, io.Discard)
		if err != nil || cfg.DatabaseURL != "postgres://u:secret@h/db" {
			t.Fatalf("%v: %q %v", args, cfg.DatabaseURL, err)
		}
		if strings.Contains(cfg.Command, "secret") {
			t.Errorf("the reported command shows the database URL: %q", cfg.Command)
		}
	}
	if _, err := parseBenchLive([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
}

// Settings that cannot measure anything are refused before any database is
// opened or started.
func TestBenchLiveRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--subscribers", "0"},
		{"--rate", "-1"},
		{"--duration", "0s"},
		{"--format", "xml"},
	} {
		err := run(context.Background(), append([]string{"bench", "live", "--out", ""}, args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "bench live:") {
			t.Errorf("bench live %v: %v, want a bench live error", args, err)
		}
	}
	if err := run(context.Background(), []string{"bench", "dead"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown benchmark "dead"`) {
		t.Errorf("bench dead: %v", err)
	}
}
