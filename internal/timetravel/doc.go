// Package timetravel rebuilds the state of one stream at any point of its
// history from its events, and explains it: which event (and which actor)
// last set each field, and what changed between two moments.
//
// The package is pure: it folds eventstore.Event values it is given. Loading
// events and snapshots from PostgreSQL lives elsewhere; a caller that has a
// snapshot State only needs to Apply the events after it.
//
// How an event changes the state is configured per (stream type, event type)
// by reducer rules (see Config). Events of a type without rules are folded as
// an RFC 7386 merge patch of their payload into the state, which is what most
// "field changed" style events mean anyway.
package timetravel
