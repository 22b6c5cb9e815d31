package web

import (
	"errors"
	"net/http"

	"github.com/a-h/templ"
	"github.com/jackc/pglogrepl"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/evidence"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/views"
)

// maxCheckpointsPage bounds the checkpoints /about/keys lists (and checks).
const maxCheckpointsPage = 100

// checkpointJSON is a checkpoint as /about/keys answers it (as a bundle
// carries it, without a proof), checked again.
type checkpointJSON struct {
	evidence.Checkpoint
	Valid   bool   `json:"valid"`
	Problem string `json:"problem,omitempty"`
}

// keysJSON is /about/keys as JSON.
type keysJSON struct {
	KeyID       string           `json:"key_id"`
	PublicKey   string           `json:"public_key"` // PEM, as auditd keys prints it
	Checkpoints []checkpointJSON `json:"checkpoints"`
	Total       int              `json:"total"`
}

func (s *Server) requireCheckpoints() error {
	if s.deps.Checkpoints == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "no signing key is configured")
	}
	return nil
}

// showKeys is GET /about/keys: the public key that verifies checkpoints
// and evidence bundles, and every checkpoint, newest first, each checked
// again (its signature, and its head against the ledger).
func (s *Server) showKeys(c echo.Context) error {
	if err := s.requireCheckpoints(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	pub := s.deps.Checkpoints.PublicKey()
	store := s.deps.Checkpoints.Store()
	list, total, err := store.Checkpoints(ctx, maxCheckpointsPage)
	if err != nil {
		return err
	}
	r := keysResult{data: keysJSON{KeyID: ledger.KeyID(pub), PublicKey: string(evidence.PublicKeyPEM(pub)), Total: total, Checkpoints: []checkpointJSON{}},
		canSign: identityOf(c).User.Role.Reaches(access.Compliance), ledgerOn: s.deps.Ledger != nil}
	for _, cp := range list {
		st, err := store.Check(ctx, cp, pub)
		if err != nil {
			return err
		}
		r.data.Checkpoints = append(r.data.Checkpoints, checkpointJSON{Checkpoint: evidence.CheckpointOf(&ledger.SegmentProof{Checkpoint: cp}),
			Valid: st.Valid, Problem: st.Problem})
	}
	return s.renderResult(c, http.StatusOK, "Signing keys", "", r)
}

// keysResult is what /about/keys shows.
type keysResult struct {
	data     keysJSON
	canSign  bool
	ledgerOn bool
}

func (r keysResult) toJSON() any { return r.data }

func (r keysResult) toView(ch views.Chrome) templ.Component {
	vm := views.KeysVM{KeyID: r.data.KeyID, PublicKeyPEM: r.data.PublicKey, Total: r.data.Total, CanSign: r.canSign && r.ledgerOn,
		LedgerOff: !r.ledgerOn, CSRFToken: ch.CSRFToken}
	for _, cp := range r.data.Checkpoints {
		vm.Checkpoints = append(vm.Checkpoints, views.KeyCheckpoint{Seq: cp.Seq, CreatedAt: cp.CreatedAt, Reason: cp.Reason,
			HeadLSN: cp.HeadLSN, Entries: cp.Entries, Valid: cp.Valid, Problem: cp.Problem})
	}
	return views.KeysPage(ch, vm)
}

// signCheckpoint is POST /about/keys/checkpoints: sign the ledger's head
// now (compliance), then back to the list.
func (s *Server) signCheckpoint(c echo.Context) error {
	if err := s.requireCheckpoints(); err != nil {
		return err
	}
	if s.deps.Ledger == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "the witness ledger is off (--no-live, or a mapped source): there is nothing to sign")
	}
	cp, err := s.deps.Checkpoints.Checkpoint(c.Request().Context(), ledger.ReasonOnDemand)
	if errors.Is(err, ledger.ErrEmptyLedger) {
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	}
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		return c.JSON(http.StatusCreated, map[string]any{"seq": cp.Seq, "head_lsn": pglogrepl.LSN(cp.HeadLSN).String(), "entries": cp.Entries, "created_at": cp.CreatedAt})
	}
	return c.Redirect(http.StatusSeeOther, "/about/keys")
}
