-- Tamper alerts: an UPDATE, DELETE or TRUNCATE on events seen in the WAL
-- means someone disabled the immutability trigger. One row per transaction
-- and kind (a mass UPDATE is one alert, not a million), keyed by the commit
-- LSN so that a replication stream re-sent after a restart records nothing
-- twice.
CREATE TABLE auditd.alerts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('update', 'delete', 'truncate')),
    commit_lsn   pg_lsn      NOT NULL,
    xid          bigint      NOT NULL,
    rows         integer     NOT NULL,
    positions    bigint[]    NOT NULL DEFAULT '{}', -- the first few rows touched
    committed_at timestamptz NOT NULL,
    detected_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alerts_commit_kind_key UNIQUE (commit_lsn, kind)
);

CREATE INDEX alerts_detected_at_idx ON auditd.alerts (detected_at DESC);
