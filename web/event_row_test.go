package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/timetravel"
)

// keyFieldsOf is a row's key fields as "name=value" pairs.
func keyFieldsOf(row *goquery.Selection) string {
	var out []string
	row.Find(`[data-testid=key-field]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.AttrOr("data-name", "")+"="+s.Find(`.kf-value`).Text())
	})
	return strings.Join(out, " ")
}

// Rows show the key payload fields inline: those the configuration's
// "display" section names for the event type, or else the first three
// scalar members, so a 500.00 fee stands out among 1.50 ones.
func TestEventRowsShowKeyFields(t *testing.T) {
	t.Parallel()
	cfg, err := timetravel.ParseConfig([]byte(`{"display": {"FeeCharged": ["/amount", "/reason", "/meta/ticket", "/missing"]}}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(d *Deps) {
		d.TimeTravel = timetravel.NewService(d.Store, cfg, nil, timetravel.ServiceOptions{SnapshotEvery: -1})
	})
	b.append("wallet-1", "Wallet",
		ev("FeeCharged", `{"amount":"1.50","reason":"transfer fee","meta":{"ticket":"T-1"},"currency":"EUR"}`, `{"actor":"billing"}`),
		ev("FeeCharged", `{"amount":"500.00","reason":"annual fee","meta":{"ticket":"T-2"}}`, `{"actor":"billing"}`),
		ev("Noted", `{"nested":{"a":1},"id":"n-1","n":2,"ok":true,"later":"not shown"}`, `{}`))

	doc := b.page("/events", http.StatusOK)
	got := map[string]string{}
	doc.Find(`[data-testid=event-row]`).Each(func(_ int, s *goquery.Selection) {
		got[s.AttrOr("data-version", "")] = keyFieldsOf(s)
	})
	want := map[string]string{
		"1": "amount=1.50 reason=transfer fee ticket=T-1",
		"2": "amount=500.00 reason=annual fee ticket=T-2",
		// Objects skipped, the stored order kept (jsonb orders members by
		// length, then bytes).
		"3": "n=2 id=n-1 ok=true",
	}
	for v, w := range want {
		if got[v] != w {
			t.Errorf("v%s key fields = %q, want %q", v, got[v], w)
		}
	}
	// The timeline rows show them too.
	doc = b.page("/streams/wallet-1", http.StatusOK)
	if kf := keyFieldsOf(doc.Find(`[data-testid=event-row][data-version="2"]`)); kf != want["2"] {
		t.Errorf("timeline key fields = %q", kf)
	}
	// Markup in a payload stays text.
	b.append("wallet-2", "Wallet", ev("Noted", `{"note":"<b>x</b>"}`, `{}`))
	rec := b.get("/events?stream_id=wallet-2", "text/html")
	if strings.Contains(rec.Body.String(), "<b>x</b>") || !strings.Contains(rec.Body.String(), "&lt;b&gt;x&lt;/b&gt;") {
		t.Error("a key field's markup is not escaped")
	}
	// The page offers the compact/comfortable choice, with its script.
	doc = b.page("/events", http.StatusOK)
	if doc.Find(`[data-testid=density-toggle] button[aria-pressed]`).Length() != 2 || doc.Find(`script[src="/static/view.js"]`).Length() != 1 {
		t.Error("no density toggle on /events")
	}
}

func TestKeyFieldsDefaults(t *testing.T) {
	t.Parallel()
	b := newPageBudget(maxPreview)
	long := strings.Repeat("x", 200)
	for _, c := range []struct{ payload, want string }{
		{`{"a":1,"b":"two","c":null,"d":4}`, "a=1 b=two c=null"},
		{`{"o":{"deep":[1,{"x":2}]},"arr":[],"z":"last"}`, "z=last"},
		{`[1,2,3]`, ""},
		{`"text"`, ""},
		{`{"a":1,"b":`, "a=1"}, // broken JSON: what was read
		{`{"long":"` + long + `"}`, "long=" + strings.Repeat("x", maxKeyFieldText) + "…"},
	} {
		var parts []string
		for _, k := range keyFields("T", []byte(c.payload), b) {
			parts = append(parts, k.Name+"="+k.Value)
		}
		if got := strings.Join(parts, " "); got != c.want {
			t.Errorf("%.40s: %q, want %q", c.payload, got, c.want)
		}
	}
}

// FuzzKeyFields: whatever the payload, key fields never panic, are at most
// defaultKeyFields (or the configured ones), and each is short.
func FuzzKeyFields(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,{"c":2}]},"d":"x"}`, `{"a":`, `[`, `{"a":[[[[`, `null`, `{"a":"\u00e9"}`, "\xff"} {
		f.Add([]byte(s))
	}
	display := func(et string) ([]string, bool) {
		if et == "C" {
			return []string{"/a", "/a/b/0", "/d"}, true
		}
		return nil, false
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, et := range []string{"T", "C"} {
			b := newPageBudget(maxPreview)
			b.display = display
			got := keyFields(et, payload, b)
			if len(got) > 3 {
				t.Fatalf("%s: %d key fields", et, len(got))
			}
			for _, k := range got {
				if len([]rune(k.Value)) > maxKeyFieldText+1 {
					t.Fatalf("%s: value of %d runes", et, len([]rune(k.Value)))
				}
			}
		}
	})
}
