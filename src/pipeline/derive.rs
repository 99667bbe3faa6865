//! Making versions runnable (issue #21): a version's main file read by range ([`super::reading`]), the
//! app's pipeline derived from what it declares, and both recorded on the version (its `signature`,
//! `inspection`, spec, status and reason — the model's summary follows).
//!
//! Reading ([`read_main_file`], async) is apart from deriving ([`inspected`], pure, the
//! same file and context always giving the same result): the sync reads in its detail step, under its
//! concurrency and rate limits, and derives in its pure page planner, so a version is written together
//! with its inspection or not at all. `POST /api/v1/versions/{id}/generate-pipeline` runs both for one
//! version ([`generate`]).

use super::app_profile::{self, Companion};
pub use super::beside::{Companions, EosToken, MAX_CONFIG_BYTES};
pub use super::reading::{
    current_pin, pins_differ, read_main_file, read_opened, BundleRead, FileReading, GenerateError,
    Sources,
};
use super::recipe;
use crate::domain::assets::{self, AssetPointers};
use crate::domain::records::{Asset, DerivedPipeline, HostedFile, Inspected, Model, ModelVersion};
use crate::domain::VersionStatus;
use crate::inspect::{self, Cost, InspectError, TfliteInspection};
use crate::store::Store;
use serde_json::json;

/// What to record for `reading` in `ctx`: the signature, the inspection and the derived pipeline
/// (its spec marked as the inspector's).
pub fn inspected(reading: &FileReading, ctx: &recipe::Context<'_>) -> Inspected {
    let mut found = derive(reading, ctx);
    // A damaged or hostile file's names and metadata may hold NUL and other control characters,
    // which no database column or client should receive (issue #29).
    found.clean_text();
    found.mark_derived_spec();
    found
}

fn derive(reading: &FileReading, ctx: &recipe::Context<'_>) -> Inspected {
    let version = inspect::INSPECTOR_VERSION;
    let not_runnable = |inspection: serde_json::Value, why: String| Inspected {
        signature: None,
        inspection,
        inspector_version: version,
        pipeline: Some(DerivedPipeline {
            spec: None,
            status: VersionStatus::Missing,
            reason: Some(why),
        }),
        hosted: Vec::new(),
        assets: None,
    };
    match reading {
        FileReading::NoFile => {
            let why = "the version has no model file (.tflite, .litertlm or .task)";
            not_runnable(
                json!({"error": why, "inspector_version": version}),
                why.into(),
            )
        }
        FileReading::Unavailable { path, why } => not_runnable(
            json!({"format": "tflite", "file": path, "error": why, "inspector_version": version}),
            why.clone(),
        ),
        FileReading::Bundle { path, format, read } => {
            bundle_inspected(path, format, read.as_deref(), ctx)
        }
        FileReading::Tflite {
            path,
            size,
            outcome,
            eos,
            companions,
            etag,
        } => {
            let mut found = tflite_inspected(path, *size, outcome, eos.as_ref(), companions, ctx);
            if outcome.is_ok() {
                found.inspection["pin"] = json!({"size": size, "etag": etag});
            }
            found
        }
    }
}

/// What reading an LLM bundle (`.task`, `.litertlm`) at `path` found, and the pipeline it gives.
fn bundle_inspected(
    path: &str,
    format: &str,
    read: Option<&BundleRead>,
    ctx: &recipe::Context<'_>,
) -> Inspected {
    let version = inspect::INSPECTOR_VERSION;
    let name = path.rsplit('/').next().unwrap_or(path);
    let d = recipe::derive_bundle(name, ctx, read.and_then(|r| r.as_ref().ok()));
    let mut inspection = json!({"format": format, "file": path, "defaults": d.defaults,
        "inspector_version": version, "app_profile": super::app_profile::APP_PROFILE, "error": null});
    match read {
        Some(Ok(b)) => {
            if let Some(v) = &b.version {
                inspection["format_version"] = json!(v);
            }
            if !b.metadata.is_empty() {
                let pairs: serde_json::Map<String, serde_json::Value> = b
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                inspection["bundle_metadata"] = json!(pairs);
            }
            inspection["members"] = json!(b.members);
            match &b.llm {
                Some(Ok(llm)) => inspection["llm_metadata"] = json!(llm),
                Some(Err(why)) => inspection["llm_metadata"] = json!({"error": why}),
                None => {}
            }
            inspection["models"] = b
                .models
                .iter()
                .map(|(member, seen)| match seen {
                    Ok(seen) => {
                        let mut shown = inspect::summary(&Ok(seen.clone()));
                        shown["inspection"]["member"] = json!(member);
                        shown["inspection"]["signature"] = shown["signature"].take();
                        shown["inspection"].take()
                    }
                    Err(why) => json!({"member": member, "error": why}),
                })
                .collect();
            inspection["bytes_read"] = json!(b.cost.bytes);
            inspection["requests"] = json!(b.cost.requests);
        }
        Some(Err((e, cost))) => {
            inspection["error"] = json!(e.to_string());
            inspection["bytes_read"] = json!(cost.bytes);
            inspection["requests"] = json!(cost.requests);
        }
        None => {}
    }
    let pipeline = match read {
        Some(Err((e, _))) => DerivedPipeline {
            spec: None,
            status: VersionStatus::Missing,
            reason: Some(format!("the bundle cannot be read: {e}")),
        },
        _ => DerivedPipeline {
            spec: d.spec,
            status: d.status,
            reason: d.reason,
        },
    };
    Inspected {
        signature: None,
        inspection,
        inspector_version: version,
        pipeline: Some(pipeline),
        hosted: Vec::new(),
        assets: None,
    }
}

