-- Catalog schema: users, API tokens, models and versions (PostgreSQL).

CREATE TABLE users (
    id           UUID PRIMARY KEY,
    username     TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL UNIQUE,
    is_developer BOOLEAN NOT NULL DEFAULT FALSE,
    is_admin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE ml_models (
    id                   UUID PRIMARY KEY,
    name                 TEXT NOT NULL,
    slug                 TEXT NOT NULL UNIQUE,
    description          TEXT NOT NULL DEFAULT '',
    category             TEXT NOT NULL DEFAULT 'utility',
    license_type         TEXT NOT NULL DEFAULT 'unknown',
    origin_repo_url      TEXT,
    author_id            UUID NOT NULL REFERENCES users(id),
    hf_model_id          TEXT UNIQUE,
    is_verified_official BOOLEAN NOT NULL DEFAULT FALSE,
    tags                 JSONB NOT NULL DEFAULT '[]',
    task                 TEXT,
    total_download_count BIGINT NOT NULL DEFAULT 0,
    rating_weighted_avg  DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_ratings        BIGINT NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    hf_object_id         TEXT UNIQUE,
    hf_sha               TEXT,
    hf_last_modified     TIMESTAMPTZ,
    hf_created_at        TIMESTAMPTZ,
    hf_downloads         BIGINT NOT NULL DEFAULT 0,
    hf_likes             BIGINT NOT NULL DEFAULT 0,
    hf_gated             TEXT,
    library_name         TEXT,
    upstream_status      TEXT,
    synced_at            TIMESTAMPTZ,
    search_text          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ml_models_created ON ml_models(created_at, id);
CREATE INDEX ml_models_updated ON ml_models(updated_at, id);
CREATE INDEX ml_models_name ON ml_models(name, id);
CREATE INDEX ml_models_downloads ON ml_models((hf_downloads + total_download_count), id);
CREATE INDEX ml_models_author ON ml_models(author_id);
CREATE INDEX ml_models_task ON ml_models(task);

CREATE TABLE model_versions (
    id             UUID PRIMARY KEY,
    model_id       UUID NOT NULL REFERENCES ml_models(id) ON DELETE CASCADE,
    version_string TEXT NOT NULL,
    changelog      TEXT,
    hf_commit_sha  TEXT,
    pipeline_spec  JSONB,
    assets         JSONB NOT NULL DEFAULT '[]',
    published_at   TIMESTAMPTZ NOT NULL,
    download_count BIGINT NOT NULL DEFAULT 0,
    num_ratings    BIGINT NOT NULL DEFAULT 0,
    rating_avg     DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_by     UUID REFERENCES users(id),
    UNIQUE (model_id, version_string),
    UNIQUE (model_id, hf_commit_sha)
);
CREATE INDEX model_versions_model ON model_versions(model_id, published_at);
