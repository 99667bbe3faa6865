//! The catalog's records as the rest of the program sees them — users, tokens, models, versions and
//! assets — and the inputs that create or change them. The store converts database rows into these; the
//! HTTP layer converts these into its response types.

pub use super::runs::*;
use crate::domain::{Category, LicenseType, UpstreamStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub is_developer: bool,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub is_developer: bool,
    pub is_admin: bool,
}

/// An API token as stored: only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// What the Hub says about a synced model, kept apart from Pocket AI's own fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Upstream {
    pub object_id: String,
    pub sha: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub downloads: i64,
    pub likes: i64,
    pub gated: Option<String>,
    pub library_name: Option<String>,
    pub status: Option<UpstreamStatus>,
    pub synced_at: Option<DateTime<Utc>>,
    /// [`crate::sync::mapping::Mirror::digest`] of the listing entry last written; `None` for models
    /// synced before digests were kept or edited by a user since (compared field by field).
    pub digest: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub category: Category,
    pub license_type: LicenseType,
    pub origin_repo_url: Option<String>,
    pub author_id: Uuid,
    pub hf_model_id: Option<String>,
    pub is_verified_official: bool,
    pub tags: Vec<String>,
    pub task: Option<String>,
    /// The task was inferred (no `pipeline_tag` upstream), not given.
    pub task_inferred: bool,
    pub total_download_count: i64,
    pub rating_weighted_avg: f64,
    pub total_ratings: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Present exactly when the model is mirrored from the Hub.
    pub upstream: Option<Upstream>,
    /// Total size of the newest version's assets.
    pub latest_version_size_bytes: Option<i64>,
    /// Listed to everyone; a private model is seen by its author alone.
    pub is_public: bool,
    /// Its versions at a glance, kept up to date on every version write.
    pub versions: VersionSummary,
}

/// A model's versions at a glance (the clients' `version_count`, `file_size_bytes`,
/// `best_version_status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionSummary {
    pub count: i64,
    /// The largest main file among the versions ([`crate::domain::assets::main_file_size`]), 0 without one.
    pub largest_file_bytes: i64,
    /// The best status among the versions (verified > pending > missing); `None` without versions.
    pub best_status: Option<crate::domain::VersionStatus>,
}

impl Model {
    pub fn is_synced(&self) -> bool {
        self.hf_model_id.is_some()
    }
}

/// A new model. `slug_hint` is what the slug is derived from (the name, or the Hub id); `slug_disambiguator`
/// makes colliding hints unique deterministically.
#[derive(Debug, Clone)]
pub struct NewModel {
    pub id: Uuid,
    pub name: String,
    pub slug_hint: String,
    pub slug_disambiguator: String,
    pub description: String,
    pub category: Category,
    pub license_type: LicenseType,
    pub origin_repo_url: Option<String>,
    pub author_id: Uuid,
    pub hf_model_id: Option<String>,
    pub is_verified_official: bool,
    pub tags: Vec<String>,
    pub task: Option<String>,
    pub task_inferred: bool,
    pub upstream: Option<Upstream>,
    pub is_public: bool,
}

/// A change to a model's user-editable fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ModelPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<Category>,
    pub license_type: Option<LicenseType>,
    pub origin_repo_url: Option<String>,
    pub is_verified_official: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub task: Option<String>,
    /// Listed for everyone (`true`) or only for its author and admins. Never written by the sync
    /// after a mirrored model is first stored, so an admin's choice stays.
    pub is_public: Option<bool>,
}

impl ModelPatch {
    /// The fields this patch sets that the Hugging Face sync owns on a synced model.
    pub fn sync_owned_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.name.is_some() {
            out.push("name");
        }
        if self.description.is_some() {
            out.push("description");
        }
        if self.license_type.is_some() {
            out.push("license_type");
        }
        if self.origin_repo_url.is_some() {
            out.push("origin_repo_url");
        }
        if self.tags.is_some() {
            out.push("tags");
        }
        if self.task.is_some() {
            out.push("task");
        }
        out
    }
}

/// A downloadable file of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Asset {
    /// Stable key of the asset within its version (the file path for synced assets).
    pub asset_key: String,
    /// `tflite`, `litertlm`, `task`, `label_txt`, `label_json`, `vocab_txt`, `tokenizer`, `config_json`,
    /// `anchors`, or another kind.
    pub asset_type: String,
    pub source_url: String,
    pub file_size_bytes: Option<i64>,
    /// SHA-256 of the file (hex), or a git blob id when `hash_kind` says so.
    pub file_hash: Option<String>,
    /// `sha256` or `git-blob-sha1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_kind: Option<String>,
    #[serde(default)]
    pub is_hosted_by_us: bool,
    /// Whether this is the file an app should download (synced versions mark exactly one).
    #[serde(default)]
    pub is_primary: bool,
}

