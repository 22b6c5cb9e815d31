package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/timetravel"
)

// exportPage is how many events an export reads per query; the response is
// flushed after each page, so memory stays flat whatever the stream's size.
const exportPage = 500

// exportCSVHeader is the CSV export's header row. Event rows have kind
// "event"; the last row has kind "state": the stream's state at the
// window's end, with the state document in payload and its blame (JSON
// pointer → event) in metadata. A file without that last row was cut short.
var exportCSVHeader = []string{"kind", "position", "event_id", "stream_id", "stream_type", "version", "event_type",
	"schema_version", "recorded_at", "actor", "source", "correlation_id", "causation_id", "payload", "metadata"}

// exportState is the state at the window's end in exports.
type exportState struct {
	Version int                         `json:"version"`
	At      time.Time                   `json:"at,omitzero"`
	State   map[string]any              `json:"state"`
	Blame   map[string]timetravel.Blame `json:"blame"`
	Errors  []timetravel.FoldError      `json:"errors,omitempty"`
}

// exportRequest is what both formats need, checked before anything is
// written so that bad input still gets a 400/404.
type exportRequest struct {
	info     eventstore.StreamInfo
	from, to time.Time
}

func (s *Server) parseExport(c echo.Context) (exportRequest, error) {
	var r exportRequest
	id, err := streamIDParam(c)
	if err != nil {
		return r, err
	}
	if r.from, r.to, err = queryTimeRange(c, "from", "to"); err != nil {
		return r, err
	}
	r.info, err = s.deps.Store.Stream(c.Request().Context(), id)
	return r, err
}

// exportFilename is a safe attachment name for a stream id.
func exportFilename(streamID, ext string) string {
	var b strings.Builder
	for _, r := range streamID {
		if r < 128 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), ".")
	if len(name) > 100 {
		name = name[:100]
	}
	if name == "" {
		name = "stream"
	}
	return name + "-audit." + ext
}

func startDownload(c echo.Context, contentType, filename string) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Response().WriteHeader(http.StatusOK)
}

// eachExportPage walks the window page by page, calling fn with each page.
func (s *Server) eachExportPage(c echo.Context, r exportRequest, fn func([]eventstore.Event) error) error {
	ctx := c.Request().Context()
	for after := 0; ; {
		evs, err := s.deps.Store.StreamWindow(ctx, r.info.StreamID, after, r.from, r.to, exportPage)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		s.maskEvents(evs)
		if err := fn(evs); err != nil {
			return err
		}
		c.Response().Flush()
		if len(evs) < exportPage {
			return nil
		}
		after = evs[len(evs)-1].Version
	}
}

// windowState is the stream's state at the window's end.
func (s *Server) windowState(c echo.Context, r exportRequest) (exportState, error) {
	p := timetravel.Latest() // no end
	if !r.to.IsZero() {
		p = timetravel.AtTime(r.to)
	}
	st, err := s.deps.TimeTravel.StateOf(c.Request().Context(), r.info, p)
	if err != nil {
		return exportState{}, err
	}
	st, _ = s.maskState(st)
	return exportState{Version: st.Version, At: st.At, State: st.Data, Blame: st.Blame, Errors: st.Errors}, nil
}

// abortExport ends a download that already started: the status is sent, so
// the error can only be logged, and the file is left visibly incomplete
// (no state row / invalid JSON).
func (s *Server) abortExport(c echo.Context, err error) error {
	s.logger.Error("web: export failed mid-stream", "path", c.Request().URL.Path, "error", err)
	return nil
}

