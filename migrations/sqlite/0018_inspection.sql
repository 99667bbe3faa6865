-- What inspecting a version's model file found (issue #21): its tensors in model order (`signature`),
-- the inspection's summary (operators, quantization, metadata, cost, error) and the inspector's version
-- (a newer inspector inspects again).
ALTER TABLE model_versions ADD COLUMN signature TEXT;
ALTER TABLE model_versions ADD COLUMN inspection TEXT;
ALTER TABLE model_versions ADD COLUMN inspector_version INTEGER;
