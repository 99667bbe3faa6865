//! Files packed into a `.tflite` model. The TFLite Model Metadata populator appends the files the
//! metadata names (a label file, a vocabulary) to the model as a ZIP archive after the FlatBuffer; the
//! interpreter ignores it. The archive is read from the end of the file through the `zip` crate over
//! the fetched spans, as a `.task` bundle is ([`super::bundle`]); its members are listed, and the label
//! file the metadata names for an output tensor is extracted — it becomes the version's `labels` asset.

use super::bundle::{list, needed, Member, NeedBytes, SpanReader};
use super::flatbuf::Spans;
use super::metadata::MetadataSummary;
use super::{RangeSource, Reader};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::ops::Range;

/// The end-of-central-directory record's signature, and how far from the end it may start.
const EOCD_SIGNATURE: &[u8] = b"PK\x05\x06";
const EOCD_WINDOW: u64 = 22 + 65_535;

/// A label file larger than this is listed but not extracted (ImageNet's 1,000 labels take 10 KiB).
pub const MAX_LABEL_BYTES: u64 = 1 << 20;

/// What the archive appended to a model holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    pub members: Vec<Member>,
    /// The label file the metadata names for an output, extracted; why not, when it could not be.
    pub labels: Option<Result<PackedFile, String>>,
}

/// A file extracted from a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackedFile {
    pub name: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, hex.
    pub sha256: String,
    /// Lines of text (labels, one per line).
    pub lines: usize,
}

impl PackedFile {
    /// The file `name` of these bytes: UTF-8 text, its non-empty lines counted.
    pub fn new(name: &str, bytes: Vec<u8>) -> Result<PackedFile, String> {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| format!("the label file {name} is not UTF-8 text"))?;
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        Ok(PackedFile {
            name: name.to_string(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            lines,
            bytes,
        })
    }
}

/// The label file the metadata names for the model's outputs: axis labels (a classifier's classes)
/// first, then value labels (a detector's or segmenter's class ids), in output order.
pub fn label_file_name(metadata: &MetadataSummary) -> Option<&str> {
    ["TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS"]
        .iter()
        .find_map(|kind| {
            metadata
                .outputs
                .iter()
                .flat_map(|o| &o.associated_files)
                .find(|f| f.kind == *kind)
        })
        .map(|f| f.name.as_str())
}

/// Whether the metadata names any file (so the model may carry an archive).
pub fn names_files(metadata: &MetadataSummary) -> bool {
    !metadata.associated_files.is_empty()
        || metadata
            .inputs
            .iter()
            .chain(&metadata.outputs)
            .any(|t| !t.associated_files.is_empty())
}

/// Reads the archive at the end of the model in `reader`, extracting the member called `labels`.
/// `Err` says why the archive cannot be read (none appended, damaged, over the budget).
pub(super) async fn read<S: RangeSource + ?Sized>(
    reader: &mut Reader<'_, S>,
    labels: Option<&str>,
) -> Result<Packed, String> {
    let what = |why: String| format!("the files packed in the model cannot be read: {why}");
    // The end record lies within the last 22 + 65,535 bytes (its comment at most); without it there
    // is no archive, and the `zip` crate would search the whole file for one.
    let size = reader.spans.size();
    let window = size.saturating_sub(EOCD_WINDOW)..size;
    for gap in reader.spans.missing(window.clone()) {
        reader
            .fetch(gap, false)
            .await
            .map_err(|e| what(e.to_string()))?;
    }
    let tail = reader
        .spans
        .bytes(window.start, window.end - window.start)
        .map_err(|_| what("the end of the file is not held".into()))?;
    if !tail.windows(4).any(|w| w == EOCD_SIGNATURE) {
        return Err("the metadata names packed files, but no ZIP archive follows the model".into());
    }
    let members = loop {
        match list(&reader.spans) {
            Ok(members) => break members,
            Err(Err(why)) => return Err(what(why)),
            Err(Ok(range)) => reader
                .fetch(range, true)
                .await
                .map_err(|e| what(e.to_string()))?,
        }
    };
    let labels = match labels {
        None => None,
        Some(name) => Some(match members.iter().find(|m| m.name == name) {
            None => Err(format!(
                "the metadata names the label file {name}, but the model does not pack it"
            )),
            Some(m) if m.size > MAX_LABEL_BYTES => Err(format!(
                "the label file {name} is {} bytes, more than {MAX_LABEL_BYTES}",
                m.size
            )),
            Some(_) => loop {
                match extract(&reader.spans, name) {
                    Ok(bytes) => break PackedFile::new(name, bytes),
                    Err(Err(why)) => break Err(format!("the label file {name}: {why}")),
                    Err(Ok(range)) => {
                        if let Err(e) = reader.fetch(range, true).await {
                            break Err(format!("the label file {name}: {e}"));
                        }
                    }
                }
            },
        }),
    };
    Ok(Packed { members, labels })
}

/// The bytes of member `name`, decompressed (or the bytes still to fetch, or what is wrong).
fn extract(spans: &Spans, name: &str) -> Result<Vec<u8>, Result<Range<u64>, String>> {
    let mut archive = zip::ZipArchive::new(SpanReader { spans, pos: 0 }).map_err(|e| needed(&e))?;
    let mut file = archive.by_name(name).map_err(|e| needed(&e))?;
    let mut bytes = Vec::with_capacity(file.size().min(MAX_LABEL_BYTES) as usize);
    // A damaged header could claim a small size and inflate to much more: read one byte past the cap.
    match file
        .by_ref()
        .take(MAX_LABEL_BYTES + 1)
        .read_to_end(&mut bytes)
    {
        Ok(_) if bytes.len() as u64 > MAX_LABEL_BYTES => {
            Err(Err(format!("inflates past {MAX_LABEL_BYTES} bytes")))
        }
        Ok(_) => Ok(bytes),
        Err(e) => match e.get_ref().and_then(|i| i.downcast_ref::<NeedBytes>()) {
            Some(need) => Err(Ok(need.0.clone())),
            None => Err(Err(e.to_string())),
        },
    }
}
