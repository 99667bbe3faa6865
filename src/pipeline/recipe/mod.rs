//! The pipeline spec the phone app runs (CLIENTS.md §4), derived from what a `.tflite` file declares
//! — deterministic, no LLM: the same file and context always give the same spec. The task comes from
//! the catalog (the Hub's `pipeline_tag`) or, without one, from the tensors' shapes; the tensors are the
//! file's own, in model order; normalization, labels and score thresholds come from the embedded
//! metadata where the file has them and from the task's usual defaults otherwise. Only steps the app
//! implements are used (§4.2–4.3: no `apply_nms`, no `scale_shift`).
//!
//! Tasks (§4.5): image classification, SSD detection with four outputs, semantic segmentation, CTC
//! speech recognition, image-to-text, and text generation from a `.tflite` with one int32 token-id
//! input — seq2seq (ids out: `tokenize` → `decode_tokens`) or a causal LM (logits out: `tokenize` →
//! autoregressive `generate` → `decode_tokens`). LLMs exported with a KV cache run in the app only as a
//! MediaPipe bundle, whose spec [`derive_bundle`] writes. This file dispatches by task; the image recipes
//! are in `image.rs`, the text ones in `text.rs`.
//!
//! The status follows: `verified` when every part came from the file and every asset the spec needs is
//! present; `pending` when a part is a default (each one named in [`Derived::defaults`]); `missing`
//! with a reason a person understands when the app cannot run the model.

mod bundle;
mod image;
mod text;

pub use bundle::derive_bundle;
pub use text::eos_token_id;

pub use super::app_profile::Companion;
use crate::domain::VersionStatus;
use crate::inspect::{MetadataSummary, ModelInfo, TensorInfo};
use serde_json::{json, Value};

/// What the spec is derived for, beyond the file.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    pub model_name: &'a str,
    pub version_name: &'a str,
    /// The catalog's task (the Hub's `pipeline_tag`, e.g. `image-classification`).
    pub task: Option<&'a str>,
    /// The repo's URL (`metadata[0].source_repository`).
    pub source_repository: &'a str,
    /// Whether the version has a `labels`, `tokenizer` or `vocab` asset.
    pub has_labels: bool,
    pub has_tokenizer: bool,
    pub has_vocab: bool,
    /// The `labels` and `tokenizer` files as read beside the model (checked against the app, R6, R10).
    pub labels: Companion,
    pub tokenizer: Companion,
    /// The end-of-sequence token id the repo's config names (a causal LM's `generate` stops there).
    pub eos_token_id: Option<i64>,
}

/// A derived spec and the status it earns.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub spec: Option<Value>,
    pub status: VersionStatus,
    /// Why the app cannot run it (`missing` only).
    pub reason: Option<String>,
    /// The parts that came from a default rather than from the file.
    pub defaults: Vec<String>,
}

impl Derived {
    fn missing(reason: impl Into<String>) -> Derived {
        Derived {
            spec: None,
            status: VersionStatus::Missing,
            reason: Some(reason.into()),
            defaults: Vec::new(),
        }
    }
}

/// Custom operators the LiteRT runtime the app ships registers by default.
const RUNTIME_CUSTOM_OPS: &[&str] = &["TFLite_Detection_PostProcess"];

enum Task {
    Classification,
    Detection,
    Segmentation,
    SpeechRecognition,
    /// Token ids in, token ids out (`[1,L]` int32 → `[1,M]` int32).
    Seq2Seq,
    /// Token ids in, next-token logits out (`[1,L]` int32 → `[1,L,V]` float32).
    CausalLm,
    /// An image in, token ids out.
    ImageToText,
}

/// The smallest last dimension read as a vocabulary when no task is known.
const MIN_VOCABULARY: i64 = 1000;

