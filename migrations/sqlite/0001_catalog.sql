-- Catalog schema: users, API tokens, models and versions (SQLite).
-- UUIDs are stored as 16-byte blobs, timestamps as RFC 3339 text, lists and assets as JSON text.

CREATE TABLE users (
    id           BLOB PRIMARY KEY NOT NULL,
    username     TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL UNIQUE,
    is_developer INTEGER NOT NULL DEFAULT 0,
    is_admin     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    expires_at   TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE ml_models (
    id                   BLOB PRIMARY KEY NOT NULL,
    name                 TEXT NOT NULL,
    slug                 TEXT NOT NULL UNIQUE,
    description          TEXT NOT NULL DEFAULT '',
    category             TEXT NOT NULL DEFAULT 'utility',
    license_type         TEXT NOT NULL DEFAULT 'unknown',
    origin_repo_url      TEXT,
    author_id            BLOB NOT NULL REFERENCES users(id),
    hf_model_id          TEXT UNIQUE,
    is_verified_official INTEGER NOT NULL DEFAULT 0,
    tags                 TEXT NOT NULL DEFAULT '[]',
    task                 TEXT,
    total_download_count INTEGER NOT NULL DEFAULT 0,
    rating_weighted_avg  REAL NOT NULL DEFAULT 0,
    total_ratings        INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    hf_object_id         TEXT UNIQUE,
    hf_sha               TEXT,
    hf_last_modified     TEXT,
    hf_created_at        TEXT,
    hf_downloads         INTEGER NOT NULL DEFAULT 0,
    hf_likes             INTEGER NOT NULL DEFAULT 0,
    hf_gated             TEXT,
    library_name         TEXT,
    upstream_status      TEXT,
    synced_at            TEXT,
    search_text          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ml_models_created ON ml_models(created_at, id);
CREATE INDEX ml_models_updated ON ml_models(updated_at, id);
CREATE INDEX ml_models_name ON ml_models(name, id);
CREATE INDEX ml_models_downloads ON ml_models(hf_downloads + total_download_count, id);
CREATE INDEX ml_models_author ON ml_models(author_id);
CREATE INDEX ml_models_task ON ml_models(task);

CREATE TABLE model_versions (
    id             BLOB PRIMARY KEY NOT NULL,
    model_id       BLOB NOT NULL REFERENCES ml_models(id) ON DELETE CASCADE,
    version_string TEXT NOT NULL,
    changelog      TEXT,
    hf_commit_sha  TEXT,
    pipeline_spec  TEXT,
    assets         TEXT NOT NULL DEFAULT '[]',
    published_at   TEXT NOT NULL,
    download_count INTEGER NOT NULL DEFAULT 0,
    num_ratings    INTEGER NOT NULL DEFAULT 0,
    rating_avg     REAL NOT NULL DEFAULT 0,
    created_by     BLOB REFERENCES users(id),
    UNIQUE (model_id, version_string),
    UNIQUE (model_id, hf_commit_sha)
);
CREATE INDEX model_versions_model ON model_versions(model_id, published_at);
