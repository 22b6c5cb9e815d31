// Package timetravel rebuilds the state of one stream at any point of its
// history from its events, and explains it: which event (and which actor)
// last set each field, and what changed between two moments.
//
// Folding itself (Folder, Apply, Diff) is pure: it works on the
// eventstore.Event values it is given. Service adds the loading: it reads a
// stream's events through eventstore, and keeps snapshots of folded states
// in auditd.snapshots (the package's own SQL, in snapshot_store.go), keyed by
// the reducer configuration's fingerprint, so any state is the newest
// snapshot plus a short tail of events.
//
// How an event changes the state is configured per (stream type, event type)
// by reducer rules (see Config). Events of a type without rules are folded as
// an RFC 7386 merge patch of their payload into the state, which is what most
// "field changed" style events mean anyway.
package timetravel
