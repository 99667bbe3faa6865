-- Filters by licence (the `commercial` filter is a set of licences) read an index. No index on the
-- upstream status: the planner would prefer it to the sort index and sort the whole table.
CREATE INDEX ml_models_license ON ml_models(license_type);
