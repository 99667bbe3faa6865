//! Reading a version's main file (issue #21, #32): by range, on the Hub — through the Hub client,
//! each distinct file once ([`super::readings`]), briefly when the caller defers failures — or at the URL
//! a person gave elsewhere ([`crate::pipeline::webfile`], guarded); the files beside it on the Hub
//! ([`super::beside`]); what pins the bytes read (size and ETag) and whether they changed since. What
//! was read is a [`FileReading`]; deriving from it is [`super::derive`]'s.

use super::beside::{self, on_hub};
use super::beside::{Companions, EosToken};
use super::readings::{Readings, Restored};
use crate::domain::assets;
use crate::domain::records::Asset;
use crate::hub::{HubClient, HubError, RepoOutcome};
use crate::inspect::{self, Budget, Cost, InspectError, TfliteInspection};
use crate::pipeline::webfile::{WebError, WebFiles};
use crate::store::StoreError;
use serde_json::json;

/// Why a version could not be inspected (what could be inspected and failed is recorded instead).
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The model file's URL is not read by this service's rules (not http(s), a private address,
    /// endless redirects): the person who gave it should change it.
    #[error("{0}")]
    Refused(String),
    #[error("the Hugging Face Hub could not be read: {0}")]
    Hub(#[from] HubError),
    /// A model file elsewhere (an upload) could not be read for now.
    #[error("the model file could not be read: {0}")]
    Web(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the version no longer exists")]
    Gone,
    /// A file on the Hub that is not public (gated, private, or not there for anonymous readers),
    /// asked for by a user: it is not read with the operator's rights.
    #[error("{0}")]
    NotPublic(String),
    /// The model file's bytes could not be fetched, a failure that may pass: its inspection waits.
    #[error("{0}")]
    Deferred(String),
}

impl GenerateError {
    /// Why reading failed, when a later attempt may succeed (the Hub or the file's host failed, or
    /// the file's bytes could not be fetched): the inspection is deferred, not recorded.
    pub fn transient(&self) -> Option<String> {
        match self {
            GenerateError::Hub(e) => Some(format!("the Hugging Face Hub could not be read: {e}")),
            GenerateError::Web(why) | GenerateError::Deferred(why) => Some(why.clone()),
            _ => None,
        }
    }
}

/// Where model files are read: the Hub's through its client (paced, its token to its host only),
/// any other URL through the guarded reader of [`crate::pipeline::webfile`] (no credentials).
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub hub: &'a HubClient,
    pub web: &'a WebFiles,
    /// A user asked for this read: `hub` is anonymous, and a file it cannot read is refused
    /// ([`GenerateError::NotPublic`]) rather than recorded as missing.
    pub for_user: bool,
    /// What reading each distinct model file gave, by its SHA-256: a Hub file with a known hash is
    /// read once (the mirror's reads only).
    pub readings: Option<&'a super::readings::Readings>,
}

impl Sources<'_> {
    /// These sources for a file of a repo whose Hub `gated` field is `gated`: a gated repo's file is
    /// read with its own access, never answered from another repo's reading of the same bytes —
    /// whether it can be read is its own (before, a gated version got a public repo's reading or
    /// failure, whichever repo was read first).
    pub fn for_repo(self, gated: Option<&str>) -> Self {
        if crate::domain::is_gated(gated) {
            Sources {
                readings: None,
                ..self
            }
        } else {
            self
        }
    }
}

/// What reading a version's main file gave.
#[derive(Debug, Clone, PartialEq)]
pub enum FileReading {
    /// The version has no model file.
    NoFile,
    /// An LLM bundle read by range: a `.task` (ZIP; its members listed) or a `.litertlm` (its header's
    /// sections listed), its TFLite models inspected in place (`read` is `None` when not read).
    Bundle {
        path: String,
        format: String,
        read: Option<Box<BundleRead>>,
    },
    /// The file could not be opened on the Hub; why, for a person.
    Unavailable { path: String, why: String },
    /// A `.tflite` file, read; for a causal LM, the end-of-sequence id its repo's config names; the
    /// label file and tokenizer beside it, as the app would read them.
    Tflite {
        path: String,
        size: u64,
        outcome: Box<Result<TfliteInspection, (InspectError, Cost)>>,
        eos: Option<EosToken>,
        companions: Companions,
        /// The file's ETag as its host gave it, when it gave one: with the size, what pins the bytes
        /// that were read (issue #32).
        etag: Option<String>,
    },
}

