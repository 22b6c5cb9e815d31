// PII masking applied to page results: every page masks what it computed,
// once, before toJSON or toView maps it, so HTML, JSON, CSV and SSE carry
// the same masked data. Folds always run on the stored values; only what
// is shown is masked.

package web

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pii"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/views"
)

// maskEvent masks e's payload and metadata in place (e is the handler's
// own copy, read for this request) and returns what it masked.
func (s *Server) maskEvent(e *eventstore.Event) pii.Masked {
	if s.deps.PII.Empty() || e == nil {
		return pii.Masked{}
	}
	var m pii.Masked
	e.Payload, e.Metadata, m = s.deps.PII.MaskEvent(e.StreamType, e.EventType, e.Payload, e.Metadata)
	return m
}

// maskEvents masks every event of a page in place.
func (s *Server) maskEvents(evs []eventstore.Event) {
	for i := range evs {
		s.maskEvent(&evs[i])
	}
}

// maskedEvent is a masked copy of e, for events shared with other
// requests (the live hub's).
func (s *Server) maskedEvent(e *eventstore.Event) *eventstore.Event {
	if s.deps.PII.Empty() || e == nil {
		return e
	}
	cp := *e
	s.maskEvent(&cp)
	return &cp
}

// maskSteps masks a page of folded events: each event, what it changed in
// the state and its upcast payload. The steps were folded from the stored
// values before.
func (s *Server) maskSteps(steps []eventStep) {
	if s.deps.PII.Empty() {
		return
	}
	for i := range steps {
		s.maskEvent(steps[i].event)
		s.maskStep(&steps[i])
	}
}

// maskStep masks what a step changed in the state and its upcast payload
// (its event is masked by the caller).
func (s *Server) maskStep(st *eventStep) {
	st.changes = s.maskChanges(st.event.StreamType, st.changes)
	if s.deps.PII.Masks(st.event.StreamType) {
		for i, fe := range st.foldErrors {
			st.foldErrors[i] = maskQuoted(fe)
		}
	}
	if st.upcastPayload != nil {
		st.upcastPayload, _, _ = s.deps.PII.MaskEvent(st.event.StreamType, st.event.EventType, st.upcastPayload, nil)
	}
}

// maskChanges is changes of a state of streamType with masked values
// masked (a copy; changes may be the service's).
func (s *Server) maskChanges(streamType string, changes []timetravel.Change) []timetravel.Change {
	if s.deps.PII.Empty() || len(changes) == 0 {
		return changes
	}
	actor := s.actorMasked(streamType)
	out := make([]timetravel.Change, len(changes))
	for i, ch := range changes {
		ch.Old, ch.New, _ = s.deps.PII.MaskChange(streamType, ch.Path, ch.Old, ch.New)
		if actor && ch.Actor != "" {
			ch.Actor = pii.Mask
		}
		out[i] = ch
	}
	return out
}

// actorMasked reports whether the metadata key auditd reads the actor from
// is masked for streamType: blame and changes carry the actor too.
func (s *Server) actorMasked(streamType string) bool {
	return s.metadataMasked(streamType, eventstore.MetaActor)
}

// metadataMasked reports whether the metadata key auditd reads as logical
// (eventstore.MetaActor, …) is masked for streamType ("": any type).
func (s *Server) metadataMasked(streamType, logical string) bool {
	if s.deps.PII.Empty() || s.deps.Store == nil {
		return false
	}
	return s.deps.PII.MetadataMasked(streamType, timetravel.Pointer{s.deps.Store.MetadataKey(logical)})
}

// maskState is a copy of st with its masked fields masked, and the
// concrete pointers masked. Blame under a masked value is kept on the
// masked pointer itself (the latest event that set any of it), so that
// the field names inside a masked object are not listed either; a fold
// error on a masked field keeps where it happened, not its message.
func (s *Server) maskState(st *timetravel.State) (*timetravel.State, []string) {
	if s.deps.PII.Empty() || st == nil {
		return st, nil
	}
	list := s.deps.PII.StatePointers(st.StreamType)
	actor := s.actorMasked(st.StreamType)
	if !s.deps.PII.Masks(st.StreamType) {
		return st, nil
	}
	cp := *st
	var found []string
	cp.Data, found = s.deps.PII.MaskState(st.StreamType, st.Data)
	cp.Blame = make(map[string]timetravel.Blame, len(st.Blame))
	for path, b := range st.Blame {
		if actor {
			b.Actor = pii.Mask
		}
		if m := maskedAncestor(found, path); m != "" {
			if prev, ok := cp.Blame[m]; ok && prev.Version > b.Version {
				continue
			}
			path = m
		}
		cp.Blame[path] = b
	}
	cp.Touched = nil // not shown; it lists paths under masked values
	cp.Errors = make([]timetravel.FoldError, len(st.Errors))
	for i, fe := range st.Errors {
		if p, err := timetravel.ParsePointer(fe.Path); fe.Path != "" && (err != nil || pii.IsMasked(list, p)) {
			fe.Message = "a rule failed on a masked field"
		}
		fe.Message = maskQuoted(fe.Message)
		cp.Errors[i] = fe
	}
	if len(st.Errors) == 0 {
		cp.Errors = st.Errors
	}
	return &cp, found
}

