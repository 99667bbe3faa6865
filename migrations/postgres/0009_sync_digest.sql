-- A fingerprint of the Hub listing fields a model was last synced from (see `Mirror::digest`). A re-sync
-- compares it with the listed entry's and skips reading the whole model when they match; NULL (models
-- synced before this column, or edited by a user since) means "compare field by field".
ALTER TABLE ml_models ADD COLUMN sync_digest BIGINT;
