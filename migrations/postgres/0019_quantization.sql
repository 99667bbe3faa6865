-- The kind of quantization inspection found in a version's main file (issue #21), for the
-- `quantization` filter of both dialects: a model is listed when one of its versions has it.
ALTER TABLE model_versions ADD COLUMN quantization TEXT;
UPDATE model_versions SET quantization = inspection->>'quantization' WHERE inspection IS NOT NULL;
CREATE INDEX model_versions_quantization ON model_versions(quantization, model_id)
    WHERE quantization IS NOT NULL;