impl FileReading {
    /// Records the ETag the file's host gave with a `.tflite` reading.
    fn with_etag(mut self, tag: Option<String>) -> FileReading {
        if let FileReading::Tflite { etag, .. } = &mut self {
            *etag = tag;
        }
        self
    }

    /// Why the file could not be read, when that may pass (its bytes could not be fetched: the
    /// storage failed or timed out): the inspection is deferred, not done (issue #32).
    pub fn transient_failure(&self) -> Option<String> {
        let fetch = |e: &InspectError| match e {
            InspectError::Fetch(why) => Some(format!("the model file could not be fetched: {why}")),
            _ => None,
        };
        match self {
            FileReading::Tflite { outcome, .. } => {
                outcome.as_ref().as_ref().err().and_then(|(e, _)| fetch(e))
            }
            FileReading::Bundle {
                read: Some(read), ..
            } => read.as_ref().as_ref().err().and_then(|(e, _)| fetch(e)),
            _ => None,
        }
    }
}

/// What reading a `.task` or `.litertlm` bundle gave.
pub type BundleRead = Result<inspect::bundle::BundleInspection, (InspectError, Cost)>;

/// Reads the main file of a version with these assets (its structure only, by range): on the Hub,
/// or at the URL it names elsewhere. `Err` only when the URL is refused, or its host cannot be
/// reached; a file that is not there is a reading ([`FileReading::Unavailable`]).
pub async fn read_main_file(
    sources: Sources<'_>,
    assets: &[Asset],
) -> Result<FileReading, GenerateError> {
    let Some(main) = assets::main_file(assets) else {
        return Ok(FileReading::NoFile);
    };
    let Some((repo, rev, path)) = on_hub(sources.hub, &main.source_url) else {
        return read_elsewhere(sources.web, main).await;
    };
    // A model file whose bytes' SHA-256 the file list gives is read once, whoever publishes it.
    let kept = sources.readings.zip(main.file_hash.as_deref().filter(|_| {
        main.hash_kind.as_deref() == Some("sha256")
            && matches!(main.asset_type.as_str(), "tflite" | "task" | "litertlm")
    }));
    let held = match kept {
        Some((readings, sha)) => Some(readings.hold(sha).await),
        None => None,
    };
    let mut reading = match kept {
        Some((readings, sha)) => match readings.get(sha).await {
            // The Hub's ETag of an LFS file is its SHA-256.
            Some((size, Restored::Tflite(outcome))) => FileReading::Tflite {
                path,
                size,
                outcome,
                eos: None,
                companions: Companions::default(),
                etag: Some(sha.to_ascii_lowercase()),
            },
            Some((_, Restored::Bundle { format, read })) => FileReading::Bundle {
                path,
                format,
                read: Some(Box::new(read)),
            },
            None => {
                // The same bytes just failed for another version: deferred at once, not read again.
                if let Some(why) = readings.recent_failure(sha) {
                    return Err(GenerateError::Deferred(why));
                }
                let reading = read_on_hub(sources, main, &repo, &rev, path).await;
                keep(readings, sha, &reading).await;
                reading?
            }
        },
        None => read_on_hub(sources, main, &repo, &rev, path).await?,
    };
    drop(held);
    if let FileReading::Tflite {
        outcome,
        eos,
        companions,
        ..
    } = &mut reading
    {
        if let Ok(seen) = outcome.as_ref() {
            (*eos, *companions) = beside::read(sources.hub, assets, seen).await;
        }
    }
    Ok(reading)
}

/// Keeps what reading the file with this SHA-256 gave, or remembers that it failed for a while.
async fn keep(readings: &Readings, sha: &str, reading: &Result<FileReading, GenerateError>) {
    let failed = match reading {
        Ok(r) => r.transient_failure(),
        Err(e) => e.transient(),
    };
    if let Some(why) = failed {
        readings.note_failure(sha, &why);
        return;
    }
    match reading {
        Ok(FileReading::Tflite { size, outcome, .. }) => readings.put(sha, *size, outcome).await,
        Ok(FileReading::Bundle {
            format,
            read: Some(read),
            ..
        }) => readings.put_bundle(sha, format, read).await,
        _ => {}
    }
}

