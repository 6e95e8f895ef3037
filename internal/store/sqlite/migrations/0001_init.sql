-- TypeAuth schema, version 1 (SQLite).
-- Times are Unix milliseconds (UTC). JSON lists are TEXT; JSON documents
-- that must round-trip byte for byte (meta, audit before/after) are BLOB.

CREATE TABLE apps (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    key_prefix TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX apps_key_prefix ON apps (key_prefix);

CREATE TABLE keys (
    id                TEXT    PRIMARY KEY,
    app_id            TEXT    NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL DEFAULT '',
    owner_id          TEXT    NOT NULL DEFAULT '',
    identity_id       TEXT    NOT NULL DEFAULT '',
    meta              BLOB,
    enabled           INTEGER NOT NULL,
    expires_at        INTEGER,
    credits_remaining INTEGER,
    refill_amount     INTEGER,
    refill_interval   TEXT,
    last_refill_at    INTEGER,
    rate_limits       TEXT,
    permissions       TEXT,
    roles             TEXT,
    ip_allowlist      TEXT,
    start             TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX keys_app_id ON keys (app_id, id);
CREATE INDEX keys_owner_id ON keys (owner_id, id);

CREATE TABLE key_secrets (
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    key_id     TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    start      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER
) STRICT;
CREATE INDEX key_secrets_key_id ON key_secrets (key_id);

CREATE TABLE root_keys (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    start      TEXT    NOT NULL DEFAULT '',
    hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    time        INTEGER NOT NULL,
    actor_id    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    remote_addr TEXT    NOT NULL,
    before      BLOB,
    after       BLOB,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
) STRICT;

-- One row: the head of the audit chain. Appends read and advance it in the
-- same transaction, which serializes them.
CREATE TABLE audit_head (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
) STRICT;
INSERT INTO audit_head (one, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE idempotency (
    id           BLOB    PRIMARY KEY,
    request_hash BLOB    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_created_at ON idempotency (created_at);
