package views

// VerifyVM is a stream's verification against the witness ledger.
type VerifyVM struct {
	StreamID, StreamType string
	StreamURL, JSONURL   string
	EvidenceURL          string // the signed bundle of the whole stream
	Intact               bool
	Status               string
	Checked, Pending     int
	Pruned               int // in ranges removed by retention
	FirstBrokenVersion   int
	Problems             []VerifyProblem
}

// VerifyProblem is one event that does not match the ledger.
type VerifyProblem struct {
	Version  int
	Kind     string // changed, missing or unwitnessed
	EventURL string
}
