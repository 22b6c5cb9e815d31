package pgtest

// Seed000SQL creates, in schema app, the event table of shared/seeds/000:
// a team's own table with uuid stream ids, no stream type, no metadata and
// no index but the key. Tests of the source mapping read it.
const Seed000SQL = `
CREATE SCHEMA app;
CREATE TABLE app.events (
    id BIGSERIAL PRIMARY KEY,
    aggregate_id UUID NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    payload JSONB NOT NULL,
    version INT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);`

// Seed000Mapping is the configuration's source section for Seed000SQL.
const Seed000Mapping = `{"source": {
	"table": "app.events",
	"columns": {"position": "id", "event_id": "id", "stream_id": "aggregate_id",
	            "stream_type": null, "version": "version", "event_type": "event_type",
	            "schema_version": null, "payload": "payload", "metadata": null,
	            "recorded_at": "created_at", "correlation_id": null, "causation_id": null, "actor": null},
	"stream_type": "Wallet",
	"time_zone": "UTC"
}}`

// Seed002SQL creates, in schema app, the event table of shared/seeds/002:
// uuid event ids, no per-stream version (revision is the global order,
// event_version the schema version), camelCase metadata, and times without
// time zone. The article's inline INDEX clauses are MySQL syntax: the same
// indexes are created with CREATE INDEX.
const Seed002SQL = `
CREATE SCHEMA app;
CREATE TABLE app.events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    aggregate_id uuid NOT NULL,
    aggregate_type text NOT NULL,
    event_type text NOT NULL,
    event_version integer NOT NULL DEFAULT 1,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    revision bigint NOT NULL UNIQUE,
    created_at timestamp NOT NULL DEFAULT now()
);
CREATE INDEX idx_aggregate ON app.events (aggregate_id, aggregate_type);
CREATE INDEX idx_event_type ON app.events (event_type);
CREATE INDEX idx_created_at ON app.events (created_at);
CREATE INDEX idx_correlation_id ON app.events ((metadata->>'correlationId'));`

// Seed002Mapping is the configuration's source section for Seed002SQL.
const Seed002Mapping = `{"source": {
	"table": "app.events",
	"columns": {"position": "revision", "event_id": "id", "stream_id": "aggregate_id",
	            "stream_type": "aggregate_type", "version": null, "event_type": "event_type",
	            "schema_version": "event_version", "payload": "data", "metadata": "metadata",
	            "recorded_at": "created_at"},
	"time_zone": "UTC",
	"metadata_keys": {"correlation_id": "correlationId", "causation_id": "causationId", "actor": "userId"}
}}`

// Seed001SQL creates, in schema app, the event table of shared/seeds/001:
// application-chosen uuid ids, event_data, a per-stream version and no
// global position. The article shows no timestamp column; created_at is
// assumed (auditd needs one).
const Seed001SQL = `
CREATE SCHEMA app;
CREATE TABLE app.events (
    id uuid PRIMARY KEY,
    aggregate_id uuid NOT NULL,
    event_type text NOT NULL,
    event_data jsonb NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (aggregate_id, version)
);`

// Seed003SQL creates, in schema app, the event table of shared/seeds/003:
// a bigserial key, "type" for the event type, occurred_at for the time.
const Seed003SQL = `
CREATE SCHEMA app;
CREATE TABLE app.events (
    id bigserial PRIMARY KEY,
    aggregate_id uuid NOT NULL,
    type text NOT NULL,
    version integer NOT NULL,
    payload jsonb NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (aggregate_id, version)
);`

// Seed004SQL creates, in schema app, the event table of shared/seeds/004:
// uuid event ids and no global position at all; times without time zone.
const Seed004SQL = `
CREATE SCHEMA app;
CREATE TABLE app.events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    aggregate_id uuid NOT NULL,
    event_type varchar(255) NOT NULL,
    event_data jsonb NOT NULL,
    version integer NOT NULL,
    timestamp timestamp DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (aggregate_id, version)
);
CREATE INDEX idx_aggregate_id ON app.events (aggregate_id);`

// DropNativeSQL removes auditd's own tables from a test database (cloned
// from the migrated template), leaving a database as an application has
// it before auditd first runs.
const DropNativeSQL = `
DROP SCHEMA auditd CASCADE;
DROP TABLE public.events CASCADE;
DROP TABLE public.projection_checkpoints;
DROP FUNCTION public.events_reject_change();`

// Seed004Mapping is the configuration's source section for Seed004SQL.
const Seed004Mapping = `{"source": {
	"table": "app.events",
	"columns": {"position": null, "event_id": "id", "stream_id": "aggregate_id", "version": "version",
	            "event_type": "event_type", "payload": "event_data", "recorded_at": "timestamp"},
	"stream_type": "Account",
	"time_zone": "UTC"
}}`
