-- TypeAuth schema, version 4 (PostgreSQL): JWT signing keys, trusted issuers,
-- the jti deny list, per-app token settings and recoverable key secrets.

-- A signing key: the private key only sealed under the master key. The
-- phase (next, active, retired) follows from the times; state is "live" or
-- "revoked".
CREATE TABLE signing_keys (
    kid         TEXT    PRIMARY KEY COLLATE "C",
    alg         TEXT    NOT NULL,
    public_jwk  BYTEA   NOT NULL,
    sealed      BYTEA   NOT NULL,
    state       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    activate_at BIGINT  NOT NULL,
    retire_at   BIGINT,
    expires_at  BIGINT
);

CREATE TABLE revoked_tokens (
    jti        TEXT    PRIMARY KEY COLLATE "C",
    expires_at BIGINT  NOT NULL,
    revoked_at BIGINT  NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

CREATE TABLE issuers (
    id                TEXT    PRIMARY KEY COLLATE "C",
    name              TEXT    NOT NULL,
    issuer            TEXT    NOT NULL,
    jwks_url          TEXT    NOT NULL DEFAULT '',
    discovery_url     TEXT    NOT NULL DEFAULT '',
    jwks              BYTEA,
    algorithms        TEXT    NOT NULL,
    audiences         TEXT,
    leeway_ms         BIGINT  NOT NULL,
    required_claims   TEXT,
    owner_claim       TEXT    NOT NULL,
    permissions_claim TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);
CREATE UNIQUE INDEX issuers_issuer ON issuers (issuer);

-- Token settings of an app (defaults when absent from the row).
ALTER TABLE apps ADD COLUMN recoverable BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE apps ADD COLUMN max_token_ttl_ms BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN token_audiences TEXT;
ALTER TABLE apps ADD COLUMN token_meta_claims TEXT;

-- The current secret of a key of a recoverable app, sealed under the master
-- key (bound to the key id).
ALTER TABLE keys ADD COLUMN secret_sealed BYTEA;
