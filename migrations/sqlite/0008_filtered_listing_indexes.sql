-- A list filtered by task or licence walks these in the default order (newest first) and stops after one
-- page, instead of sorting every match. They replace the single-column indexes they start with.
DROP INDEX ml_models_task;
DROP INDEX ml_models_license;
CREATE INDEX ml_models_task_created ON ml_models(task, created_at, id);
CREATE INDEX ml_models_license_created ON ml_models(license_type, created_at, id);
