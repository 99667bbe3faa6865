-- Links to the files this service hosts are stored as their path under the service,
-- `/files/{sha256}/{name}`, and made absolute when a client is answered (issue #30): rewrite the
-- absolute links older versions wrote (under whatever public URL their writer had) to that path.
UPDATE model_versions SET assets = (
    SELECT json_group_array(
        CASE
            WHEN json_extract(a.value, '$.is_hosted_by_us') = 1
             AND instr(json_extract(a.value, '$.source_url'), '/files/') > 1
             AND substr(json_extract(a.value, '$.source_url'), 1, 1) <> '/'
            THEN json_set(a.value, '$.source_url',
                          substr(json_extract(a.value, '$.source_url'),
                                 instr(json_extract(a.value, '$.source_url'), '/files/')))
            ELSE json(a.value)
        END)
    FROM (SELECT value FROM json_each(model_versions.assets) ORDER BY key) a
)
WHERE json_type(assets) = 'array' AND assets LIKE '%/files/%';
