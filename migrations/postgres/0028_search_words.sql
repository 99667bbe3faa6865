-- A model's `search_text` becomes the words of its name, description, Hub repo id and tags as
-- `store::search_words` splits a query, each between spaces (issues #33, #35; see the SQLite migration of
-- the same name for why). The splitting is Rust's: every model's text and card are cleared here and
-- rendered again when the service next connects (Store::fill_client_cards); until then a search misses
-- them.
UPDATE ml_models SET search_text = '', client_card = NULL;
-- The word index reads those words as they are (`array_to_tsvector`, no parser), and a query's words
-- are lexemes as they are (`'word':*`): PostgreSQL finds exactly what SQLite finds, and a query word
-- matches iff `strpos(search_text, ' ' || word) > 0` — which lets a search for a common word walk the
-- sort index and test each row in place. The listing query repeats this expression exactly
-- (store::search::PG_SEARCH_VECTOR).
DROP INDEX ml_models_search;
CREATE INDEX ml_models_search ON ml_models
    USING gin (array_to_tsvector(string_to_array(btrim(search_text), ' ')));
