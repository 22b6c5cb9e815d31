package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/demo"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// demo --shape writes the demo world into a team's table shape, in schema
// app, and serves it through the mapping: the dispute story's timeline and
// state answer, and the live generator keeps writing in that shape.
func TestDemoShapeServesTimeline(t *testing.T) {
	t.Parallel()
	for _, shape := range eventstore.DemoShapes {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			url, line := startCommandOutput(t, "demo", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--auth=off",
				"--events", "2000", "--rate", "50", "--shape", shape, "--slot", "demo_"+strings.ReplaceAll(shape, "-", "_"))
			if got := line("demo (" + shape + "): the dispute story is at "); !strings.Contains(got, eventstore.DemoStreamID(demo.DisputeWalletID)) {
				t.Errorf("the demo points at %q", got)
			}
			stream := url + "streams/" + eventstore.DemoStreamID(demo.DisputeWalletID)
			var tl struct {
				Stream eventstore.StreamInfo `json:"stream"`
				Events []eventstore.Event    `json:"events"`
			}
			getJSON(t, stream, &tl)
			if tl.Stream.StreamType != "Wallet" || len(tl.Events) < 3 || tl.Events[0].EventType != "WalletOpened" {
				t.Fatalf("the dispute wallet through the %s mapping = %+v", shape, tl.Stream)
			}
			for _, path := range []string{stream, stream + "/state", url + "events", url} {
				resp, err := http.Get(path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %d", path, resp.StatusCode)
				}
			}
			// The generator writes the shape's table, as the application would.
			var before int64
			if err := db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM app.events`).Scan(&before); err != nil || before < 2000 {
				t.Fatalf("app.events holds %d rows (%v)", before, err)
			}
			pgtest.WaitFor(t, "the live generator to write app.events", 30*time.Second, func(ctx context.Context) (bool, error) {
				var n int64
				err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM app.events`).Scan(&n)
				return n > before, err
			})
		})
	}
}
