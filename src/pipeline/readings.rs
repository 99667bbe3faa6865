//! Each distinct model file is read once (issue #32): what reading a `.tflite` gave — its structure,
//! metadata and packed label file — or a `.task`/`.litertlm` bundle gave (its members, models read in
//! place, LLM metadata) is kept by the SHA-256 of its bytes (the LFS oid the commit's file
//! list gives) in the store, and reused for every version and repo that publishes the same bytes,
//! across runs and re-uploads: no second HEAD or range read reaches the Hub, which counts every read
//! of a model file as a download. Concurrent reads of one file wait for the first
//! ([`Readings::hold`]). Only readings that will not change are kept: a file read, or one that is not
//! a model (never a fetch that failed). Per-version context — the files beside the model, the spec —
//! is derived again each time.

use crate::inspect::bundle::{BundleInspection, Member};
use crate::inspect::llm_metadata::{self, LlmInfo};
use crate::inspect::packed::{Packed, PackedFile};
use crate::inspect::{self, Cost, InspectError, MetadataSummary, ModelInfo, TfliteInspection};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The readings kept by file hash, the reads in flight, and the files that just failed.
#[derive(Debug)]
pub struct Readings {
    store: Store,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Files whose read just failed, a failure that may pass: the other versions of the same bytes
    /// in this run are deferred at once rather than each trying again ([`FAILURE_MEMORY`]).
    failed: Mutex<HashMap<String, (std::time::Instant, String)>>,
}

/// How long a failed read of a file stands for the other versions of the same bytes, at most (a new
/// run forgets them: [`Readings::forget_failures`]).
pub const FAILURE_MEMORY: std::time::Duration = std::time::Duration::from_secs(60);

/// A reading as kept: the outcome of reading a `.tflite` of `size` bytes, or a `.task`/`.litertlm`
/// bundle.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Kept {
    Tflite {
        size: u64,
        outcome: Box<Result<KeptTflite, (KeptError, Cost)>>,
    },
    Bundle {
        /// `task` or `litertlm`.
        format: String,
        outcome: Result<KeptBundle, (KeptError, Cost)>,
    },
}

#[derive(Serialize, Deserialize)]
struct KeptBundle {
    version: Option<String>,
    metadata: Vec<(String, String)>,
    members: Vec<Member>,
    models: Vec<(String, Result<KeptTflite, String>)>,
    /// The LLM metadata: its family name and context size.
    llm: Option<Result<KeptLlm, String>>,
    cost: Cost,
}

/// A bundle's LLM metadata: its family name and context size.
type KeptLlm = (Option<String>, Option<u32>);

/// What reading a bundle gave.
pub type BundleOutcome = Result<BundleInspection, (InspectError, Cost)>;

/// A reading kept for a file.
pub enum Restored {
    Tflite(Box<TfliteOutcome>),
    Bundle { format: String, read: BundleOutcome },
}

#[derive(Serialize, Deserialize)]
struct KeptTflite {
    model: ModelInfo,
    metadata: Option<Result<MetadataSummary, String>>,
    packed: Option<Result<KeptPacked, String>>,
    cost: Cost,
}

#[derive(Serialize, Deserialize)]
struct KeptPacked {
    members: Vec<Member>,
    /// The label file: its name and text (a packed label file is UTF-8 by construction).
    labels: Option<Result<(String, String), String>>,
}

/// The failures worth keeping: the file is not a model, or too costly to read — final for its bytes.
#[derive(Serialize, Deserialize)]
enum KeptError {
    Corrupt(String),
    OverBudget { max_bytes: u64, max_requests: u32 },
}

/// What reading a `.tflite` gave, as [`inspect::inspect_tflite`] returns it.
pub type TfliteOutcome = Result<TfliteInspection, (InspectError, Cost)>;

impl Readings {
    pub fn new(store: Store) -> Readings {
        Readings {
            store,
            inflight: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
        }
    }

    /// Why the file with this SHA-256 could not be read just now, if it could not.
    pub fn recent_failure(&self, sha256: &str) -> Option<String> {
        let mut failed = self.failed.lock().expect("failed lock");
        failed.retain(|_, (at, _)| at.elapsed() < FAILURE_MEMORY);
        failed
            .get(&sha256.to_ascii_lowercase())
            .map(|(_, why)| why.clone())
    }

    /// Forgets the failed reads: a new run tries every file again.
    pub fn forget_failures(&self) {
        self.failed.lock().expect("failed lock").clear();
    }

    /// Remembers that reading the file with this SHA-256 failed for `why` (for [`FAILURE_MEMORY`]).
    pub fn note_failure(&self, sha256: &str, why: &str) {
        self.failed.lock().expect("failed lock").insert(
            sha256.to_ascii_lowercase(),
            (std::time::Instant::now(), why.to_string()),
        );
    }

