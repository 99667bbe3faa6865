//! What the files beside a version's model say, read from the Hub as the app would read them: the
//! end-of-sequence id of a causal LM's config, and the version's `labels` and `tokenizer` files, judged
//! by [`super::app_profile`] (a label per class, R6; a BPE tokenizer the app parses, R10). Each is
//! small and read whole, within a bound; one that cannot be read is `Unread`, never a failed inspection.

use super::app_profile::{self, Companion};
use super::recipe;
use crate::domain::assets::AssetPointers;
use crate::domain::records::Asset;
use crate::hub::{HubClient, RepoOutcome};
use crate::inspect::{self, TfliteInspection};

/// What is read beside a `.tflite` model that was read: a causal LM's end-of-sequence id, the label
/// file (unless the model packs its own) and, for a model of token ids, the tokenizer.
pub async fn read(
    hub: &HubClient,
    assets: &[Asset],
    seen: &TfliteInspection,
) -> (Option<EosToken>, Companions) {
    let eos = if recipe::generates_tokens(&seen.model) {
        eos_token(hub, assets).await
    } else {
        None
    };
    let pointers = AssetPointers::from_assets(assets);
    let mut companions = Companions::default();
    if seen.labels().is_none() {
        companions.labels = companion(
            hub,
            pointers.labels.as_deref(),
            inspect::packed::MAX_LABEL_BYTES,
            app_profile::labels_file,
        )
        .await;
    }
    if recipe::reads_tokens(&seen.model) {
        companions.tokenizer = companion(
            hub,
            pointers.tokenizer.as_deref(),
            app_profile::MAX_TOKENIZER_BYTES,
            app_profile::tokenizer_file,
        )
        .await;
    }
    (eos, companions)
}

/// The end-of-sequence token id of a causal LM, and the file (beside the model) that names it.
#[derive(Debug, Clone, PartialEq)]
pub struct EosToken {
    pub file: String,
    pub id: i64,
}

/// The version's `labels` and `tokenizer` files as read beside its model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Companions {
    pub labels: Companion,
    pub tokenizer: Companion,
}

/// The largest config file read for an end-of-sequence id (real ones are a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 256 << 10;

/// Where a Hub `resolve` URL points: `(repo id, revision, path in the repo)`, when it is on `hub` —
/// or on huggingface.co, whose files are read through the configured endpoint (a mirror, or the
/// simulator), as the Hub's own libraries do when `HF_ENDPOINT` is set.
pub(super) fn on_hub(hub: &HubClient, url: &str) -> Option<(String, String, String)> {
    let url = url::Url::parse(url).ok()?;
    let endpoint = &hub.config().endpoint;
    let base = if url.host_str() == endpoint.host_str()
        && url.port_or_known_default() == endpoint.port_or_known_default()
    {
        endpoint
            .path_segments()
            .map_or(0, |s| s.filter(|p| !p.is_empty()).count())
    } else if url.scheme() == "https"
        && url.host_str()
            == url::Url::parse(crate::hub::DEFAULT_ENDPOINT)
                .ok()?
                .host_str()
    {
        0
    } else {
        return None;
    };
    let segments: Vec<String> = url
        .path_segments()?
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    match segments.get(base..)? {
        [owner, name, resolve, rev, path @ ..] if resolve == "resolve" && !path.is_empty() => {
            Some((format!("{owner}/{name}"), rev.clone(), path.join("/")))
        }
        _ => None,
    }
}

/// The file at `url` on the Hub (at most `max` bytes), judged by `judge` as the app reads it; unread
/// when it is not on the Hub, larger, or cannot be fetched (the spec then says it was not checked).
async fn companion(
    hub: &HubClient,
    url: Option<&str>,
    max: u64,
    judge: fn(&[u8]) -> Companion,
) -> Companion {
    let Some((repo, rev, path)) = url.and_then(|u| on_hub(hub, u)) else {
        return Companion::Unread;
    };
    let file = match hub.open_file(&repo, &rev, &path).await {
        Ok(RepoOutcome::Found { value, .. }) if value.size <= max => value,
        _ => return Companion::Unread,
    };
    match inspect::RangeSource::read(&file, 0..file.size).await {
        Ok(bytes) => judge(&bytes),
        Err(e) => {
            tracing::debug!(file = %path, error = %e, "a file beside a model could not be read");
            Companion::Unread
        }
    }
}

/// The end-of-sequence id the version's `generation_config.json` (first) or `config.json` names,
/// read from the Hub; `None` when neither names one or they cannot be read (the spec then says so).
async fn eos_token(hub: &HubClient, assets: &[Asset]) -> Option<EosToken> {
    let mut configs: Vec<&Asset> = assets
        .iter()
        .filter(|a| a.asset_type == "config_json")
        .collect();
    configs.sort_by_key(|a| !a.asset_key.ends_with("generation_config.json"));
    for config in configs {
        let Some((repo, rev, path)) = on_hub(hub, &config.source_url) else {
            continue;
        };
        let file = match hub.open_file(&repo, &rev, &path).await {
            Ok(RepoOutcome::Found { value, .. }) if value.size <= MAX_CONFIG_BYTES => value,
            _ => continue,
        };
        match inspect::RangeSource::read(&file, 0..file.size).await {
            Ok(bytes) => {
                if let Some(id) = recipe::eos_token_id(&bytes) {
                    return Some(EosToken { file: path, id });
                }
            }
            Err(e) => {
                tracing::debug!(file = %path, error = %e, "a config beside a model could not be read")
            }
        }
    }
    None
}
