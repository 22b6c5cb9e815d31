package web

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/evidence"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/timetravel"
)

// testFolder folds as the test servers do: merge patches.
var testFolder = timetravel.NewFolder(timetravel.DefaultConfig())

// testSigningKey signs the test servers' checkpoints and bundles.
var testSigningKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// evidenceStack is a live stack whose ledger holds acct v1..v8 (v1..v3
// back-filled, the rest witnessed live, interleaved with another stream).
func evidenceStack(t *testing.T) (*pgtest.DB, *liveStack) {
	t.Helper()
	db := pgtest.NewDB(t)
	for v := 1; v <= 3; v++ {
		sqlInsert(t, db, "acct", v)
	}
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	var last int64
	for v := 4; v <= 8; v++ {
		last = sqlInsert(t, db, "acct", v)
		sqlInsert(t, db, "other", v-3)
	}
	last = max(last, sqlInsert(t, db, "other", 6))
	pgtest.WaitFor(t, "the ledger to hold the streams", 20*time.Second, func(ctx context.Context) (bool, error) {
		n, err := ledger.NewStore(db.Pool).LastPosition(ctx)
		return n >= last, err
	})
	return db, st
}

// mustProblem verifies a bundle that must be refused, and returns the
// problems listed.
func mustProblem(t *testing.T, what string, data []byte, want string) {
	t.Helper()
	_, err := evidence.Verify(data, testSigningKey.Public().(ed25519.PublicKey), testFolder)
	var inv *evidence.InvalidError
	if !errors.As(err, &inv) {
		t.Errorf("%s: accepted (%v)", what, err)
		return
	}
	if !strings.Contains(inv.Problems[0], want) {
		t.Errorf("%s: first problem %q, want it to say %q; all: %v", what, inv.Problems[0], want, inv.Problems)
	}
}

// tamperLine changes the bundle's top-level field named field (one line
// each) with edit.
func tamperLine(t *testing.T, data []byte, field string, edit func(string) string) []byte {
	t.Helper()
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, `"`+field+`": `) {
			changed := edit(l)
			if changed == l {
				t.Fatalf("tampering with %s changed nothing", field)
			}
			lines[i] = changed
			return []byte(strings.Join(lines, "\n"))
		}
	}
	t.Fatalf("no %s line in the bundle", field)
	return nil
}

// flipHex changes the first hex digit after marker in s.
func flipHex(s, marker string) string {
	i := strings.Index(s, marker)
	if i < 0 {
		return s
	}
	j := i + len(marker)
	b := []byte(s)
	if b[j] == '0' {
		b[j] = '1'
	} else {
		b[j] = '0'
	}
	return string(b)
}

