-- Ratings (issue #34): a signed-in user rates a version 1–5 stars, once (rating again replaces it;
-- removing it is allowed). The version's `num_ratings` / `rating_avg` and its model's `total_ratings` /
-- `rating_weighted_avg` (a Bayesian average: domain::weighted_rating) are written in the same
-- transaction as every rating (store/ratings.rs), never computed per request.
CREATE TABLE version_ratings (
    version_id BLOB NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    stars      INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    rated_at   TEXT NOT NULL,
    PRIMARY KEY (version_id, user_id)
);
CREATE INDEX version_ratings_user ON version_ratings(user_id);
-- The rating sort (`sort=rating`) reads this index in order, as the others read theirs.
CREATE INDEX ml_models_rating ON ml_models(rating_weighted_avg, id);
