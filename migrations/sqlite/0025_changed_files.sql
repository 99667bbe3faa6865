-- What changed since the previous version (issue #32): a mirrored version's files that differ from its
-- model's previous version (added, changed, removed), as a JSON list; null for a version published by
-- a person or written before this list existed.
ALTER TABLE model_versions ADD COLUMN changed_files TEXT;
