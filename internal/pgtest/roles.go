package pgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Role creates a login role, named after the test's database so that it is
// unique in the shared cluster (roles are cluster-wide), runs grants (SQL
// where %s is the role's quoted name) on db, and returns the role's name
// and a connection string to db as it. The role is dropped when the test
// ends. The cluster trusts its unix socket, so no password is needed.
func (d *DB) Role(t testing.TB, attributes, grants string) (string, string) {
	t.Helper()
	name := d.Name + "_ro"
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	quoted := pgx.Identifier{name}.Sanitize()
	ctx := t.Context()
	if _, err := d.Pool.Exec(ctx, `CREATE ROLE `+quoted+` LOGIN `+attributes); err != nil {
		t.Fatalf("pgtest: create role: %v", err)
	}
	if grants != "" {
		if _, err := d.Pool.Exec(ctx, strings.ReplaceAll(grants, "%s", quoted)); err != nil {
			t.Fatalf("pgtest: grants to %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Its grants and any objects it owns in this database go first.
		_, _ = d.Pool.Exec(ctx, fmt.Sprintf(`DROP OWNED BY %s`, quoted))
		_, _ = d.Pool.Exec(ctx, `DROP ROLE `+quoted)
	})
	return name, strings.Replace(d.ConnString, "postgres://postgres@", "postgres://"+name+"@", 1)
}
