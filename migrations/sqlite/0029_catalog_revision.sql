-- The catalogue's revision (issue #33): a number that grows with every write to what a catalogue answer
-- shows — models, versions, and users (whose role decides what they may see). A catalogue answer's
-- ETag is derived from it (src/http/conditional.rs), so telling a client that its copy is current costs
-- one lookup instead of the answer. Kept by triggers in the writing transaction, so a reader never sees
-- a revision without its data.
CREATE TABLE catalog_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO catalog_revision (id, n) VALUES (1, 1);
CREATE TRIGGER catalog_revision_models_insert AFTER INSERT ON ml_models BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
CREATE TRIGGER catalog_revision_models_update AFTER UPDATE ON ml_models BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
CREATE TRIGGER catalog_revision_models_delete AFTER DELETE ON ml_models BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
CREATE TRIGGER catalog_revision_versions_insert AFTER INSERT ON model_versions BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
CREATE TRIGGER catalog_revision_versions_update AFTER UPDATE ON model_versions BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
CREATE TRIGGER catalog_revision_versions_delete AFTER DELETE ON model_versions BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
CREATE TRIGGER catalog_revision_users_insert AFTER INSERT ON users BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
CREATE TRIGGER catalog_revision_users_update AFTER UPDATE ON users BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
CREATE TRIGGER catalog_revision_users_delete AFTER DELETE ON users BEGIN
    UPDATE catalog_revision SET n = n + 1;
END;
