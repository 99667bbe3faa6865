//! `.litertlm` bundles (issue #21): built with the official builder (`litert-lm-builder` on PyPI,
//! driven by `tests/contract/litertlm_bundle.py`), whose generated header code is the oracle of what
//! the catalog reads by range — the version, the system metadata and the section table — with the
//! TFLite model section inspected in place; damaged headers give a reason, never a panic.

use crate::inspect::{contract_run, contract_script, synthetic_model, Counted, Synthetic};
use pocket_catalog::inspect::litertlm::inspect_litertlm;
use pocket_catalog::inspect::{Budget, InspectError};
use serde_json::Value;
use std::sync::OnceLock;

/// What the test bundle's LLM metadata declares (text format of `litert.lm.proto.LlmMetadata`).
const LLM_METADATA: &str = "max_num_tokens: 1280 llm_model_type { qwen3 {} }";

/// A bundle of the synthetic classifier (as its TFLite model, 2 MiB of weights), a tokenizer and LLM
/// metadata, built once, with what the builder's own code reads back from it.
pub fn llm_bundle() -> &'static (Vec<u8>, Value) {
    static BUNDLE: OnceLock<(Vec<u8>, Value)> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.tflite");
        std::fs::write(
            &model,
            synthetic_model(&Synthetic {
                weight_bytes: 2 << 20,
                ..Default::default()
            }),
        )
        .unwrap();
        let tokenizer = dir.path().join("tokenizer.spm");
        std::fs::write(&tokenizer, vec![9u8; 300_000]).unwrap();
        let out = dir.path().join("bundle.litertlm");
        let script = contract_script("litertlm_bundle.py");
        let printed = contract_run([
            script.as_os_str(),
            out.as_os_str(),
            model.as_os_str(),
            tokenizer.as_os_str(),
            "--llm-metadata".as_ref(),
            LLM_METADATA.as_ref(),
        ]);
        let oracle: Value = serde_json::from_slice(&printed).unwrap();
        (std::fs::read(&out).unwrap(), oracle)
    })
}

