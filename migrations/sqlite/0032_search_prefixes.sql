-- A search word matches every word it begins (`mobi` finds `mobilenet`): the word index answers
-- `"word"*`, which FTS5 reads by merging the match lists of every indexed word with that prefix — 2.6 ms
-- for `text` and 11 ms for `litert` at 100,000 models, however few words share the prefix, against
-- 0.8 ms for one word's own list. Prefix indexes of 1 to 16 characters (issue #33) make a prefix of that
-- length one list read (`text` 0.8 ms, `litert` 3 ms); a longer query word is read as before. They cost
-- about 10 MB and 1 s of writing per 100,000 models written (a first sync). The triggers of 0028 stay as they are: they
-- name the table, which is made again under the same name.
DROP TABLE ml_models_fts;
CREATE VIRTUAL TABLE ml_models_fts USING fts5(
    search_text,
    content = 'ml_models',
    content_rowid = 'rowid',
    tokenize = 'ascii',
    detail = none,
    columnsize = 0,
    prefix = '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16'
);
INSERT INTO ml_models_fts (ml_models_fts) VALUES ('rebuild');
