package views

// MaskText is what a masked value reads (pii.Mask, which a web test
// holds it to; views import nothing
// below web).
const MaskText = "•••• masked"

// MaskScope is where a masked value is: a state at a version (Part
// "state"), or an event's payload or metadata (Part "payload" or
// "metadata", of Event: its key in /events/{key}).
type MaskScope struct {
	Part    string
	Version string
	Event   string
}

// MaskVM is a masked value's placeholder. RevealURL is set for those who
// may reveal it (compliance, admin): the placeholder then carries a small
// form asking for the reason.
type MaskVM struct {
	Pointer   string
	Scope     MaskScope
	RevealURL string
	CSRFToken string
}

// RevealedVM is one revealed value, replacing its placeholder.
type RevealedVM struct {
	Pointer string
	Value   string // compact JSON
	// Back is the page the reveal came from (its stream's timeline), for
	// the page a form posted without htmx gets.
	Back string
}
