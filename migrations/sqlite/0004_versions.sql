-- Sizes for the version auto-pull: each version's total, and the latest version's total on its model.
ALTER TABLE model_versions ADD COLUMN total_size_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ml_models ADD COLUMN latest_version_size_bytes INTEGER;
CREATE INDEX model_versions_commit ON model_versions(model_id, hf_commit_sha);