/// How the URL of a file this service hosts is stored: its path under the service,
/// `/files/{sha256}/{name}` — never an absolute URL, which depends on where clients reach the service
/// and is made when they are answered ([`Asset::url_under`]).
pub const HOSTED_PATH: &str = "/files/";

impl Asset {
    /// Its URL for a client: a file this service hosts under `public_url` (the address clients reach
    /// it at, configured or the listener's), any other as stored.
    pub fn url_under(&self, public_url: &url::Url) -> String {
        if self.is_hosted_by_us && self.source_url.starts_with(HOSTED_PATH) {
            format!(
                "{}{}",
                public_url.as_str().trim_end_matches('/'),
                self.source_url
            )
        } else {
            self.source_url.clone()
        }
    }
}

/// `assets` with the URLs a client is given ([`Asset::url_under`]).
pub fn assets_under(mut assets: Vec<Asset>, public_url: &url::Url) -> Vec<Asset> {
    for asset in &mut assets {
        asset.source_url = asset.url_under(public_url);
    }
    assets
}

/// The sizes of all `assets` added up (unknown sizes count 0): a version's `total_size_bytes`.
pub fn total_size(assets: &[Asset]) -> i64 {
    assets.iter().filter_map(|a| a.file_size_bytes).sum()
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    pub id: Uuid,
    pub model_id: Uuid,
    pub version_string: String,
    pub changelog: Option<String>,
    pub hf_commit_sha: Option<String>,
    pub pipeline_spec: Option<serde_json::Value>,
    pub assets: Vec<Asset>,
    pub published_at: DateTime<Utc>,
    pub download_count: i64,
    pub num_ratings: i64,
    pub rating_avg: f64,
    pub created_by: Option<Uuid>,
    /// Whether the app can run it (CLIENTS.md §4.7).
    pub status: crate::domain::VersionStatus,
    /// Why it cannot run, in words a person understands.
    pub unsupported_reason: Option<String>,
    pub pipeline_updated_at: Option<DateTime<Utc>>,
    /// The licence it was published under, when its publisher named one (the clients' dialect sends
    /// one per version); otherwise its model's.
    pub license_type: Option<LicenseType>,
    /// The main file's tensors in model order, `{"inputs": [...], "outputs": [...]}`, once inspected.
    pub signature: Option<serde_json::Value>,
    /// What inspecting the main file found (operators, quantization, metadata, cost, error).
    pub inspection: Option<serde_json::Value>,
    /// A mirrored version's files that differ from its model's previous version; `None` when not
    /// known (a person's version, or one written before the list existed).
    pub changed_files: Option<Vec<crate::domain::changes::FileChange>>,
}

/// What inspecting a version's main file found, to be recorded on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    pub signature: Option<serde_json::Value>,
    pub inspection: serde_json::Value,
    pub inspector_version: u32,
    /// The pipeline derived from it; `None` leaves the version's pipeline as it is.
    pub pipeline: Option<DerivedPipeline>,
    /// Files extracted from the model (its packed label file), hosted by this service.
    pub hosted: Vec<HostedFile>,
    /// The version's assets with the hosted files among them ([`Inspected::host_files`]); `None`
    /// leaves them as they are.
    pub assets: Option<Vec<Asset>>,
}

/// A file extracted from a version's model and served by this service at `/files/{sha256}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedFile {
    /// The client key it fills (`labels`).
    pub key: &'static str,
    pub name: String,
    /// SHA-256 of `bytes`, hex.
    pub sha256: String,
    pub bytes: Vec<u8>,
}

impl HostedFile {
    /// Its asset: stored by its path under this service ([`HOSTED_PATH`]), made absolute when a
    /// client is answered ([`Asset::url_under`]).
    pub fn asset(&self) -> Asset {
        let name = self.name.rsplit('/').next().unwrap_or(&self.name);
        const PATH_PART: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
            .add(b' ')
            .add(b'/')
            .add(b'?')
            .add(b'#')
            .add(b'%')
            .add(b'"');
        let name = percent_encoding::utf8_percent_encode(name, PATH_PART);
        Asset {
            asset_key: self.key.to_string(),
            asset_type: "label_txt".into(),
            source_url: format!("{HOSTED_PATH}{}/{name}", self.sha256),
            file_size_bytes: Some(self.bytes.len() as i64),
            file_hash: Some(self.sha256.clone()),
            hash_kind: Some("sha256".into()),
            is_hosted_by_us: true,
            is_primary: false,
        }
    }
}

