//! Publishing: models and versions created and edited by people, in either dialect. Who may do what is
//! [`crate::domain::policy`]; what they may write is [`super::checks`]. A person's pipeline spec is
//! checked against the app's schema once, here, when it is written (and against its model file's
//! tensors when the file can be read): what is stored is what every answer shows, never re-derived.

use super::checks::{
    check_assets, check_label, check_name, check_tags, check_text, check_url, MAX_SPEC_BYTES,
    MAX_TAG, MAX_TEXT,
};
use super::{Access, Catalog, CatalogError, CatalogResult};
use crate::domain::assets::AssetPointers;
use crate::domain::policy;
use crate::domain::records::{
    Asset, Model, ModelPatch, ModelVersion, NewModel, NewVersion, User, NO_MODEL_FILE,
    SPEC_OUTSIDE_APP_SCHEMA,
};
use crate::domain::{Category, LicenseType, VersionStatus};
use serde_json::Value;
use uuid::Uuid;

/// A model a person publishes, as their dialect parsed it.
#[derive(Debug, Clone)]
pub struct ModelDraft {
    pub name: String,
    pub description: String,
    pub category: Category,
    pub license_type: LicenseType,
    /// Where the model comes from (a Hub repo's URL, a paper, a site).
    pub origin_repo_url: Option<String>,
    pub tags: Vec<String>,
    pub task: Option<String>,
    pub is_public: bool,
}

/// A version a person publishes, as their dialect parsed it (its name and commit already checked
/// under the dialect's field names).
#[derive(Debug, Clone)]
pub struct VersionDraft {
    pub name: String,
    pub commit_sha: Option<String>,
    pub changelog: Option<String>,
    pub spec: Option<Value>,
    pub assets: Vec<Asset>,
    /// The licence it is published under; `None` means its model's.
    pub license_type: Option<LicenseType>,
}

/// What a dialect does with a spec outside the app's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecRule {
    /// Refused (the clients' dialect: its clients only know the app's schema).
    AppSchema,
    /// Kept as it was sent, the version written `missing` with the reason (the root dialect, whose
    /// older spec forms the app cannot run); the clients' dialect never shows such a spec.
    KeepOutside,
}

/// A person's spec checked against the app's schema: `Ok` the spec to store and why the app cannot
/// run it (only under [`SpecRule::KeepOutside`]).
fn checked_spec(
    spec: Value,
    model: &Model,
    rule: SpecRule,
) -> CatalogResult<(Value, Option<String>)> {
    // The root dialect's own bound; the clients' dialect takes what the body limit lets through, as
    // the reference does.
    if rule == SpecRule::KeepOutside && spec.to_string().len() > MAX_SPEC_BYTES {
        return Err(CatalogError::Invalid(
            "pipeline_spec must be at most 64 KiB".into(),
        ));
    }
    let source = model.origin_repo_url.as_deref().unwrap_or_default();
    match (crate::pipeline::spec::check(&spec, source), rule) {
        (Ok(normalised), _) => Ok((normalised, None)),
        (Err(why), SpecRule::AppSchema) => Err(CatalogError::Invalid(why)),
        (Err(why), SpecRule::KeepOutside) => {
            Ok((spec, Some(format!("{SPEC_OUTSIDE_APP_SCHEMA}: {why}"))))
        }
    }
}

/// Why the app cannot run a version written with these `assets`, given why its spec is outside the
/// app's schema (if it is): that, else the absence of a model file the app could download. The one
/// write-time decision of [`Catalog::create_version`], [`Catalog::set_pipeline`] and
/// [`Catalog::settle_published_versions`].
fn refusal(outside: Option<String>, assets: &[Asset]) -> Option<String> {
    outside.or_else(|| {
        AssetPointers::from_assets(assets)
            .tflite
            .is_none()
            .then(|| NO_MODEL_FILE.to_string())
    })
}

impl Catalog {
    /// Publishes a model for `user` (signed-in users; developers only when so configured). The
    /// catalog makes its id and a unique slug from its name.
    pub async fn create_model(&self, user: &User, draft: ModelDraft) -> CatalogResult<Model> {
        policy::may_publish(user, self.publish_requires_developer)
            .map_err(CatalogError::Forbidden)?;
        let name = check_name(&draft.name)?;
        check_text("description", &draft.description, MAX_TEXT)?;
        if let Some(url) = &draft.origin_repo_url {
            check_url("origin_repo_url", url)?;
        }
        let task = draft
            .task
            .as_deref()
            .map(|t| check_label("task", t, MAX_TAG))
            .transpose()?;
        let tags = check_tags(&draft.tags)?;
        let id = Uuid::now_v7();
        Ok(self
            .store
            .create_model(&NewModel {
                id,
                slug_hint: name.clone(),
                slug_disambiguator: id.to_string(),
                name,
                description: draft.description,
                category: draft.category,
                license_type: draft.license_type,
                origin_repo_url: draft.origin_repo_url,
                author_id: user.id,
                hf_model_id: None,
                is_verified_official: false,
                tags,
                task,
                task_inferred: false,
                upstream: None,
                is_public: draft.is_public,
            })
            .await?)
    }

