// Package migrations embeds auditd's SQL migrations, in two sets:
//
//   - eventstore/: the public event store (events, projection_checkpoints),
//     created for teams starting fresh;
//   - auditd/: auditd's own tables, all inside the `auditd` schema.
//
// Files are named NNN_name.up.sql and applied in order by internal/schema.
package migrations

import "embed"

// FS holds both sets under eventstore/ and auditd/.
//
//go:embed eventstore/*.sql auditd/*.sql
var FS embed.FS
