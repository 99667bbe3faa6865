-- The clients' model object, rendered when a model is written (issue #33, src/domain/client_card.rs):
-- `client_card` holds every field of `MLModelRead` but the counters, as a JSON object left open; a list
-- of models is its cards closed by the counters' columns, concatenated by the database. Rows written
-- before this migration get theirs when the service next connects (Store::fill_client_cards); until
-- then a page holding one is rendered the old way.
ALTER TABLE ml_models ADD COLUMN client_card TEXT;
CREATE INDEX ml_models_without_card ON ml_models(id) WHERE client_card IS NULL;
