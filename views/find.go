package views

// FindVM is the header search's page: what q named, when it named several
// things or none.
type FindVM struct {
	Q       string
	Matches []FindMatch // streams first
	MoreURL string      // the stream search for the streams not listed
}

// FindMatch is one thing the search named.
type FindMatch struct {
	Kind, Label, URL string
	Exact            bool
}

// TypeLists are the stream and event types that exist (from the counts),
// for the filters' pick lists and placeholders, most frequent first.
type TypeLists struct {
	StreamTypes, EventTypes []string
}

// firstOr is the list's first entry, or def when it is empty.
func firstOr(list []string, def string) string {
	if len(list) == 0 {
		return def
	}
	return list[0]
}
