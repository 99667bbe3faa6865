//! The text recipes of a `.tflite` (CLIENTS.md §4.5): which text-generation models the app can feed —
//! one int32 token-id input, token ids (seq2seq) or per-position logits (a causal LM) out — the
//! `tokenize` block for that input, and the `decode_tokens` block (after an autoregressive `generate`
//! for a causal LM) that turns the output into text.

use super::{Companion, Context, Task};
use crate::inspect::{ModelInfo, TensorInfo};
use serde_json::{json, Value};

/// Token ids as the app's `tokenize` writes them and `decode_tokens` reads them: int32 `[1, N]`.
pub(super) fn is_token_ids(t: &TensorInfo) -> bool {
    t.dtype == "int32" && t.shape.len() == 2 && t.shape[0] == 1
}

/// Next-token logits for every position of `input`: float32 `[1, L, V]`.
pub(super) fn is_logits_of(t: &TensorInfo, input: &TensorInfo) -> bool {
    t.dtype == "float32" && t.shape.len() == 3 && t.shape[0] == 1 && t.shape[1] == input.shape[1]
}

/// A text-generation model the app runs from a `.tflite`: one token-id input and either token ids
/// (seq2seq) or logits (a causal LM) out. LLMs exported with a KV cache (`prefill`/`decode`
/// signatures, several inputs) run in the app only as a MediaPipe bundle.
pub(super) fn task(model: &ModelInfo) -> Result<Task, String> {
    let input = &model.inputs[0];
    let keys: Vec<&str> = model.signatures.iter().map(|s| s.key.as_str()).collect();
    if keys.iter().any(|k| matches!(*k, "prefill" | "decode")) || model.inputs.len() > 1 {
        let names: Vec<&str> = model.inputs.iter().map(|t| t.name.as_str()).collect();
        let signatures = if keys.is_empty() {
            String::new()
        } else {
            format!(" and signatures {}", keys.join(", "))
        };
        let count = match names.len() {
            1 => "1 input".to_string(),
            n => format!("{n} inputs"),
        };
        return Err(format!(
            "text generation with {count} ({}){signatures}: the app feeds one token-id tensor; it runs such LLMs only as a MediaPipe .task or .litertlm bundle",
            names.join(", ")
        ));
    }
    if input.shape.len() == 2
        && matches!(input.dtype.as_str(), "int64" | "int16" | "uint8" | "int8")
    {
        return Err(format!(
            "text generation: the token ids are {} ({}), and the app feeds int32",
            input.dtype, input.name
        ));
    }
    if !is_token_ids(input) {
        return Err(format!(
            "text generation: the app feeds token ids as int32 [1, N]; the model's input {} is {} {:?}",
            input.name, input.dtype, input.shape
        ));
    }
    let out = &model.outputs[0];
    if is_token_ids(out) {
        Ok(Task::Seq2Seq)
    } else if is_logits_of(out, input) {
        Ok(Task::CausalLm)
    } else {
        Err(format!(
            "text generation: the app reads token ids (int32 [1, N]) or logits (float32 [1, {}, vocabulary]) out; the model's output {} is {} {:?}",
            input.shape[1], out.name, out.dtype, out.shape
        ))
    }
}

/// The app's tokenizer step for the model's token-id input (its length is the input's).
pub(super) fn tokenize(model: &ModelInfo) -> Value {
    let input = &model.inputs[0];
    let length = if input.shape[1] > 0 {
        input.shape[1]
    } else {
        512
    };
    json!({"input_name": input.name, "expects_type": "text", "steps": [
        {"step": "tokenize", "params": {"max_length": length, "padding": true, "truncation": true,
            "add_special_tokens": true, "vocab_file": null, "tokenizer_file": null}}]})
}

