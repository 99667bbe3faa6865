//! The `/api/v1` response shapes, field for field as CLIENTS.md §3 gives them: what the Flutter app
//! decodes strictly (no null where it needs a value) and the portal reads.

use crate::domain::assets::{self, AssetPointers};
use crate::domain::client_card::{rfc3339, ClientCard};
use crate::domain::records::{Model, ModelVersion};
use crate::domain::{LicenseType, VersionStatus};
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// A model (`MLModelRead`): its card, rendered when the model was written, and its counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientModel {
    #[serde(flatten)]
    pub card: ClientCard,
    pub total_download_count: i64,
    /// Number of versions, whatever their status.
    pub version_count: i64,
    /// The largest main file among the versions, 0 without versions.
    pub file_size_bytes: i64,
    /// The best status among the versions (verified > pending > missing); null without versions.
    pub best_version_status: Option<VersionStatus>,
}

impl From<Model> for ClientModel {
    fn from(m: Model) -> Self {
        ClientModel {
            card: ClientCard::of(&m),
            total_download_count: m.total_download_count,
            version_count: m.versions.count,
            file_size_bytes: m.versions.largest_file_bytes,
            best_version_status: m.versions.best_status,
        }
    }
}

/// The six asset pointers, each always present; `tflite` is always a string.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientAssets {
    /// The main file the app downloads; for an LLM-only repo its `.task`/`.litertlm` bundle. An empty
    /// string only on a version without any model file, which is then `missing`.
    pub tflite: String,
    pub litert_lm: Option<String>,
    pub labels: Option<String>,
    pub tokenizer: Option<String>,
    pub vocab: Option<String>,
    pub anchors: Option<String>,
}

impl From<AssetPointers> for ClientAssets {
    fn from(p: AssetPointers) -> Self {
        ClientAssets {
            tflite: p.tflite.unwrap_or_default(),
            litert_lm: p.litert_lm,
            labels: p.labels,
            tokenizer: p.tokenizer,
            vocab: p.vocab,
            anchors: p.anchors,
        }
    }
}

/// A version (`ModelVersionRead`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientVersion {
    pub id: Uuid,
    pub model_id: Uuid,
    pub version_name: String,
    /// The Hub commit of a mirrored version; what the publisher sent otherwise. Never null.
    pub commit_sha: String,
    pub is_hosted_by_us: bool,
    pub assets: ClientAssets,
    pub license_type: LicenseType,
    pub is_commercial_safe: bool,
    pub requires_commercial_warning: bool,
    /// The main file's size: what the app checks free space against.
    pub file_size_bytes: i64,
    /// `verified` and `pending` are runnable in the app; `missing` is not.
    pub status: VersionStatus,
    pub unsupported_reason: Option<String>,
    pub changelog: Option<String>,
    pub pipeline_spec: Option<serde_json::Value>,
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub pipeline_updated_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub published_at: DateTime<Utc>,
    pub download_count: i64,
    pub num_ratings: i64,
    pub rating_avg: f64,
    /// Beyond the reference: the main file's tensors in model order, once inspected.
    #[schema(value_type = Option<Object>)]
    pub signature: Option<serde_json::Value>,
    /// Beyond the reference: what inspecting the main file found (operators, quantization,
    /// metadata, cost, inspector version, error).
    #[schema(value_type = Option<Object>)]
    pub inspection: Option<serde_json::Value>,
    /// Beyond the reference: each rule of the app at f7ae2c9 that the pipeline spec breaks — what the
    /// app would compute wrong, skip or fail on (docs/CLIENTS.md §8). A person's spec is kept as
    /// written; a derived one has none (a detector's says the app shows no boxes).
    pub app_warnings: Vec<String>,
    /// Beyond the reference: a mirrored version's files that differ from its model's previous version
    /// (`{path, kind, change}`, change `added`, `changed` or `removed`; empty when only other files
    /// such as the model card changed) — an app updates when its own files changed. Null when not known.
    pub changed_files: Option<Vec<crate::domain::changes::FileChange>>,
}

impl ClientVersion {
    /// The version as the clients see it, links to the files this service hosts made under
    /// `public_url`; the licence is the one it was published under, else its model's. Its status and
    /// spec are as they were written — a spec outside the app's schema (kept by the root dialect) is
    /// not shown: the app would reject the whole list.
    pub fn new(v: ModelVersion, model: &Model, public_url: &url::Url) -> ClientVersion {
        let license = v.license_type.unwrap_or(model.license_type);
        let hosted_by_us = assets::main_file(&v.assets).is_some_and(|a| a.is_hosted_by_us);
        let app_warnings = crate::catalog::pipelines::app_warnings(&v);
        let spec = if v.spec_outside_app_schema() {
            None
        } else {
            v.pipeline_spec
        };
        let assets = crate::domain::records::assets_under(v.assets, public_url);
        let pointers = AssetPointers::from_assets(&assets);
        ClientVersion {
            id: v.id,
            model_id: v.model_id,
            version_name: v.version_string,
            commit_sha: v.hf_commit_sha.unwrap_or_default(),
            is_hosted_by_us: hosted_by_us,
            file_size_bytes: assets::main_file_size(&assets),
            assets: pointers.into(),
            license_type: license,
            is_commercial_safe: license.is_commercial_safe(),
            requires_commercial_warning: license.requires_commercial_warning(),
            status: v.status,
            unsupported_reason: v.unsupported_reason,
            changelog: v.changelog,
            pipeline_spec: spec,
            pipeline_updated_at: v.pipeline_updated_at,
            published_at: v.published_at,
            download_count: v.download_count,
            num_ratings: v.num_ratings,
            rating_avg: v.rating_avg,
            signature: v.signature,
            inspection: v.inspection,
            app_warnings,
            changed_files: v.changed_files,
        }
    }
}
