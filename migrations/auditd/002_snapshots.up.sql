-- Time-travel snapshots: a cache of folded stream states, so that the state
-- at any moment of a long stream folds only a short tail. A snapshot is only
-- valid for the reducer configuration it was folded with: the fingerprint
-- (a hash of the normalised reducer/upcaster file) is part of the key, and
-- snapshots of another fingerprint are simply never read. Rows can be
-- deleted at any time; auditd folds from the events again.
CREATE TABLE auditd.snapshots (
    stream_id   text        NOT NULL,
    fingerprint text        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    recorded_at timestamptz NOT NULL, -- recorded_at of the event at version
    state       jsonb       NOT NULL, -- timetravel.State.MarshalSnapshot
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- "Newest snapshot at or before version V" is one backward probe of
    -- this key.
    PRIMARY KEY (stream_id, fingerprint, version)
);

