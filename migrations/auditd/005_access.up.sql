-- Who may sign in, and with what. Secrets are never stored: passwords as
-- argon2id hashes, session ids and API tokens as SHA-256 digests, so that a
-- copy of this schema opens no session.
CREATE TABLE auditd.users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role          text        NOT NULL CHECK (role IN ('support', 'engineer', 'compliance', 'admin')),
    password_hash text,       -- argon2id in PHC form; NULL: no password sign-in
    -- An identity provider's user: "<issuer> <subject>"; the role is the
    -- provider's, refreshed at every sign-in.
    oidc_subject  text        UNIQUE,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- A session's absolute expiry is created_at plus the server's limit, its
-- idle expiry last_seen_at plus the idle limit: both are checked on read,
-- so changing a limit applies to open sessions too.
CREATE TABLE auditd.sessions (
    id_hash      bytea       PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES auditd.users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);

CREATE INDEX sessions_user_id_idx ON auditd.sessions (user_id);

CREATE TABLE auditd.api_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES auditd.users (id) ON DELETE CASCADE,
    secret_hash bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE INDEX api_tokens_user_id_idx ON auditd.api_tokens (user_id);
