-- Versions the clients add are as free as in the reference (CLIENTS.md R6: no uniqueness check on
-- `commit_sha`, and the portal's default `version_name` is "1.0.0" for every upload), and each keeps the
-- licence it was published under. Uniqueness stays where something relies on it:
--   * a mirrored version (made by the sync, `created_by` NULL) is unique per model and commit — the sync
--     writes each commit once and a crashed run's retry must not duplicate it;
--   * a version of the root dialect (no `hf_commit_sha`) is unique per model and name, as that dialect
--     has always promised (409).
-- SQLite cannot drop a table constraint, so the table is rebuilt (the "ALTER TABLE" procedure of the
-- SQLite manual). Migrations run in a transaction, where foreign keys cannot be turned off, so dropping
-- the old table cascades to the telemetry that references it: the events are set aside and put back.
CREATE TEMP TABLE inference_events_kept AS SELECT * FROM inference_events;
CREATE TABLE model_versions_new (
    id                  BLOB PRIMARY KEY NOT NULL,
    model_id            BLOB NOT NULL REFERENCES ml_models(id) ON DELETE CASCADE,
    version_string      TEXT NOT NULL,
    changelog           TEXT,
    hf_commit_sha       TEXT,
    pipeline_spec       TEXT,
    assets              TEXT NOT NULL DEFAULT '[]',
    published_at        TEXT NOT NULL,
    download_count      INTEGER NOT NULL DEFAULT 0,
    num_ratings         INTEGER NOT NULL DEFAULT 0,
    rating_avg          REAL NOT NULL DEFAULT 0,
    created_by          BLOB REFERENCES users(id),
    total_size_bytes    INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL DEFAULT 'missing',
    unsupported_reason  TEXT,
    pipeline_updated_at TEXT,
    main_file_bytes     INTEGER NOT NULL DEFAULT 0,
    license_type        TEXT
);
INSERT INTO model_versions_new (id, model_id, version_string, changelog, hf_commit_sha, pipeline_spec,
    assets, published_at, download_count, num_ratings, rating_avg, created_by, total_size_bytes, status,
    unsupported_reason, pipeline_updated_at, main_file_bytes)
SELECT id, model_id, version_string, changelog, hf_commit_sha, pipeline_spec, assets, published_at,
    download_count, num_ratings, rating_avg, created_by, total_size_bytes, status, unsupported_reason,
    pipeline_updated_at, main_file_bytes
FROM model_versions;
DROP TABLE model_versions;
ALTER TABLE model_versions_new RENAME TO model_versions;
CREATE INDEX model_versions_model ON model_versions(model_id, published_at);
CREATE INDEX model_versions_commit ON model_versions(model_id, hf_commit_sha);
-- Named as PostgreSQL names them, like the constraints they replace (`store::constraint`).
CREATE UNIQUE INDEX model_versions_model_id_hf_commit_sha_key ON model_versions(model_id, hf_commit_sha)
    WHERE created_by IS NULL;
CREATE UNIQUE INDEX model_versions_model_id_version_string_key ON model_versions(model_id, version_string)
    WHERE hf_commit_sha IS NULL;
INSERT INTO inference_events SELECT * FROM inference_events_kept;
DROP TABLE inference_events_kept;
