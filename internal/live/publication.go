package live

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditd/auditd/internal/eventstore"
)

// PublicationState is one publication a mapped table needs, as the catalog
// has it: the setup page and the log show what a DBA must run.
type PublicationState struct {
	Name        string   `json:"name"`
	Exists      bool     `json:"exists"`
	InsertsOnly bool     `json:"inserts_only"`
	Tables      []string `json:"tables"`
	// Missing are the tables the publication exists without.
	Missing []string `json:"missing,omitempty"`
	// Statement is what creates it (or, when it exists without some
	// tables, adds them); "" when it is complete.
	Statement string `json:"statement,omitempty"`
}

// PublicationError is a start-up failure of live on a mapped table that a
// DBA fixes: the statements to run.
type PublicationError struct {
	Statements []string
	Reason     string
}

func (e *PublicationError) Error() string {
	return "live: " + e.Reason + "; a DBA (the table's owner) runs: " + strings.Join(e.Statements, " ")
}

// Publications reads the state of the publications src needs, named after
// name (eventstore.LiveSource.Publications).
func Publications(ctx context.Context, db eventstore.DB, src *eventstore.LiveSource, name string) ([]PublicationState, error) {
	var out []PublicationState
	for _, p := range src.Publications(name) {
		st := PublicationState{Name: p.Name, InsertsOnly: p.InsertsOnly, Tables: p.Tables}
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, p.Name).Scan(&st.Exists); err != nil {
			return nil, fmt.Errorf("live: unable to look up publication %s: %w", p.Name, err)
		}
		if !st.Exists {
			st.Statement = p.Statement
			out = append(out, st)
			continue
		}
		for _, t := range p.Tables {
			var has bool
			if err := db.QueryRow(ctx, `
				SELECT EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
				               WHERE p.pubname = $1 AND pr.prrelid = to_regclass($2))
				    OR EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1 AND puballtables)`, p.Name, t).Scan(&has); err != nil {
				return nil, fmt.Errorf("live: unable to read publication %s: %w", p.Name, err)
			}
			if !has {
				st.Missing = append(st.Missing, t)
			}
		}
		if len(st.Missing) > 0 {
			st.Statement = "ALTER PUBLICATION " + pgx.Identifier{p.Name}.Sanitize() + " ADD TABLE " + strings.Join(st.Missing, ", ") + ";"
		}
		out = append(out, st)
	}
	return out, nil
}

// ensureMappedPublications creates the publications a mapped table needs
// when they are missing and the role owns the tables; otherwise it fails
// with the statements a DBA runs (PublicationError). It never alters a
// publication that exists: that is the DBA's.
func (c *Consumer) ensureMappedPublications(ctx context.Context) error {
	states, err := Publications(ctx, c.pool, c.cfg.Source, c.cfg.Publication)
	if err != nil {
		return err
	}
	c.publications = c.publications[:0]
	var todo []string
	for _, st := range states {
		c.publications = append(c.publications, st.Name)
		switch {
		case len(st.Missing) > 0:
			return &PublicationError{Statements: []string{st.Statement}, Reason: fmt.Sprintf("publication %s does not publish %s", st.Name, strings.Join(st.Missing, ", "))}
		case !st.Exists:
			todo = append(todo, st.Statement)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if !c.cfg.Source.MayCreatePublications() {
		return &PublicationError{Statements: todo, Reason: "the publication is missing and auditd may not create it (CREATE PUBLICATION needs the table's owner)"}
	}
	for _, stmt := range todo {
		_, err := c.pool.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "42710": // created concurrently
		case errors.As(err, &pgErr) && pgErr.Code == "42501":
			return &PublicationError{Statements: todo, Reason: "auditd may not create the publication: " + pgErr.Message}
		case err != nil:
			return fmt.Errorf("live: unable to create the publication (%s): %w", stmt, err)
		default:
			c.logger.Info("live: created publication", "statement", stmt)
		}
	}
	return nil
}

// quotedNames are publication names as publication_names takes them.
func quotedNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// SlotState is the replication slot as the server has it ("" Plugin: the
// slot does not exist yet).
type SlotState struct {
	Name              string `json:"name"`
	Exists            bool   `json:"exists"`
	Active            bool   `json:"active"`
	ConfirmedFlushLSN string `json:"confirmed_flush_lsn,omitempty"`
	// RetainedBytes is the WAL the slot holds back from recycling.
	RetainedBytes int64 `json:"retained_bytes"`
	// Replication reports whether the connected role may stream (the
	// REPLICATION attribute, or superuser).
	Replication bool `json:"replication"`
}

// Slot reads the state of slot name and whether the role may replicate.
func Slot(ctx context.Context, db eventstore.DB, name string) (SlotState, error) {
	st := SlotState{Name: name}
	if err := db.QueryRow(ctx, `SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&st.Replication); err != nil {
		return st, fmt.Errorf("live: unable to read the role's attributes: %w", err)
	}
	var lsn *string
	err := db.QueryRow(ctx, `
		SELECT active, confirmed_flush_lsn::text, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint
		FROM pg_replication_slots WHERE slot_name = $1`, name).Scan(&st.Active, &lsn, &st.RetainedBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("live: unable to read replication slot %s: %w", name, err)
	}
	st.Exists = true
	if lsn != nil {
		st.ConfirmedFlushLSN = *lsn
	}
	return st, nil
}
