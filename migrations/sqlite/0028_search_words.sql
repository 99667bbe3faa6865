-- A model's `search_text` becomes the words of its name, description, Hub repo id and tags as
-- `store::search_words` splits a query — runs of letters and digits, lower-cased, each preceded and
-- followed by one space (issues #33, #35: a search finds a repo's owner). Two things follow:
-- * the word index reads exactly those words (the `ascii` tokenizer splits only at spaces here: the
--   words hold no ASCII punctuation, and it keeps every non-ASCII character), so a query word matches a
--   model iff `instr(search_text, ' ' || word)` finds it — which lets a search for a common word walk
--   the sort index and test each row in place instead of reading the whole match list first;
-- * the index needs no positions (a query word is never split into a phrase): `detail = none` keeps
--   its match lists small, which is what counting a common word reads.
-- The Rust splitting cannot be done in SQL: every model's text and card are cleared here and rendered
-- again when the service next connects (Store::fill_client_cards); until then a search misses them.
DROP TRIGGER ml_models_fts_insert;
DROP TRIGGER ml_models_fts_update;
DROP TRIGGER ml_models_fts_delete;
DROP TABLE ml_models_fts;
UPDATE ml_models SET search_text = '', client_card = NULL;
CREATE VIRTUAL TABLE ml_models_fts USING fts5(
    search_text,
    content = 'ml_models',
    content_rowid = 'rowid',
    tokenize = 'ascii',
    detail = none,
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
-- The models no anonymous listing shows (removed upstream, or private): a search's total is the word
-- index's count less those of them that match (store::search, HIDDEN_SQL — the same text).
CREATE INDEX ml_models_hidden ON ml_models(id)
    WHERE NOT ((upstream_status IS NULL OR upstream_status IN ('active', 'renamed')) AND is_public = TRUE);