    /// Holds the file with this SHA-256 for one reader: a second caller waits until the first has
    /// read it (and kept what it found) — then it finds the reading kept.
    pub async fn hold(&self, sha256: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.inflight.lock().expect("inflight lock");
            if map.len() > 10_000 {
                map.retain(|_, l| Arc::strong_count(l) > 1);
            }
            map.entry(sha256.to_ascii_lowercase()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The reading kept for this file by the current inspector: its size and what it gave.
    pub async fn get(&self, sha256: &str) -> Option<(u64, Restored)> {
        let value = match self
            .store
            .model_file_reading(sha256, inspect::INSPECTOR_VERSION)
            .await
        {
            Ok(v) => v?,
            Err(e) => {
                tracing::warn!(error = %e, "a kept model-file reading could not be looked up");
                return None;
            }
        };
        Some(match serde_json::from_value(value).ok()? {
            Kept::Tflite { size, outcome } => (size, Restored::Tflite(Box::new(restore(*outcome)))),
            // A bundle's reading does not depend on its size.
            Kept::Bundle { format, outcome } => (
                0,
                Restored::Bundle {
                    format,
                    read: restore_bundle(outcome),
                },
            ),
        })
    }

    /// Keeps what reading the bundle (`task`, `litertlm`) with this SHA-256 gave, unless it may change.
    pub async fn put_bundle(&self, sha256: &str, format: &str, read: &BundleOutcome) {
        let outcome = match read {
            Ok(b) => Ok(KeptBundle {
                version: b.version.clone(),
                metadata: b.metadata.clone(),
                members: b.members.clone(),
                models: b
                    .models
                    .iter()
                    .filter_map(|(name, m)| {
                        let kept = match m {
                            Ok(seen) => Ok(keep(&Ok(seen.clone()))?.ok()?),
                            Err(why) => Err(why.clone()),
                        };
                        Some((name.clone(), kept))
                    })
                    .collect(),
                llm: b.llm.as_ref().map(|l| {
                    l.as_ref()
                        .map(|i| (i.model_type.map(str::to_string), i.max_num_tokens))
                        .map_err(Clone::clone)
                }),
                cost: b.cost,
            }),
            Err(e) => match keep(&Err(e.clone())) {
                Some(Err(kept)) => Err(kept),
                _ => return,
            },
        };
        let kept = Kept::Bundle {
            format: format.to_string(),
            outcome,
        };
        self.save(sha256, &kept).await;
    }

    async fn save(&self, sha256: &str, kept: &Kept) {
        let value = serde_json::to_value(kept).expect("readings serialise");
        if let Err(e) = self
            .store
            .save_model_file_reading(sha256, inspect::INSPECTOR_VERSION, &value)
            .await
        {
            tracing::warn!(error = %e, "a model-file reading could not be kept");
        }
    }

    /// Keeps what reading the `.tflite` with this SHA-256 of `size` bytes gave, unless it may change
    /// (a fetch failed).
    pub async fn put(&self, sha256: &str, size: u64, outcome: &TfliteOutcome) {
        let Some(outcome) = keep(outcome) else {
            return;
        };
        let outcome = Box::new(outcome);
        self.save(sha256, &Kept::Tflite { size, outcome }).await;
    }
}

fn keep(outcome: &TfliteOutcome) -> Option<Result<KeptTflite, (KeptError, Cost)>> {
    Some(match outcome {
        Ok(seen) => Ok(KeptTflite {
            model: seen.model.clone(),
            metadata: seen.metadata.clone(),
            packed: seen.packed.as_ref().map(|p| {
                p.as_ref().map_err(Clone::clone).map(|p| KeptPacked {
                    members: p.members.clone(),
                    labels: p.labels.as_ref().map(|l| {
                        l.as_ref().map_err(Clone::clone).map(|f| {
                            (
                                f.name.clone(),
                                String::from_utf8_lossy(&f.bytes).into_owned(),
                            )
                        })
                    }),
                })
            }),
            cost: seen.cost,
        }),
        Err((InspectError::Corrupt(why), cost)) => Err((KeptError::Corrupt(why.clone()), *cost)),
        Err((
            InspectError::OverBudget {
                max_bytes,
                max_requests,
            },
            cost,
        )) => Err((
            KeptError::OverBudget {
                max_bytes: *max_bytes,
                max_requests: *max_requests,
            },
            *cost,
        )),
        Err((InspectError::Fetch(_), _)) => return None,
    })
}

fn restore_bundle(kept: Result<KeptBundle, (KeptError, Cost)>) -> BundleOutcome {
    match kept {
        Ok(b) => Ok(BundleInspection {
            version: b.version,
            metadata: b.metadata,
            members: b.members,
            models: b
                .models
                .into_iter()
                .map(|(name, m)| {
                    let m = m.and_then(|k| restore(Ok(k)).map_err(|(e, _)| e.to_string()));
                    (name, m)
                })
                .collect(),
            llm: b.llm.map(|l| {
                l.map(|(family, max_num_tokens)| LlmInfo {
                    model_type: family.as_deref().and_then(llm_metadata::family),
                    max_num_tokens,
                })
            }),
            // Nothing was read this time.
            cost: Cost::default(),
        }),
        Err((e, cost)) => Err((restore_error(e), cost)),
    }
}

fn restore_error(e: KeptError) -> InspectError {
    match e {
        KeptError::Corrupt(why) => InspectError::Corrupt(why),
        KeptError::OverBudget {
            max_bytes,
            max_requests,
        } => InspectError::OverBudget {
            max_bytes,
            max_requests,
        },
    }
}

fn restore(kept: Result<KeptTflite, (KeptError, Cost)>) -> TfliteOutcome {
    match kept {
        Ok(k) => Ok(TfliteInspection {
            model: k.model,
            metadata: k.metadata,
            packed: k.packed.map(|p| {
                p.map(|p| Packed {
                    members: p.members,
                    labels: p.labels.map(|l| {
                        l.and_then(|(name, text)| PackedFile::new(&name, text.into_bytes()))
                    }),
                })
            }),
            // Nothing was read this time.
            cost: Cost::default(),
        }),
        Err((KeptError::Corrupt(why), cost)) => Err((InspectError::Corrupt(why), cost)),
        Err((
            KeptError::OverBudget {
                max_bytes,
                max_requests,
            },
            cost,
        )) => Err((
            InspectError::OverBudget {
                max_bytes,
                max_requests,
            },
            cost,
        )),
    }
}
