-- The schedule's shared state: paused or not, and since when slots count.
CREATE TABLE scheduler_state (
    job_id     TEXT PRIMARY KEY,
    paused     BOOLEAN NOT NULL DEFAULT FALSE,
    since      TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sync_runs_slot ON sync_runs(scheduled_for);
