package web

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/timetravel"
)

// exportPage is how many events an export reads per query; the response is
// flushed after each page, so memory stays flat whatever the stream's size.
const exportPage = 500

// exportCSVHeader is the CSV export's header row for events (kind
// "event"). With ?balance=/path a last column, named after the path, holds
// that state field's value after each event.
var exportCSVHeader = []string{"kind", "position", "event_id", "stream_id", "stream_type", "version", "event_type",
	"schema_version", "recorded_at", "actor", "source", "correlation_id", "causation_id", "payload", "metadata"}

// exportStateHeader heads the CSV's state section: one row per leaf of
// the state at the window's end, with the event that set it.
var exportStateHeader = []string{"kind", "path", "value", "version", "event_type", "recorded_at", "actor", "source", "position"}

// The trailer and the in-file fields that carry an export's digest: the
// SHA-256 of its event records exactly as written (CSV: each event row
// with its CRLF; JSON: each element of "events" followed by "\n").
const (
	exportDigestTrailer = "X-Auditd-Events-Sha256"
	exportFormat        = "auditd-export/2"
)

// exportState is the state at the window's end in exports.
type exportState struct {
	Version int                         `json:"version"`
	At      time.Time                   `json:"at,omitzero"`
	State   map[string]any              `json:"state"`
	Blame   map[string]timetravel.Blame `json:"blame"`
	Errors  []timetravel.FoldError      `json:"errors,omitempty"`
}

// exportInfo is what an export says about itself: when it was made, by
// which filters and window, and how its digest is computed.
type exportInfo struct {
	Format     string    `json:"format"`
	ExportedAt time.Time `json:"exported_at"`
	StreamID   string    `json:"stream_id"`
	// From and To are the window on recorded_at (absent: unbounded).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Balance is the state field whose value after each event the CSV
	// shows (absent: none).
	Balance string `json:"balance,omitempty"`
	// DigestOf says what the digest (the CSV's last line, the JSON's
	// last member, the trailer) is computed over.
	DigestOf string `json:"digest_of"`
}

// exportRequest is what both formats need, checked before anything is
// written so that bad input still gets a 400/404.
type exportRequest struct {
	info     eventstore.StreamInfo
	from, to time.Time
	// balance is the state field (a JSON pointer) whose value after each
	// event the CSV carries; empty: no such column.
	balance    string
	balancePtr timetravel.Pointer
	exportedAt time.Time
}

func (s *Server) parseExport(c echo.Context) (exportRequest, error) {
	r := exportRequest{exportedAt: time.Now().UTC()}
	id, err := streamIDParam(c)
	if err != nil {
		return r, err
	}
	if r.from, r.to, err = queryTimeRange(c, "from", "to"); err != nil {
		return r, err
	}
	if r.balance = strings.TrimSpace(c.QueryParam("balance")); r.balance != "" {
		if r.balancePtr, err = timetravel.ParsePointer(r.balance); err != nil || r.balancePtr.IsRoot() {
			return r, badRequest("balance", "%q is not a JSON pointer to a state field, like /balance", r.balance)
		}
	}
	if r.info, err = s.deps.Store.Stream(c.Request().Context(), id); err != nil {
		return r, err
	}
	// Before the download starts: an export whose entry is not written is
	// not sent.
	return r, s.recordAccess(c, access.AccessEntry{Kind: access.KindExport, StreamID: id, Window: timeWindow(r.from, r.to), Filters: exportFilters(c)})
}

// describe is what the export says about itself; digestOf what its
// digest covers.
func (r exportRequest) describe(digestOf string) exportInfo {
	return exportInfo{Format: exportFormat, ExportedAt: r.exportedAt, StreamID: r.info.StreamID, From: r.from, To: r.to,
		Balance: r.balance, DigestOf: digestOf}
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

// startDownload sends the headers, announcing the digest trailer: the
// body is streamed, so its digest is known only at the end.
func startDownload(c echo.Context, contentType, filename string) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Trailer", exportDigestTrailer)
	c.Response().WriteHeader(http.StatusOK)
}

// endDownload sets the digest trailer.
func endDownload(c echo.Context, digest string) {
	c.Response().Header().Set(exportDigestTrailer, digest)
}