/// The end-of-sequence token id a Hugging Face `generation_config.json` or `config.json` names
/// (`eos_token_id`: a number, or a list whose first id the app's loop stops at).
pub fn eos_token_id(config: &[u8]) -> Option<i64> {
    let config: Value = serde_json::from_slice(config).ok()?;
    let id = match &config["eos_token_id"] {
        Value::Array(ids) => ids.first()?.as_i64(),
        one => one.as_i64(),
    };
    id.filter(|id| *id >= 0)
}

/// The postprocessing block that turns `out` into text; a causal LM first runs the app's
/// autoregressive loop (which must be the block's first step) — `generate` is `Some` with its
/// end-of-sequence id, when known.
pub(super) fn decoded(
    out: &TensorInfo,
    interpretation: &str,
    generate: Option<Option<i64>>,
) -> Value {
    let mut steps = Vec::new();
    if let Some(eos) = generate {
        steps.push(
            json!({"step": "generate", "params": {"mode": "autoregressive", "max_new_tokens": 128,
            "temperature": 1.0, "do_sample": false, "eos_token_id": eos}}),
        );
    }
    steps.push(json!({"step": "decode_tokens", "params": {"skip_special_tokens": true}}));
    json!({"output_name": out.name, "interpretation": interpretation,
        "source_tensors": [out.name], "coordinate_format": null, "steps": steps})
}

