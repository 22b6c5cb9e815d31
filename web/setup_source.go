package web

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/views"
)

// SourceSetup is what the setup page needs to know of a mapped source:
// the mapping, how live reads it, and the publication and slot names.
type SourceSetup struct {
	Mapping     *eventstore.Mapping
	Live        *eventstore.LiveSource
	Publication string
	Slot        string
}

// showSetupSource is GET /setup/source: what a DBA runs so that auditd
// works fully on the application's table (the publication auditd may not
// create itself, the indexes the pages need), and the slot's state.
func (s *Server) showSetupSource(c echo.Context) error {
	r := setupSourceResult{Native: s.deps.SourceSetup == nil, Indexes: []eventstore.IndexAdvice{}, Publications: []live.PublicationState{}}
	if su := s.deps.SourceSetup; su != nil {
		ctx := c.Request().Context()
		var err error
		r.Table = su.Live.Tables[0].Qualified
		if r.Publications, err = live.Publications(ctx, s.deps.Store.Pool(), su.Live, su.Publication); err != nil {
			return err
		}
		slot, err := live.Slot(ctx, s.deps.Store.Pool(), su.Slot)
		if err != nil {
			return err
		}
		r.Slot = &slot
		if r.Indexes, err = s.deps.Store.MissingIndexes(ctx, su.Mapping); err != nil {
			return err
		}
		r.Indexes = append([]eventstore.IndexAdvice{}, r.Indexes...)
	}
	return s.renderResult(c, http.StatusOK, "Source setup", "live", r)
}

// setupSourceResult is the setup page's content; its JSON is the same.
type setupSourceResult struct {
	// Native: auditd reads its own events table, which needs no setup.
	Native       bool                     `json:"native"`
	Table        string                   `json:"table,omitempty"`
	Publications []live.PublicationState  `json:"publications"`
	Slot         *live.SlotState          `json:"slot,omitempty"`
	Indexes      []eventstore.IndexAdvice `json:"missing_indexes"`
}

func (r setupSourceResult) toJSON() any { return r }

func (r setupSourceResult) toView(chrome views.Chrome) templ.Component {
	vm := views.SetupSourceVM{Native: r.Native, Table: r.Table}
	for _, p := range r.Publications {
		vm.Publications = append(vm.Publications, views.SetupPublication{Name: p.Name, Exists: p.Exists, InsertsOnly: p.InsertsOnly,
			Tables: p.Tables, Missing: p.Missing, Statement: p.Statement})
	}
	if st := r.Slot; st != nil {
		vm.Slot = &views.SetupSlot{Name: st.Name, Exists: st.Exists, Active: st.Active, ConfirmedFlushLSN: st.ConfirmedFlushLSN,
			RetainedBytes: st.RetainedBytes, Replication: st.Replication}
	}
	for _, ix := range r.Indexes {
		vm.Indexes = append(vm.Indexes, views.SetupIndex{Statement: ix.Statement, SpeedsUp: ix.SpeedsUp})
	}
	return views.SetupSourcePage(chrome, vm)
}
