//! How the catalogue ranks models: by use ([`popularity`], the order "most used first" promises) and by
//! people's ratings ([`weighted_rating`]). The database computes the same numbers where it sorts by
//! them. Re-exported by the domain.

/// How popular a model is, as one number that orders models the way the catalogue promises "most
/// used first" (the default order of `GET /api/v1/models`, the root dialect's `sort=downloads`): by
/// Pocket AI's own downloads, then — among equals — by the Hub's, then (in the listing) by id. The
/// Hub's count is capped at [`POPULARITY_HUB_CAP`] so it never reaches the next own download, and own
/// downloads at [`POPULARITY_OWN_CAP`] so the number fits 63 bits. The database computes the same
/// number (`ml_models.popularity`, migration 0030); a test holds the two equal.
pub fn popularity(own_downloads: i64, hub_downloads: i64) -> i64 {
    own_downloads.clamp(0, POPULARITY_OWN_CAP) * (POPULARITY_HUB_CAP + 1)
        + hub_downloads.clamp(0, POPULARITY_HUB_CAP)
}

/// The largest own download count [`popularity`] tells apart (2^32 - 1).
pub const POPULARITY_OWN_CAP: i64 = (1 << 32) - 1;

/// The largest Hub download count [`popularity`] tells apart (2^31 - 1).
pub const POPULARITY_HUB_CAP: i64 = (1 << 31) - 1;

/// A model's rating as the catalogue ranks it (`rating_weighted_avg`): the Bayesian average of its
/// versions' `count` ratings summing `stars`, as if [`RATING_PRIOR_WEIGHT`] more people had given
/// [`RATING_PRIOR_MEAN`] stars — so one 5-star rating gives 3.33, and a model needs five 5-star ratings
/// to reach the portal's "Popular" badge (4.0). 0 without ratings (the clients show no stars).
pub fn weighted_rating(count: i64, stars: i64) -> f64 {
    if count <= 0 {
        return 0.0;
    }
    (RATING_PRIOR_WEIGHT * RATING_PRIOR_MEAN + stars as f64) / (RATING_PRIOR_WEIGHT + count as f64)
}

/// The rating [`weighted_rating`] assumes before anyone rated: the middle of the 1–5 scale.
pub const RATING_PRIOR_MEAN: f64 = 3.0;
/// How many ratings that assumption weighs as.
pub const RATING_PRIOR_WEIGHT: f64 = 5.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_five_star_rating_cannot_top_many_good_ones() {
        assert_eq!(weighted_rating(0, 0), 0.0);
        let one_perfect = weighted_rating(1, 5);
        assert!((one_perfect - 20.0 / 6.0).abs() < 1e-9);
        let many_good = weighted_rating(20, 20 * 9 / 2);
        assert!(many_good > one_perfect, "{many_good} {one_perfect}");
        assert!(weighted_rating(4, 20) < 4.0 && weighted_rating(5, 25) >= 4.0);
        assert!(weighted_rating(1, 1) > 1.0 && weighted_rating(1000, 1000) < 1.01);
    }
}
