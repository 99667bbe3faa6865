//! The LLM metadata a `.litertlm` bundle carries in its `LlmMetadataProto` section: a protobuf message
//! of LiteRT-LM's `runtime/proto/llm_metadata.proto` (`litert.lm.proto.LlmMetadata`). Only the fields
//! the catalog uses are declared — the model family (`llm_model_type`, a oneof of one message per
//! family) and the context size (`max_num_tokens`); prost skips every other field, and each family's
//! own settings, as unknown. Tags are those of the official schema.

use serde::Serialize;

/// The largest metadata section read (real ones hold prompt templates: a few KiB).
pub const MAX_LLM_METADATA_BYTES: u64 = 256 << 10;

/// What the catalog reads of a bundle's LLM metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LlmInfo {
    /// The model family the bundle declares, in the schema's words (`gemma3`, `qwen3`, `generic_model`,
    /// …); `None` when it declares none.
    pub model_type: Option<&'static str>,
    /// The context size the runtime allocates (input and output tokens together).
    pub max_num_tokens: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LlmMetadata {
    #[prost(int32, tag = "5")]
    max_num_tokens: i32,
    #[prost(message, optional, tag = "6")]
    llm_model_type: Option<LlmModelType>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LlmModelType {
    #[prost(oneof = "Family", tags = "1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13")]
    family: Option<Family>,
}

/// A family's own settings, not read.
#[derive(Clone, PartialEq, prost::Message)]
struct Settings {}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Family {
    #[prost(message, tag = "1")]
    GenericModel(Settings),
    #[prost(message, tag = "2")]
    Gemma3n(Settings),
    #[prost(message, tag = "3")]
    FunctionGemma(Settings),
    #[prost(message, tag = "4")]
    Gemma3(Settings),
    #[prost(message, tag = "5")]
    Qwen3(Settings),
    #[prost(message, tag = "7")]
    Qwen2p5(Settings),
    #[prost(message, tag = "8")]
    Gemma4(Settings),
    #[prost(message, tag = "9")]
    FastVlm(Settings),
    #[prost(message, tag = "11")]
    Lfm2(Settings),
    #[prost(message, tag = "12")]
    Minicpm5(Settings),
    #[prost(message, tag = "13")]
    Minicpmv4(Settings),
}

impl Family {
    fn name(&self) -> &'static str {
        match self {
            Family::GenericModel(_) => "generic_model",
            Family::Gemma3n(_) => "gemma3n",
            Family::FunctionGemma(_) => "function_gemma",
            Family::Gemma3(_) => "gemma3",
            Family::Qwen3(_) => "qwen3",
            Family::Qwen2p5(_) => "qwen2p5",
            Family::Gemma4(_) => "gemma4",
            Family::FastVlm(_) => "fast_vlm",
            Family::Lfm2(_) => "lfm2",
            Family::Minicpm5(_) => "minicpm5",
            Family::Minicpmv4(_) => "minicpmv4",
        }
    }
}

/// The family names of the schema, as [`LlmInfo::model_type`] gives them.
pub const FAMILIES: &[&str] = &[
    "generic_model",
    "gemma3n",
    "function_gemma",
    "gemma3",
    "qwen3",
    "qwen2p5",
    "gemma4",
    "fast_vlm",
    "lfm2",
    "minicpm5",
    "minicpmv4",
];

/// The schema's family of this name (for an [`LlmInfo`] kept as text).
pub fn family(name: &str) -> Option<&'static str> {
    FAMILIES.iter().copied().find(|f| *f == name)
}

/// Decodes the `LlmMetadataProto` section's bytes; the error says why they are not that message.
pub fn decode(bytes: &[u8]) -> Result<LlmInfo, String> {
    let message = <LlmMetadata as prost::Message>::decode(bytes)
        .map_err(|e| format!("the LLM metadata is not a valid LlmMetadata protobuf: {e}"))?;
    Ok(LlmInfo {
        model_type: message
            .llm_model_type
            .and_then(|t| t.family)
            .map(|f| f.name()),
        max_num_tokens: u32::try_from(message.max_num_tokens)
            .ok()
            .filter(|n| *n > 0),
    })
}

/// The app's `mediapipe_generate` `model_type` (CLIENTS.md §4.3) for a declared family, when the family
/// has one of the app's prompt formats.
pub fn app_model_type(family: &str) -> Option<&'static str> {
    match family {
        "gemma3" | "gemma3n" | "gemma4" | "function_gemma" => Some("gemmaIt"),
        "qwen3" | "qwen2p5" => Some("qwen"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protobuf field key: its number and wire type.
    fn key(field: u8, wire: u8) -> u8 {
        field << 3 | wire
    }

    #[test]
    fn the_family_and_context_size_are_read_and_the_rest_skipped() {
        // start_token (1) = {token_str: "<bos>"}, max_num_tokens (5) = 4096 (varint 0x80 0x20),
        // llm_model_type (6) = {qwen3 (5) = {}}, then an unknown field 99 (varint).
        let mut bytes = vec![key(1, 2), 7, key(2, 2), 5];
        bytes.extend_from_slice(b"<bos>");
        bytes.extend_from_slice(&[key(5, 0), 0x80, 0x20]);
        bytes.extend_from_slice(&[key(6, 2), 2, key(5, 2), 0]);
        bytes.extend_from_slice(&[0x98, 0x06, 1]);
        let info = decode(&bytes).unwrap();
        assert_eq!(info.model_type, Some("qwen3"));
        assert_eq!(info.max_num_tokens, Some(4096));
        assert_eq!(app_model_type("qwen3"), Some("qwen"));
        assert_eq!(app_model_type("gemma3n"), Some("gemmaIt"));
        assert_eq!(app_model_type("generic_model"), None);
    }

    #[test]
    fn empty_metadata_declares_nothing_and_garbage_is_an_error() {
        assert_eq!(
            decode(&[]).unwrap(),
            LlmInfo {
                model_type: None,
                max_num_tokens: None
            }
        );
        let why = decode(&[key(6, 2), 50, 1]).unwrap_err();
        assert!(
            why.starts_with("the LLM metadata is not a valid LlmMetadata protobuf"),
            "{why}"
        );
    }
}
