//! `.litertlm` bundles (LiteRT-LM): the `LITERTLM` magic, three little-endian `u32` version numbers,
//! the header's end offset (a `u64` at byte 24) and, from byte 32, the header — a FlatBuffer of the
//! official `litertlm_header_schema.fbs`, read with the verified generated code — whose section table
//! says where each section lies (a TFLite model, a SentencePiece or Hugging Face tokenizer, the LLM
//! metadata protobuf, …). The sections are reported without their contents, but for two: the TFLite
//! model sections are inspected in place by range, as a `.task`'s `.tflite` members are, and the LLM
//! metadata is decoded (`llm_metadata.rs`: the model family and the context size).

use super::bundle::{inspect_in_place, BundleInspection, Member};
use super::generated::litertlm_schema::litert::lm::schema as lm;
use super::llm_metadata::{self, LlmInfo, MAX_LLM_METADATA_BYTES};
use super::{Budget, Cost, InspectError, RangeSource, Reader, BLOCK};

/// The first bytes of every `.litertlm` file.
pub const MAGIC: &[u8; 8] = b"LITERTLM";
/// Where the header's FlatBuffer starts.
const HEADER_BEGIN: u64 = 32;
/// A header larger than this is refused (real ones take a few KiB).
const MAX_HEADER_BYTES: u64 = 1 << 20;
/// Sections listed at most.
const MAX_SECTIONS: usize = 10_000;

/// Reads the `.litertlm` bundle of `size` bytes at `source`: its version, system metadata and
/// sections, and its TFLite model sections in place.
pub async fn inspect_litertlm<S: RangeSource + ?Sized + Sync>(
    source: &S,
    size: u64,
    budget: Budget,
) -> Result<BundleInspection, (InspectError, Cost)> {
    let mut reader = Reader::open(source, size, budget, HEADER_BEGIN, "a .litertlm bundle")?;
    let bad = |why: String, cost: Cost| Err((InspectError::Corrupt(why), cost));
    if let Err(e) = reader.fetch(0..BLOCK.min(size), false).await {
        return Err((e, reader.cost));
    }
    let head = reader
        .spans
        .bytes(0, HEADER_BEGIN)
        .expect("the first block is held")
        .to_vec();
    if &head[..8] != MAGIC {
        return bad(
            "not a .litertlm bundle: it does not start with LITERTLM".into(),
            reader.cost,
        );
    }
    let word = |at: usize| u32::from_le_bytes(head[at..at + 4].try_into().expect("4 bytes"));
    let version = format!("{}.{}.{}", word(8), word(12), word(16));
    let header_end = u64::from_le_bytes(head[24..32].try_into().expect("8 bytes"));
    if header_end <= HEADER_BEGIN || header_end > size {
        return bad(
            format!("the header ends at byte {header_end}, outside the file of {size} bytes"),
            reader.cost,
        );
    }
    if header_end - HEADER_BEGIN > MAX_HEADER_BYTES {
        return bad(
            format!(
                "the header is {} bytes, more than {MAX_HEADER_BYTES}",
                header_end - HEADER_BEGIN
            ),
            reader.cost,
        );
    }
    for gap in reader.spans.missing(HEADER_BEGIN..header_end) {
        if let Err(e) = reader.fetch(gap, false).await {
            return Err((e, reader.cost));
        }
    }
    let bytes = reader
        .spans
        .bytes(HEADER_BEGIN, header_end - HEADER_BEGIN)
        .expect("the header is held");
    let header = match lm::root_as_lite_rtlmmeta_data(bytes) {
        Ok(h) => h,
        Err(e) => return bad(format!("the .litertlm header is corrupt: {e}"), reader.cost),
    };
    let metadata = header
        .system_metadata()
        .map(|m| pairs(Some(m.entries())))
        .unwrap_or_default();
    let objects = header.section_metadata().map(|s| s.objects());
    if objects.is_some_and(|o| o.len() > MAX_SECTIONS) {
        return bad(
            format!("the header lists more than {MAX_SECTIONS} sections"),
            reader.cost,
        );
    }
    let mut members = Vec::new();
    for (i, s) in objects.into_iter().flatten().enumerate() {
        let (begin, end) = (s.begin_offset(), s.end_offset());
        if begin > end || end > size {
            return bad(
                format!(
                    "section {i} lies at bytes {begin}..{end}, outside the file of {size} bytes"
                ),
                reader.cost,
            );
        }
        let kind = s
            .data_type()
            .variant_name()
            .unwrap_or("unknown")
            .to_string();
        let items = pairs(s.items());
        let model_type = items
            .iter()
            .find(|(k, _)| k == "model_type")
            .map(|(_, v)| v.clone());
        members.push(Member {
            name: match model_type {
                Some(t) => format!("{kind} ({t})"),
                None => kind.clone(),
            },
            size: end - begin,
            compression: if kind == "HF_Tokenizer_Zlib" {
                "zlib".into()
            } else {
                "stored".into()
            },
            data_start: Some(begin),
        });
    }
    let llm = match members
        .iter()
        .find(|m| m.name.starts_with("LlmMetadataProto"))
    {
        Some(section) => Some(read_llm_metadata(&mut reader, section).await),
        None => None,
    };
    let models: Vec<&Member> = members
        .iter()
        .filter(|m| m.name.starts_with("TFLiteModel"))
        .collect();
    let (models, cost) = inspect_in_place(source, size, &models, reader.cost).await;
    Ok(BundleInspection {
        version: Some(version),
        metadata,
        members,
        models,
        llm,
        cost,
    })
}

