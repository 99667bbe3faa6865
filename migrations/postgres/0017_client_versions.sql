-- Versions the clients add are as free as in the reference (CLIENTS.md R6: no uniqueness check on
-- `commit_sha`, and the portal's default `version_name` is "1.0.0" for every upload), and each keeps the
-- licence it was published under. Uniqueness stays where something relies on it:
--   * a mirrored version (made by the sync, `created_by` NULL) is unique per model and commit — the sync
--     writes each commit once and a crashed run's retry must not duplicate it;
--   * a version of the root dialect (no `hf_commit_sha`) is unique per model and name, as that dialect
--     has always promised (409).
ALTER TABLE model_versions DROP CONSTRAINT model_versions_model_id_version_string_key;
ALTER TABLE model_versions DROP CONSTRAINT model_versions_model_id_hf_commit_sha_key;
-- Named like the constraints they replace (`store::constraint`).
CREATE UNIQUE INDEX model_versions_model_id_hf_commit_sha_key ON model_versions(model_id, hf_commit_sha)
    WHERE created_by IS NULL;
CREATE UNIQUE INDEX model_versions_model_id_version_string_key ON model_versions(model_id, version_string)
    WHERE hf_commit_sha IS NULL;
ALTER TABLE model_versions ADD COLUMN license_type TEXT;
