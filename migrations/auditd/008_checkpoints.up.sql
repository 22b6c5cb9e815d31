-- Signed checkpoints of the witness ledger. Each checkpoint covers one
-- segment of the ledger: the entries after the previous checkpoint's head
-- (from_lsn, exclusive; 0/0 for the first) up to and including head_lsn.
-- It signs, with auditd's Ed25519 key, the segment's bounds, its entry
-- count, the head entry's chain hash and the root of a Merkle tree over the
-- segment's entry hashes (internal/ledger/checkpoint.go), so that an
-- evidence bundle proves its entries with a few tree hashes instead of the
-- whole chain since, and a checkpoint costs the entries since the last one.
CREATE TABLE auditd.ledger_checkpoints (
    seq          bigint      PRIMARY KEY,
    from_lsn     pg_lsn      NOT NULL,
    head_lsn     pg_lsn      NOT NULL,
    entries      bigint      NOT NULL,
    head_hash    bytea       NOT NULL,
    merkle_root  bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    reason       text        NOT NULL, -- interval, on demand, evidence
    key_id       text        NOT NULL, -- ledger.KeyID of the public key
    signature    bytea       NOT NULL  -- Ed25519 over ledger.Checkpoint.Statement
);

-- Append-only, like the ledger itself.
CREATE FUNCTION auditd.ledger_checkpoints_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'checkpoints are append-only: % on auditd.ledger_checkpoints is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledger_checkpoints_immutable
    BEFORE UPDATE OR DELETE ON auditd.ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION auditd.ledger_checkpoints_reject_change();

CREATE TRIGGER ledger_checkpoints_immutable_truncate
    BEFORE TRUNCATE ON auditd.ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION auditd.ledger_checkpoints_reject_change();