impl Inspected {
    /// Drops control characters from everything read out of the file ([`crate::domain::text`]).
    pub fn clean_text(&mut self) {
        use crate::domain::text::{clean, clean_json};
        if let Some(signature) = &mut self.signature {
            clean_json(signature);
        }
        clean_json(&mut self.inspection);
        if let Some(p) = &mut self.pipeline {
            if let Some(spec) = &mut p.spec {
                clean_json(spec);
            }
            if let Some(reason) = &mut p.reason {
                *reason = clean(reason).into_owned();
            }
        }
        for f in &mut self.hosted {
            f.name = clean(&f.name).into_owned();
        }
    }

    /// Puts the hosted files among `assets` (replacing what an earlier inspection hosted under the
    /// same key) as the assets to record.
    pub fn host_files(&mut self, assets: &[Asset]) {
        if self.hosted.is_empty() {
            return;
        }
        let mut merged: Vec<Asset> = assets
            .iter()
            .filter(|a| !(a.is_hosted_by_us && self.hosted.iter().any(|h| h.key == a.asset_key)))
            .cloned()
            .collect();
        merged.extend(self.hosted.iter().map(HostedFile::asset));
        self.assets = Some(merged);
    }

    /// Marks the derived spec as the inspector's ([`DERIVED_SPEC_KEY`]), so that a newer inspector
    /// may replace it.
    pub fn mark_derived_spec(&mut self) {
        let digest = self
            .pipeline
            .as_ref()
            .and_then(|p| p.spec.as_ref())
            .map(spec_digest);
        if let (Some(digest), Some(map)) = (digest, self.inspection.as_object_mut()) {
            map.insert(DERIVED_SPEC_KEY.into(), serde_json::Value::String(digest));
        }
    }

    /// Leaves the version's pipeline as it is (a person's spec stands): none is recorded, and none
    /// is claimed as derived.
    pub fn leave_pipeline(&mut self) {
        self.pipeline = None;
        if let Some(map) = self.inspection.as_object_mut() {
            map.remove(DERIVED_SPEC_KEY);
        }
    }

    /// The kind of quantization found (`inspect::quantization_kind`'s words), when the file was read.
    pub fn quantization(&self) -> Option<&str> {
        self.inspection.get("quantization").and_then(|q| q.as_str())
    }
}

/// The key of a version's `inspection` that holds the digest of the spec the inspection derived and
/// wrote ([`spec_digest`]): a stored spec with that digest is the inspector's, which
/// a newer inspector replaces; any other spec is a person's, never replaced.
pub const DERIVED_SPEC_KEY: &str = "derived_spec_sha256";

impl ModelVersion {
    /// Whether its stored spec is one the app cannot read (kept as given by the root dialect): decided
    /// when it was written ([`SPEC_OUTSIDE_APP_SCHEMA`]), never again when it is shown.
    pub fn spec_outside_app_schema(&self) -> bool {
        self.unsupported_reason
            .as_deref()
            .is_some_and(|r| r.starts_with(SPEC_OUTSIDE_APP_SCHEMA))
    }

    /// Whether its spec is the one its inspection derived, unchanged since (no person wrote it).
    pub fn spec_is_derived(&self) -> bool {
        let marked = self
            .inspection
            .as_ref()
            .and_then(|i| i.get(DERIVED_SPEC_KEY))
            .and_then(|d| d.as_str());
        match (&self.pipeline_spec, marked) {
            (Some(spec), Some(digest)) => spec_digest(spec) == digest,
            _ => false,
        }
    }
}

/// A pipeline spec (or none), the status it earns and why not runnable.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedPipeline {
    pub spec: Option<serde_json::Value>,
    pub status: crate::domain::VersionStatus,
    pub reason: Option<String>,
}

impl NewVersion {
    pub fn total_size_bytes(&self) -> i64 {
        total_size(&self.assets)
    }

    fn derived(&self) -> Option<&DerivedPipeline> {
        self.inspected.as_ref().and_then(|i| i.pipeline.as_ref())
    }

    /// The spec it is written with: the one derived from its inspection, else the one given.
    pub fn spec(&self) -> Option<&serde_json::Value> {
        match self.derived() {
            Some(d) => d.spec.as_ref(),
            None => self.pipeline_spec.as_ref(),
        }
    }

    /// Why it is not runnable: the refusal it was written with, else its inspection's reason, else
    /// that its inspection was deferred.
    pub fn unsupported_reason(&self) -> Option<String> {
        self.refusal
            .clone()
            .or_else(|| self.derived().and_then(|d| d.reason.clone()))
            .or_else(|| self.deferred.as_ref().map(|d| d.reason()))
    }

