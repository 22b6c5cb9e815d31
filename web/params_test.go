package web

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeAcceptsRFC3339AndDateTimeLocal(t *testing.T) {
	t.Parallel()
	want := time.Date(2025, 5, 16, 2, 0, 3, 0, time.UTC)
	cases := []struct {
		value, tz string
		want      time.Time
	}{
		{"2025-05-16T02:00:03Z", "", want},
		{"2025-05-16T04:00:03+02:00", "", want},
		{"2025-05-16T04:00:03+02:00", "-05:00", want}, // an explicit offset wins over tz
		{"2025-05-16 02:00:03Z", "", want},
		{"2025-05-16T02:00:03", "", want},
		{"2025-05-16T02:00", "", want.Add(-3 * time.Second)},
		{"2025-05-16T04:00:03", "+02:00", want},
		{"2025-05-15T21:00:03", "-0500", want},
		{"2025-05-16T02:00:03.250Z", "", want.Add(250 * time.Millisecond)},
	}
	for _, tc := range cases {
		got, err := parseTime(tc.value, tc.tz)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q, %q) = %v, %v; want %v", tc.value, tc.tz, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2025-05-16", "2025-05-16T25:00", "1747360803"} {
		if _, err := parseTime(bad, ""); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
	if _, err := parseTime("2025-05-16T02:00", "Europe/Paris"); err == nil {
		t.Error("a zone name is accepted as tz")
	}
}

func TestTimelineCursorsBeyondInt4Are400s(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, p := range []string{"after", "before", "version"} {
		rec := b.get("/streams/any-1?"+p+"=2147483648", "application/json")
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "invalid "+p) {
			t.Errorf("?%s=2147483648: %d %s", p, rec.Code, rec.Body)
		}
	}
	long := strings.Repeat("x", 100_000)
	rec := b.get("/streams/any-1?after="+long, "application/json")
	if rec.Code != 400 || rec.Body.Len() > 400 {
		t.Errorf("100 KB after: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}
