-- The witness ledger: one entry per committed transaction that touched the
-- event table, in commit order, each entry's hash covering the previous
-- one. It is auditd's own record of what it saw commit, so that a payload
-- edited later (trigger disabled, row changed, trigger re-enabled) no longer
-- matches, and so that the live consumer may confirm the replication slot
-- as soon as an entry is written instead of pinning WAL for its resume
-- window.
--
-- Compact on purpose (about a hundred bytes per event): the events of a
-- transaction are packed in one bytea (internal/ledger: position, version,
-- stream id, SHA-256 of the event's canonical text form), so the per-row
-- overhead is paid once per transaction.
CREATE TABLE auditd.ledger (
    -- The commit record's LSN: commit order, and the live cursor's first
    -- half. Back-filled entries, which precede the slot, have no commit
    -- record: they count up from 0/1, below any real WAL position.
    commit_lsn   pg_lsn      PRIMARY KEY,
    xid          bigint      NOT NULL,
    committed_at timestamptz,          -- NULL when back-filled: unknown
    backfilled   boolean     NOT NULL DEFAULT false,
    events       bytea       NOT NULL, -- ledger.Pack
    hash         bytea       NOT NULL  -- ledger.Entry.ChainHash over the previous entry's hash
);

-- Append-only, like public.events: the database itself refuses changes,
-- whatever client is connected.
CREATE FUNCTION auditd.ledger_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on auditd.ledger is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledger_immutable
    BEFORE UPDATE OR DELETE ON auditd.ledger
    FOR EACH ROW EXECUTE FUNCTION auditd.ledger_reject_change();

CREATE TRIGGER ledger_immutable_truncate
    BEFORE TRUNCATE ON auditd.ledger
    FOR EACH STATEMENT EXECUTE FUNCTION auditd.ledger_reject_change();
