-- The schedule's shared state: paused or not, and since when slots count.
CREATE TABLE scheduler_state (
    job_id     TEXT PRIMARY KEY NOT NULL,
    paused     INTEGER NOT NULL DEFAULT 0,
    since      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX sync_runs_slot ON sync_runs(scheduled_for);
