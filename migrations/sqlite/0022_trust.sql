-- Trust boundaries (issue #29).
-- Which versions name each file this service hosts: a hosted file is served to whoever may see one of
-- them (a label file extracted from a private model's file stays private). Rows go with their version.
CREATE TABLE hosted_file_refs (
    sha256     TEXT NOT NULL,
    version_id BLOB NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    PRIMARY KEY (sha256, version_id)
);
CREATE INDEX hosted_file_refs_version ON hosted_file_refs(version_id);
INSERT OR IGNORE INTO hosted_file_refs (sha256, version_id)
SELECT lower(json_extract(a.value, '$.file_hash')), v.id
FROM model_versions v, json_each(v.assets) a
WHERE json_extract(a.value, '$.is_hosted_by_us') = 1
  AND json_extract(a.value, '$.hash_kind') = 'sha256'
  AND json_extract(a.value, '$.file_hash') IS NOT NULL;

-- A download is counted at most once per client and version per hour: the last counted download of
-- each (version, client). `client` is a SHA-256 of the signed-in user's id or of the client's address,
-- never the address itself; rows older than the hour are pruned as downloads are counted.
CREATE TABLE download_marks (
    version_id BLOB NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    client     TEXT NOT NULL,
    counted_at TEXT NOT NULL,
    PRIMARY KEY (version_id, client)
);
CREATE INDEX download_marks_counted ON download_marks(counted_at);
