-- The downloads sort reads a generated column instead of an index on an expression, as on SQLite (which
-- cannot seek a row comparison in an expression index), so both backends share one listing query.
ALTER TABLE ml_models ADD COLUMN popularity BIGINT
    GENERATED ALWAYS AS (hf_downloads + total_download_count) STORED;
DROP INDEX ml_models_downloads;
CREATE INDEX ml_models_popularity ON ml_models(popularity, id);
