-- The downloads sort reads a generated column instead of an index on an expression: a deep page's keyset
-- condition is a row comparison, `(popularity, id) < (?, ?)`, which SQLite can seek in an index of
-- columns but not in one of expressions (there it scanned the index from its top, as OFFSET would).
ALTER TABLE ml_models ADD COLUMN popularity INTEGER
    GENERATED ALWAYS AS (hf_downloads + total_download_count) VIRTUAL;
DROP INDEX ml_models_downloads;
CREATE INDEX ml_models_popularity ON ml_models(popularity, id);
