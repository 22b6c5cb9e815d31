package views

import "time"

// LiveVM is the /live page: a live tail with filters.
type LiveVM struct {
	Enabled    bool // false: no consumer (--no-live or wal_level not logical)
	StreamID   string
	StreamType string
	EventType  string
	Types      TypeLists  // the pick lists and the placeholders
	SSEURL     string     // /live/events with the filters
	Recent     []EventRow // newest first, from the resume window
	Stats      LiveStats
}

// LiveStats are the consumer's metrics shown in the page header.
type LiveStats struct {
	Connected       bool
	EventsPerSecond string
	EventsTotal     int64
	LastLSN         string
	FlushedLSN      string
	LagBytes        int64
	Subscribers     int
	LastError       string
	// LedgerLSN is the witness ledger's head ("" without a ledger).
	LedgerLSN string
	// Backfill is the ledger back-fill's progress, while one is shown.
	Backfill *BackfillVM
}

// BackfillVM is the ledger back-fill's progress.
type BackfillVM struct {
	Running bool
	Events  int64
	Percent string // of the positions to back-fill, rounded
	Error   string
}

// AlertVM is one tamper alert.
type AlertVM struct {
	ID          int64
	Kind        string
	CommitLSN   string
	Rows        int
	Positions   []int64
	CommittedAt time.Time
	DetectedAt  time.Time
}

// AlertsVM is the /alerts page.
type AlertsVM struct {
	Alerts []AlertVM
}

// liveStreamPlaceholder names a stream that exists: the newest event's.
func liveStreamPlaceholder(vm LiveVM) string {
	if len(vm.Recent) > 0 {
		return vm.Recent[0].StreamID
	}
	return ""
}