/// What reading a `.tflite` file at `path` of `size` bytes found, and the pipeline it gives.
fn tflite_inspected(
    path: &str,
    size: u64,
    outcome: &Result<TfliteInspection, (InspectError, Cost)>,
    eos: Option<&EosToken>,
    companions: &Companions,
    ctx: &recipe::Context<'_>,
) -> Inspected {
    let version = inspect::INSPECTOR_VERSION;
    let mut shown = inspect::summary(outcome);
    let labels = outcome.as_ref().as_ref().ok().and_then(|s| s.labels());
    let hosted: Vec<HostedFile> = labels
        .map(|file| HostedFile {
            key: "labels",
            name: file.name.clone(),
            sha256: file.sha256.clone(),
            bytes: file.bytes.clone(),
        })
        .into_iter()
        .collect();
    let pipeline = match outcome.as_ref() {
        Ok(seen) => {
            let meta = seen.metadata.as_ref().and_then(|m| m.as_ref().ok());
            // The label file packed in the model is the version's own from now on.
            let labels = match &labels {
                Some(packed) => app_profile::labels_file(&packed.bytes),
                None => companions.labels.clone(),
            };
            shown["inspection"]["companions"] =
                json!({"labels": labels, "tokenizer": companions.tokenizer});
            let ctx = recipe::Context {
                has_labels: ctx.has_labels || !hosted.is_empty(),
                labels,
                tokenizer: companions.tokenizer.clone(),
                eos_token_id: ctx.eos_token_id.or(eos.as_ref().map(|e| e.id)),
                ..ctx.clone()
            };
            let d = recipe::derive(&seen.model, meta, &ctx);
            shown["inspection"]["defaults"] = json!(d.defaults);
            DerivedPipeline {
                spec: d.spec,
                status: d.status,
                reason: d.reason,
            }
        }
        Err((e, _)) => DerivedPipeline {
            spec: None,
            status: VersionStatus::Missing,
            reason: Some(format!("the model file cannot be read: {e}")),
        },
    };
    shown["inspection"]["file"] = json!(path);
    shown["inspection"]["app_profile"] = json!(super::app_profile::APP_PROFILE);
    shown["inspection"]["size"] = json!(size);
    if let Some(eos) = eos {
        shown["inspection"]["eos_token_id"] = json!({"id": eos.id, "file": eos.file});
    }
    Inspected {
        signature: shown.get("signature").cloned().filter(|s| !s.is_null()),
        inspection: shown["inspection"].clone(),
        inspector_version: version,
        pipeline: Some(pipeline),
        hosted,
        assets: None,
    }
}

/// The recipe's context for a version named `version_name` with `assets`, of a model called `name`
/// with `task`, from the repo at `source`.
pub fn context<'a>(
    name: &'a str,
    version_name: &'a str,
    task: Option<&'a str>,
    source: &'a str,
    assets: &[Asset],
) -> recipe::Context<'a> {
    let pointers = AssetPointers::from_assets(assets);
    recipe::Context {
        model_name: name,
        version_name,
        task,
        source_repository: source,
        has_labels: pointers.labels.is_some(),
        has_tokenizer: pointers.tokenizer.is_some(),
        has_vocab: pointers.vocab.is_some(),
        eos_token_id: None,
        labels: Companion::Unread,
        tokenizer: Companion::Unread,
    }
}

/// The repo a model's spec names as its `source_repository`: its origin URL, else its Hub page.
fn source_repository(model: &Model) -> String {
    model
        .origin_repo_url
        .clone()
        .or_else(|| {
            model
                .hf_model_id
                .as_ref()
                .map(|id| format!("https://huggingface.co/{id}"))
        })
        .unwrap_or_default()
}