/// The spec for `model` (with its `metadata`) in `ctx`.
pub fn derive(model: &ModelInfo, metadata: Option<&MetadataSummary>, ctx: &Context) -> Derived {
    if let Some(op) = model
        .operators
        .iter()
        .find(|o| o.custom && !RUNTIME_CUSTOM_OPS.contains(&o.name.as_str()))
    {
        let why = if op.name.starts_with("Flex") {
            format!("custom op {}: a TensorFlow op (Flex delegate) the app's LiteRT runtime does not include", op.name)
        } else {
            format!(
                "custom op {}: not part of the LiteRT runtime the app ships",
                op.name
            )
        };
        return Derived::missing(why);
    }
    if model.inputs.is_empty() || model.outputs.is_empty() {
        return Derived::missing("the model declares no input or no output tensor");
    }
    let task = match task_of(model, ctx.task) {
        Ok(task) => task,
        Err(why) => return Derived::missing(why),
    };
    let mut defaults = Vec::new();
    let mut needs = Vec::new();
    let (model_task, pre, post) =
        match task_pipeline(task, model, metadata, ctx, &mut defaults, &mut needs) {
            Ok(pipeline) => pipeline,
            Err(why) => return Derived::missing(why),
        };
    for (asset, present) in needs {
        if !present {
            defaults.push(format!("no {asset} file in the repo"));
        }
    }
    let spec = json!({
        "metadata": [{
            "schema_version": "1.0.0",
            "model_name": ctx.model_name,
            "model_version": ctx.version_name,
            "model_task": model_task,
            "framework": "tflite",
            "source_repository": ctx.source_repository,
        }],
        "inputs": model.inputs.iter().map(tensor).collect::<Vec<_>>(),
        "outputs": model.outputs.iter().map(tensor).collect::<Vec<_>>(),
        "preprocessing": [pre],
        "postprocessing": [post],
    });
    // The spec goes through the same check as a person's (the app decodes it strictly).
    let spec = match crate::pipeline::spec::check(&spec, ctx.source_repository) {
        Ok(spec) => spec,
        Err(why) => {
            return Derived::missing(format!("the derived pipeline spec is invalid: {why}"))
        }
    };
    let status = if defaults.is_empty() {
        VersionStatus::Verified
    } else {
        VersionStatus::Pending
    };
    Derived {
        spec: Some(spec),
        status,
        reason: None,
        defaults,
    }
}

