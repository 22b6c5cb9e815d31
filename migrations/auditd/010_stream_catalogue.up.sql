-- The stream catalogue: one row per stream of the event source, in auditd's
-- own schema, so that stream search can match anywhere in an id, in any
-- case, with a trigram index. The index cannot live on the event table: that
-- table may be an application's own (a mapped source), and auditd creates
-- nothing in an application's schema. eventstore.Store.RefreshCatalogue
-- fills it incrementally by position; its upserts are idempotent (least and
-- greatest), so a pass may re-read events.
CREATE TABLE auditd.stream_catalogue (
    source            text        NOT NULL, -- the event table the stream is in
    stream_id         text        NOT NULL, -- the id's text form (uuid and integer ids too)
    stream_type       text        NOT NULL,
    first_version     bigint      NOT NULL,
    last_version      bigint      NOT NULL,
    last_event_type   text        NOT NULL,
    first_recorded_at timestamptz NOT NULL,
    last_recorded_at  timestamptz NOT NULL,
    last_position     bigint      NOT NULL,
    PRIMARY KEY (source, stream_id)
);

-- How far each source has been catalogued: every event at or below
-- position has its stream in the catalogue.
CREATE TABLE auditd.stream_catalogue_progress (
    source     text        PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- pg_trgm is a trusted extension (PostgreSQL 13+): a role allowed to create
-- in the database may install it, here into auditd's schema. Where it is
-- already installed (in another schema) its operator class is used from
-- there; where it cannot be had, search still works, by a scan of the
-- catalogue (one row per stream, not per event).
DO $$
DECLARE
    ext_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA auditd;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'auditd: pg_trgm unavailable (%), stream search scans the catalogue', SQLERRM;
    END;
    SELECT n.nspname INTO ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX stream_catalogue_id_trgm ON auditd.stream_catalogue USING gin (stream_id %I.gin_trgm_ops)', ext_schema);
    END IF;
END
$$;