func TestEvidenceRoundTripAndEveryTamperedVariant(t *testing.T) {
	t.Parallel()
	db, st := evidenceStack(t)
	resp, err := http.Get(st.http.URL + "/streams/acct/evidence?from=v:2&to=v:7")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	data := buf.Bytes()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("evidence: %d %s", resp.StatusCode, data)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename=acct-evidence-v2-v7.json` ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("download headers: %q, %q", cd, resp.Header.Get("Content-Type"))
	}
	r, err := evidence.Verify(data, testSigningKey.Public().(ed25519.PublicKey), testFolder)
	if err != nil {
		t.Fatalf("the bundle as served: %v", err)
	}
	if r.StreamID != "acct" || r.FromVersion != 2 || r.ToVersion != 7 || r.Events != 5 || r.Entries != 5 || len(r.Checkpoints) != 1 || !r.StatesRefolded {
		t.Fatalf("report %+v", r)
	}
	// The bundle's content: the stored values as text, the states at both
	// ends, the query, the viewer, the verification.
	var doc struct {
		Query        evidence.Query
		Viewer       evidence.Viewer
		Events       []evidence.Event
		States       evidence.States
		Verification ledger.Verification
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Query.From != "v:2" || doc.Query.To != "v:7" || doc.Viewer.Role != "admin" || doc.Verification.Status != "intact" ||
		doc.Events[0].Version != "3" || doc.Events[0].Payload != `{"note": "<b>hi</b>", "amount": 5}` ||
		doc.States.From.Version != 2 || doc.States.To.Version != 7 {
		t.Fatalf("bundle content: %+v", doc)
	}
	// The window ended after every checkpoint: one was signed for it.
	cps, _, err := ledger.NewStore(db.Pool).Checkpoints(t.Context(), 5)
	if err != nil || len(cps) != 1 || cps[0].Reason != ledger.ReasonEvidence {
		t.Fatalf("checkpoints after the download: %+v %v", cps, err)
	}

	mustProblem(t, "one byte of a payload", tamperLine(t, data, "events", func(l string) string {
		return strings.Replace(l, `\"amount\": 5`, `\"amount\": 6`, 1)
	}), "event v3 (position")
	mustProblem(t, "one byte of a state", tamperLine(t, data, "states", func(l string) string {
		return strings.Replace(l, `"amount":5`, `"amount":6`, 1)
	}), "the states section was altered after signing")
	mustProblem(t, "one byte of the end state", tamperLine(t, data, "states", func(l string) string {
		i := strings.LastIndex(l, `"amount":5`)
		return l[:i] + `"amount":6` + l[i+len(`"amount":5`):]
	}), "the state at v7 does not match the events folded onto the state at v2")
	mustProblem(t, "one byte of a proof hash", tamperLine(t, data, "checkpoints", func(l string) string {
		return flipHex(l, `"proof":["`)
	}), "do not lead to its signed Merkle root")
	mustProblem(t, "one byte of an entry's previous hash", tamperLine(t, data, "ledger_entries", func(l string) string {
		return flipHex(l, `"prev_hash":"`)
	}), "its hash does not follow from its fields")
	mustProblem(t, "a truncated file", data[:len(data)/2], "truncated")
	mustProblem(t, "the last byte cut", data[:len(data)-3], "truncated")
	mustProblem(t, "reordered entries", tamperLine(t, data, "ledger_entries", func(l string) string {
		var entries []json.RawMessage
		if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(l, `"ledger_entries": `), ",")), &entries); err != nil {
			t.Fatal(err)
		}
		entries[1], entries[2] = entries[2], entries[1]
		out, _ := json.Marshal(entries)
		return `"ledger_entries": ` + string(out) + strings.Repeat(",", strings.Count(l[len(l)-1:], ","))
	}), "out of commit order")
	mustProblem(t, "an event left out", tamperLine(t, data, "events", func(l string) string {
		var events []json.RawMessage
		if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(l, `"events": `), ",")), &events); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(append(events[:1], events[2:]...))
		return `"events": ` + string(out) + ","
	}), "event v5 (position")

	// Re-signed with another key: the same window bundled by a server
	// whose key is not the one the verifier trusts.
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	store := eventstore.New(db.Pool)
	info, err := store.Stream(t.Context(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	b := evidence.Builder{Store: store, Ledger: ledger.NewStore(db.Pool), TimeTravel: timetravel.NewService(store, nil, nil, timetravel.ServiceOptions{SnapshotEvery: -1}),
		Checkpoints: ledger.NewCheckpointer(ledger.CheckpointerConfig{Key: other, Interval: -1}, ledger.NewStore(db.Pool))}
	var forged bytes.Buffer
	if _, err := b.Build(t.Context(), &forged, evidence.Window{Info: info, From: timetravel.AtVersion(2), To: timetravel.AtVersion(7)}, evidence.Viewer{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	mustProblem(t, "re-signed with another key", forged.Bytes(), "signed by another key")
}

func TestEvidenceBadWindowsAndRefusals(t *testing.T) {
	t.Parallel()
	db, st := evidenceStack(t)
	for _, c := range []struct {
		query string
		code  int
	}{
		{"from=v:5&to=v:2", http.StatusBadRequest},
		{"from=v:x", http.StatusBadRequest},
		{"from=yesterday", http.StatusBadRequest},
		{"to=v:-1", http.StatusBadRequest},
	} {
		if code, body := getBody(t, st.http.URL+"/streams/acct/evidence?"+c.query); code != c.code {
			t.Errorf("%s: %d %s, want %d", c.query, code, body, c.code)
		}
	}
	if code, _ := getBody(t, st.http.URL+"/streams/nope/evidence"); code != http.StatusNotFound {
		t.Errorf("unknown stream: %d, want 404", code)
	}
	// The verify page and the stream page's export links lead to it.
	for _, page := range []string{"/streams/acct/verify", "/streams/acct"} {
		if _, body := getBody(t, st.http.URL+page); !strings.Contains(body, `href="/streams/acct/evidence"`) {
			t.Errorf("%s does not link to the evidence download", page)
		}
	}
	// The whole stream, by default.
	code, body := getBody(t, st.http.URL+"/streams/acct/evidence")
	if code != http.StatusOK {
		t.Fatalf("whole stream: %d %s", code, body)
	}
	if r, err := evidence.Verify([]byte(body), testSigningKey.Public().(ed25519.PublicKey), testFolder); err != nil || r.FromVersion != 0 || r.ToVersion != 8 || r.Events != 8 {
		t.Fatalf("whole stream: %+v %v", r, err)
	}

	// An empty window proves nothing, and says so validly.
	code, body = getBody(t, st.http.URL+"/streams/acct/evidence?from=v:3&to=v:3")
	if r, err := evidence.Verify([]byte(body), testSigningKey.Public().(ed25519.PublicKey), testFolder); code != http.StatusOK || err != nil || r.Events != 0 || len(r.Checkpoints) != 0 {
		t.Fatalf("an empty window: %d %+v %v", code, r, err)
	}
	// An event the ledger has not got yet: 409, and nothing is signed.
	if _, err := db.Pool.Exec(t.Context(), `ALTER TABLE auditd.ledger ADD CONSTRAINT evidence_test_refuses CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	sqlInsert(t, db, "acct", 9)
	_, before, err := ledger.NewStore(db.Pool).Checkpoints(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(st.http.URL + "/streams/acct/evidence")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a pending event: %d, want 409 with Retry-After", resp.StatusCode)
	}
	if _, after, err := ledger.NewStore(db.Pool).Checkpoints(t.Context(), 1); err != nil || after != before {
		t.Fatalf("checkpoints %d before, %d after a refused bundle (%v)", before, after, err)
	}
}

func TestKeysPageListsCheckpointsAndSignsOnDemand(t *testing.T) {
	t.Parallel()
	_, st := evidenceStack(t)
	h := st.server.Handler()
	get := func(path, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := get("/about/keys", "text/html")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `data-testid="no-checkpoints"`) ||
		!strings.Contains(rec.Body.String(), "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("keys page before any checkpoint: %d %.500s", rec.Code, rec.Body)
	}
	token := between(rec.Body.String(), `name="_csrf" value="`, `"`)
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, "/about/keys/checkpoints", strings.NewReader(url.Values{"_csrf": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "auditd_csrf", Value: token})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/about/keys" {
			t.Fatalf("sign a checkpoint: %d %s", rec.Code, rec.Body)
		}
	}
	rec = get("/about/keys", "application/json")
	var keys keysJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &keys); err != nil {
		t.Fatal(err)
	}
	pub, err := evidence.ParsePublicKey([]byte(keys.PublicKey))
	if err != nil || !pub.Equal(testSigningKey.Public()) || keys.KeyID != ledger.KeyID(pub) {
		t.Fatalf("the page's public key: %v", err)
	}
	// Newest first: the second covers no new entry, the first all of them.
	if keys.Total != 2 || len(keys.Checkpoints) != 2 || keys.Checkpoints[0].Seq != 2 || keys.Checkpoints[1].Entries != 14 ||
		keys.Checkpoints[0].Entries != 0 || !keys.Checkpoints[0].Valid || !keys.Checkpoints[1].Valid || keys.Checkpoints[1].Reason != "on demand" {
		t.Fatalf("checkpoints: %+v", keys)
	}
	page := get("/about/keys", "text/html").Body.String()
	if strings.Count(page, `data-testid="checkpoint"`) != 2 || strings.Count(page, ">valid<") != 2 {
		t.Fatalf("the page does not list two valid checkpoints: %.2000s", page)
	}
}

// between is the text of s between the first start and the next end.
func between(s, start, end string) string {
	_, after, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(after, end)
	return v
}

// TestEvidenceBundleSizeFor1000Events measures the bundle of a 1,000-event
// window (docs/benchmarks.md): one event per transaction, each followed by
// another stream's, so the window's entries are spread over a ledger twice
// its size and the proof cannot share whole subtrees.
func TestEvidenceBundleSizeFor1000Events(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	var last int64
	for v := 1; v <= 1000; v++ {
		sqlInsert(t, db, "wallet-big", v)
		last = sqlInsert(t, db, fmt.Sprintf("wallet-%03d", v%100), 1+v/100)
	}
	pgtest.WaitFor(t, "the ledger to hold 2,000 events", 60*time.Second, func(ctx context.Context) (bool, error) {
		n, err := ledger.NewStore(db.Pool).LastPosition(ctx)
		return n >= last, err
	})
	started := time.Now()
	code, body := getBody(t, st.http.URL+"/streams/wallet-big/evidence?from=v:0&to=v:1000")
	took := time.Since(started)
	if code != http.StatusOK {
		t.Fatalf("evidence: %d %.300s", code, body)
	}
	r, err := evidence.Verify([]byte(body), testSigningKey.Public().(ed25519.PublicKey), testFolder)
	if err != nil || r.Events != 1000 {
		t.Fatalf("verify: %+v %v", r, err)
	}
	var doc struct {
		Checkpoints []evidence.Checkpoint `json:"checkpoints"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	sections := map[string]int{}
	for _, l := range strings.Split(body, "\n") {
		if name, _, ok := strings.Cut(l, ": "); ok {
			sections[strings.Trim(name, `"`)] = len(l)
		}
	}
	t.Logf("1,000-event bundle: %d bytes (%.0f per event), events %d, ledger entries %d, checkpoints and proof %d (%d proof hashes over %d entries), built in %v",
		len(body), float64(len(body))/1000, sections["events"], sections["ledger_entries"], sections["checkpoints"],
		len(doc.Checkpoints[0].Proof), doc.Checkpoints[0].Entries, took.Round(time.Millisecond))
	if len(body) > 1<<20 {
		t.Errorf("the bundle is %d bytes, want under 1 MiB", len(body))
	}
}
