-- The catalogue's revision (issue #33): a number that grows with every write to what a catalogue answer
-- shows — models, versions, and users (whose role decides what they may see). A catalogue answer's
-- ETag is derived from it (src/http/conditional.rs), so telling a client that its copy is current costs
-- one lookup instead of the answer. Kept by statement triggers in the writing transaction, so a reader
-- never sees a revision without its data (a sequence would be seen before its transaction commits).
-- The row is locked from a catalogue write to its commit: catalogue writers take turns, as they do on
-- SQLite.
CREATE TABLE catalog_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO catalog_revision (id, n) VALUES (1, 1);
CREATE FUNCTION catalog_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_revision SET n = n + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER catalog_revision_models AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ml_models
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_revision_bump();
CREATE TRIGGER catalog_revision_versions AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_revision_bump();
CREATE TRIGGER catalog_revision_users AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_revision_bump();
