//! Model-file inspection (issue #21): what a `.tflite` file declares — its tensors in model order,
//! operators, signatures, metadata and quantization — read with a few HTTP range requests through a
//! block cache, never the weights and never the whole file.
//!
//! `flatbuf.rs` is the lazy, bounds-checked FlatBuffers reader over the fetched spans; `tflite.rs`
//! walks a model with it; `metadata.rs` reads the TFLite Model Metadata buffer with the verified
//! generated code; `generated/` is `flatc`'s output for the official schemas; `packed.rs` reads the
//! files the metadata packs after the model (the label file); `bundle.rs` reads `.task` archives and
//! `litertlm.rs` the header and sections of `.litertlm` bundles.
//! [`inspect_tflite`] is the driver: it fetches the head and the tail of the file, walks, and fetches
//! what the walk says it needs, within a [`Budget`] of bytes and requests.

pub mod bundle;
mod flatbuf;
pub mod generated;
pub mod litertlm;
pub mod llm_metadata;
pub mod metadata;
pub mod packed;
pub mod tflite;

pub use flatbuf::Spans;
pub use metadata::MetadataSummary;
pub use tflite::{ModelInfo, OperatorUse, Quantization, SignatureInfo, TensorInfo};

use flatbuf::Walk;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::ops::Range;

/// Bumped whenever what the inspector reads or derives changes (2: packed label files and `.litertlm`;
/// 3: the text-generation and image-to-text recipes, a `.litertlm`'s LLM metadata; 4: specs written for
/// the app as it really runs, `pipeline::app_profile`; 5: label files and tokenizers read and checked
/// as the app reads them, detectors and `.litertlm` bundles `pending`, sparse models read within the
/// [`read_target`]): versions inspected by an older
/// one are inspected again.
pub const INSPECTOR_VERSION: u32 = 5;

/// Fetches are whole blocks of this size (aligned), so that neighbouring reads share a request.
pub const BLOCK: u64 = 64 * 1024;

/// Where a file's bytes come from: an HTTP range reader in production, memory in tests.
pub trait RangeSource {
    /// The bytes of `range` (end exclusive), exactly.
    fn read(&self, range: Range<u64>) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
}

/// The first byte a `Content-Range: bytes {start}-{end}/{size}` header names (HTTP range readers
/// check it is the one they asked for).
pub fn content_range_start(value: &str) -> Option<u64> {
    value
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// A file held in memory.
impl RangeSource for [u8] {
    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, String> {
        self.get(range.start as usize..range.end as usize)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("{range:?} is past the end"))
    }
}

/// How much one inspection may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_bytes: u64,
    pub max_requests: u32,
}

impl Budget {
    /// The hard limit for a file of `size` bytes: four times the target of max(256 KiB, 1 % of the
    /// file) that BENCHMARKS.md measures, and 16 requests.
    pub fn for_size(size: u64) -> Budget {
        Budget {
            max_bytes: 4 * (256 * 1024).max(size / 100),
            max_requests: 16,
        }
    }
}

/// What reading cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub bytes: u64,
    pub requests: u32,
}

/// Why a file could not be inspected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// The file is not what it claims, or is damaged; the reason is for a person.
    #[error("{0}")]
    Corrupt(String),
    /// Reading it would cost more than the budget.
    #[error("inspection stopped: the file's structure needs more than {max_bytes} bytes or {max_requests} requests")]
    OverBudget { max_bytes: u64, max_requests: u32 },
    /// The bytes could not be fetched.
    #[error("the file could not be read: {0}")]
    Fetch(String),
}

/// A `.tflite` file inspected.
#[derive(Debug, Clone, PartialEq)]
pub struct TfliteInspection {
    pub model: ModelInfo,
    /// The TFLite Model Metadata, when present and readable; why not, when present and unreadable.
    pub metadata: Option<Result<MetadataSummary, String>>,
    /// The files packed after the model, when the metadata names any; why they cannot be read.
    pub packed: Option<Result<packed::Packed, String>>,
    pub cost: Cost,
}

impl TfliteInspection {
    /// The label file extracted from the model, if any.
    pub fn labels(&self) -> Option<&packed::PackedFile> {
        match &self.packed {
            Some(Ok(packed::Packed {
                labels: Some(Ok(file)),
                ..
            })) => Some(file),
            _ => None,
        }
    }
}