    /// Edits `model` for `user` (its owner or an admin; `is_verified_official` admins only; on a
    /// mirrored model, none of the fields the sync manages).
    pub async fn update_model(
        &self,
        user: &User,
        model: &Model,
        mut patch: ModelPatch,
    ) -> CatalogResult<Model> {
        if model.author_id != user.id && !user.is_admin {
            return Err(CatalogError::Forbidden(
                "Only the model's author or an admin may edit it".into(),
            ));
        }
        patch.name = patch.name.as_deref().map(check_name).transpose()?;
        patch.tags = patch.tags.as_deref().map(check_tags).transpose()?;
        patch.task = patch
            .task
            .as_deref()
            .map(|t| check_label("task", t, MAX_TAG))
            .transpose()?;
        if let Some(d) = &patch.description {
            check_text("description", d, MAX_TEXT)?;
        }
        if let Some(u) = &patch.origin_repo_url {
            check_url("origin_repo_url", u)?;
        }
        if patch.is_verified_official.is_some() && !user.is_admin {
            return Err(CatalogError::Forbidden(
                "Only an admin may set is_verified_official".into(),
            ));
        }
        if model.is_synced() {
            let owned = patch.sync_owned_fields();
            if !owned.is_empty() {
                return Err(CatalogError::Forbidden(format!(
                    "This model is mirrored from Hugging Face; its {} {} managed by the sync and cannot be edited",
                    owned.join(", "),
                    if owned.len() == 1 { "is" } else { "are" }
                )));
            }
        }
        Ok(self.store.update_model(model.id, &patch).await?)
    }

    /// Deletes `model` for `user` (its owner or an admin). A model mirrored from the Hub is hidden
    /// instead (`is_public` false: only admins see it, and can make it public again): deleted, it
    /// would be created again by the next sync, which lists it on the Hub.
    pub async fn delete_model(&self, user: &User, model: &Model) -> CatalogResult<Deletion> {
        if model.author_id != user.id && !user.is_admin {
            return Err(CatalogError::Forbidden(
                "Only the model's author or an admin may delete it".into(),
            ));
        }
        if model.is_synced() {
            let hide = ModelPatch {
                is_public: Some(false),
                ..ModelPatch::default()
            };
            self.store.update_model(model.id, &hide).await?;
            return Ok(Deletion::Hidden);
        }
        if !self.store.delete_model(model.id).await? {
            return Err(CatalogError::NotFound("Model not found".into()));
        }
        Ok(Deletion::Deleted)
    }

    /// Publishes a version of `model` for `user` (on their own models, and on mirrored ones). With a
    /// spec: checked under `rule`, then against its model file's tensors when the file can be read in
    /// time (`pending`, or as that reading found). Without one: the pipeline its file gives when it
    /// can be read in time, else `missing`. Without a model file the app could download: `missing`.
    pub async fn create_version(
        &self,
        user: &User,
        model: &Model,
        draft: VersionDraft,
        rule: SpecRule,
    ) -> CatalogResult<ModelVersion> {
        policy::may_add_version(user, model).map_err(CatalogError::Forbidden)?;
        if let Some(changelog) = &draft.changelog {
            check_text("changelog", changelog, MAX_TEXT)?;
        }
        check_assets(&draft.assets)?;
        let (spec, outside) = match draft.spec.filter(|s| !s.is_null()) {
            Some(spec) => {
                let (spec, outside) = checked_spec(spec, model, rule)?;
                (Some(spec), outside)
            }
            None => (None, None),
        };
        let refusal = refusal(outside, &draft.assets);
        // Against the tensors its model file declares, when the file can be read (issue #21).
        let mut inspected = match (&spec, &refusal) {
            (Some(spec), None) => crate::pipeline::derive::check_supplied_spec(
                self.syncer.public_sources(),
                model,
                &draft.name,
                &draft.assets,
                spec,
            )
            .await
            .map_err(CatalogError::Invalid)?,
            _ => None,
        };
        // The file's true size, when it was read and the publisher sent none (the portal sends 0).
        let assets = match inspected.as_mut().and_then(|i| i.assets.take()) {
            Some(sized) => sized,
            None => draft.assets,
        };
        let version = self
            .store
            .create_version(&NewVersion {
                model_id: model.id,
                version_string: draft.name,
                changelog: draft.changelog,
                hf_commit_sha: draft.commit_sha,
                pipeline_spec: spec,
                assets,
                published_at: crate::domain::now(),
                created_by: Some(user.id),
                license_type: draft.license_type,
                inspected,
                refusal,
                deferred: None,
            })
            .await?;
        Ok(self.derive_published(model, version).await)
    }

