-- The witness ledger by stream, its pruned ranges, and tamper alerts from
-- verification.

-- One row per stream and ledger entry: which entries hold a stream's
-- events, so that verifying a stream (or flagging a timeline page's
-- back-dated events) reads only that stream's entries instead of the whole
-- ledger. Written with the entries, in the same statement
-- (ledger.Store.Insert). It is an index, not evidence: a row removed here
-- makes the stream's events "unwitnessed" (louder, not quieter), and the
-- whole-store verification walks the chain itself.
CREATE TABLE auditd.ledger_streams (
    stream_id     text    NOT NULL,
    -- The highest and lowest version of the stream in the entry: a
    -- timeline page's versions select its entries by range.
    last_version  integer NOT NULL,
    first_version integer NOT NULL,
    commit_lsn    pg_lsn  NOT NULL,
    PRIMARY KEY (stream_id, last_version, commit_lsn)
);

-- Retention: each prune records the range it removed and the hash of the
-- last entry removed, so the chain that remains verifies from it and a
-- verification reports the range as pruned, not as broken. Append-only.
CREATE TABLE auditd.ledger_anchors (
    upto_lsn     pg_lsn      PRIMARY KEY, -- the last pruned entry
    from_lsn     pg_lsn      NOT NULL,    -- the first pruned entry
    hash         bytea       NOT NULL,    -- upto_lsn's entry hash
    entries      bigint      NOT NULL,
    events       bigint      NOT NULL,
    -- The highest event position pruned: a row at or below it that the
    -- remaining ledger does not list was pruned, not unwitnessed.
    max_position bigint      NOT NULL,
    -- The newest commit time pruned (NULL: only back-filled entries).
    committed_before timestamptz,
    pruned_at    timestamptz NOT NULL DEFAULT now()
);

-- The ledger stays append-only, with one exception: rows at or before an
-- anchor recorded first (in the same transaction) may be deleted. A prune
-- therefore always leaves the anchor that keeps the rest verifiable.
CREATE OR REPLACE FUNCTION auditd.ledger_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Nested, not AND: a statement trigger (TRUNCATE) has no OLD row.
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME IN ('ledger', 'ledger_streams') THEN
        IF OLD.commit_lsn <= (SELECT max(upto_lsn) FROM auditd.ledger_anchors) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: % on auditd.% is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledger_streams_immutable
    BEFORE UPDATE OR DELETE ON auditd.ledger_streams
    FOR EACH ROW EXECUTE FUNCTION auditd.ledger_reject_change();

CREATE TRIGGER ledger_streams_immutable_truncate
    BEFORE TRUNCATE ON auditd.ledger_streams
    FOR EACH STATEMENT EXECUTE FUNCTION auditd.ledger_reject_change();

CREATE TRIGGER ledger_anchors_immutable
    BEFORE UPDATE OR DELETE ON auditd.ledger_anchors
    FOR EACH ROW EXECUTE FUNCTION auditd.ledger_reject_change();

CREATE TRIGGER ledger_anchors_immutable_truncate
    BEFORE TRUNCATE ON auditd.ledger_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION auditd.ledger_reject_change();

-- A break found by verification (the background whole-store run) is a
-- tamper alert like one seen in the WAL, keyed by the first broken entry's
-- commit LSN so a daily run records the same break once.
ALTER TABLE auditd.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE auditd.alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('update', 'delete', 'truncate', 'verify'));
