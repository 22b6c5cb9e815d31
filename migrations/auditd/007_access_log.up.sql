-- The access log: who saw what. One row per view of a stream, a state, a
-- diff, an event, an export, an evidence bundle, a field history, a
-- verification, the access log itself, and per reveal of a masked value.
-- Written before the page's body is sent (internal/access.RecordAccess),
-- so that no view is answered without its entry.
CREATE TABLE auditd.access_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The database's clock, not the server's: entries from several auditd
    -- processes order on one clock.
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_name   text        NOT NULL,
    role        text        NOT NULL,
    kind        text        NOT NULL CHECK (kind ~ '^[a-z][a-z-]{0,31}$'),
    -- Empty, not NULL, when a view has none: filters compare text, and
    -- the CSV export writes an empty cell either way.
    stream_id   text        NOT NULL DEFAULT '',
    event_key   text        NOT NULL DEFAULT '',
    -- What part was seen: "v:3..v:9", "at 2026-01-01T02:00:00Z", a JSON
    -- pointer for a reveal. ("window" is a reserved word.)
    view_window text        NOT NULL DEFAULT '',
    filters     jsonb       NOT NULL DEFAULT '{}',
    reason      text        NOT NULL DEFAULT '',
    case_ref    text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    client_addr text        NOT NULL DEFAULT '',
    user_agent  text        NOT NULL DEFAULT ''
);

-- /access-log reads newest first, keyset on (at, id), under each filter.
CREATE INDEX access_log_at_idx ON auditd.access_log (at DESC, id DESC);
CREATE INDEX access_log_user_idx ON auditd.access_log (user_name, at DESC, id DESC);
CREATE INDEX access_log_stream_idx ON auditd.access_log (stream_id, at DESC, id DESC) WHERE stream_id <> '';
CREATE INDEX access_log_case_idx ON auditd.access_log (case_ref, at DESC, id DESC) WHERE case_ref <> '';
CREATE INDEX access_log_kind_idx ON auditd.access_log (kind, at DESC, id DESC);

-- Append-only, like public.events and auditd.ledger: the database itself
-- refuses changes, whatever client is connected.
CREATE FUNCTION auditd.access_log_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only: % on auditd.access_log is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER access_log_immutable
    BEFORE UPDATE OR DELETE ON auditd.access_log
    FOR EACH ROW EXECUTE FUNCTION auditd.access_log_reject_change();

CREATE TRIGGER access_log_immutable_truncate
    BEFORE TRUNCATE ON auditd.access_log
    FOR EACH STATEMENT EXECUTE FUNCTION auditd.access_log_reject_change();

-- The case a session's user works on ("ticket 4711"), set from the page
-- header and written into every entry of the session's views.
ALTER TABLE auditd.sessions ADD COLUMN case_ref text NOT NULL DEFAULT '';
