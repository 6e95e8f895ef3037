-- TypeAuth schema, version 3 (SQLite): identities, roles and rate limit
-- overrides. Independent of version 2: Migrate applies each missing version,
-- so a database may receive 2 after 3.

-- app_id is NULL for a workspace-wide identity (the store maps it to ""), so
-- that an identity of an app can reference it and go when the app goes.
-- external_id is unique per app, and among workspace-wide identities.
CREATE TABLE identities (
    id          TEXT    PRIMARY KEY,
    app_id      TEXT    REFERENCES apps (id) ON DELETE CASCADE,
    external_id TEXT    NOT NULL,
    meta        BLOB,
    rate_limits TEXT,
    permissions TEXT,
    roles       TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (app_id IS NULL OR app_id <> '')
) STRICT;
CREATE UNIQUE INDEX identities_external_id ON identities (coalesce(app_id, ''), external_id);
CREATE INDEX identities_app_id ON identities (app_id, id);

-- DeleteIdentity unlinks the identity's keys through this index.
CREATE INDEX keys_identity_id ON keys (identity_id) WHERE identity_id <> '';

CREATE TABLE roles (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    permissions TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX roles_name ON roles (name);

CREATE TABLE ratelimit_overrides (
    id            TEXT    PRIMARY KEY,
    namespace     TEXT    NOT NULL,
    identifier    TEXT    NOT NULL,
    request_limit INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX ratelimit_overrides_identifier ON ratelimit_overrides (namespace, identifier);
CREATE INDEX ratelimit_overrides_namespace_id ON ratelimit_overrides (namespace, id);
