package timetravel

import (
	"testing"
)

// TestMergePatchRFC7386 runs every example of RFC 7386 appendix A, plus the
// document of section 3.
func TestMergePatchRFC7386(t *testing.T) {
	t.Parallel()
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{
			`{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}`,
			`{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}`,
			`{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.target+"+"+tt.patch, func(t *testing.T) {
			t.Parallel()
			target := mustJSON(t, tt.target)
			before := canon(t, target)
			got := MergePatch(target, mustJSON(t, tt.patch))
			if canon(t, got) != canonJSON(t, tt.want) {
				t.Errorf("MergePatch = %s, want %s", canon(t, got), tt.want)
			}
			if canon(t, target) != before {
				t.Errorf("target modified: %s", canon(t, target))
			}
			raw, err := MergePatchJSON([]byte(tt.target), []byte(tt.patch))
			if err != nil {
				t.Fatal(err)
			}
			if canonJSON(t, string(raw)) != canonJSON(t, tt.want) {
				t.Errorf("MergePatchJSON = %s, want %s", raw, tt.want)
			}
		})
	}
}

func TestMergePatchResultDoesNotAliasPatch(t *testing.T) {
	t.Parallel()
	patch := mustJSON(t, `{"a":{"l":[1]}}`)
	got := MergePatch(map[string]any{}, patch).(map[string]any)
	got["a"].(map[string]any)["l"].([]any)[0] = "changed"
	if canon(t, patch) != `{"a":{"l":[1]}}` {
		t.Errorf("patch changed through the result: %s", canon(t, patch))
	}
	if _, err := MergePatchJSON([]byte(`{`), []byte(`{}`)); err == nil {
		t.Error("invalid target: want an error")
	}
}
