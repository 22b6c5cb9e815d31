package timetravel

import (
	"strings"
	"testing"
	"time"
)

func TestSlowProbe(t *testing.T) {
	folder := NewFolder(mustConfig(t, chaosConfig))
	for _, typ := range []string{"Unruled", "A", "B", "C", "D", "E"} {
		for _, payload := range []string{
			`{"x":` + strings.Repeat(`[`, 9000) + strings.Repeat(`]`, 9000) + `}`,
			`{"x":` + strings.Repeat(`{"a":`, 9000) + `1` + strings.Repeat(`}`, 9000) + `}`,
			`{"z":` + strings.Repeat(`{"m":`, 9000) + `1` + strings.Repeat(`}`, 9000) + `}`,
		} {
			start := time.Now()
			st := NewState("wallet-1", "Wallet")
			for v, et := range []string{"Unruled", typ, "D", typ, "E", "B"} {
				ev := event(v+1, et, payload, "fuzz")
				s2 := time.Now()
				folder.Step(st, &ev)
				if d := time.Since(s2); d > 100*time.Millisecond {
					t.Logf("%s step %d (%s): %v", typ, v, et, d)
				}
			}
			s3 := time.Now()
			checkBlame(t, st)
			t.Logf("%s %s total %v check %v", typ, payload[:10], time.Since(start), time.Since(s3))
		}
	}
}