/// Reads what the `.tflite` file of `size` bytes at `source` declares.
pub async fn inspect_tflite<S: RangeSource + ?Sized>(
    source: &S,
    size: u64,
    budget: Budget,
) -> Result<TfliteInspection, (InspectError, Cost)> {
    let mut reader = Reader::open(source, size, budget, 8, "a TFLite model")?;
    // The root table is at the head; the converters write tensors and subgraphs last, at the tail.
    let head = 0..BLOCK.min(size);
    let tail = size.saturating_sub(BLOCK).max(head.end)..size;
    for part in [head, tail] {
        if part.is_empty() {
            continue;
        }
        if let Err(e) = reader.fetch(part, false).await {
            return Err((e, reader.cost));
        }
    }
    loop {
        match tflite::walk(&reader.spans) {
            Ok(model) => {
                let metadata = model.model_metadata.as_deref().map(metadata::read);
                let packed = match &metadata {
                    Some(Ok(meta)) if packed::names_files(meta) => {
                        Some(packed::read(&mut reader, packed::label_file_name(meta)).await)
                    }
                    _ => None,
                };
                return Ok(TfliteInspection {
                    model,
                    metadata,
                    packed,
                    cost: reader.cost,
                });
            }
            Err(Walk::Bad(why)) => return Err((InspectError::Corrupt(why), reader.cost)),
            Err(Walk::Need(range)) => {
                // Past the read target, walk again leaving out what can be done without.
                let wanted = range.end - range.start + BLOCK;
                if !reader.spans.frugal && reader.cost.bytes + wanted > read_target(size) {
                    reader.spans.frugal = true;
                    continue;
                }
                if let Err(e) = reader.fetch(range, true).await {
                    return Err((e, reader.cost));
                }
            }
        }
    }
}

/// What reading a `.tflite` of `size` bytes aims to stay within: max(256 KiB, 1 % of the file). A
/// walk that would read more leaves out the tensor types it does not hold (a sparse model keeps its
/// sparsity indices between its tensor tables); what it cannot do without may still be read, within
/// the [`Budget`].
pub fn read_target(size: u64) -> u64 {
    (256 * 1024).max(size / 100)
}

pub(crate) struct Reader<'s, S: ?Sized> {
    pub(crate) source: &'s S,
    pub(crate) spans: Spans,
    pub(crate) cost: Cost,
    pub(crate) budget: Budget,
}

impl<'s, S: RangeSource + ?Sized> Reader<'s, S> {
    /// A reader of the file of `size` bytes at `source`, or why a file that small cannot be `what`
    /// (at least `min_size` bytes).
    pub(crate) fn open(
        source: &'s S,
        size: u64,
        budget: Budget,
        min_size: u64,
        what: &str,
    ) -> Result<Self, (InspectError, Cost)> {
        if size < min_size {
            let why = format!("a {size}-byte file cannot be {what}");
            return Err((InspectError::Corrupt(why), Cost::default()));
        }
        Ok(Reader {
            source,
            spans: Spans::new(size),
            cost: Cost::default(),
            budget,
        })
    }

    /// Fetches what is not held yet of `range` — widened to whole blocks when `align`.
    pub(crate) async fn fetch(
        &mut self,
        range: Range<u64>,
        align: bool,
    ) -> Result<(), InspectError> {
        let size = self.spans.size();
        let (start, end) = if align {
            let end = range.end.div_ceil(BLOCK).saturating_mul(BLOCK).min(size);
            (range.start / BLOCK * BLOCK, end)
        } else {
            (range.start, range.end)
        };
        let gaps = self.spans.missing(start..end);
        if gaps.is_empty() {
            // A walk that needs bytes already held would loop: the reader is wrong, not the file.
            return Err(InspectError::Corrupt(format!(
                "the inspector asked again for bytes {range:?} it holds"
            )));
        }
        for gap in gaps {
            let len = gap.end - gap.start;
            if self.cost.requests + 1 > self.budget.max_requests
                || self.cost.bytes + len > self.budget.max_bytes
            {
                return Err(InspectError::OverBudget {
                    max_bytes: self.budget.max_bytes,
                    max_requests: self.budget.max_requests,
                });
            }
            self.cost.requests += 1;
            let bytes = self
                .source
                .read(gap.clone())
                .await
                .map_err(InspectError::Fetch)?;
            if bytes.len() as u64 != len {
                return Err(InspectError::Fetch(format!(
                    "asked for {len} bytes at {}, got {}",
                    gap.start,
                    bytes.len()
                )));
            }
            self.cost.bytes += len;
            self.spans.insert(gap.start, bytes);
        }
        Ok(())
    }
}

/// The kinds [`quantization_kind`] names.
pub const QUANTIZATION_KINDS: [&str; 6] = [
    "float32",
    "float16",
    "dynamic range",
    "int8",
    "int4",
    "mixed",
];

