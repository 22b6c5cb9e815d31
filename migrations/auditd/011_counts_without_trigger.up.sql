-- The overview's counts no longer come from a trigger on the event table:
-- auditd attaches nothing to a table that is not its own, and a mapped
-- application table could never have had one. auditd counts what it reads
-- instead (eventstore.FoldCounts): every event up to `position` is in
-- event_counts; `pending_head` is the head seen in a snapshot whose
-- `pending_xmax` every later snapshot's xmin must pass before the events up
-- to it are counted, so that a transaction still writing lower positions
-- when the head was seen is not skipped.
--
-- Installs whose 001 attached the trigger lose it here (the trigger, its
-- function and its delta table). The guard reads the catalog first: on a
-- database whose public.events is an application's, nothing is touched.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'auditd_count_events' AND tgrelid = to_regclass('public.events')) THEN
        DROP TRIGGER auditd_count_events ON public.events;
    END IF;
END;
$$;
DROP FUNCTION IF EXISTS auditd.count_events();
DROP TABLE IF EXISTS auditd.event_count_deltas;

CREATE TABLE IF NOT EXISTS auditd.event_counts (
    stream_type text   NOT NULL,
    event_type  text   NOT NULL,
    events      bigint NOT NULL DEFAULT 0,
    streams     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_type, event_type)
);
-- Counted again from the first event, by the new counter: the trigger's
-- totals were of public.events, which may not be the table auditd reads.
TRUNCATE auditd.event_counts;

CREATE TABLE auditd.event_count_progress (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- the source mapping's fingerprint ('' for auditd's own table): counts
    -- of another mapping are recounted
    source       text   NOT NULL,
    position     bigint NOT NULL DEFAULT 0,
    pending_head bigint,
    pending_xmax xid8,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
