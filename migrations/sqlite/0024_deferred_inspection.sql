-- Deferred inspection (issue #32): a version whose model file could not be read for a reason that may
-- pass (the storage answered 5xx, a read timed out, the Hub could not resolve it) is written anyway,
-- `missing` with a reason that says it will be retried; `inspect_attempts` counts the failed reads and
-- `inspect_retry_at` is when a later run may try again (exponential backoff with a cap). A version
-- inspected (inspector_version set) has neither.
ALTER TABLE model_versions ADD COLUMN inspect_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE model_versions ADD COLUMN inspect_retry_at TEXT;
CREATE INDEX model_versions_inspect_retry ON model_versions(inspect_retry_at)
    WHERE inspect_retry_at IS NOT NULL;

