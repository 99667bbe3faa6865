//! The spec of an LLM bundle (`.task`, `.litertlm`), which the app installs as a MediaPipe model: its
//! `model_type` from the family a `.litertlm`'s LLM metadata declares (else from the names), its
//! `max_tokens` from the metadata's context size (else the app's 512).

use super::Context;
use super::Derived;
use crate::domain::VersionStatus;
use crate::inspect::llm_metadata;
use serde_json::json;

/// The spec of an LLM bundle (`.task`, `.litertlm`): the app installs the downloaded file as a MediaPipe
/// model and prompts it (CLIENTS.md §4.5), so the tensors are the recipe's placeholders. `verified` when
/// the bundle was read and holds a readable model and a tokenizer (the reference counts MediaPipe
/// bundles as passed); `pending` when it was not read or lacks one, saying which, and for every
/// `.litertlm` until the app is shown to load one (R15, [`crate::pipeline::app_profile::bundle_caveat`]).
pub fn derive_bundle(
    file_name: &str,
    ctx: &Context,
    read: Option<&crate::inspect::bundle::BundleInspection>,
) -> Derived {
    let lower = file_name.to_ascii_lowercase();
    let llm = read
        .and_then(|b| b.llm.as_ref())
        .and_then(|l| l.as_ref().ok());
    // The family a `.litertlm` declares, else the name, as the app and the reference pick it.
    let model_type = llm
        .and_then(|l| l.model_type)
        .and_then(llm_metadata::app_model_type)
        .unwrap_or_else(|| {
            [
                ("gemma", "gemmaIt"),
                ("deepseek", "deepSeek"),
                ("qwen", "qwen"),
                ("llama", "llama"),
                ("hammer", "hammer"),
            ]
            .iter()
            .find(|(k, _)| lower.contains(k) || ctx.model_name.to_ascii_lowercase().contains(k))
            .map_or("general", |(_, t)| t)
        });
    // The context the runtime allocates, when the bundle says; else the app's default.
    let max_tokens = llm.and_then(|l| l.max_num_tokens).unwrap_or(512);
    let spec = json!({
        "metadata": [{"schema_version": "1.0.0", "model_name": ctx.model_name, "model_version": ctx.version_name,
            "model_task": "text_generation", "framework": "mediapipe_litert", "source_repository": ctx.source_repository}],
        "inputs": [{"name": "input_text", "shape": [1], "dtype": "int32"}],
        "outputs": [{"name": "output_text", "shape": [1], "dtype": "int32"}],
        "preprocessing": [{"input_name": "input_text", "expects_type": "text", "steps": [{"step": "tokenize", "params": {}}]}],
        "postprocessing": [{"output_name": "output_text", "interpretation": "text_generation", "source_tensors": ["output_text"],
            "coordinate_format": null, "steps": [{"step": "mediapipe_generate", "params": {"model_type": model_type,
                "max_tokens": max_tokens, "temperature": 0.8, "top_k": 40, "top_p": 0.9, "random_seed": null}}]}],
    });
    let mut defaults: Vec<String> = crate::pipeline::app_profile::bundle_caveat(file_name)
        .into_iter()
        .collect();
    match read {
        None => defaults.push(format!(
            "{file_name}: the bundle's sections are not read yet"
        )),
        Some(b) => {
            if !b.models.iter().any(|(_, m)| m.is_ok()) {
                defaults.push(format!("{file_name}: no readable .tflite member"));
            }
            if !b.has_tokenizer() {
                defaults.push(format!("{file_name}: no tokenizer member"));
            }
        }
    }
    let status = if defaults.is_empty() {
        VersionStatus::Verified
    } else {
        VersionStatus::Pending
    };
    match crate::pipeline::spec::check(&spec, ctx.source_repository) {
        Ok(spec) => Derived {
            spec: Some(spec),
            status,
            reason: None,
            defaults,
        },
        Err(why) => Derived::missing(format!("the derived pipeline spec is invalid: {why}")),
    }
}
