package views

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/a-h/templ"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden renders c and compares it byte for byte with testdata/name. Run
// `go test ./views -update` after an intended change and review the diff.
func golden(t *testing.T, name string, c templ.Component) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./views -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from the golden file; run go test ./views -update and review the diff\ngot:\n%s", name, buf.String())
	}
}

var goldenAt = time.Date(2025, 5, 16, 2, 0, 3, 0, time.UTC)

func goldenRow() EventRow {
	return EventRow{
		Position: 42, Ref: "42", EventID: "00000000-0000-4000-8000-000000000042", StreamID: "wallet-dispute-0001", StreamType: "Wallet",
		Version: 7, EventType: "MoneyWithdrawn", SchemaVersion: 1, RecordedAt: goldenAt,
		Actor: "job:nightly-fees", Source: "batch:nightly-fees", CorrelationID: "feerun-2025-05-16",
		Payload:    "{\n  \"amount\": 500.00,\n  \"reason\": \"annual fee <script>\"\n}",
		Metadata:   "{\n  \"actor\": \"job:nightly-fees\"\n}",
		Changes:    []Change{{Path: "/balance", Op: "replace", Old: "340.00", New: "-160.00"}},
		ShowStream: true,
	}
}

func TestGoldenEventRow(t *testing.T) {
	golden(t, "event_row.html", EventRowItem(goldenRow()))
}

func TestGoldenOverview(t *testing.T) {
	ch := Chrome{Title: "Overview", Nav: "overview", CSRFToken: "tok", Banners: []Banner{{Level: "danger", Text: "Tamper alert: UPDATE on events", Href: "/live"}}}
	vm := OverviewVM{HeadPosition: 42, HeadAt: goldenAt, Events: 1234567, Streams: 3478, EventTypes: 16,
		StreamTypes: []TypeTotal{{StreamType: "Wallet", Streams: 337, Events: 10545}},
		Counts:      []TypeCount{{StreamType: "Wallet", EventType: "MoneyWithdrawn", Events: 4702}},
		Newest:      []EventRow{goldenRow()}}
	golden(t, "overview.html", OverviewPage(ch, vm))
}

func TestGoldenNotFound(t *testing.T) {
	golden(t, "not_found.html", ErrorPage(Chrome{Title: "Not Found"}, ErrorVM{Status: 404, Title: "Not Found", Message: `eventstore: stream not found: "wallet-<b>x</b>"`, ShowSearch: true}))
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPrettyJSONKeepsNumbersAndShowsHTMLText(t *testing.T) {
	got := PrettyJSON([]byte(`{"amount":125.50,"note":"<b>","id":12345678901234567890}`))
	for _, want := range []string{"125.50", `"<b>"`, "12345678901234567890"} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("PrettyJSON lost %s: %s", want, got)
		}
	}
}
