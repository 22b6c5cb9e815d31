package pii

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/timetravel"
)

func policy(t *testing.T, section string) *Policy {
	t.Helper()
	cfg, err := timetravel.ParseConfig([]byte(`{"pii": `+section+`}`), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseNamesTheBadKey(t *testing.T) {
	t.Parallel()
	for section, want := range map[string]string{
		`[]`:                                                `pii: must be an object`,
		`{"Wallet": {"state": ["owner"]}}`:                  `pii.Wallet.state[0]: "owner" is not a JSON pointer`,
		`{"Wallet": {"state": [""]}}`:                       `pii.Wallet.state[0]: "" names the whole document`,
		`{"Wallet": {"state": "/owner"}}`:                   `pii.Wallet.state: must be a list of JSON pointers`,
		`{"Wallet": {"stat": ["/owner"]}}`:                  `pii.Wallet.stat: unknown key`,
		`{"Wallet": {"events": {"A": ["/~2"]}}}`:            `pii.Wallet.events.A[0]: "/~2" is not a JSON pointer`,
		`{"Wallet": {"events": {"A": {"payload": ["x"]}}}}`: `pii.Wallet.events.A.payload[0]`,
		`{"Wallet": {"events": {"A": {"body": []}}}}`:       `pii.Wallet.events.A.body: unknown key`,
	} {
		_, err := ParseSection(json.RawMessage(section), "cfg.json")
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "cfg.json") {
			t.Errorf("%s: got %v, want an error naming %q and the file", section, err, want)
		}
	}
}

func TestMaskStateNestedArraysWildcardsAndMissing(t *testing.T) {
	t.Parallel()
	p := policy(t, `{"Wallet": {"state": ["/owner", "/cards/*/number", "/nowhere/deep", "/tags/1"]}}`)
	data := map[string]any{
		"owner":   map[string]any{"name": "Ada Lovelace", "email": "ada@example.org"},
		"cards":   []any{map[string]any{"number": "4111-1111", "brand": "visa"}, map[string]any{"number": "5500-0000"}},
		"tags":    []any{"a", "secret-tag"},
		"balance": json.Number("10.50"),
	}
	got, found := p.MaskState("Wallet", data)
	text := string(Encode(got))
	for _, leak := range []string{"Ada", "ada@example.org", "4111", "5500", "secret-tag"} {
		if strings.Contains(text, leak) {
			t.Errorf("masked state %s still holds %q", text, leak)
		}
	}
	for _, keep := range []string{"visa", `"a"`, "10.50"} {
		if !strings.Contains(text, keep) {
			t.Errorf("masked state %s lost %s", text, keep)
		}
	}
	if want := "/cards/0/number,/cards/1/number,/owner,/tags/1"; strings.Join(found, ",") != want {
		t.Errorf("found %v, want %s", found, want)
	}
	if data["owner"].(map[string]any)["name"] != "Ada Lovelace" {
		t.Error("MaskState modified its input")
	}
	if same, _ := p.MaskState("Other", data); same["owner"] == nil {
		t.Error("another stream type was masked")
	}
}

func TestMaskChange(t *testing.T) {
	t.Parallel()
	p := policy(t, `{"Wallet": {"state": ["/owner/email"]}}`)
	if o, n, m := p.MaskChange("Wallet", "/owner/email", nil, "a@b.c"); !m || o != nil || n != Mask {
		t.Errorf("leaf: %v %v %v", o, n, m)
	}
	o, n, m := p.MaskChange("Wallet", "/owner", nil, map[string]any{"email": "a@b.c", "name": "Ada"})
	if !m || strings.Contains(string(Encode(n)), "a@b.c") || !strings.Contains(string(Encode(n)), "Ada") || o != nil {
		t.Errorf("parent: %v %v %v", o, n, m)
	}
	if _, n, m := p.MaskChange("Wallet", "/balance", 1, 2); m || n != 2 {
		t.Errorf("other field masked: %v", n)
	}
}

func TestMaskEvent(t *testing.T) {
	t.Parallel()
	p := policy(t, `{"Wallet": {"metadata": ["/ip"], "events": {"WalletOpened": ["/owner"], "Moved": {"metadata": ["/by"]}}}}`)
	payload := json.RawMessage(`{"owner": "Ada <b>", "amount": 10.50}`)
	meta := json.RawMessage(`{"ip": "10.1.2.3", "actor": "u1"}`)
	pl, md, m := p.MaskEvent("Wallet", "WalletOpened", payload, meta)
	if strings.Contains(string(pl), "Ada") || !strings.Contains(string(pl), "10.50") || !strings.Contains(string(pl), Mask) {
		t.Errorf("payload %s", pl)
	}
	if strings.Contains(string(md), "10.1.2.3") || !strings.Contains(string(md), "u1") {
		t.Errorf("metadata %s", md)
	}
	if strings.Join(m.Payload, ",") != "/owner" || strings.Join(m.Metadata, ",") != "/ip" {
		t.Errorf("masked %+v", m)
	}
	// No masked field present: the stored bytes as they were.
	pl, _, m = p.MaskEvent("Wallet", "Deposited", payload, json.RawMessage(`{"actor": "u1"}`))
	if string(pl) != string(payload) || m.Any() {
		t.Errorf("untouched event changed: %s %+v", pl, m)
	}
	_, md, _ = p.MaskEvent("Wallet", "Moved", nil, json.RawMessage(`{"by": "Bob", "ip": "x"}`))
	if strings.Contains(string(md), "Bob") || strings.Contains(string(md), `"x"`) {
		t.Errorf("event-type metadata %s", md)
	}
	if !p.MetadataMasked("", timetravel.Pointer{"by"}) || p.MetadataMasked("Wallet", timetravel.Pointer{"actor"}) || p.MetadataMasked("Other", timetravel.Pointer{"ip"}) {
		t.Error("MetadataMasked")
	}
}
