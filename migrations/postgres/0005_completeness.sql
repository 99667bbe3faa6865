-- Whether a model's task was inferred (no pipeline_tag upstream) rather than given.
ALTER TABLE ml_models ADD COLUMN task_inferred BOOLEAN NOT NULL DEFAULT FALSE;
