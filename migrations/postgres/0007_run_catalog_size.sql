-- The size of the mirrored catalog (models active upstream) when a run ended, for the dashboard's chart.
ALTER TABLE sync_runs ADD COLUMN catalog_size BIGINT;
