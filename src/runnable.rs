//! Making versions runnable (issue #21): a version's main file read on the Hub by range
//! ([`crate::inspect`]), the app's pipeline derived from what it declares, and both recorded on the
//! version (its `signature`, `inspection`, spec, status and reason — the model's summary follows).
//! `POST /api/v1/versions/{id}/generate-pipeline` runs it for one version.

use crate::assets::{self, AssetPointers};
use crate::hub::{HubClient, HubError, RepoOutcome};
use crate::inspect::{self, recipe, Budget};
use crate::records::{DerivedPipeline, Inspected, Model, ModelVersion};
use crate::store::{Store, StoreError};
use serde_json::json;

/// Why a version could not be inspected (what could be inspected and failed is recorded instead).
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The model file is not on the Hugging Face Hub (an upload elsewhere): nothing to read by range.
    #[error("{0}")]
    NotOnHub(String),
    #[error("the Hugging Face Hub could not be read: {0}")]
    Hub(#[from] HubError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the version no longer exists")]
    Gone,
}

/// Where a Hub `resolve` URL points: `(repo id, revision, path in the repo)`, when it is on `hub`.
fn on_hub(hub: &HubClient, url: &str) -> Option<(String, String, String)> {
    let url = url::Url::parse(url).ok()?;
    let endpoint = &hub.config().endpoint;
    if url.host_str() != endpoint.host_str()
        || url.port_or_known_default() != endpoint.port_or_known_default()
    {
        return None;
    }
    let base: Vec<&str> = endpoint
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let segments: Vec<String> = url
        .path_segments()?
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let rest = segments.get(base.len()..)?;
    match rest {
        [owner, name, resolve, rev, path @ ..] if resolve == "resolve" && !path.is_empty() => {
            Some((format!("{owner}/{name}"), rev.clone(), path.join("/")))
        }
        _ => None,
    }
}

/// Inspects `version`'s main file and records what it found and the pipeline derived from it.
pub async fn generate(
    hub: &HubClient,
    store: &Store,
    model: &Model,
    version: &ModelVersion,
) -> Result<ModelVersion, GenerateError> {
    let pointers = AssetPointers::from_assets(&version.assets);
    let source = model
        .origin_repo_url
        .clone()
        .or_else(|| {
            model
                .hf_model_id
                .as_ref()
                .map(|id| format!("https://huggingface.co/{id}"))
        })
        .unwrap_or_default();
    let ctx = recipe::Context {
        model_name: &model.name,
        version_name: &version.version_string,
        task: model.task.as_deref(),
        source_repository: &source,
        has_labels: pointers.labels.is_some(),
        has_tokenizer: pointers.tokenizer.is_some(),
        has_vocab: pointers.vocab.is_some(),
    };
    let found = match assets::main_file(&version.assets) {
        None => missing_file(),
        Some(main) => {
            let Some((repo, rev, path)) = on_hub(hub, &main.source_url) else {
                return Err(GenerateError::NotOnHub(format!(
                    "only model files on the Hugging Face Hub are inspected; this version's is at {}",
                    url::Url::parse(&main.source_url)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_string))
                        .unwrap_or_else(|| "an unreadable URL".into())
                )));
            };
            if matches!(main.asset_type.as_str(), "task" | "litertlm") {
                bundle(&path, &ctx, &main.asset_type)
            } else {
                tflite(hub, &repo, &rev, &path, &ctx).await?
            }
        }
    };
    store
        .record_inspection(version.id, &found)
        .await?
        .ok_or(GenerateError::Gone)
}

fn missing_file() -> Inspected {
    let why = "the version has no model file (.tflite, .litertlm or .task)";
    Inspected {
        signature: None,
        inspection: json!({"error": why, "inspector_version": inspect::INSPECTOR_VERSION}),
        inspector_version: inspect::INSPECTOR_VERSION,
        pipeline: Some(DerivedPipeline {
            spec: None,
            status: crate::domain::VersionStatus::Missing,
            reason: Some(why.into()),
        }),
    }
}

fn bundle(path: &str, ctx: &recipe::Context<'_>, format: &str) -> Inspected {
    let name = path.rsplit('/').next().unwrap_or(path);
    let derived = recipe::derive_bundle(name, ctx);
    Inspected {
        signature: None,
        inspection: json!({"format": format, "file": path, "defaults": derived.defaults,
            "inspector_version": inspect::INSPECTOR_VERSION, "error": null}),
        inspector_version: inspect::INSPECTOR_VERSION,
        pipeline: Some(DerivedPipeline {
            spec: derived.spec,
            status: derived.status,
            reason: derived.reason,
        }),
    }
}

async fn tflite(
    hub: &HubClient,
    repo: &str,
    rev: &str,
    path: &str,
    ctx: &recipe::Context<'_>,
) -> Result<Inspected, GenerateError> {
    let file = match hub.open_file(repo, rev, path).await? {
        RepoOutcome::Found { value, .. } => value,
        other => {
            let why = match other {
                RepoOutcome::Gated => {
                    "the repo is gated: its model file cannot be read anonymously"
                }
                _ => "the model file is not on the Hub at this commit",
            };
            return Ok(Inspected {
                signature: None,
                inspection: json!({"format": "tflite", "file": path, "error": why,
                    "inspector_version": inspect::INSPECTOR_VERSION}),
                inspector_version: inspect::INSPECTOR_VERSION,
                pipeline: Some(DerivedPipeline {
                    spec: None,
                    status: crate::domain::VersionStatus::Missing,
                    reason: Some(why.into()),
                }),
            });
        }
    };
    let outcome = inspect::inspect_tflite(&file, file.size, Budget::for_size(file.size)).await;
    let mut shown = inspect::summary(&outcome);
    let pipeline = match &outcome {
        Ok(seen) => {
            let meta = seen.metadata.as_ref().and_then(|m| m.as_ref().ok());
            let d = recipe::derive(&seen.model, meta, ctx);
            shown["inspection"]["defaults"] = json!(d.defaults);
            DerivedPipeline {
                spec: d.spec,
                status: d.status,
                reason: d.reason,
            }
        }
        Err((e, _)) => DerivedPipeline {
            spec: None,
            status: crate::domain::VersionStatus::Missing,
            reason: Some(format!("the model file cannot be read: {e}")),
        },
    };
    shown["inspection"]["file"] = json!(path);
    shown["inspection"]["size"] = json!(file.size);
    Ok(Inspected {
        signature: shown.get("signature").cloned().filter(|s| !s.is_null()),
        inspection: shown["inspection"].clone(),
        inspector_version: inspect::INSPECTOR_VERSION,
        pipeline: Some(pipeline),
    })
}
