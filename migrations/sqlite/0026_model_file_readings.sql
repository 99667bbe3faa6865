-- Each distinct model file is read once (issue #32): what reading a `.tflite` gave, kept by the SHA-256
-- of its bytes (the LFS oid the commit's file list names), for every version and repo with the same
-- bytes, across runs and re-uploads. A row of an older inspector is read again (and replaced).
CREATE TABLE model_file_readings (
    sha256            TEXT PRIMARY KEY,
    inspector_version INTEGER NOT NULL,
    reading           TEXT NOT NULL,
    read_at           TEXT NOT NULL
);

-- The model files a run could not read, their inspection deferred (issue #32).
ALTER TABLE sync_runs ADD COLUMN inspections_deferred INTEGER NOT NULL DEFAULT 0;