/// Reads `version`'s main file and derives what to record for it (the version's own model gives
/// the recipe's context: its name, task and repository); files extracted from the model are stored
/// by their path under this service.
pub async fn inspect_version(
    sources: Sources<'_>,
    model: &Model,
    version: &ModelVersion,
) -> Result<Inspected, GenerateError> {
    let source = source_repository(model);
    let reading = read_main_file(sources, &version.assets).await?;
    if let Some(why) = reading.transient_failure() {
        return Err(GenerateError::Deferred(why));
    }
    let ctx = context(
        &model.name,
        &version.version_string,
        model.task.as_deref(),
        &source,
        &version.assets,
    );
    let mut found = inspected(&reading, &ctx);
    // The bytes behind the version's URL changed since they were read: said on the inspection.
    if let (Some(was), Some(now)) = (
        version.inspection.as_ref().map(|i| &i["pin"]),
        found.inspection.get("pin").cloned(),
    ) {
        if pins_differ(was, &now) {
            found.inspection["changed_upstream"] = json!({"was": was, "now": now});
        }
    }
    found.host_files(&version.assets);
    assets::size_main_file(&mut found, &version.assets);
    Ok(found)
}

/// Inspects `version`'s main file now and records what it found and the pipeline derived from it.
pub async fn generate(
    sources: Sources<'_>,
    store: &Store,
    model: &Model,
    version: &ModelVersion,
) -> Result<ModelVersion, GenerateError> {
    let found = inspect_version(sources, model, version).await?;
    store
        .record_inspection(version.id, &found)
        .await?
        .ok_or(GenerateError::Gone)
}

/// Derives the pipeline of `version`, just published by a person without one, when its model file
/// can be read within [`SPEC_CHECK_TIMEOUT`] — the reference leaves such a version `missing` until
/// someone asks for a pipeline; reading it takes a few ranges. The version as then recorded, or as it
/// was when the file cannot be read in time (generate-pipeline can still be asked).
pub async fn derive_published(
    sources: Sources<'_>,
    store: &Store,
    model: &Model,
    version: ModelVersion,
) -> ModelVersion {
    let read = tokio::time::timeout(
        SPEC_CHECK_TIMEOUT,
        inspect_version(sources, model, &version),
    )
    .await;
    let found = match read {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::info!(version = %version.id, error = %e, "a new version's model file could not be read; its pipeline is left to generate-pipeline");
            return version;
        }
        Err(_) => {
            tracing::info!(version = %version.id, "a new version's model file was not read in time; its pipeline is left to generate-pipeline");
            return version;
        }
    };
    match store.record_inspection(version.id, &found).await {
        Ok(Some(updated)) => updated,
        Ok(None) => version,
        Err(e) => {
            tracing::warn!(version = %version.id, error = %e, "could not record a new version's inspection");
            version
        }
    }
}

/// How long publishing a version waits for its model file to be read before it accepts the person's
/// spec unchecked, or leaves a version without one `missing`.
pub const SPEC_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Checks the spec a person supplies with a new version (`version_name` of `model`, with `assets`)
/// against the tensors its model file declares
/// (`inspect::conform`): the file is read as [`generate`] reads it. `Ok(Some)` is what was
/// read, to record with the version (its pipeline left to the person); `Ok(None)` when the file cannot
/// be read here (its URL refused, its host unreachable or slower than [`SPEC_CHECK_TIMEOUT`]), as the
/// reference accepts such a spec;
/// `Err` says what differs.
pub async fn check_supplied_spec(
    sources: Sources<'_>,
    model: &Model,
    version_name: &str,
    assets: &[Asset],
    spec: &serde_json::Value,
) -> Result<Option<Inspected>, String> {
    // A spec in an older schema (the root dialect's `input_nodes`, …) names no tensors to compare.
    if !spec["inputs"].is_array() && !spec["outputs"].is_array() {
        return Ok(None);
    }
    let reading = match tokio::time::timeout(SPEC_CHECK_TIMEOUT, read_main_file(sources, assets))
        .await
    {
        Ok(Ok(reading)) => reading,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the model file of a new version could not be read; its spec is not checked");
            return Ok(None);
        }
        Err(_) => {
            tracing::warn!(
                "the model file of a new version was not read in time; its spec is not checked"
            );
            return Ok(None);
        }
    };
    let source = source_repository(model);
    let ctx = context(
        &model.name,
        version_name,
        model.task.as_deref(),
        &source,
        assets,
    );
    let mut found = inspected(&reading, &ctx);
    if let Some(signature) = &found.signature {
        super::conform::check(spec, signature)?;
    }
    // The person's spec stands; files are hosted for mirrored versions only.
    found.leave_pipeline();
    found.hosted.clear();
    assets::size_main_file(&mut found, assets);
    Ok(Some(found))
}
