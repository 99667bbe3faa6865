-- Links to the files this service hosts are stored as their path under the service,
-- `/files/{sha256}/{name}`, and made absolute when a client is answered (issue #30): rewrite the
-- absolute links older versions wrote (under whatever public URL their writer had) to that path.
UPDATE model_versions SET assets = (
    SELECT jsonb_agg(
        CASE
            WHEN (a.value ->> 'is_hosted_by_us') = 'true'
             AND position('/files/' IN a.value ->> 'source_url') > 1
             AND left(a.value ->> 'source_url', 1) <> '/'
            THEN jsonb_set(a.value, '{source_url}',
                           to_jsonb(substr(a.value ->> 'source_url',
                                           position('/files/' IN a.value ->> 'source_url'))))
            ELSE a.value
        END ORDER BY a.ord)
    FROM jsonb_array_elements(model_versions.assets) WITH ORDINALITY AS a(value, ord)
)
WHERE jsonb_typeof(assets) = 'array' AND assets::text LIKE '%/files/%';
