-- TypeAuth schema, version 4 (SQLite): JWT signing keys, trusted issuers,
-- the jti deny list, per-app token settings and recoverable key secrets.

-- A signing key: the private key only sealed under the master key. The
-- phase (next, active, retired) follows from the times; state is "live" or
-- "revoked".
CREATE TABLE signing_keys (
    kid         TEXT    PRIMARY KEY,
    alg         TEXT    NOT NULL,
    public_jwk  BLOB    NOT NULL,
    sealed      BLOB    NOT NULL,
    state       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    activate_at INTEGER NOT NULL,
    retire_at   INTEGER,
    expires_at  INTEGER
) STRICT;

CREATE TABLE revoked_tokens (
    jti        TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

CREATE TABLE issuers (
    id                TEXT    PRIMARY KEY,
    name              TEXT    NOT NULL,
    issuer            TEXT    NOT NULL,
    jwks_url          TEXT    NOT NULL DEFAULT '',
    discovery_url     TEXT    NOT NULL DEFAULT '',
    jwks              BLOB,
    algorithms        TEXT    NOT NULL,
    audiences         TEXT,
    leeway_ms         INTEGER NOT NULL,
    required_claims   TEXT,
    owner_claim       TEXT    NOT NULL,
    permissions_claim TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX issuers_issuer ON issuers (issuer);

-- Token settings of an app (defaults when absent from the row).
ALTER TABLE apps ADD COLUMN recoverable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN max_token_ttl_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN token_audiences TEXT;
ALTER TABLE apps ADD COLUMN token_meta_claims TEXT;

-- The current secret of a key of a recoverable app, sealed under the master
-- key (bound to the key id).
ALTER TABLE keys ADD COLUMN secret_sealed BLOB;
