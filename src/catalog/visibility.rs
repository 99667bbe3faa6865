//! Who may see what — one rule for every route of both dialects (issue #29): a public model and
//! everything under it (its versions, their files, stats and telemetry) is everyone's; a private one
//! exists only for its owner and for admins. Everyone else gets exactly the answer an id that never
//! existed gets (`None` here, a 404 at the edge), so a private id cannot even be confirmed.
//!
//! Handlers never read a model or a version by id from the store directly: they ask an [`Access`],
//! which is the only way in and cannot forget the rule.

use crate::domain::records::{Model, ModelVersion, User};
use crate::store::{Store, StoreResult, Visibility};
use uuid::Uuid;

/// Who is looking: a signed-in user, or nobody.
#[derive(Debug, Clone, Copy)]
pub struct Looker<'a>(pub Option<&'a User>);

impl<'a> Looker<'a> {
    pub fn anonymous() -> Looker<'static> {
        Looker(None)
    }

    pub fn user(user: &'a User) -> Looker<'a> {
        Looker(Some(user))
    }

    /// Whether this looker may see `model` (and so everything under it).
    pub fn sees(&self, model: &Model) -> bool {
        model.is_public
            || self
                .0
                .is_some_and(|u| u.is_admin || u.id == model.author_id)
    }

    /// The same rule, as a listing's filter.
    pub fn listing(&self) -> Visibility {
        match self.0 {
            Some(u) if u.is_admin => Visibility::Everything,
            Some(u) => Visibility::PublicAnd(Some(u.id)),
            None => Visibility::PublicAnd(None),
        }
    }
}

/// Reads of the catalog through the visibility rule.
#[derive(Clone, Copy)]
pub struct Access<'a> {
    store: &'a Store,
    looker: Looker<'a>,
}

impl<'a> Access<'a> {
    pub fn new(store: &'a Store, looker: Looker<'a>) -> Access<'a> {
        Access { store, looker }
    }

    /// The catalog as a signed-in `user` may see it (for their writes: what they cannot see, they
    /// cannot change either).
    pub fn for_user(store: &'a Store, user: &'a User) -> Access<'a> {
        Access::new(store, Looker::user(user))
    }

    /// The model with this id, if it exists and the looker may see it.
    pub async fn model(&self, id: Uuid) -> StoreResult<Option<Model>> {
        Ok(self.visible(self.store.get_model(id).await?))
    }

    /// The model with this id (a UUID) or slug, if it exists and the looker may see it.
    pub async fn model_by_ref(&self, id_or_slug: &str) -> StoreResult<Option<Model>> {
        let found = match Uuid::parse_str(id_or_slug) {
            Ok(uuid) => self.store.get_model(uuid).await?,
            Err(_) if id_or_slug.len() <= 200 => self.store.get_model_by_slug(id_or_slug).await?,
            Err(_) => None,
        };
        Ok(self.visible(found))
    }

    /// A version by its id alone, with its model, if the looker may see the model.
    pub async fn version(&self, id: Uuid) -> StoreResult<Option<(ModelVersion, Model)>> {
        let Some(version) = self.store.get_version_by_id(id).await? else {
            return Ok(None);
        };
        Ok(self.model(version.model_id).await?.map(|m| (version, m)))
    }

    /// Whether the looker may see a file this service hosts: some version it may see names it.
    pub async fn hosted_file(&self, sha256: &str) -> StoreResult<bool> {
        self.store
            .hosted_file_visible(sha256, self.looker.listing())
            .await
    }

    fn visible(&self, model: Option<Model>) -> Option<Model> {
        model.filter(|m| self.looker.sees(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(admin: bool) -> User {
        User {
            id: Uuid::new_v4(),
            username: "u".into(),
            email: "u@example.com".into(),
            is_developer: false,
            is_admin: admin,
            created_at: crate::domain::now(),
        }
    }

    fn model(author: &User, public: bool) -> Model {
        let m = crate::sync::plan::tests::mirror("o/r", "sha", 1);
        let mut model = crate::sync::plan::tests::stored(&m, "d");
        model.author_id = author.id;
        model.is_public = public;
        model
    }

    #[test]
    fn a_private_model_is_seen_by_its_owner_and_admins_only() {
        let (owner, other, admin) = (user(false), user(false), user(true));
        let private = model(&owner, false);
        assert!(Looker::user(&owner).sees(&private));
        assert!(Looker::user(&admin).sees(&private));
        assert!(!Looker::user(&other).sees(&private));
        assert!(!Looker::anonymous().sees(&private));
        let public = model(&owner, true);
        assert!(Looker::anonymous().sees(&public));
        assert!(Looker::user(&other).sees(&public));
    }

    #[test]
    fn listings_apply_the_same_rule() {
        let (plain, admin) = (user(false), user(true));
        assert_eq!(Looker::anonymous().listing(), Visibility::PublicAnd(None));
        assert_eq!(
            Looker::user(&plain).listing(),
            Visibility::PublicAnd(Some(plain.id))
        );
        assert_eq!(Looker::user(&admin).listing(), Visibility::Everything);
    }
}
