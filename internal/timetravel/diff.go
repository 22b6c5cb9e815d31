package timetravel

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Change operations.
const (
	ChangeAdd     = "add"
	ChangeRemove  = "remove"
	ChangeReplace = "replace"
)

// Change is one leaf that differs between two states, with the event that
// made the difference.
type Change struct {
	Path       string    `json:"path"`
	Op         string    `json:"op"` // add, remove or replace
	Old        any       `json:"old,omitempty"`
	New        any       `json:"new,omitempty"`
	Version    int       `json:"version"`
	EventType  string    `json:"event_type"`
	Actor      string    `json:"actor"`
	Source     string    `json:"source,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Diff lists the leaves that differ between two states of the same stream,
// sorted by path (array indexes numerically). A subtree present on one side
// only is listed leaf by leaf; a value whose type changed (an object
// replaced by a string, say) is one replace. Each change is attributed to
// the last event in (from.Version, to.Version] that touched its path. from
// may be nil (the state before the first event). When from is the later
// state the attribution comes from its history instead, which names the
// last event to undo; Service.Changes credits the first, the one whose
// undoing brings to's value back.
func Diff(from, to *State) []Change {
	var a, b map[string]any
	if from != nil {
		a = from.Data
	}
	if to != nil {
		b = to.Data
	}
	lo, hi, src := 0, 0, to
	if from != nil {
		lo = from.Version
	}
	if to != nil {
		hi = to.Version
	}
	if lo > hi {
		lo, hi, src = hi, lo, from
	}
	var out []Change
	diffValue(&ptrBuf{}, a, b, true, true, func(c Change) {
		if bl, ok := attribution(src, c.Path, lo, hi); ok {
			c.Version, c.EventType, c.Actor, c.Source, c.RecordedAt = bl.Version, bl.EventType, bl.Actor, bl.Source, bl.RecordedAt
		}
		out = append(out, c)
	})
	sortChanges(out)
	return out
}

// attribution finds the last event in (lo, hi] that touched path or, when a
// whole subtree was replaced, one of its ancestors.
func attribution(st *State, path string, lo, hi int) (Blame, bool) {
	if st == nil {
		return Blame{}, false
	}
	in := func(b Blame) bool { return b.Version > lo && b.Version <= hi }
	if b, ok := st.Touched[path]; ok && in(b) {
		return b, true
	}
	if b, ok := st.Blame[path]; ok && in(b) {
		return b, true
	}
	for p := path; p != ""; {
		p = parentPointer(p)
		if b, ok := st.Touched[p]; ok && in(b) {
			return b, true
		}
	}
	return Blame{}, false
}

// diffValue emits the leaf-level differences between a (at ptr, present
// when hasA) and b.
func diffValue(ptr *ptrBuf, a, b any, hasA, hasB bool, emit func(Change)) {
	switch {
	case !hasA && !hasB:
		return
	case !hasA:
		ptr.walkLeaves(b, func(lp string, v any) {
			emit(Change{Path: lp, Op: ChangeAdd, New: deepCopy(v)})
		})
		return
	case !hasB:
		ptr.walkLeaves(a, func(lp string, v any) {
			emit(Change{Path: lp, Op: ChangeRemove, Old: deepCopy(v)})
		})
		return
	}
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok && (len(x) > 0 || len(y) > 0) {
			for k, xv := range x {
				yv, has := y[k]
				n := ptr.push(k)
				diffValue(ptr, xv, yv, true, has, emit)
				ptr.pop(n)
			}
			for k, yv := range y {
				if _, has := x[k]; !has {
					n := ptr.push(k)
					diffValue(ptr, nil, yv, false, true, emit)
					ptr.pop(n)
				}
			}
			return
		}
	case []any:
		if y, ok := b.([]any); ok && (len(x) > 0 || len(y) > 0) {
			for i := 0; i < max(len(x), len(y)); i++ {
				var xv, yv any
				if i < len(x) {
					xv = x[i]
				}
				if i < len(y) {
					yv = y[i]
				}
				n := ptr.pushIndex(i)
				diffValue(ptr, xv, yv, i < len(x), i < len(y), emit)
				ptr.pop(n)
			}
			return
		}
	}
	if !JSONEqual(a, b) {
		emit(Change{Path: ptr.String(), Op: ChangeReplace, Old: deepCopy(a), New: deepCopy(b)})
	}
}

func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool { return comparePointers(cs[i].Path, cs[j].Path) < 0 })
}

// comparePointers orders pointers token by token, numeric tokens by value,
// so "/items/2" sorts before "/items/10" and a parent before its children.
func comparePointers(a, b string) int {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		x, y := ta[i], tb[i]
		if x == y {
			continue
		}
		xn, err1 := strconv.Atoi(x)
		yn, err2 := strconv.Atoi(y)
		if err1 == nil && err2 == nil && allDigits(x) && allDigits(y) {
			if xn != yn {
				if xn < yn {
					return -1
				}
				return 1
			}
		}
		return strings.Compare(x, y)
	}
	return len(ta) - len(tb)
}