/// The bundle's LLM metadata section, read by range (within the reader's budget) and decoded.
async fn read_llm_metadata<S: RangeSource + ?Sized + Sync>(
    reader: &mut Reader<'_, S>,
    section: &Member,
) -> Result<LlmInfo, String> {
    if section.size > MAX_LLM_METADATA_BYTES {
        return Err(format!(
            "the LLM metadata section is {} bytes, more than {MAX_LLM_METADATA_BYTES}",
            section.size
        ));
    }
    let begin = section.data_start.expect("sections know where they start");
    let range = begin..begin + section.size;
    for gap in reader.spans.missing(range.clone()) {
        reader.fetch(gap, false).await.map_err(|e| e.to_string())?;
    }
    let bytes = reader
        .spans
        .bytes(range.start, section.size)
        .expect("the section is held");
    llm_metadata::decode(bytes)
}

type Pairs<'a> =
    Option<flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<lm::KeyValuePair<'a>>>>;

/// Key-value pairs, each value written as text.
fn pairs(list: Pairs<'_>) -> Vec<(String, String)> {
    list.into_iter()
        .flatten()
        .map(|kv| {
            let value = match kv.value_type() {
                lm::VData::StringValue => kv
                    .value_as_string_value()
                    .and_then(|v| v.value())
                    .map(str::to_string),
                lm::VData::Bool => kv.value_as_bool().map(|v| v.value().to_string()),
                lm::VData::UInt8 => kv.value_as_uint_8().map(|v| v.value().to_string()),
                lm::VData::Int8 => kv.value_as_int_8().map(|v| v.value().to_string()),
                lm::VData::UInt16 => kv.value_as_uint_16().map(|v| v.value().to_string()),
                lm::VData::Int16 => kv.value_as_int_16().map(|v| v.value().to_string()),
                lm::VData::UInt32 => kv.value_as_uint_32().map(|v| v.value().to_string()),
                lm::VData::Int32 => kv.value_as_int_32().map(|v| v.value().to_string()),
                lm::VData::UInt64 => kv.value_as_uint_64().map(|v| v.value().to_string()),
                lm::VData::Int64 => kv.value_as_int_64().map(|v| v.value().to_string()),
                lm::VData::Float32 => kv.value_as_float_32().map(|v| v.value().to_string()),
                lm::VData::Double => kv.value_as_double().map(|v| v.value().to_string()),
                _ => None,
            }
            .unwrap_or_default();
            (kv.key().to_string(), value)
        })
        .collect()
}
