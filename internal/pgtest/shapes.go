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
