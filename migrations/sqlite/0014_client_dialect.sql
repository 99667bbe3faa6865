-- What the Pocket AI clients' /api/v1 dialect shows (issue #20; CLIENTS.md §3): a model's visibility and
-- the summary of its versions (count, largest main file, best status — kept up to date on every version
-- write, never computed per request), and each version's status in the clients' words, why it is not
-- runnable, when its pipeline spec last changed, and the size of its main file.
ALTER TABLE ml_models ADD COLUMN is_public BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE ml_models ADD COLUMN version_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ml_models ADD COLUMN largest_file_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ml_models ADD COLUMN best_version_status TEXT;
ALTER TABLE model_versions ADD COLUMN status TEXT NOT NULL DEFAULT 'missing';
ALTER TABLE model_versions ADD COLUMN unsupported_reason TEXT;
ALTER TABLE model_versions ADD COLUMN pipeline_updated_at TEXT;
ALTER TABLE model_versions ADD COLUMN main_file_bytes INTEGER NOT NULL DEFAULT 0;

-- A version with a spec is pending until something verifies it; one without is missing.
UPDATE model_versions SET status = 'pending', pipeline_updated_at = published_at
WHERE pipeline_spec IS NOT NULL;

-- The main file as `assets::main_file` picks it: a .tflite that is not an EdgeTPU build, else a .tflite,
-- else an LLM bundle; the first by key among equals.
UPDATE model_versions SET main_file_bytes = COALESCE((
    SELECT json_extract(a.value, '$.file_size_bytes') FROM json_each(model_versions.assets) a
    WHERE json_extract(a.value, '$.asset_type') IN ('tflite', 'litertlm', 'task')
    ORDER BY CASE
        WHEN json_extract(a.value, '$.asset_type') = 'tflite'
             AND lower(json_extract(a.value, '$.asset_key')) NOT LIKE '%edgetpu%' THEN 0
        WHEN json_extract(a.value, '$.asset_type') = 'tflite' THEN 1
        ELSE 2 END,
        json_extract(a.value, '$.asset_key')
    LIMIT 1), 0);

UPDATE ml_models SET
    version_count = (SELECT COUNT(*) FROM model_versions v WHERE v.model_id = ml_models.id),
    largest_file_bytes = COALESCE((SELECT MAX(v.main_file_bytes) FROM model_versions v
                                   WHERE v.model_id = ml_models.id), 0),
    best_version_status = (SELECT v.status FROM model_versions v WHERE v.model_id = ml_models.id
                           ORDER BY CASE v.status WHEN 'verified' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END
                           LIMIT 1);
