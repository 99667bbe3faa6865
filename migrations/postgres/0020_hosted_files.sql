-- Files this service hosts (issue #21): label files extracted from the ZIP a model packs after its
-- FlatBuffer. One row per content (SHA-256), shared by every version that names it; served at
-- `/files/{sha256}/{name}` and through the clients' `download/labels`.
CREATE TABLE IF NOT EXISTS hosted_files (
    sha256     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    content    BYTEA NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
