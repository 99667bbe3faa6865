//! `.task` bundles (MediaPipe): ZIP archives read by range through the `zip` crate. The central
//! directory is read from the end of the file; members are listed (name, size, compression); each
//! `.tflite` member stored uncompressed — as MediaPipe stores them, to map them in place — is inspected
//! where it lies, by range, like a `.tflite` file. The `zip` crate reads through [`SpanReader`], a
//! `Read + Seek` view of the fetched spans that fails on bytes not fetched yet; the driver fetches them
//! and reads again, as the FlatBuffers walk does.

use super::flatbuf::{Spans, Walk};
use super::{inspect_tflite, Budget, Cost, InspectError, RangeSource, Reader, TfliteInspection};
use serde::Serialize;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

/// Members listed at most (real bundles have a handful).
const MAX_MEMBERS: usize = 10_000;

/// One member of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Member {
    pub name: String,
    pub size: u64,
    /// `stored`, `deflated`, …
    pub compression: String,
    /// Where its bytes start in the bundle (stored members).
    #[serde(skip)]
    pub data_start: Option<u64>,
}

/// A bundle inspected: its members, and its `.tflite` members read in place.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleInspection {
    /// The format's version (`.litertlm`: major.minor.patch of its header).
    pub version: Option<String>,
    /// The bundle's own key-value metadata (`.litertlm`: its system metadata).
    pub metadata: Vec<(String, String)>,
    pub members: Vec<Member>,
    pub models: Vec<(String, Result<TfliteInspection, String>)>,
    /// `.litertlm`: its LLM metadata section, decoded (or why it could not be).
    pub llm: Option<Result<super::llm_metadata::LlmInfo, String>>,
    pub cost: Cost,
}

impl BundleInspection {
    /// Whether it holds a tokenizer (a SentencePiece model or an HF `tokenizer.json`).
    pub fn has_tokenizer(&self) -> bool {
        self.members.iter().any(|m| {
            let n = m.name.to_ascii_lowercase();
            n.contains("tokenizer") || n.ends_with(".spm") || n.ends_with("vocab.txt")
        })
    }
}

#[derive(Debug)]
pub(super) struct NeedBytes(pub(super) Range<u64>);

impl std::fmt::Display for NeedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bytes {:?} are not fetched yet", self.0)
    }
}

impl std::error::Error for NeedBytes {}

/// The fetched spans as a seekable reader; a read of bytes not held fails with [`NeedBytes`].
pub(super) struct SpanReader<'a> {
    pub(super) spans: &'a Spans,
    pub(super) pos: u64,
}

impl Read for SpanReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.spans.size().saturating_sub(self.pos));
        if n == 0 {
            return Ok(0);
        }
        match self.spans.bytes(self.pos, n) {
            Ok(bytes) => {
                buf[..n as usize].copy_from_slice(bytes);
                self.pos += n;
                Ok(n as usize)
            }
            Err(Walk::Need(r)) => Err(std::io::Error::other(NeedBytes(r))),
            Err(Walk::Bad(why)) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why)),
        }
    }
}

impl Seek for SpanReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let size = self.spans.size() as i128;
        let target = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(d) => size + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

/// What a zip error means for the driver: bytes to fetch, or what is wrong with the archive.
pub(super) fn needed(e: &zip::result::ZipError) -> Result<Range<u64>, String> {
    if let zip::result::ZipError::Io(io) = e {
        if let Some(NeedBytes(r)) = io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<NeedBytes>())
        {
            return Ok(r.clone());
        }
    }
    Err(e.to_string())
}

/// The members of the ZIP in `spans`, with where stored ones start (or what else it needs).
pub(super) fn list(spans: &Spans) -> Result<Vec<Member>, Result<Range<u64>, String>> {
    let mut archive = zip::ZipArchive::new(SpanReader { spans, pos: 0 }).map_err(|e| needed(&e))?;
    if archive.len() > MAX_MEMBERS {
        return Err(Err(format!(
            "the archive lists {} members, more than {MAX_MEMBERS}",
            archive.len()
        )));
    }
    let mut members = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(|e| needed(&e))?;
        let stored = file.compression() == zip::CompressionMethod::Stored;
        members.push(Member {
            name: file.name().to_string(),
            size: file.size(),
            compression: if stored {
                "stored".into()
            } else {
                file.compression().to_string().to_ascii_lowercase()
            },
            data_start: stored.then(|| file.data_start()),
        });
    }
    Ok(members)
}

