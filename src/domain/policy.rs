//! Who may do what to the catalog — one policy, whichever dialect asks (CLIENTS.md §1.2 and issue #20):
//! any signed-in user may publish models (unless the developer role is required) and add versions to
//! their own models and to mirrored ones; a version and its pipeline may be edited or deleted by its
//! creator, the model's owner and admins, and a mirrored model's versions by admins and developers.
//! A refusal is a sentence for the `403`'s `detail`.

use crate::domain::records::{Model, ModelVersion, User};

/// Whether `user` may publish a model.
pub fn may_publish(user: &User, requires_developer: bool) -> Result<(), String> {
    if requires_developer && !(user.is_developer || user.is_admin) {
        return Err("Publishing models requires a developer account on this catalog".into());
    }
    Ok(())
}

/// Whether `user` may add a version to `model`.
pub fn may_add_version(user: &User, model: &Model) -> Result<(), String> {
    if user.is_admin || model.author_id == user.id || model.is_synced() {
        Ok(())
    } else {
        Err("Only the model's owner can add versions to it".into())
    }
}

/// Whether `user` may edit or delete `version` of `model`, or its pipeline.
pub fn may_edit_version(user: &User, model: &Model, version: &ModelVersion) -> Result<(), String> {
    let creator = version.created_by == Some(user.id);
    let owner = model.author_id == user.id && !model.is_synced();
    let curator = model.is_synced() && user.is_developer;
    if user.is_admin || creator || owner || curator {
        Ok(())
    } else if model.is_synced() {
        Err("A mirrored model's versions are edited by developers and admins".into())
    } else {
        Err("Only the version's creator, the model's owner or an admin can change it".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user(developer: bool, admin: bool) -> User {
        User {
            id: Uuid::new_v4(),
            username: "u".into(),
            email: "u@example.com".into(),
            is_developer: developer,
            is_admin: admin,
            created_at: crate::domain::now(),
        }
    }

    fn model(author: &User, synced: bool) -> Model {
        let m = crate::sync::plan::tests::mirror("o/r", "sha", 1);
        let mut model = crate::sync::plan::tests::stored(&m, "d");
        model.author_id = author.id;
        if !synced {
            model.hf_model_id = None;
            model.upstream = None;
        }
        model
    }

    fn version(creator: Option<&User>) -> ModelVersion {
        ModelVersion {
            id: Uuid::new_v4(),
            model_id: Uuid::new_v4(),
            version_string: "1".into(),
            changelog: None,
            hf_commit_sha: None,
            pipeline_spec: None,
            assets: vec![],
            published_at: crate::domain::now(),
            download_count: 0,
            num_ratings: 0,
            rating_avg: 0.0,
            created_by: creator.map(|u| u.id),
            status: crate::domain::VersionStatus::Missing,
            unsupported_reason: None,
            pipeline_updated_at: None,
            license_type: None,
            signature: None,
            inspection: None,
            changed_files: None,
        }
    }

    #[test]
    fn anyone_signed_in_publishes_unless_the_developer_role_is_required() {
        let (plain, dev) = (user(false, false), user(true, false));
        assert!(may_publish(&plain, false).is_ok());
        assert!(may_publish(&plain, true).is_err());
        assert!(may_publish(&dev, true).is_ok());
    }

    #[test]
    fn versions_go_to_own_and_mirrored_models() {
        let (owner, other, admin) = (user(false, false), user(false, false), user(false, true));
        let own = model(&owner, false);
        assert!(may_add_version(&owner, &own).is_ok());
        assert!(may_add_version(&other, &own).is_err());
        assert!(may_add_version(&admin, &own).is_ok());
        assert!(may_add_version(&other, &model(&owner, true)).is_ok());
    }

    #[test]
    fn versions_are_edited_by_creator_owner_admins_and_on_mirrors_developers() {
        let (owner, creator, other, dev) = (
            user(false, false),
            user(false, false),
            user(false, false),
            user(true, false),
        );
        let own = model(&owner, false);
        let v = version(Some(&creator));
        assert!(may_edit_version(&owner, &own, &v).is_ok());
        assert!(may_edit_version(&creator, &own, &v).is_ok());
        assert!(may_edit_version(&other, &own, &v).is_err());
        assert!(
            may_edit_version(&dev, &own, &v).is_err(),
            "a developer is no owner"
        );
        let mirrored = model(&owner, true);
        let synced = version(None);
        assert!(may_edit_version(&dev, &mirrored, &synced).is_ok());
        assert!(may_edit_version(&other, &mirrored, &synced).is_err());
        assert!(may_edit_version(&user(false, true), &mirrored, &synced).is_ok());
    }
}