/// Whether the app can parse the version's tokenizer (R10): `Err` when it cannot and there is no
/// vocab to fall back to, a caveat when it was not read or the app falls back to the vocab.
pub(super) fn tokenizer_check(ctx: &Context, defaults: &mut Vec<String>) -> Result<(), String> {
    if !ctx.has_tokenizer {
        return Ok(());
    }
    match &ctx.tokenizer {
        Companion::Usable(_) => {}
        Companion::Unread => defaults.push(
            "the tokenizer file was not read: that the app can parse it (a BPE tokenizer.json with \
             \"a b\" merges) is not checked"
                .into(),
        ),
        Companion::Unusable(why) if ctx.has_vocab => {
            defaults.push(format!("{why}; the app falls back to the vocab file"))
        }
        Companion::Unusable(why) => return Err(why.clone()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx, model, t};
    use super::super::{derive, Companion, Context};
    use crate::domain::VersionStatus;
    use serde_json::Value;

    fn text_ctx(task: Option<&str>, tokenizer: bool, vocab: bool) -> Context<'_> {
        Context {
            has_tokenizer: tokenizer,
            has_vocab: vocab,
            // A tokenizer the app parses (read and checked, R10).
            tokenizer: if tokenizer {
                Companion::Usable(1)
            } else {
                Companion::Unread
            },
            ..ctx(task, false)
        }
    }

    #[test]
    fn a_tokenizer_the_app_cannot_parse_is_said_and_refused_without_a_vocab() {
        let lm = model(
            vec![t("input_ids", &[1, 64], "int32")],
            vec![t("logits", &[1, 64, 32000], "float32")],
            &[],
        );
        let with = |tokenizer: Companion, vocab: bool| Context {
            eos_token_id: Some(2),
            tokenizer,
            ..text_ctx(Some("text-generation"), true, vocab)
        };
        let d = derive(&lm, None, &with(Companion::Usable(5), false));
        assert_eq!(d.status, VersionStatus::Verified, "{:?}", d.defaults);
        let d = derive(&lm, None, &with(Companion::Unread, false));
        assert_eq!(d.status, VersionStatus::Pending);
        assert!(d.defaults[0].contains("not read"), "{:?}", d.defaults);
        let pairs = crate::pipeline::app_profile::tokenizer_file(
            br#"{"model": {"type": "BPE", "merges": [["a", "b"]]}}"#,
        );
        let d = derive(&lm, None, &with(pairs.clone(), false));
        assert_eq!(d.status, VersionStatus::Missing);
        assert!(d.reason.unwrap().contains("pairs"));
        let d = derive(&lm, None, &with(pairs, true));
        assert_eq!(d.status, VersionStatus::Pending);
        assert!(d.defaults[0].contains("falls back to the vocab"));
    }

    fn steps(spec: &Value, phase: &str) -> Vec<String> {
        spec[phase][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_causal_lm_generates_autoregressively_with_the_tokenizer() {
        let lm = model(
            vec![t("input_ids", &[1, 64], "int32")],
            vec![t("logits", &[1, 64, 32000], "float32")],
            &[("FULLY_CONNECTED", false)],
        );
        for task in [Some("text-generation"), None] {
            let d = derive(&lm, None, &text_ctx(task, true, false));
            let spec = d.spec.expect("a spec");
            assert_eq!(spec["metadata"][0]["model_task"], "text_generation");
            assert_eq!(spec["preprocessing"][0]["expects_type"], "text");
            assert_eq!(steps(&spec, "preprocessing"), ["tokenize"]);
            assert_eq!(
                spec["preprocessing"][0]["steps"][0]["params"]["max_length"],
                64
            );
            assert_eq!(
                steps(&spec, "postprocessing"),
                ["generate", "decode_tokens"]
            );
            let generate = &spec["postprocessing"][0]["steps"][0]["params"];
            assert_eq!(generate["mode"], "autoregressive");
            assert_eq!(
                spec["postprocessing"][0]["interpretation"],
                "text_generation"
            );
            // Everything but the end-of-sequence id came from the file and the repo.
            assert_eq!(d.status, VersionStatus::Pending);
            assert_eq!(d.defaults.len(), 1, "{:?}", d.defaults);
            assert!(d.defaults[0].contains("end-of-sequence"));
        }
        // With the end-of-sequence id of the repo's config, every part is known.
        let ctx = Context {
            eos_token_id: Some(50256),
            ..text_ctx(Some("text-generation"), true, false)
        };
        let d = derive(&lm, None, &ctx);
        assert_eq!(d.status, VersionStatus::Verified, "{:?}", d.defaults);
        let spec = d.spec.unwrap();
        assert_eq!(
            spec["postprocessing"][0]["steps"][0]["params"]["eos_token_id"],
            50256
        );
        let without = derive(&lm, None, &text_ctx(Some("text-generation"), false, true));
        assert!(
            without
                .defaults
                .iter()
                .any(|d| d == "no tokenizer file in the repo"),
            "a vocab is not enough for the generate loop: {:?}",
            without.defaults
        );
        // A small last dimension is not read as a vocabulary without a task saying so.
        let tagger = model(
            vec![t("input_ids", &[1, 64], "int32")],
            vec![t("tags", &[1, 64, 9], "float32")],
            &[],
        );
        assert_eq!(
            derive(&tagger, None, &text_ctx(None, true, false)).status,
            VersionStatus::Missing
        );
    }

    #[test]
    fn a_seq2seq_model_with_a_vocab_is_verified() {
        let s2s = model(
            vec![t("tokens", &[1, 128], "int32")],
            vec![t("output_ids", &[1, 96], "int32")],
            &[],
        );
        for task in [
            "text2text-generation",
            "translation",
            "summarization",
            "text-generation",
        ] {
            let d = derive(&s2s, None, &text_ctx(Some(task), false, true));
            assert_eq!(
                d.status,
                VersionStatus::Verified,
                "{task}: {:?}",
                d.defaults
            );
            let spec = d.spec.unwrap();
            assert_eq!(steps(&spec, "preprocessing"), ["tokenize"]);
            assert_eq!(steps(&spec, "postprocessing"), ["decode_tokens"]);
            assert_eq!(spec["outputs"][0]["dtype"], "int32");
        }
        let bare = derive(&s2s, None, &text_ctx(Some("translation"), false, false));
        assert_eq!(bare.status, VersionStatus::Pending);
        assert_eq!(bare.defaults, ["no tokenizer or vocab file in the repo"]);
    }

    #[test]
    fn an_image_captioner_reads_an_image_and_decodes_tokens() {
        let captioner = model(
            vec![t("pixels", &[1, 224, 224, 3], "uint8")],
            vec![t("caption_ids", &[1, 32], "int32")],
            &[],
        );
        let d = derive(
            &captioner,
            None,
            &text_ctx(Some("image-to-text"), true, false),
        );
        assert_eq!(d.status, VersionStatus::Verified, "{:?}", d.defaults);
        let spec = d.spec.unwrap();
        assert_eq!(spec["metadata"][0]["model_task"], "image_to_text");
        assert_eq!(spec["postprocessing"][0]["interpretation"], "image_to_text");
        assert_eq!(steps(&spec, "preprocessing"), ["resize_image", "format"]);
        assert_eq!(steps(&spec, "postprocessing"), ["decode_tokens"]);
        let scores = model(
            vec![t("pixels", &[1, 224, 224, 3], "uint8")],
            vec![t("scores", &[1, 1000], "float32")],
            &[],
        );
        let why = derive(&scores, None, &text_ctx(Some("image-to-text"), true, false))
            .reason
            .unwrap();
        assert!(
            why.starts_with("image-to-text: the app reads an image in and token ids out"),
            "{why}"
        );
    }

    #[test]
    fn text_models_the_app_cannot_feed_say_why() {
        let mut kv = model(
            vec![
                t("tokens", &[1, 1], "int32"),
                t("input_pos", &[1], "int32"),
                t("kv_cache_k_0", &[1, 1280, 1, 64], "float32"),
            ],
            vec![t("logits", &[1, 1, 262144], "float32")],
            &[],
        );
        kv.signatures = ["prefill", "decode"]
            .iter()
            .map(|k| crate::inspect::tflite::SignatureInfo {
                key: k.to_string(),
                subgraph: 0,
                inputs: vec![],
                outputs: vec![],
            })
            .collect();
        let why = derive(&kv, None, &text_ctx(Some("text-generation"), true, false))
            .reason
            .unwrap();
        assert!(
            why.contains(
                "3 inputs (tokens, input_pos, kv_cache_k_0) and signatures prefill, decode"
            ),
            "{why}"
        );
        assert!(
            why.ends_with("only as a MediaPipe .task or .litertlm bundle"),
            "{why}"
        );
        let int64 = model(
            vec![t("input_ids", &[1, 64], "int64")],
            vec![t("logits", &[1, 64, 32000], "float32")],
            &[],
        );
        let why = derive(
            &int64,
            None,
            &text_ctx(Some("text-generation"), true, false),
        )
        .reason
        .unwrap();
        assert_eq!(
            why,
            "text generation: the token ids are int64 (input_ids), and the app feeds int32"
        );
        let pooled = model(
            vec![t("input_ids", &[1, 64], "int32")],
            vec![t("embedding", &[1, 384], "float32")],
            &[],
        );
        let why = derive(
            &pooled,
            None,
            &text_ctx(Some("text-generation"), true, false),
        )
        .reason
        .unwrap();
        assert!(
            why.contains("the model's output embedding is float32 [1, 384]"),
            "{why}"
        );
    }

    #[test]
    fn the_end_of_sequence_id_is_read_from_a_hugging_face_config() {
        use super::eos_token_id;
        assert_eq!(
            eos_token_id(br#"{"eos_token_id": 2, "bos_token_id": 1}"#),
            Some(2)
        );
        assert_eq!(eos_token_id(br#"{"eos_token_id": [1, 106]}"#), Some(1));
        for none in [
            &br#"{"bos_token_id": 1}"#[..],
            br#"{"eos_token_id": null}"#,
            br#"{"eos_token_id": -1}"#,
            br#"{"eos_token_id": []}"#,
            br#"{"eos_token_id": "</s>"}"#,
            b"not json",
            b"[2]",
        ] {
            assert_eq!(
                eos_token_id(none),
                None,
                "{}",
                String::from_utf8_lossy(none)
            );
        }
    }
}
