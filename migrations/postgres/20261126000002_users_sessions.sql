-- Staff who use the web face, and their signed-in sessions (PostgreSQL). Only hashes of tokens are kept.

-- A token reads nar_<token_id>_<secret>: token_id finds the row, token_hash (argon2, PHC
-- string) proves the secret.
CREATE TABLE users (
    id                BIGSERIAL PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    role              TEXT    NOT NULL CHECK (role IN ('editor', 'reviewer', 'admin')),
    token_id          TEXT    NOT NULL UNIQUE,
    token_hash        TEXT    NOT NULL,
    disabled          BIGINT  NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_ms        BIGINT  NOT NULL
);

-- A review-page session: the cookie holds a random id, this table its SHA-256, with the
-- session's CSRF token.
CREATE TABLE sessions (
    id_hash           TEXT    PRIMARY KEY,
    user_id           BIGINT  NOT NULL REFERENCES users (id),
    csrf              TEXT    NOT NULL,
    created_ms        BIGINT  NOT NULL,
    expires_ms        BIGINT  NOT NULL
);