#[tokio::test]
async fn a_litertlm_bundle_reads_as_its_builder_wrote_it_without_its_sections() {
    let (bytes, oracle) = llm_bundle();
    let size = bytes.len() as u64;
    let source = Counted::new(bytes);
    let seen = inspect_litertlm(&source, size, Budget::for_size(size))
        .await
        .unwrap();
    assert_eq!(seen.version.as_deref(), oracle["version"].as_str());
    let keys: Vec<&str> = seen.metadata.iter().map(|(k, _)| k.as_str()).collect();
    let expected: Vec<&str> = oracle["system_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, expected);
    assert_eq!(
        seen.metadata[0],
        ("Authors".into(), "Pocket AI tests".into())
    );
    let sections = oracle["sections"].as_array().unwrap();
    assert_eq!(seen.members.len(), sections.len());
    for (m, s) in seen.members.iter().zip(sections) {
        assert!(
            m.name.starts_with(s["data_type"].as_str().unwrap()),
            "{m:?}"
        );
        let (begin, end) = (s["begin"].as_u64().unwrap(), s["end"].as_u64().unwrap());
        assert_eq!(m.size, end - begin, "{m:?}");
        assert_eq!(m.data_start, Some(begin));
    }
    let model_section = seen
        .members
        .iter()
        .find(|m| m.name.starts_with("TFLiteModel"))
        .unwrap();
    assert_eq!(model_section.name, "TFLiteModel (tf_lite_prefill_decode)");
    assert!(seen.has_tokenizer());
    // The LLM metadata is decoded as the builder's own protobuf code decodes it.
    let declared = sections
        .iter()
        .find_map(|s| s.get("llm_metadata"))
        .expect("the oracle decoded the LLM metadata");
    let llm = seen.llm.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(llm.model_type, declared["model_type"].as_str());
    assert_eq!(
        llm.max_num_tokens.map(u64::from),
        declared["max_num_tokens"].as_u64()
    );
    assert_eq!(llm.model_type, Some("qwen3"));
    // Damaged LLM metadata is reported as such; the rest of the bundle is still read.
    let begin = sections
        .iter()
        .find(|s| s["data_type"] == "LlmMetadataProto")
        .unwrap()["begin"]
        .as_u64()
        .unwrap() as usize;
    let mut damaged = bytes.clone();
    damaged[begin..begin + 2].copy_from_slice(&[0x32, 0x50]);
    let read = inspect_litertlm(&damaged[..], size, Budget::for_size(size))
        .await
        .unwrap();
    let why = read.llm.unwrap().unwrap_err();
    assert!(
        why.starts_with("the LLM metadata is not a valid LlmMetadata protobuf"),
        "{why}"
    );
    assert!(read.models[0].1.is_ok());
    // The model section is read in place: its tensors, not its weights.
    let (name, model) = &seen.models[0];
    assert_eq!(name, "TFLiteModel (tf_lite_prefill_decode)");
    let model = model.as_ref().unwrap();
    assert_eq!(model.model.inputs[0].shape, [1, 224, 224, 3]);
    assert!(seen.cost.bytes < 512 * 1024, "{:?}", seen.cost);
    assert!(seen.cost.requests <= 4, "{:?}", seen.cost);
    assert_eq!(seen.cost.requests as usize, source.reads());
}

#[tokio::test]
async fn a_damaged_litertlm_header_gives_a_reason_within_the_budget() {
    let (bytes, _) = llm_bundle();
    let inspect = |bytes: Vec<u8>| async move {
        let size = bytes.len() as u64;
        match inspect_litertlm(&bytes[..], size, Budget::for_size(size)).await {
            Err((InspectError::Corrupt(why), cost)) => {
                assert!(cost.requests <= 2, "{cost:?}");
                why
            }
            other => panic!("{other:?}"),
        }
    };
    let mut wrong = bytes.clone();
    wrong[..8].copy_from_slice(b"TFL3TFL3");
    assert_eq!(
        inspect(wrong).await,
        "not a .litertlm bundle: it does not start with LITERTLM"
    );
    let mut far = bytes.clone();
    far[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(inspect(far).await.starts_with("the header ends at byte"));
    let mut scrambled = bytes.clone();
    for b in &mut scrambled[32..96] {
        *b ^= 0xa5;
    }
    let why = inspect(scrambled).await;
    assert!(
        why.starts_with("the .litertlm header is corrupt") || why.starts_with("section"),
        "{why}"
    );
    assert!(inspect(bytes[..20].to_vec())
        .await
        .contains("cannot be a .litertlm bundle"));
    // A section past the end of a truncated file.
    let why = inspect(bytes[..20_000].to_vec()).await;
    assert!(why.starts_with("section"), "{why}");
}

/// `pocket-catalog inspect` reads a local file as the sync reads one on the Hub — a `.tflite`, or a
/// bundle told by its first bytes — and prints what would be recorded, the derived pipeline with it.
#[test]
fn the_inspect_command_reads_each_kind_of_model_file_and_prints_its_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, bytes: &[u8], task: Option<&str>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"));
        cmd.arg("inspect").arg(&path);
        if let Some(t) = task {
            cmd.args(["--task", t]);
        }
        let out = cmd.output().unwrap();
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.success(), shown)
    };
    let classifier = crate::packed::packed_classifier(crate::packed::Packing::PythonAppend);
    let (ok, shown) = run("leaf.tflite", &classifier, Some("image-classification"));
    assert!(ok, "{shown}");
    // Read whole, and judged as the app runs it: integer scores are what it cannot show (R7).
    assert_eq!(shown["status"], "missing", "{shown}");
    assert!(
        shown["unsupported_reason"]
            .as_str()
            .is_some_and(|r| r.contains("uint8 classification scores")),
        "{shown}"
    );
    assert_eq!(shown["signature"]["inputs"][0]["dtype"], "int8");
    assert_eq!(shown["inspection"]["packed_files"]["labels"]["lines"], 1001);
    assert_eq!(shown["inspection"]["app_profile"], "pocket-ai-app@f7ae2c9");
    let (ok, shown) = run("gemma.litertlm", &llm_bundle().0, None);
    assert!(ok, "{shown}");
    assert_eq!(shown["inspection"]["format"], "litertlm");
    // Read whole, but not verified until the app is shown to load a .litertlm (R15).
    assert_eq!(shown["status"], "pending", "{shown}");
    assert!(
        shown["inspection"]["defaults"][0]
            .as_str()
            .is_some_and(|d| d.contains("R15")),
        "{shown}"
    );
    assert_eq!(
        shown["pipeline_spec"]["metadata"][0]["framework"],
        "mediapipe_litert"
    );
    // The family and context size the bundle declares, not the file name's guess.
    let generate = &shown["pipeline_spec"]["postprocessing"][0]["steps"][0]["params"];
    assert_eq!(generate["model_type"], "qwen", "{shown}");
    assert_eq!(generate["max_tokens"], 1280);
    assert_eq!(
        shown["inspection"]["llm_metadata"],
        serde_json::json!({"model_type": "qwen3", "max_num_tokens": 1280})
    );
    // A causal LM in a cloned repo: the end-of-sequence id comes from the config beside it.
    use pocket_catalog::inspect::generated::schema::tflite as fb;
    let lm = synthetic_model(&Synthetic {
        io: Some([
            ("input_ids", &[1, 32], fb::TensorType::INT32),
            ("logits", &[1, 32, 4096], fb::TensorType::FLOAT32),
        ]),
        ..Default::default()
    });
    let (ok, shown) = run("lm.tflite", &lm, Some("text-generation"));
    assert!(ok, "{shown}");
    assert_eq!(shown["status"], "pending", "no config yet: {shown}");
    std::fs::write(dir.path().join("config.json"), br#"{"eos_token_id": 2}"#).unwrap();
    std::fs::write(
        dir.path().join("tokenizer.json"),
        crate::support::BPE_TOKENIZER,
    )
    .unwrap();
    let (_, shown) = run("lm.tflite", &lm, Some("text-generation"));
    assert_eq!(shown["status"], "verified", "{shown}");
    assert_eq!(
        shown["pipeline_spec"]["postprocessing"][0]["steps"][0]["params"]["eos_token_id"],
        2
    );
    assert_eq!(shown["inspection"]["eos_token_id"]["id"], 2);
    let (ok, shown) = run("broken.tflite", b"not a model at all", None);
    assert!(!ok);
    assert!(shown["inspection"]["error"].is_string(), "{shown}");
    assert_eq!(shown["status"], "missing");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, .. Default::default() })]

    /// Bundles with a damaged header, and models whose packed archive is damaged, never panic and
    /// stay within their budgets (a bundle's: its header's, and each model section's own).
    #[test]
    fn mutated_bundles_and_packed_archives_never_panic(
        flips in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 1..16),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut bundle = llm_bundle().0.clone();
        let len = bundle.len();
        for (at, byte) in &flips {
            bundle[at % len] = *byte;
        }
        let size = bundle.len() as u64;
        let budget = Budget::for_size(size);
        let (cost, models) = match rt.block_on(inspect_litertlm(bundle.as_slice(), size, budget)) {
            Ok(seen) => (seen.cost, seen.models.len() as u64),
            Err((_, cost)) => (cost, 0),
        };
        proptest::prop_assert!(cost.requests as u64 <= u64::from(budget.max_requests) * (1 + models));

        let mut packed = crate::packed::packed_classifier(crate::packed::Packing::Deflated);
        let tail = packed.len() - 12_000;
        for (at, byte) in &flips {
            let i = tail + at % 12_000;
            packed[i] = *byte;
        }
        let size = packed.len() as u64;
        let budget = Budget::for_size(size);
        let cost = match rt.block_on(pocket_catalog::inspect::inspect_tflite(packed.as_slice(), size, budget)) {
            Ok(seen) => seen.cost,
            Err((_, cost)) => cost,
        };
        proptest::prop_assert!(cost.bytes <= budget.max_bytes && cost.requests <= budget.max_requests);
    }
}
