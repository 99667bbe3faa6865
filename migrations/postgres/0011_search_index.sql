-- `q` finds models through a word index instead of `search_text LIKE '%…%'`, which read the whole table.
-- Punctuation becomes spaces before PostgreSQL's parser sees the text (it would otherwise keep paths,
-- hyphenated words and file names as single tokens), so words split as on SQLite and as
-- `store::search_words` splits a query. The listing query repeats this expression exactly.
CREATE INDEX ml_models_search ON ml_models
    USING gin (to_tsvector('simple', regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g')));
