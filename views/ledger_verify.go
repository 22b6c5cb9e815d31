package views

import "time"

// LedgerVerifyVM is the whole-store verification page: the running or
// last run, and the form that starts one.
type LedgerVerifyVM struct {
	CSRFToken string
	CanStart  bool // no run is on
	Running   bool
	Never     bool // no run since auditd started
	Trigger   string
	Started   time.Time
	Finished  time.Time
	Percent   int
	Total     int64
	Entries   int64
	Events    int64
	Status    string // intact, broken, or "" (not finished)
	Problems  []LedgerProblem
	// ProblemCount counts every problem; Problems lists the first ones.
	ProblemCount int
	Pending      int
	PrunedRows   int
	Pruned       []LedgerPruned
	Error        string
	Every        string // the interval, e.g. "24h0m0s"; empty: on demand only
}

// LedgerProblem is one problem of a whole-store verification.
type LedgerProblem struct {
	Kind      string
	StreamID  string
	Version   int
	CommitLSN string
	EventURL  string // empty for a chain problem
	StreamURL string
}

// LedgerPruned is a pruned range of the ledger.
type LedgerPruned struct {
	FromLSN, UptoLSN string
	Entries, Events  int64
	PrunedAt         time.Time
}