    /// The version with this id and its model, for a change by `user` (its creator, the model's
    /// owner, admins; developers on mirrored models) — one they may not see is not found.
    pub async fn version_for_change(
        &self,
        user: &User,
        version_id: Uuid,
    ) -> CatalogResult<(ModelVersion, Model)> {
        let (version, model) = Access::for_user(&self.store, user)
            .version(version_id)
            .await?
            .ok_or_else(version_not_found)?;
        policy::may_edit_version(user, &model, &version).map_err(CatalogError::Forbidden)?;
        Ok((version, model))
    }

    /// Sets a version's pipeline for `user`: a new spec (checked against the app's schema and the
    /// file's tensors once inspected; `None` keeps the stored one) and a status (`None`: `pending`
    /// with a new spec, else unchanged). A version without a model file, or one keeping a spec outside
    /// the app's schema, stays `missing` whatever status is asked for; `verified` asked for a spec
    /// with app warnings is written `pending`.
    pub async fn set_pipeline(
        &self,
        user: &User,
        version_id: Uuid,
        spec: Option<Value>,
        status: Option<VersionStatus>,
    ) -> CatalogResult<(ModelVersion, Model)> {
        let (version, model) = self.version_for_change(user, version_id).await?;
        let spec = match spec.filter(|s| !s.is_null()) {
            Some(spec) => Some(checked_spec(spec, &model, SpecRule::AppSchema)?.0),
            None => None,
        };
        if let (Some(spec), Some(signature)) = (&spec, &version.signature) {
            crate::pipeline::conform::check(spec, signature).map_err(CatalogError::Invalid)?;
        }
        let kept_outside = (spec.is_none() && version.spec_outside_app_schema())
            .then(|| version.unsupported_reason.clone())
            .flatten();
        let refused = refusal(kept_outside, &version.assets);
        let (status, reason) = match status {
            _ if refused.is_some() => (VersionStatus::Missing, refused.as_deref()),
            Some(status) => (status, version.unsupported_reason.as_deref()),
            None if spec.is_some() => (
                VersionStatus::Pending,
                version.unsupported_reason.as_deref(),
            ),
            None => (version.status, version.unsupported_reason.as_deref()),
        };
        // `verified` says the app computes the right answer: not with a spec the app would get wrong
        // (its app warnings say why; the spec is kept as written).
        let kept = spec.as_ref().or(version.pipeline_spec.as_ref());
        let status = match (status, kept) {
            (VersionStatus::Verified, Some(kept))
                if !crate::pipeline::app_profile::warnings(kept).is_empty() =>
            {
                VersionStatus::Pending
            }
            _ => status,
        };
        // A new spec in the app's schema ends a refusal of the old one.
        let reason = reason.filter(|r| spec.is_none() || !r.starts_with(SPEC_OUTSIDE_APP_SCHEMA));
        let updated = self
            .store
            .set_version_pipeline(version.id, spec.as_ref().map(Some), status, reason)
            .await?
            .ok_or_else(version_not_found)?;
        Ok((updated, model))
    }

    /// Clears a version's pipeline for `user`: no spec, `missing`, no reason.
    pub async fn clear_pipeline(
        &self,
        user: &User,
        version_id: Uuid,
    ) -> CatalogResult<(ModelVersion, Model)> {
        let (version, model) = self.version_for_change(user, version_id).await?;
        let cleared = self
            .store
            .set_version_pipeline(version.id, Some(None), VersionStatus::Missing, None)
            .await?
            .ok_or_else(version_not_found)?;
        Ok((cleared, model))
    }

    /// Deletes a version (and its telemetry) for `user`.
    pub async fn delete_version(&self, user: &User, version_id: Uuid) -> CatalogResult<()> {
        let (version, _) = self.version_for_change(user, version_id).await?;
        if !self.store.delete_version(version.id).await? {
            return Err(version_not_found());
        }
        Ok(())
    }
}

impl Catalog {
    /// Decides once, for the versions people published before their refusal was decided on write
    /// (before migration 0023's release), what [`Catalog::create_version`] decides now: a spec
    /// outside the app's schema, or no model file, makes them `missing` with the reason. Run at
    /// startup; it touches only people's versions not `missing` yet, so a second run changes nothing.
    pub async fn settle_published_versions(&self) -> CatalogResult<u64> {
        let mut settled = 0;
        for v in self.store.published_runnable_versions().await? {
            let outside = v
                .pipeline_spec
                .as_ref()
                .and_then(|spec| crate::pipeline::spec::check(spec, "").err())
                .map(|why| format!("{SPEC_OUTSIDE_APP_SCHEMA}: {why}"));
            if let Some(reason) = refusal(outside, &v.assets) {
                self.store
                    .set_version_pipeline(v.id, None, VersionStatus::Missing, Some(&reason))
                    .await?;
                settled += 1;
            }
        }
        Ok(settled)
    }
}

fn version_not_found() -> CatalogError {
    CatalogError::NotFound("Model version not found.".into())
}

/// What deleting a model did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// The model, its versions and what hangs on them are gone.
    Deleted,
    /// A mirrored model is hidden (private), so the next sync does not bring it back.
    Hidden,
}