/// The model task of the app's spec, its preprocessing and its postprocessing for `task`; what is a
/// default goes to `defaults`, the companion files the task needs (and whether the repo has them) to
/// `needs`.
fn task_pipeline(
    task: Task,
    model: &ModelInfo,
    metadata: Option<&MetadataSummary>,
    ctx: &Context,
    defaults: &mut Vec<String>,
    needs: &mut Vec<(&'static str, bool)>,
) -> Result<(&'static str, Value, Value), String> {
    Ok(match task {
        Task::Classification => image::classification(model, metadata, ctx, defaults)?,
        Task::Detection => {
            defaults.push(super::app_profile::DETECTION_CAVEAT.into());
            image::detection(model, metadata, ctx, defaults, needs)?
        }
        Task::Segmentation => image::segmentation(model, metadata, defaults)?,
        Task::SpeechRecognition => {
            let input = &model.inputs[0];
            let out = &model.outputs[0];
            needs.push(("labels (the CTC vocabulary)", ctx.has_labels));
            let pre = json!({"input_name": input.name, "expects_type": "audio", "steps": [
            {"step": "resample_audio", "params": {"target_sample_rate": 16000, "max_duration_s": 10.0, "normalize": true}}]});
            let post = json!({"output_name": out.name, "interpretation": "speech_recognition",
            "source_tensors": [out.name], "coordinate_format": null,
            "steps": [{"step": "ctc_decode", "params": {"blank_id": 0, "word_delimiter": "|", "vocabulary_url": null}}]});
            defaults.push("CTC blank id 0 and a 16 kHz input (the file does not say)".into());
            ("automatic_speech_recognition", pre, post)
        }
        Task::Seq2Seq => {
            needs.push(("tokenizer or vocab", ctx.has_tokenizer || ctx.has_vocab));
            text::tokenizer_check(ctx, defaults)?;
            let post = text::decoded(&model.outputs[0], "text_generation", None);
            ("text_generation", text::tokenize(model), post)
        }
        Task::CausalLm => {
            needs.push(("tokenizer", ctx.has_tokenizer));
            text::tokenizer_check(ctx, defaults)?;
            // The end-of-sequence id lives in the repo's config, not in the file.
            if ctx.eos_token_id.is_none() {
                defaults.push("no end-of-sequence token id (neither the file nor a generation_config.json or config.json beside it says; generation stops after 128 new tokens)".into());
            }
            let post = text::decoded(&model.outputs[0], "text_generation", Some(ctx.eos_token_id));
            ("text_generation", text::tokenize(model), post)
        }
        Task::ImageToText => {
            needs.push(("tokenizer or vocab", ctx.has_tokenizer || ctx.has_vocab));
            text::tokenizer_check(ctx, defaults)?;
            let post = text::decoded(&model.outputs[0], "image_to_text", None);
            (
                "image_to_text",
                image::image_pre(model, metadata, defaults)?,
                post,
            )
        }
    })
}

/// Whether the app needs a tokenizer for `model` (token ids in or out), so its `tokenizer.json` is read.
pub fn reads_tokens(model: &ModelInfo) -> bool {
    model.inputs.first().is_some_and(text::is_token_ids)
        || model.outputs.first().is_some_and(text::is_token_ids)
}

/// Whether `model` runs in the app's autoregressive loop (a causal LM), which stops at the
/// end-of-sequence id of the repo's config.
pub fn generates_tokens(model: &ModelInfo) -> bool {
    matches!(text::task(model), Ok(Task::CausalLm))
}

/// A tensor as the spec lists it (dtypes in the app's words, `conform::app_dtype`).
fn tensor(t: &TensorInfo) -> Value {
    json!({"name": t.name, "shape": t.shape, "dtype": super::conform::app_dtype(&t.dtype)})
}

/// The task: the catalog's (the Hub's) when it names one the app runs and the file agrees; a task the
/// app has no screen for is not guessed from the tensors; without a task, what the tensors show.
fn task_of(model: &ModelInfo, catalog: Option<&str>) -> Result<Task, String> {
    let input = &model.inputs[0];
    let outs = &model.outputs;
    let ssd = outs.len() == 4 && outs[0].shape.last() == Some(&4) && outs[3].shape.len() == 1;
    let task = catalog.map(|t| t.trim().to_ascii_lowercase().replace('_', "-"));
    match task.as_deref() {
        Some("image-classification") if image::is_image(input) && outs[0].shape.len() == 2 => Ok(Task::Classification),
        Some("object-detection") if image::is_image(input) && ssd => Ok(Task::Detection),
        Some("object-detection") if image::is_image(input) => Err(format!(
            "object detection with raw outputs ({} of shape {:?}): the app decodes only SSD models with 4 post-processed outputs (boxes, classes, scores, count)",
            outs[0].name, outs[0].shape
        )),
        Some("image-segmentation") if image::is_image(input) && outs[0].shape.len() == 4 => Ok(Task::Segmentation),
        Some("automatic-speech-recognition") if input.shape.len() == 2 && input.dtype == "float32" && outs[0].shape.len() == 3 => {
            Ok(Task::SpeechRecognition)
        }
        Some("text-classification") => Err("text classification: the app has no screen for it".into()),
        Some("text-generation" | "text2text-generation" | "translation" | "summarization") => text::task(model),
        Some("image-to-text") if image::is_image(input) && text::is_token_ids(&outs[0]) => Ok(Task::ImageToText),
        Some("image-to-text") => Err(format!(
            "image-to-text: the app reads an image in and token ids out (int32 [1, N]); the model has input {:?} {} and output {:?} {}",
            input.shape, input.dtype, outs[0].shape, outs[0].dtype
        )),
        Some(t @ ("image-classification" | "image-segmentation" | "automatic-speech-recognition")) => Err(format!(
            "{t}: the tensors (input {:?}, output {:?}) are not the shape the app's {t} screen reads",
            input.shape, outs[0].shape
        )),
        None if image::is_image(input) && ssd => Ok(Task::Detection),
        None if image::is_image(input) && outs.len() == 1 && outs[0].shape.len() == 2 && outs[0].shape[1] > 1 => Ok(Task::Classification),
        None if image::is_image(input) && outs.len() == 1 && outs[0].shape.len() == 4 && outs[0].shape[1..3] == input.shape[1..3] => {
            Ok(Task::Segmentation)
        }
        None if text::is_token_ids(input) && outs.len() == 1 && text::is_logits_of(&outs[0], input) && outs[0].shape[2] >= MIN_VOCABULARY => {
            Ok(Task::CausalLm)
        }
        Some(other) => Err(format!("{other}: not a task the app runs from a .tflite file")),
        None => Err(format!(
            "no task is known and the tensors (input {:?}, outputs {:?}) match none the app runs",
            input.shape,
            outs.iter().map(|o| &o.shape).collect::<Vec<_>>()
        )),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::inspect::metadata::TensorMeta;
    use crate::inspect::OperatorUse;

    pub(super) fn t(name: &str, shape: &[i64], dtype: &str) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            shape: shape.to_vec(),
            shape_signature: None,
            dtype: dtype.into(),
            quantization: None,
        }
    }

    pub(super) fn model(
        inputs: Vec<TensorInfo>,
        outputs: Vec<TensorInfo>,
        ops: &[(&str, bool)],
    ) -> ModelInfo {
        ModelInfo {
            inputs,
            outputs,
            operators: ops
                .iter()
                .map(|(n, custom)| OperatorUse {
                    name: n.to_string(),
                    custom: *custom,
                    count: 1,
                })
                .collect(),
            ..ModelInfo::default()
        }
    }

    pub(super) fn ctx<'a>(task: Option<&'a str>, labels: bool) -> Context<'a> {
        Context {
            model_name: "Leaf",
            version_name: "2026.01.01-abc1234",
            task,
            source_repository: "https://huggingface.co/o/leaf",
            has_labels: labels,
            // As many labels as the test classifiers' 1001 classes.
            labels: if labels {
                Companion::Usable(1001)
            } else {
                Companion::Unread
            },
            ..Context::default()
        }
    }

    fn classifier(dtype: &str) -> ModelInfo {
        model(
            vec![t("image", &[1, 224, 224, 3], dtype)],
            vec![t("scores", &[1, 1001], dtype)],
            &[("CONV_2D", false), ("SOFTMAX", false)],
        )
    }

    #[test]
    fn a_float_classifier_with_metadata_and_labels_is_verified() {
        let meta = MetadataSummary {
            inputs: vec![TensorMeta {
                mean: Some(vec![127.5]),
                std: Some(vec![127.5]),
                ..TensorMeta::default()
            }],
            ..MetadataSummary::default()
        };
        let d = derive(
            &classifier("float32"),
            Some(&meta),
            &ctx(Some("image-classification"), true),
        );
        assert_eq!(
            (d.status, d.defaults.clone()),
            (VersionStatus::Verified, vec![])
        );
        let spec = d.spec.unwrap();
        assert_eq!(spec["metadata"][0]["model_task"], "image_classification");
        assert_eq!(
            spec["metadata"][0]["source_repository"],
            "https://huggingface.co/o/leaf"
        );
        assert_eq!(spec["inputs"][0]["shape"], json!([1, 224, 224, 3]));
        let steps = &spec["preprocessing"][0]["steps"];
        assert_eq!(steps[0]["params"]["height"], 224);
        // Never the app's broken per-channel `mean_stddev` (CLIENTS.md §8 R1).
        assert_eq!(steps[1]["params"]["method"], "normalize_uniform");
        assert_eq!(steps[1]["params"]["mean"], 127.5);
        assert_eq!(steps[1]["params"]["stddev"], 127.5);
        assert_eq!(steps[2]["params"]["target_dtype"], "float32");
        let post = &spec["postprocessing"][0];
        assert_eq!(
            post["steps"][0]["step"], "map_labels",
            "the graph ends in a softmax already"
        );
        assert_eq!(post["steps"][0]["params"]["class_tensor"], "scores");
        // The same file and context give the same spec.
        assert_eq!(
            derive(
                &classifier("float32"),
                Some(&meta),
                &ctx(Some("image-classification"), true)
            )
            .spec,
            Some(spec)
        );
    }

    #[test]
    fn defaults_make_a_spec_pending_and_say_which() {
        let unread = Context {
            labels: Companion::Unread,
            ..ctx(None, true)
        };
        let d = derive(&classifier("float32"), None, &unread);
        assert_eq!(d.status, VersionStatus::Pending);
        assert_eq!(d.defaults.len(), 2, "{:?}", d.defaults);
        assert!(d.defaults[0].contains("label file was not read"));
        assert!(d.defaults[1].contains("normalization"));
        // Without labels, or with fewer than the classes, the app cannot show the scores (R6).
        let d = derive(&classifier("float32"), None, &ctx(None, false));
        assert_eq!(d.status, VersionStatus::Missing);
        assert!(d.reason.unwrap().contains("no label file"));
        let short = Context {
            labels: Companion::Usable(1000),
            ..ctx(None, true)
        };
        let d = derive(&classifier("float32"), None, &short);
        assert!(d.reason.unwrap().contains("1000 labels for 1001 classes"));
        let json_labels = Context {
            labels: super::super::app_profile::labels_file(b"{\"0\": \"cat\"}"),
            ..ctx(None, true)
        };
        let d = derive(&classifier("float32"), None, &json_labels);
        assert!(d.reason.unwrap().contains("JSON"));
        // A quantized input is fed as it is: no normalize step, nothing defaulted for it.
        let mut uint8_in = classifier("uint8");
        uint8_in.outputs[0].dtype = "float32".into();
        let q = derive(&uint8_in, None, &ctx(None, true));
        assert_eq!(q.status, VersionStatus::Verified);
        let steps = &q.spec.unwrap()["preprocessing"][0]["steps"];
        assert_eq!(steps.as_array().unwrap().len(), 2);
        assert_eq!(steps[1]["params"]["target_dtype"], "uint8");
        // Integer scores cannot be shown by the app (R7), whatever the spec.
        let q = derive(&classifier("uint8"), None, &ctx(None, true));
        assert_eq!(q.status, VersionStatus::Missing);
        assert!(q.reason.unwrap().contains("uint8 classification scores"));
    }

    #[test]
    fn an_ssd_detector_filters_decodes_and_labels_in_model_order() {
        let m = model(
            vec![t(
                "normalized_input_image_tensor",
                &[1, 300, 300, 3],
                "uint8",
            )],
            vec![
                t("boxes", &[1, 10, 4], "float32"),
                t("classes", &[1, 10], "float32"),
                t("scores", &[1, 10], "float32"),
                t("count", &[1], "float32"),
            ],
            &[("TFLite_Detection_PostProcess", true)],
        );
        let d = derive(&m, None, &ctx(Some("object-detection"), true));
        assert_eq!(
            d.status,
            VersionStatus::Pending,
            "no threshold in the metadata"
        );
        let post = &d.spec.unwrap()["postprocessing"][0];
        assert_eq!(post["interpretation"], "detection_boxes_scores_classes");
        assert_eq!(post["steps"][0]["params"]["score_tensor"], "scores");
        assert_eq!(post["steps"][0]["params"]["num_detections_tensor"], "count");
        assert_eq!(post["steps"][1]["params"]["box_tensor"], "boxes");
    }

    #[test]
    fn a_task_the_hub_names_is_never_guessed_from_the_tensors() {
        let looks_like_scores = model(
            vec![t("image", &[1, 192, 192, 3], "float32")],
            vec![t("heatmap", &[1, 17], "float32")],
            &[],
        );
        for task in ["keypoint-detection", "depth-estimation", "image-to-image"] {
            let d = derive(&looks_like_scores, None, &ctx(Some(task), true));
            assert_eq!(d.status, VersionStatus::Missing, "{task}");
            assert!(d.reason.unwrap().starts_with(task));
        }
        let d = derive(&looks_like_scores, None, &ctx(None, true));
        assert_ne!(
            d.status,
            VersionStatus::Missing,
            "no task: the tensors decide"
        );
    }

    #[test]
    fn a_one_channel_mask_or_an_int8_image_is_missing() {
        let mask = model(
            vec![t("image", &[1, 64, 64, 3], "float32")],
            vec![t("mask", &[1, 64, 64, 1], "float32")],
            &[],
        );
        let d = derive(&mask, None, &ctx(Some("image-segmentation"), true));
        assert!(d.reason.unwrap().contains("one-channel mask"));
        let int8 = model(
            vec![t("image", &[1, 64, 64, 3], "int8")],
            vec![t("scores", &[1, 5], "float32")],
            &[],
        );
        let d = derive(&int8, None, &ctx(Some("image-classification"), true));
        assert!(d.reason.unwrap().contains("int8 image input"));
    }

    #[test]
    fn what_the_app_cannot_run_is_missing_with_a_reason() {
        let custom = model(
            vec![t("x", &[1, 224, 224, 3], "float32")],
            vec![t("y", &[1, 5], "float32")],
            &[("MyOp", true)],
        );
        let d = derive(&custom, None, &ctx(None, true));
        assert_eq!(d.status, VersionStatus::Missing);
        assert!(d.reason.unwrap().starts_with("custom op MyOp"));
        let text = model(
            vec![t("ids", &[1, 128], "int32")],
            vec![t("logits", &[1, 2], "float32")],
            &[],
        );
        assert_eq!(
            derive(&text, None, &ctx(Some("text-classification"), true))
                .reason
                .as_deref(),
            Some("text classification: the app has no screen for it")
        );
        let raw = model(
            vec![t("input", &[1, 128, 128, 3], "float32")],
            vec![
                t("regressors", &[1, 896, 16], "float32"),
                t("classificators", &[1, 896, 1], "float32"),
            ],
            &[],
        );
        let why = derive(&raw, None, &ctx(Some("object-detection"), true))
            .reason
            .unwrap();
        assert!(why.contains("only SSD models"), "{why}");
        assert!(derive(&raw, None, &ctx(None, true))
            .reason
            .unwrap()
            .starts_with("no task is known"));
    }
}
