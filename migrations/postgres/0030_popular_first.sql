-- "Most used first" becomes a contract (issue #34): Pocket AI's own downloads, then the Hub's, then the id
-- — not their sum, which let a model with many Hub downloads outrank one the app's users actually use.
-- The same number as `domain::popularity`: own downloads (capped at 2^32 - 1) × 2^31 plus the Hub's
-- (capped at 2^31 - 1).
-- Cursors made before this migration for the downloads sort name an old value: they page on from its place
-- in the new order.
DROP INDEX ml_models_popularity;
DROP INDEX ml_models_runnable;
ALTER TABLE ml_models DROP COLUMN popularity;
ALTER TABLE ml_models ADD COLUMN popularity BIGINT
    GENERATED ALWAYS AS (LEAST(GREATEST(total_download_count, 0), 4294967295) * 2147483648
                         + LEAST(GREATEST(hf_downloads, 0), 2147483647)) STORED;
CREATE INDEX ml_models_popularity ON ml_models(popularity, id);
CREATE INDEX ml_models_runnable ON ml_models(popularity, id)
    WHERE best_version_status IN ('verified', 'pending');