// exportCSV streams a stream's audit trail as CSV (optional from/to window
// on recorded_at), ending with the state at the window's end.
func (s *Server) exportCSV(c echo.Context) error {
	r, err := s.parseExport(c)
	if err != nil {
		return err
	}
	startDownload(c, "text/csv; charset=utf-8", exportFilename(r.info.StreamID, "csv"))
	w := newCSVWriter(c.Response())
	if err := w.Write(exportCSVHeader); err != nil {
		return s.abortExport(c, err)
	}
	err = s.eachExportPage(c, r, func(evs []eventstore.Event) error {
		for i := range evs {
			e := &evs[i]
			m := e.Meta()
			if err := w.Write([]string{"event", strconv.FormatInt(e.Position, 10), e.EventID, e.StreamID, e.StreamType,
				strconv.Itoa(e.Version), e.EventType, strconv.Itoa(e.SchemaVersion), e.RecordedAt.UTC().Format(time.RFC3339Nano),
				m.Actor, m.Source, m.CorrelationID, m.CausationID, string(e.Payload), string(e.Metadata)}); err != nil {
				return err
			}
		}
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return s.abortExport(c, err)
	}
	st, err := s.windowState(c, r)
	if err != nil {
		return s.abortExport(c, err)
	}
	data, err := json.Marshal(st.State)
	if err != nil {
		return s.abortExport(c, err)
	}
	blame, err := json.Marshal(st.Blame)
	if err != nil {
		return s.abortExport(c, err)
	}
	at := ""
	if !st.At.IsZero() {
		at = st.At.UTC().Format(time.RFC3339Nano)
	}
	if err := w.Write([]string{"state", "", "", r.info.StreamID, r.info.StreamType, strconv.Itoa(st.Version), "", "", at,
		"", "", "", "", string(data), string(blame)}); err != nil {
		return s.abortExport(c, err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return s.abortExport(c, err)
	}
	return nil
}

// exportJSON streams a stream's audit trail as one JSON document:
// {stream, from, to, events: [...], state: {version, at, state, blame}}.
func (s *Server) exportJSON(c echo.Context) error {
	r, err := s.parseExport(c)
	if err != nil {
		return err
	}
	startDownload(c, "application/json; charset=utf-8", exportFilename(r.info.StreamID, "json"))
	out := c.Response()
	head, err := json.Marshal(struct {
		Stream eventstore.StreamInfo `json:"stream"`
		From   time.Time             `json:"from,omitzero"`
		To     time.Time             `json:"to,omitzero"`
	}{r.info, r.from, r.to})
	if err != nil {
		return s.abortExport(c, err)
	}
	// The head object is reopened to add the streamed members.
	if _, err := fmt.Fprintf(out, "%s,\"events\":[", head[:len(head)-1]); err != nil {
		return s.abortExport(c, err)
	}
	first := true
	err = s.eachExportPage(c, r, func(evs []eventstore.Event) error {
		for i := range evs {
			b, err := json.Marshal(&evs[i])
			if err != nil {
				return err
			}
			if !first {
				b = append([]byte{',', '\n'}, b...)
			}
			first = false
			if _, err := out.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.abortExport(c, err)
	}
	st, err := s.windowState(c, r)
	if err != nil {
		return s.abortExport(c, err)
	}
	tail, err := json.Marshal(st)
	if err != nil {
		return s.abortExport(c, err)
	}
	if _, err := fmt.Fprintf(out, "],\"state\":%s}\n", tail); err != nil {
		return s.abortExport(c, err)
	}
	return nil
}

// csvWriter writes CSV that a spreadsheet opens without running anything
// (OWASP's advice on CSV injection): every cell is quoted, and a cell that
// starts with =, +, -, @, a tab or a carriage return gets a leading single
// quote, so that "=HYPERLINK(...)" in an actor is shown, not evaluated. This
// applies to every column, numbers included: a "-160" is written '-160,
// because the export cannot know which free-text column holds a formula
// that looks like a number, and a spreadsheet still shows the digits. Our
// own numeric columns (positions, versions) are never negative.
type csvWriter struct {
	w   *bufio.Writer
	err error
}

func newCSVWriter(w io.Writer) *csvWriter { return &csvWriter{w: bufio.NewWriter(w)} }

// Write writes one row.
func (c *csvWriter) Write(cells []string) error {
	for i, cell := range cells {
		if i > 0 {
			c.w.WriteByte(',')
		}
		c.w.WriteString(csvCell(cell))
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

// Flush sends what is buffered.
func (c *csvWriter) Flush() { c.err = c.w.Flush() }

// Error is the first error of Write or Flush.
func (c *csvWriter) Error() error { return c.err }

// csvCell is one quoted, neutralised cell.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		s = "'" + s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