// eachExportPage walks the window page by page, calling fn with each page:
// the events as shown (masked) and as stored, which folds read.
func (s *Server) eachExportPage(c echo.Context, r exportRequest, fn func(shown, stored []eventstore.Event) error) error {
	ctx := c.Request().Context()
	for after := 0; ; {
		evs, err := s.deps.Store.StreamWindow(ctx, r.info.StreamID, after, r.from, r.to, exportPage)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		shown := slices.Clone(evs) // masking replaces payloads, never changes their bytes
		s.maskEvents(shown)
		if err := fn(shown, evs); err != nil {
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

// balanceFold follows the state field r.balance through the exported
// events: the state before the window's first event comes from the one
// time-travel service (a snapshot and at most an interval of events), then
// each event is applied with its folder, as every state page does.
type balanceFold struct {
	st *timetravel.State
}

func (s *Server) balanceAfter(c echo.Context, r exportRequest, bf *balanceFold, e *eventstore.Event) (string, error) {
	if bf.st == nil {
		st, err := s.deps.TimeTravel.StateOf(c.Request().Context(), r.info, timetravel.AtVersion(e.Version-1))
		if err != nil {
			return "", err
		}
		bf.st = st
	}
	s.deps.TimeTravel.Folder().Apply(bf.st, e)
	v, err := r.balancePtr.Get(bf.st.Data)
	if err != nil {
		return "", nil // not set (yet): an empty cell
	}
	_, v, _ = s.deps.PII.MaskChange(r.info.StreamType, r.balance, nil, v)
	return timetravel.JSONText(v), nil
}

// abortExport ends a download that already started: the status is sent, so
// the error can only be logged, and the file is left visibly incomplete
// (no digest line / invalid JSON).
func (s *Server) abortExport(c echo.Context, err error) error {
	s.logger.Error("web: export failed mid-stream", "path", c.Request().URL.Path, "error", err)
	return nil
}

// exportCSV streams a stream's audit trail as CSV (optional from/to window
// on recorded_at): comment lines saying what the export is, the event rows,
// the state at the window's end in a section of its own, and a last
// comment line with the SHA-256 of the event rows. A file without that
// line was cut short.
func (s *Server) exportCSV(c echo.Context) error {
	r, err := s.parseExport(c)
	if err != nil {
		return err
	}
	startDownload(c, "text/csv; charset=utf-8", exportFilename(r.info.StreamID, "csv"))
	w := newCSVWriter(c.Response())
	d := r.describe("the event rows exactly as written, each with its CRLF")
	w.Comment("auditd export " + d.Format + " of stream " + csvCommentText(d.StreamID))
	w.Comment("exported_at " + d.ExportedAt.Format(time.RFC3339Nano))
	w.Comment("window from " + orUnbounded(d.From) + " to " + orUnbounded(d.To) + " (recorded_at)")
	if r.balance != "" {
		w.Comment("column " + csvCommentText(r.balance) + ": that state field's value after each event")
	}
	w.Comment("the last line is the SHA-256 of " + d.DigestOf)
	header := exportCSVHeader
	if r.balance != "" {
		header = append(slices.Clone(header), r.balance)
	}
	if err := w.Write(header); err != nil {
		return s.abortExport(c, err)
	}
	sum := sha256.New()
	var bf balanceFold
	err = s.eachExportPage(c, r, func(evs, stored []eventstore.Event) error {
		for i := range evs {
			e := &evs[i]
			m := e.Meta()
			row := []string{"event", strconv.FormatInt(e.Position, 10), e.EventID, e.StreamID, e.StreamType,
				strconv.Itoa(e.Version), e.EventType, strconv.Itoa(e.SchemaVersion), e.RecordedAt.UTC().Format(time.RFC3339Nano),
				m.Actor, m.Source, m.CorrelationID, m.CausationID, string(e.Payload), string(e.Metadata)}
			if r.balance != "" {
				v, err := s.balanceAfter(c, r, &bf, &stored[i])
				if err != nil {
					return err
				}
				row = append(row, v)
			}
			if err := w.WriteHashed(row, sum); err != nil {
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
	at := ""
	if !st.At.IsZero() {
		at = st.At.UTC().Format(time.RFC3339Nano)
	}
	w.Comment("state at the window's end: version " + strconv.Itoa(st.Version) + ", recorded " + orDash(at))
	if err := w.Write(exportStateHeader); err != nil {
		return s.abortExport(c, err)
	}
	for _, leaf := range stateLeaves(st.State) {
		bl := st.Blame[leaf.path]
		blameAt := ""
		if !bl.RecordedAt.IsZero() {
			blameAt = bl.RecordedAt.UTC().Format(time.RFC3339Nano)
		}
		if err := w.Write([]string{"state", leaf.path, timetravel.JSONText(leaf.value), strconv.Itoa(bl.Version), bl.EventType,
			blameAt, bl.Actor, bl.Source, strconv.FormatInt(bl.Position, 10)}); err != nil {
			return s.abortExport(c, err)
		}
	}
	digest := hex.EncodeToString(sum.Sum(nil))
	w.Comment("sha256 " + digest)
	w.Flush()
	if err := w.Error(); err != nil {
		return s.abortExport(c, err)
	}
	endDownload(c, digest)
	return nil
}

// orUnbounded is a window bound as the export's comments write it.
func orUnbounded(t time.Time) string {
	if t.IsZero() {
		return "(unbounded)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// csvCommentText keeps a comment one cell of one line: a stream id or
// path with a line break must not start a row, nor one with a comma or a
// quote a cell that a spreadsheet could evaluate.
func csvCommentText(s string) string {
	return strings.NewReplacer("\r", "_", "\n", "_", ",", "_", `"`, "_").Replace(s)
}

type stateLeaf struct {
	path  string
	value any
}

// stateLeaves lists a state's leaves (scalars, empty objects and arrays)
// in path order, the rows of the CSV's state section.
func stateLeaves(data map[string]any) []stateLeaf {
	var out []stateLeaf
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 && path != "" {
				out = append(out, stateLeaf{path, x})
			}
			for _, k := range sortedMemberNames(x) {
				walk(path+"/"+timetravel.EscapeToken(k), x[k])
			}
		case []any:
			if len(x) == 0 {
				out = append(out, stateLeaf{path, x})
			}
			for i, el := range x {
				walk(path+"/"+strconv.Itoa(i), el)
			}
		default:
			out = append(out, stateLeaf{path, v})
		}
	}
	walk("", data)
	return out
}

// exportJSON streams a stream's audit trail as one JSON document:
// {export: {format, exported_at, stream_id, from, to}, stream, from, to,
// events: [...], state: {version, at, state, blame}, sha256}. sha256 is
// the digest of the elements of events as written, each followed by "\n",
// and is sent again as the X-Auditd-Events-Sha256 trailer.
func (s *Server) exportJSON(c echo.Context) error {
	r, err := s.parseExport(c)
	if err != nil {
		return err
	}
	startDownload(c, "application/json; charset=utf-8", exportFilename(r.info.StreamID, "json"))
	out := c.Response()
	d := r.describe("each element of events exactly as written, followed by a newline (\"\\n\"); the digest is the document's last member, sha256")
	head, err := json.Marshal(struct {
		Export exportInfo            `json:"export"`
		Stream eventstore.StreamInfo `json:"stream"`
		From   time.Time             `json:"from,omitzero"`
		To     time.Time             `json:"to,omitzero"`
	}{d, r.info, r.from, r.to})
	if err != nil {
		return s.abortExport(c, err)
	}
	// The head object is reopened to add the streamed members.
	if _, err := fmt.Fprintf(out, "%s,\"events\":[", head[:len(head)-1]); err != nil {
		return s.abortExport(c, err)
	}
	sum := sha256.New()
	first := true
	err = s.eachExportPage(c, r, func(evs, _ []eventstore.Event) error {
		for i := range evs {
			b, err := json.Marshal(&evs[i])
			if err != nil {
				return err
			}
			sum.Write(b)
			sum.Write([]byte{'\n'})
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
	digest := hex.EncodeToString(sum.Sum(nil))
	if _, err := fmt.Fprintf(out, "],\"state\":%s,\"sha256\":%q}\n", tail, digest); err != nil {
		return s.abortExport(c, err)
	}
	endDownload(c, digest)
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
func (c *csvWriter) Write(cells []string) error { return c.WriteHashed(cells, nil) }

// WriteHashed writes one row and adds its bytes, as written, to h (when
// not nil).
func (c *csvWriter) WriteHashed(cells []string, h hash.Hash) error {
	var line strings.Builder
	for i, cell := range cells {
		if i > 0 {
			line.WriteByte(',')
		}
		line.WriteString(csvCell(cell))
	}
	line.WriteString("\r\n")
	if h != nil {
		h.Write([]byte(line.String()))
	}
	_, err := c.w.WriteString(line.String())
	return err
}

// Comment writes a "# " line, which CSV readers told so (Python's csv with
// a filter, Go's encoding/csv Comment) skip: what the export is, and its
// digest.
func (c *csvWriter) Comment(text string) {
	c.w.WriteString("# " + text + "\r\n")
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
