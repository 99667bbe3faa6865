-- The Hugging Face sync: run records, their skipped items, and the lease that keeps one run active.

CREATE TABLE sync_runs (
    id               UUID PRIMARY KEY,
    trigger          TEXT NOT NULL,
    status           TEXT NOT NULL,
    owner            TEXT NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    scheduled_for    TIMESTAMPTZ UNIQUE,
    fetched          BIGINT NOT NULL DEFAULT 0,
    created          BIGINT NOT NULL DEFAULT 0,
    updated          BIGINT NOT NULL DEFAULT 0,
    unchanged        BIGINT NOT NULL DEFAULT 0,
    skipped          BIGINT NOT NULL DEFAULT 0,
    filtered         BIGINT NOT NULL DEFAULT 0,
    removed          BIGINT NOT NULL DEFAULT 0,
    renamed          BIGINT NOT NULL DEFAULT 0,
    restored         BIGINT NOT NULL DEFAULT 0,
    versions_created BIGINT NOT NULL DEFAULT 0,
    rows_written     BIGINT NOT NULL DEFAULT 0,
    hub_requests     BIGINT NOT NULL DEFAULT 0,
    hub_retries      BIGINT NOT NULL DEFAULT 0,
    listing_complete BOOLEAN NOT NULL DEFAULT FALSE,
    message          TEXT NOT NULL DEFAULT '',
    error            TEXT,
    rules            JSONB NOT NULL DEFAULT '{}',
    repo_id          TEXT
);
CREATE INDEX sync_runs_started ON sync_runs(started_at, id);

CREATE TABLE sync_run_skips (
    run_id      UUID NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    hf_model_id TEXT,
    object_id   TEXT,
    reason      TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE sync_lease (
    name       TEXT PRIMARY KEY,
    owner      TEXT,
    run_id     UUID,
    fence      BIGINT NOT NULL DEFAULT 0,
    expires_ms BIGINT NOT NULL DEFAULT 0
);
INSERT INTO sync_lease (name) VALUES ('hf_litert_sync');
