//! Ratings: a signed-in user rates a version they may see, 1 to 5 stars, once (again: replaced),
//! reads their own rating and removes it — the same for both dialects.

use super::{Access, Catalog, CatalogError, CatalogResult};
use crate::domain::records::User;
use crate::store::{Rating, RatingTotals};
use uuid::Uuid;

impl Catalog {
    /// `user` rates the version `version_id`, `stars` from 1 to 5.
    pub async fn rate(
        &self,
        user: &User,
        version_id: Uuid,
        stars: i64,
    ) -> CatalogResult<RatingTotals> {
        if !(1..=5).contains(&stars) {
            return Err(CatalogError::Invalid(
                "stars must be a whole number from 1 to 5".into(),
            ));
        }
        self.visible_version(user, version_id).await?;
        Ok(self.store.rate_version(version_id, user.id, stars).await?)
    }

    /// Removes `user`'s rating of the version, if they gave one (removing none is not an error).
    pub async fn unrate(&self, user: &User, version_id: Uuid) -> CatalogResult<()> {
        self.visible_version(user, version_id).await?;
        self.store.unrate_version(version_id, user.id).await?;
        Ok(())
    }

    /// `user`'s own rating of the version, if they gave one.
    pub async fn my_rating(&self, user: &User, version_id: Uuid) -> CatalogResult<Option<Rating>> {
        self.visible_version(user, version_id).await?;
        Ok(self.store.rating_of(version_id, user.id).await?)
    }

    /// A version `user` may see exists (what they cannot see, they cannot rate: the same 404).
    async fn visible_version(&self, user: &User, version_id: Uuid) -> CatalogResult<()> {
        Access::for_user(&self.store, user)
            .version(version_id)
            .await?
            .map(|_| ())
            .ok_or_else(|| CatalogError::NotFound("Model version not found.".into()))
    }
}
