-- The Hugging Face sync: run records, their skipped items, and the lease that keeps one run active.

CREATE TABLE sync_runs (
    id               BLOB PRIMARY KEY NOT NULL,
    trigger          TEXT NOT NULL,
    status           TEXT NOT NULL,
    owner            TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    scheduled_for    TEXT UNIQUE,
    fetched          INTEGER NOT NULL DEFAULT 0,
    created          INTEGER NOT NULL DEFAULT 0,
    updated          INTEGER NOT NULL DEFAULT 0,
    unchanged        INTEGER NOT NULL DEFAULT 0,
    skipped          INTEGER NOT NULL DEFAULT 0,
    filtered         INTEGER NOT NULL DEFAULT 0,
    removed          INTEGER NOT NULL DEFAULT 0,
    renamed          INTEGER NOT NULL DEFAULT 0,
    restored         INTEGER NOT NULL DEFAULT 0,
    versions_created INTEGER NOT NULL DEFAULT 0,
    rows_written     INTEGER NOT NULL DEFAULT 0,
    hub_requests     INTEGER NOT NULL DEFAULT 0,
    hub_retries      INTEGER NOT NULL DEFAULT 0,
    listing_complete INTEGER NOT NULL DEFAULT 0,
    message          TEXT NOT NULL DEFAULT '',
    error            TEXT,
    rules            TEXT NOT NULL DEFAULT '{}',
    repo_id          TEXT
);
CREATE INDEX sync_runs_started ON sync_runs(started_at, id);

CREATE TABLE sync_run_skips (
    run_id      BLOB NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    hf_model_id TEXT,
    object_id   TEXT,
    reason      TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE sync_lease (
    name       TEXT PRIMARY KEY NOT NULL,
    owner      TEXT,
    run_id     BLOB,
    fence      INTEGER NOT NULL DEFAULT 0,
    expires_ms INTEGER NOT NULL DEFAULT 0
);
INSERT INTO sync_lease (name) VALUES ('hf_litert_sync');