/// Opens `path` of `repo` at `rev` on the Hub and reads it as `main`'s type says.
async fn read_on_hub(
    sources: Sources<'_>,
    main: &Asset,
    repo: &str,
    rev: &str,
    path: String,
) -> Result<FileReading, GenerateError> {
    let file = match sources.hub.open_file(repo, rev, &path).await? {
        RepoOutcome::Found { value, .. } => value,
        RepoOutcome::Gated if sources.for_user => {
            return Err(GenerateError::NotPublic(format!(
                "{repo} is gated on the Hugging Face Hub: files named by people are read anonymously, \
                 and a gated repo's files need access"
            )));
        }
        RepoOutcome::MissingOrPrivate if sources.for_user => {
            return Err(GenerateError::NotPublic(format!(
                "{path} of {repo} at {rev} is not public on the Hugging Face Hub (a private or missing \
                 repo, or a revision it does not have): files named by people are read anonymously"
            )));
        }
        RepoOutcome::Gated => {
            let why = "the repo is gated: its model file cannot be read without access".into();
            return Ok(FileReading::Unavailable { path, why });
        }
        _ => {
            let why = "the model file is not on the Hub at this commit".into();
            return Ok(FileReading::Unavailable { path, why });
        }
    };
    Ok(read_opened(&file, file.size, &main.asset_type, path)
        .await
        .with_etag(file.etag.clone()))
}

/// Reads a main file that is not on the Hub (a person's upload) at its URL.
async fn read_elsewhere(web: &WebFiles, main: &Asset) -> Result<FileReading, GenerateError> {
    let path = url::Url::parse(&main.source_url)
        .ok()
        .and_then(|u| {
            let last = u.path_segments()?.next_back()?.to_string();
            let last = percent_encoding::percent_decode_str(&last).decode_utf8_lossy();
            (!last.is_empty()).then(|| last.into_owned())
        })
        .unwrap_or_else(|| main.asset_key.clone());
    match web.open(&main.source_url).await {
        Ok(file) => Ok(read_opened(&file, file.size, &main.asset_type, path)
            .await
            .with_etag(file.etag.clone())),
        Err(WebError::Missing(why)) => Ok(FileReading::Unavailable { path, why }),
        Err(WebError::Refused(why)) => Err(GenerateError::Refused(why)),
        Err(WebError::Failed(why)) => Err(GenerateError::Web(why)),
    }
}

/// Reads an opened file of `size` bytes as the format its asset type names (`task`, `litertlm`,
/// else a `.tflite`), shown as `path`; a causal LM's end-of-sequence id is left to the caller.
pub async fn read_opened<S: inspect::RangeSource + Sync>(
    file: &S,
    size: u64,
    asset_type: &str,
    path: String,
) -> FileReading {
    let budget = Budget::for_size(size);
    let bundle = |read: BundleRead| FileReading::Bundle {
        path: path.clone(),
        format: asset_type.to_string(),
        read: Some(Box::new(read)),
    };
    match asset_type {
        "task" => bundle(inspect::bundle::inspect_task(file, size, budget).await),
        "litertlm" => bundle(inspect::litertlm::inspect_litertlm(file, size, budget).await),
        _ => FileReading::Tflite {
            path,
            size,
            outcome: Box::new(inspect::inspect_tflite(file, size, budget).await),
            eos: None,
            companions: Companions::default(),
            etag: None,
        },
    }
}

/// Whether two pins (`{"size", "etag"}` of the bytes read) name different bytes: another size, or two
/// ETags that differ. A missing pin differs from nothing.
pub fn pins_differ(was: &serde_json::Value, now: &serde_json::Value) -> bool {
    if was.is_null() || now.is_null() {
        return false;
    }
    let etags = (was["etag"].as_str(), now["etag"].as_str());
    was["size"] != now["size"] || matches!(etags, (Some(a), Some(b)) if a != b)
}

/// What pins the file behind `assets`' main URL now — its size and ETag, from opening it (a HEAD on
/// the Hub, the first byte elsewhere), nothing read — or `None` when it cannot be opened.
pub async fn current_pin(sources: Sources<'_>, assets: &[Asset]) -> Option<serde_json::Value> {
    let main = assets::main_file(assets)?;
    match on_hub(sources.hub, &main.source_url) {
        Some((repo, rev, path)) => match sources.hub.open_file(&repo, &rev, &path).await {
            Ok(RepoOutcome::Found { value, .. }) => {
                Some(json!({"size": value.size, "etag": value.etag}))
            }
            _ => None,
        },
        None => {
            let file = sources.web.open(&main.source_url).await.ok()?;
            Some(json!({"size": file.size, "etag": file.etag}))
        }
    }
}
