-- `q` finds models through a word index instead of `search_text LIKE '%…%'`, which read the whole table
-- (200 ms for a word no model has, at 100,000 models). FTS5 over `search_text`, kept by triggers in the
-- same transaction as every write; words split at anything that is not a letter or digit, as
-- `store::search_words` splits a query. Diacritics are kept, so both backends match alike.
-- The index refers to rows by rowid, which SQLite's documentation allows a VACUUM to renumber (3.51 kept
-- them when checked); after one, `INSERT INTO ml_models_fts(ml_models_fts, rank) VALUES ('integrity-check', 1)`
-- checks the index and `INSERT INTO ml_models_fts(ml_models_fts) VALUES ('rebuild')` rebuilds it.
CREATE VIRTUAL TABLE ml_models_fts USING fts5(
    search_text,
    content = 'ml_models',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 0',
    -- No per-row size table (nothing ranks by length). Positions are kept (detail=full): a query word
    -- the tokenizer splits (its Unicode tables are older than Rust's) becomes a phrase, which the
    -- leaner detail modes reject.
    columnsize = 0
);
CREATE TRIGGER ml_models_fts_insert AFTER INSERT ON ml_models BEGIN
    INSERT INTO ml_models_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER ml_models_fts_update AFTER UPDATE OF search_text ON ml_models
WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT INTO ml_models_fts (ml_models_fts, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO ml_models_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER ml_models_fts_delete AFTER DELETE ON ml_models BEGIN
    INSERT INTO ml_models_fts (ml_models_fts, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
END;
INSERT INTO ml_models_fts (ml_models_fts) VALUES ('rebuild');
