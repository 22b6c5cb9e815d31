package views

import "time"

// OverviewVM is the overview page.
type OverviewVM struct {
	HeadPosition int64
	HeadAt       time.Time
	Events       int64
	Streams      int64
	EventTypes   int
	StreamTypes  []TypeTotal
	Counts       []TypeCount
	Newest       []EventRow
	// LiveURL is the feed whose events refresh the page ("" without
	// live: it refreshes every few seconds).
	LiveURL string
}

// TypeTotal is one stream type's totals.
type TypeTotal struct {
	StreamType string
	Streams    int64
	Events     int64
}

// TypeCount is one (stream type, event type) count.
type TypeCount struct {
	StreamType string
	EventType  string
	Events     int64
}
