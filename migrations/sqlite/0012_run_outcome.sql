-- A run that completes is a success whatever it skipped (the seed's contract); what used to make it
-- `partial` is kept beside the status: `warnings` (a JSON array of sentences: a listing that stopped early,
-- removals held back by the threshold, SYNC_LIMIT) and `removals_held_back` (the run marked nothing removed
-- because its listing was incomplete or too much was missing).
ALTER TABLE sync_runs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sync_runs ADD COLUMN removals_held_back INTEGER NOT NULL DEFAULT 0;

-- Runs recorded as `partial` completed: they become successes with the seed's message, their old message
-- kept as their one warning.
UPDATE sync_runs
SET status = 'success',
    warnings = json_array(message),
    removals_held_back = CASE WHEN listing_complete THEN 0 ELSE 1 END,
    message = 'Successfully synced LiteRT models. Created: ' || created || ', Updated: ' || updated
        || ', Skipped: ' || skipped
WHERE status = 'partial';