/// A kind as a client writes it (`dynamic-range`, `Dynamic_Range`, `INT8`), in the catalog's words.
pub fn parse_quantization_kind(raw: &str) -> Result<&'static str, String> {
    let k = raw.trim().to_ascii_lowercase().replace(['-', '_'], " ");
    QUANTIZATION_KINDS
        .into_iter()
        .find(|q| *q == k)
        .ok_or_else(|| {
            format!(
                "quantization must be one of {}",
                QUANTIZATION_KINDS.join(", ")
            )
        })
}

/// The kind of quantization the model's types show: `float32`, `float16`, `dynamic range` (int8
/// weights, float activations), `int8` (integer weights and activations), `int4`, or `mixed`.
pub fn quantization_kind(model: &ModelInfo) -> &'static str {
    let has = |types: &std::collections::BTreeMap<String, u32>, names: &[&str]| {
        names.iter().any(|n| types.contains_key(*n))
    };
    let (w, a) = (&model.weight_types, &model.activation_types);
    let w_int8 = has(w, &["int8", "uint8"]);
    let w_f16 = has(w, &["float16"]);
    let w_f32 = has(w, &["float32"]);
    let a_int = has(a, &["int8", "uint8", "int16"]);
    if has(w, &["int4"]) {
        "int4"
    } else if w_int8 && a_int && !w_f32 && !w_f16 {
        "int8"
    } else if w_int8 && !a_int && !w_f16 {
        "dynamic range"
    } else if w_f16 && !w_int8 && !a_int {
        "float16"
    } else if !w_int8 && !w_f16 && !a_int {
        "float32"
    } else {
        "mixed"
    }
}

/// What an inspection shows a person (the CLI, and the versions' `signature` and `inspection`): the
/// tensors in model order, and the operators, quantization, metadata, cost and inspector version.
pub fn summary(outcome: &Result<TfliteInspection, (InspectError, Cost)>) -> serde_json::Value {
    match outcome {
        Ok(seen) => {
            let m = &seen.model;
            serde_json::json!({
                "signature": {"inputs": m.inputs, "outputs": m.outputs},
                "inspection": {
                    "format": "tflite",
                    "schema_version": m.schema_version,
                    "description": m.description,
                    "subgraphs": m.subgraphs,
                    "operators": m.operators,
                    "quantization": quantization_kind(m),
                    "tensors_unread": m.unread_tensors,
                    "signature_defs": m.signatures,
                    "metadata_entries": m.metadata_names,
                    "min_runtime_version": m.min_runtime_version,
                    "metadata": match &seen.metadata {
                        Some(Ok(summary)) => serde_json::json!(summary),
                        Some(Err(why)) => serde_json::json!({"error": why}),
                        None => serde_json::Value::Null,
                    },
                    "packed_files": match &seen.packed {
                        Some(Ok(p)) => serde_json::json!({
                            "members": p.members,
                            "labels": match &p.labels {
                                Some(Ok(file)) => serde_json::json!(file),
                                Some(Err(why)) => serde_json::json!({"error": why}),
                                None => serde_json::Value::Null,
                            },
                        }),
                        Some(Err(why)) => serde_json::json!({"error": why}),
                        None => serde_json::Value::Null,
                    },
                    "bytes_read": seen.cost.bytes,
                    "requests": seen.cost.requests,
                    "inspector_version": INSPECTOR_VERSION,
                    "error": null,
                },
            })
        }
        Err((e, cost)) => serde_json::json!({
            "signature": null,
            "inspection": {
                "format": "tflite",
                "bytes_read": cost.bytes,
                "requests": cost.requests,
                "inspector_version": INSPECTOR_VERSION,
                "error": e.to_string(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(weights: &[&str], activations: &[&str]) -> ModelInfo {
        let count = |names: &[&str]| names.iter().map(|n| (n.to_string(), 1)).collect();
        ModelInfo {
            weight_types: count(weights),
            activation_types: count(activations),
            ..ModelInfo::default()
        }
    }

    #[test]
    fn the_quantization_kind_follows_the_weight_and_activation_types() {
        for (weights, activations, kind) in [
            (&["float32"][..], &["float32"][..], "float32"),
            (&["float16", "float32"], &["float32"], "float16"),
            (&["int8", "float32"], &["float32"], "dynamic range"),
            (&["int8", "int32"], &["int8", "float32"], "int8"),
            (&["int4", "float32"], &["float32"], "int4"),
            (&["int8", "float16"], &["float32"], "mixed"),
            (&["float32"], &["int8"], "mixed"),
        ] {
            assert_eq!(
                quantization_kind(&model(weights, activations)),
                kind,
                "{weights:?} {activations:?}"
            );
        }
    }
}