// maskedAncestor is the pointer of found that path is at or under, or "".
func maskedAncestor(found []string, path string) string {
	for _, f := range found {
		if path == f || strings.HasPrefix(path, f+"/") {
			return f
		}
	}
	return ""
}

// refuseMaskedFilters answers 400 to a search on a metadata value that is
// masked for the stream type searched (or for any, without one): the
// matches would tell whether a stream holds that value.
func (s *Server) refuseMaskedFilters(streamType string, f eventFilters) error {
	for _, p := range []struct{ param, value, key string }{
		{"actor", f.Actor, eventstore.MetaActor},
		{"correlation_id", f.CorrelationID, eventstore.MetaCorrelationID},
	} {
		if p.value != "" && s.metadataMasked(streamType, p.key) {
			return echo.NewHTTPError(http.StatusBadRequest, "invalid "+p.param+": this field is masked (personal data), so it cannot be searched by value")
		}
	}
	return nil
}

// canReveal reports whether the request's user may reveal masked values.
func canReveal(c echo.Context) bool {
	id := identityOf(c)
	return id.SignedIn() && id.User.Role.Reaches(access.Compliance)
}

// placeholders builds one request's placeholders of masked values: with a
// reveal form when its user may reveal (compliance, admin).
type placeholders struct {
	revealURL, csrf string
}

// placeholdersFor is the placeholders of the stream streamID for c's user.
func placeholdersFor(c echo.Context, streamID string) placeholders {
	var p placeholders
	if canReveal(c) {
		p.revealURL = streamPath(streamID, "/reveal")
		p.csrf, _ = c.Get(csrfContextKey).(string)
	}
	return p
}

// mask is the placeholder of the value at pointer in scope.
func (p placeholders) mask(scope views.MaskScope, pointer string) views.MaskVM {
	return views.MaskVM{Pointer: pointer, Scope: scope, RevealURL: p.revealURL, CSRFToken: p.csrf}
}

// masks are the placeholders of the pointers found masked in scope.
func (p placeholders) masks(scope views.MaskScope, found []string) []views.MaskVM {
	out := make([]views.MaskVM, len(found))
	for i, f := range found {
		out[i] = p.mask(scope, f)
	}
	return out
}

// stateScope is the reveal scope of a state at version v.
func stateScope(v int) views.MaskScope {
	return views.MaskScope{Part: "state", Version: strconv.Itoa(v)}
}

// eventScope is the reveal scope of an event's part (payload or metadata);
// ref is the event's key (Event.Ref: its position, or its event id).
func eventScope(ref, part string) views.MaskScope {
	return views.MaskScope{Part: part, Event: ref}
}

// rows gives the state rows of masked values their placeholders.
func (p placeholders) rows(rows []views.StateRow, found []string, scope views.MaskScope) {
	if len(found) == 0 {
		return
	}
	masked := make(map[string]bool, len(found))
	for _, f := range found {
		masked[f] = true
	}
	for i := range rows {
		if masked[rows[i].Path] {
			m := p.mask(scope, rows[i].Path)
			rows[i].Mask = &m
		}
	}
}

// maskDetail masks the event page's result: the event folded (noting what
// was masked, for the placeholders) and the events of its chains.
func (s *Server) maskDetail(r *eventDetailResult) {
	if s.deps.PII.Empty() {
		return
	}
	r.masked = s.maskEvent(r.step.event)
	s.maskStep(&r.step)
	for i := range r.causes {
		s.maskEvent(&r.causes[i].Event)
	}
	for i := range r.effects {
		s.maskEvent(&r.effects[i].Event)
	}
	s.maskEvents(r.correlated)
}

// maskDrift is drift results of streamType with the values of masked
// fields masked on both sides: the read model holds the same personal
// data as the state it is compared with. The fields stay listed (that
// they differ is what the page is for). A copy: jobs keep their results.
func (s *Server) maskDrift(streamType string, drifted []projections.StreamDrift) []projections.StreamDrift {
	list := s.deps.PII.StatePointers(streamType)
	if len(list) == 0 {
		return drifted
	}
	out := make([]projections.StreamDrift, len(drifted))
	for i, d := range drifted {
		d.Fields = append([]projections.FieldDiff(nil), d.Fields...)
		for j, f := range d.Fields {
			if p, err := timetravel.ParsePointer(f.Pointer); err != nil || pii.IsMasked(list, p) {
				d.Fields[j].Expected, d.Fields[j].Actual = pii.Mask, pii.Mask
			}
		}
		out[i] = d
	}
	return out
}

// isMask reports whether v is a masked value (a leaf masked whole).
func isMask(v any) bool {
	s, ok := v.(string)
	return ok && s == pii.Mask
}

// quoted is a quoted value in a fold error's message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// maskQuoted masks the quoted values in a fold error's message (`string
// "Zelda" is not a decimal number`) of a stream type with personal data:
// the value may come from a masked payload field, and the message's
// shape is what helps.
func maskQuoted(msg string) string {
	return quoted.ReplaceAllLiteralString(msg, `"`+pii.Mask+`"`)
}
