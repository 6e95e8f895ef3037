-- TypeAuth schema, version 1 (PostgreSQL).
-- Times are Unix milliseconds (UTC) in BIGINT, as in the SQLite schema.
-- JSON lists are TEXT; JSON documents that must round-trip byte for byte
-- (meta, audit before/after) are BYTEA. Ids sort bytewise (COLLATE "C"),
-- which cursor pagination relies on. Tables are created in the first
-- schema of the search_path.

CREATE TABLE apps (
    id         TEXT   PRIMARY KEY COLLATE "C",
    name       TEXT   NOT NULL,
    key_prefix TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX apps_key_prefix ON apps (key_prefix);

CREATE TABLE keys (
    id                TEXT    PRIMARY KEY COLLATE "C",
    app_id            TEXT    NOT NULL COLLATE "C" REFERENCES apps (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL DEFAULT '',
    owner_id          TEXT    NOT NULL DEFAULT '',
    identity_id       TEXT    NOT NULL DEFAULT '',
    meta              BYTEA,
    enabled           BOOLEAN NOT NULL,
    expires_at        BIGINT,
    credits_remaining BIGINT,
    refill_amount     BIGINT,
    refill_interval   TEXT,
    last_refill_at    BIGINT,
    rate_limits       TEXT,
    permissions       TEXT,
    roles             TEXT,
    ip_allowlist      TEXT,
    start             TEXT    NOT NULL DEFAULT '',
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);
CREATE INDEX keys_app_id ON keys (app_id, id);
CREATE INDEX keys_owner_id ON keys (owner_id, id);

CREATE TABLE key_secrets (
    hash       BYTEA  PRIMARY KEY CHECK (length(hash) = 32),
    key_id     TEXT   NOT NULL COLLATE "C" REFERENCES keys (id) ON DELETE CASCADE,
    start      TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX key_secrets_key_id ON key_secrets (key_id);

CREATE TABLE root_keys (
    id         TEXT   PRIMARY KEY COLLATE "C",
    name       TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    start      TEXT   NOT NULL DEFAULT '',
    hash       BYTEA  NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE audit (
    seq         BIGINT PRIMARY KEY,
    id          TEXT   NOT NULL UNIQUE,
    time        BIGINT NOT NULL,
    actor_id    TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    target_type TEXT   NOT NULL,
    target_id   TEXT   NOT NULL,
    remote_addr TEXT   NOT NULL,
    before      BYTEA,
    after       BYTEA,
    prev_hash   BYTEA  NOT NULL,
    hash        BYTEA  NOT NULL
);

-- One row: the head of the audit chain. Appends lock it (SELECT … FOR UPDATE)
-- and advance it in the same transaction, which serializes them across
-- transactions and processes.
CREATE TABLE audit_head (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  BIGINT  NOT NULL,
    hash BYTEA   NOT NULL
);
INSERT INTO audit_head (one, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE idempotency (
    id           BYTEA   PRIMARY KEY,
    request_hash BYTEA   NOT NULL,
    status       INTEGER NOT NULL,
    body         BYTEA,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX idempotency_created_at ON idempotency (created_at);
