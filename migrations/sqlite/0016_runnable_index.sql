-- The app's catalog call (`GET /api/v1/models?supported_only=true`, most downloaded first) reads only the
-- models with a runnable version: while they are few, walking the whole popularity index to find them
-- cost 1.5 s a page at 100,000 models (BENCHMARKS.md). A partial index holds just those.
CREATE INDEX ml_models_runnable ON ml_models(popularity, id)
    WHERE best_version_status IN ('verified', 'pending');
