-- Inference telemetry the phone app sends after each run (issue #20; CLIENTS.md §3.5, R19): one row per
-- event, kept for the configured retention, deleted with its version.
CREATE TABLE inference_events (
    id                 BLOB PRIMARY KEY NOT NULL,
    model_version_id   BLOB NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    user_id            BLOB REFERENCES users(id) ON DELETE SET NULL,
    device_model       TEXT NOT NULL,
    platform           TEXT NOT NULL,
    total_inference_ms INTEGER NOT NULL,
    success            BOOLEAN NOT NULL,
    task_type          TEXT,
    top_confidence     REAL,
    num_results        INTEGER,
    received_at        TEXT NOT NULL
);
CREATE INDEX inference_events_version ON inference_events(model_version_id, received_at);
CREATE INDEX inference_events_received ON inference_events(received_at);
