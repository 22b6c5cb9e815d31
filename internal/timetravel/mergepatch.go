package timetravel

import (
	"encoding/json"
	"fmt"
)

// MergePatch applies an RFC 7386 JSON merge patch to target and returns the
// result: object members of the patch are merged recursively, null members
// delete, and any non-object patch replaces the target. target is not
// modified; the result shares no objects or arrays with patch.
func MergePatch(target, patch any) any {
	return mergePatch(target, patch, nil, nil)
}

// MergePatchJSON is MergePatch on JSON text.
func MergePatchJSON(target, patch []byte) ([]byte, error) {
	t, err := DecodeJSON(target)
	if err != nil {
		return nil, fmt.Errorf("timetravel: invalid merge patch target: %w", err)
	}
	p, err := DecodeJSON(patch)
	if err != nil {
		return nil, fmt.Errorf("timetravel: invalid merge patch: %w", err)
	}
	return json.Marshal(MergePatch(t, p))
}

// patchEffect is one write a merge patch made: the subtree at ptr was
// replaced by value, or deleted. The fold turns them into blame updates.
type patchEffect struct {
	ptr     string
	old     any
	value   any
	deleted bool
}

// mergePatch is RFC 7386 MergePatch, reporting each write to emit (when not
// nil) with pointers relative to the document; ptr holds the position of
// target and is only used (and must be non-nil) when emit is.
// Objects on the path of the patch are copied, never modified in place, so a
// failed fold step leaves the state untouched.
func mergePatch(target, patch any, ptr *ptrBuf, emit func(patchEffect)) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		v := deepCopy(patch)
		if emit != nil {
			emit(patchEffect{ptr: ptr.String(), old: target, value: v})
		}
		return v
	}
	tm, ok := target.(map[string]any)
	if !ok {
		// The target is replaced by an object built from the patch: one write.
		v := mergePatch(map[string]any{}, patch, nil, nil)
		if emit != nil {
			emit(patchEffect{ptr: ptr.String(), old: target, value: v})
		}
		return v
	}
	out := make(map[string]any, len(tm)+len(pm))
	for k, v := range tm {
		out[k] = v
	}
	for k, pv := range pm {
		if pv == nil {
			if old, had := out[k]; had {
				delete(out, k)
				if emit != nil {
					n := ptr.push(k)
					emit(patchEffect{ptr: ptr.String(), old: old, deleted: true})
					ptr.pop(n)
				}
			}
			continue
		}
		if emit == nil {
			out[k] = mergePatch(out[k], pv, nil, nil)
			continue
		}
		n := ptr.push(k)
		out[k] = mergePatch(out[k], pv, ptr, emit)
		ptr.pop(n)
	}
	return out
}
