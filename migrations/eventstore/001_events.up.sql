-- The event store: a public contract. Projection workers and applications in
-- other languages write to these tables, so names and types here are stable.
CREATE TABLE IF NOT EXISTS events (
    position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    stream_id      text        NOT NULL,
    stream_type    text        NOT NULL,
    version        integer     NOT NULL CHECK (version > 0),
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL DEFAULT 1,
    payload        jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT events_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT events_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);

-- Reads by stream use the (stream_id, version) unique index.
-- Stream listings go through each stream's first event: small partial
-- indexes, in byte order so that an id prefix is one index range.
CREATE INDEX IF NOT EXISTS events_stream_heads_idx ON events ((stream_id COLLATE "C")) WHERE version = 1;
CREATE INDEX IF NOT EXISTS events_stream_type_heads_idx ON events (stream_type, (stream_id COLLATE "C")) WHERE version = 1;
-- The global log filtered by type, newest first, keyset on position.
CREATE INDEX IF NOT EXISTS events_event_type_position_idx ON events (event_type, position);
-- "Every MoneyWithdrawn between 01:00 and 03:00": type and time together.
CREATE INDEX IF NOT EXISTS events_event_type_recorded_at_idx ON events (event_type, recorded_at);
CREATE INDEX IF NOT EXISTS events_stream_type_position_idx ON events (stream_type, position);
-- Time-range reads ("what happened at 02:00") and time travel by timestamp.
CREATE INDEX IF NOT EXISTS events_recorded_at_idx ON events (recorded_at);
CREATE INDEX IF NOT EXISTS events_stream_recorded_at_idx ON events (stream_id, recorded_at);
-- Correlation and actor lookups: expression indexes on the metadata keys.
CREATE INDEX IF NOT EXISTS events_correlation_id_idx ON events ((metadata->>'correlation_id'), position)
    WHERE metadata ? 'correlation_id';
CREATE INDEX IF NOT EXISTS events_causation_id_idx ON events ((metadata->>'causation_id'))
    WHERE metadata ? 'causation_id';
CREATE INDEX IF NOT EXISTS events_actor_idx ON events ((metadata->>'actor'), position)
    WHERE metadata ? 'actor';

-- Events are immutable. The trigger makes the database itself refuse changes,
-- whatever client is connected.
CREATE OR REPLACE FUNCTION events_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % on events is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'append a compensating event instead';
END;
$$;

DROP TRIGGER IF EXISTS events_immutable ON events;
CREATE TRIGGER events_immutable
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_reject_change();

DROP TRIGGER IF EXISTS events_immutable_truncate ON events;
CREATE TRIGGER events_immutable_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection  text        PRIMARY KEY,
    position    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    error_count integer     NOT NULL DEFAULT 0
);