/// A member's bytes, as a file of their own.
pub(super) struct Within<'s, S: ?Sized> {
    pub(super) source: &'s S,
    pub(super) start: u64,
}

impl<S: RangeSource + ?Sized + Sync> RangeSource for Within<'_, S> {
    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, String> {
        self.source
            .read(self.start + range.start..self.start + range.end)
            .await
    }
}

/// Inspects each of `members` (`.tflite` models) where it lies in the bundle of `size` bytes at
/// `source`; what each gave, and `cost` with what they spent.
pub(super) async fn inspect_in_place<S: RangeSource + ?Sized + Sync>(
    source: &S,
    size: u64,
    members: &[&Member],
    mut cost: Cost,
) -> (Vec<(String, Result<TfliteInspection, String>)>, Cost) {
    let mut models = Vec::new();
    for m in members {
        let Some(start) = m.data_start.filter(|s| s.saturating_add(m.size) <= size) else {
            models.push((
                m.name.clone(),
                Err(format!(
                    "{} is compressed ({}): not read in place",
                    m.name, m.compression
                )),
            ));
            continue;
        };
        let within = Within { source, start };
        let outcome = inspect_tflite(&within, m.size, Budget::for_size(m.size)).await;
        let spent = match &outcome {
            Ok(seen) => seen.cost,
            Err((_, c)) => *c,
        };
        cost.bytes += spent.bytes;
        cost.requests += spent.requests;
        models.push((m.name.clone(), outcome.map_err(|(e, _)| e.to_string())));
    }
    (models, cost)
}

/// How far from its end a ZIP's end-of-central-directory record starts at most: the record (22 bytes)
/// and a comment of at most 65,535.
const END_SEARCH: u64 = 22 + 65_535;

/// Whether `tail` (the last [`END_SEARCH`] bytes or the whole file, fetched) holds a ZIP's
/// end-of-central-directory signature. A file without one is not a ZIP, and is not read further
/// (random bytes would have the ZIP reader search the whole file).
fn has_end_record(spans: &Spans, tail: Range<u64>) -> bool {
    spans
        .bytes(tail.start, tail.end - tail.start)
        .is_ok_and(|bytes| bytes.windows(4).any(|w| w == b"PK\x05\x06"))
}

/// Reads the `.task` bundle of `size` bytes at `source`: its members, and its stored `.tflite` members.
pub async fn inspect_task<S: RangeSource + ?Sized + Sync>(
    source: &S,
    size: u64,
    budget: Budget,
) -> Result<BundleInspection, (InspectError, Cost)> {
    let mut reader = Reader::open(source, size, budget, 22, "a .task bundle")?;
    // The end of central directory and the directory itself are at the end.
    let tail = size.saturating_sub(END_SEARCH)..size;
    if let Err(e) = reader.fetch(tail.clone(), false).await {
        return Err((e, reader.cost));
    }
    if !has_end_record(&reader.spans, tail) {
        let why = "not a .task bundle (ZIP): no end-of-central-directory record at its end";
        return Err((InspectError::Corrupt(why.into()), reader.cost));
    }
    let members = loop {
        match list(&reader.spans) {
            Ok(members) => break members,
            Err(Err(why)) => {
                let why = format!("not a readable .task bundle (ZIP): {why}");
                return Err((InspectError::Corrupt(why), reader.cost));
            }
            Err(Ok(range)) => {
                if let Err(e) = reader.fetch(range, true).await {
                    return Err((e, reader.cost));
                }
            }
        }
    };
    let tflite: Vec<&Member> = members
        .iter()
        .filter(|m| m.name.to_ascii_lowercase().ends_with(".tflite"))
        .collect();
    let (models, cost) = inspect_in_place(source, size, &tflite, reader.cost).await;
    Ok(BundleInspection {
        version: None,
        metadata: Vec::new(),
        members,
        models,
        llm: None,
        cost,
    })
}
