-- When a background job (a run with trigger `inspection`: generate-pipeline-all, retry-segmentation)
-- last recorded its progress. A job holds no lease; one whose heartbeat is old is taken as dead (its
-- process stopped) and marked failed, so no job stays `running` after a crash.
ALTER TABLE sync_runs ADD COLUMN heartbeat_at TEXT;

-- One background job at a time: a second request while one runs is told so instead of starting a
-- duplicate. Jobs left running side by side by an older version keep only the newest.
UPDATE sync_runs SET status = 'failed', finished_at = started_at,
    error = 'abandoned: another job was running'
WHERE status = 'running' AND trigger = 'inspection'
  AND id <> (SELECT id FROM sync_runs WHERE status = 'running' AND trigger = 'inspection'
             ORDER BY started_at DESC, id DESC LIMIT 1);
-- Named as PostgreSQL names a unique key on `trigger`, which is how SQLite reports its violation.
CREATE UNIQUE INDEX IF NOT EXISTS sync_runs_trigger_key ON sync_runs (trigger)
    WHERE status = 'running' AND trigger = 'inspection';