    /// The status its inspection earned; otherwise `missing` while its inspection is deferred,
    /// `pending` with a pipeline spec (not verified yet) and `missing` without one.
    pub fn status(&self) -> crate::domain::VersionStatus {
        if self.refusal.is_some() || (self.deferred.is_some() && self.derived().is_none()) {
            return crate::domain::VersionStatus::Missing;
        }
        if let Some(d) = self.derived() {
            return d.status;
        }
        if self.pipeline_spec.is_some() {
            crate::domain::VersionStatus::Pending
        } else {
            crate::domain::VersionStatus::Missing
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    pub model_id: Uuid,
    pub version_string: String,
    pub changelog: Option<String>,
    pub hf_commit_sha: Option<String>,
    pub pipeline_spec: Option<serde_json::Value>,
    pub assets: Vec<Asset>,
    pub published_at: DateTime<Utc>,
    /// `None` for the versions the sync mirrors.
    pub created_by: Option<Uuid>,
    /// The licence named by its publisher; `None` means its model's.
    pub license_type: Option<LicenseType>,
    /// What inspecting its main file found (the sync inspects the versions it creates); its derived
    /// pipeline, when there is one, is the version's.
    pub inspected: Option<Inspected>,
    /// Why the app cannot run it, decided when it is written (its spec is outside the app's schema,
    /// it has no model file): it is written `missing` with this reason, whatever else it has.
    pub refusal: Option<String>,
    /// Its main file could not be read for a reason that may pass: written `missing`, retried later.
    pub deferred: Option<super::inspection::Deferral>,
}

/// How the reason of a version whose stored spec is outside the app's schema begins (written by the
/// root dialect, which keeps such a spec): the clients' dialect never shows that spec.
pub const SPEC_OUTSIDE_APP_SCHEMA: &str = "the pipeline spec is not in the app's schema";

/// The reason of a version without a model file the app could download.
pub const NO_MODEL_FILE: &str = "the version has no model file (.tflite, .litertlm or .task)";

/// One model the sync creates or updates: every field the sync owns. The planner resolves the
/// description (a stored description is never replaced by nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncWrite {
    pub model_id: Uuid,
    pub create: bool,
    pub hf_model_id: String,
    pub name: String,
    pub description: String,
    pub license_type: LicenseType,
    pub task: Option<String>,
    pub task_inferred: bool,
    pub tags: Vec<String>,
    pub origin_repo_url: String,
    pub upstream: Upstream,
    /// An update that changes only the Hub's counters (downloads, likes, last modified): written by a
    /// narrow statement that leaves the other columns, and the indexes over them, alone.
    pub counters_only: bool,
}

/// A version the sync creates for an upstream commit.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncVersion {
    pub model_id: Uuid,
    pub version: NewVersion,
}

/// One inference run the phone app reports (CLIENTS.md §3.5).
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceEvent {
    pub model_version_id: Uuid,
    pub device_model: String,
    /// `android` or `ios`.
    pub platform: String,
    pub total_inference_ms: i64,
    pub success: bool,
    pub task_type: Option<String>,
    pub top_confidence: Option<f64>,
    pub num_results: Option<i64>,
}

/// What a version's statistics are computed from: one stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceSample {
    pub platform: String,
    pub device_model: String,
    pub total_inference_ms: i64,
    pub success: bool,
}

/// SHA-256 (hex) of `spec` as canonical JSON (object keys sorted at every level), so that the same
/// spec gives the same digest whichever backend stored it and in whatever key order it comes back.
pub fn spec_digest(spec: &serde_json::Value) -> String {
    use serde_json::Value;
    use sha2::Digest;
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    write(spec, &mut text);
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::spec_digest as digest;
    use serde_json::{json, Value};

    #[test]
    fn a_spec_has_one_digest_whatever_the_order_of_its_keys() {
        let a = json!({"inputs": [{"name": "x", "shape": [1, 2]}], "outputs": [], "b": 0.5});
        let b: Value = serde_json::from_str(
            r#"{"b": 0.5, "outputs": [], "inputs": [{"shape": [1, 2], "name": "x"}]}"#,
        )
        .unwrap();
        assert_eq!(digest(&a), digest(&b));
        let c = json!({"inputs": [{"name": "x", "shape": [2, 1]}], "outputs": [], "b": 0.5});
        assert_ne!(digest(&a), digest(&c));
        assert_eq!(digest(&a).len(), 64);
    }
}
