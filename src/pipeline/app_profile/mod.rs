//! The client runtime the catalog writes specs for: the Pocket AI app at `f7ae2c9`
//! (`ahstewart/jacana-flutter`, `lib/core/services/inferenceService.dart`), as its code really runs
//! (docs/CLIENTS.md §4 and §8, R1–R15). The recipes derive against this profile, and nothing else in the
//! code knows the app's quirks: a later app release is a new profile (and a new inspector version, so
//! stored versions are derived again — never replacing a spec a person wrote).
//!
//! What the profile says of images (the only preprocessing the app has for them):
//! - pixels come from `imgToBytes` as 3-channel 0–255 values in NHWC order (`format`, ~l.964–1040);
//! - `normalize` `mean_stddev` is broken (R1: `normBytes[i++] = f(inputData[i++])` writes 2 of every 7
//!   floats, from shifted channels) and is never written; `normalize_uniform` computes
//!   `(px − mean) / stddev` with one scalar mean and stddev (~l.931) and `scale_div` `px / value`
//!   (~l.941), both correctly; a float32 `format` of the image itself gives `px / 255` (~l.980);
//! - on a uint8/int8 input `normalize` is skipped (~l.872) and `format` passes the bytes; an int8 or
//!   int32 image input cannot be formatted (R4), nor a one-channel one (3 values a pixel, ~l.1010).
//!
//! Of outputs: integer classification scores cannot be shown (R7: the screen sorts them `as double`, the
//! app's softmax takes doubles only); `decode_segmentation_mask` takes the first maximum over the
//! channels, so a one-channel mask is always class 0 (R8); only `preprocessing[0]` is applied and every
//! input receives it (R3).

mod warnings;

pub use warnings::warnings;

use crate::inspect::TensorInfo;
use serde::Serialize;
use serde_json::{json, Value};

/// What reading a file the app downloads beside the model (the version's `labels` or `tokenizer`)
/// found, judged as the app reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Companion {
    /// Not read: there is none, it is not where it can be read, it is too large, or it failed.
    #[default]
    Unread,
    /// Read, and the app can use it: a label file's non-empty lines, a tokenizer's merges.
    Usable(usize),
    /// Read, and the app cannot use it: why.
    Unusable(String),
}

/// The largest `tokenizer.json` read (GPT-2's is 1.4 MB, Llama's 1.8 MB).
pub const MAX_TOKENIZER_BYTES: u64 = 8 << 20;

/// A classifier without a label file: `map_labels` returns the raw scores when no labels are loaded
/// (~l.1761) and the classification screen cannot read them as `{label, confidence}` results.
pub const NO_LABELS: &str =
    "no label file (labels.txt): the app's classification screen shows one \
    label per score and cannot show scores without labels";

/// A label file as the app reads it (R6): UTF-8 text whose lines, trimmed, are the labels, empty ones
/// dropped — so a JSON file would give the app its brackets and quotes as labels.
pub fn labels_file(bytes: &[u8]) -> Companion {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Companion::Unusable("the label file is not UTF-8 text".into());
    };
    if text.trim_start().starts_with(['{', '[']) {
        return Companion::Unusable(
            "the label file is JSON: the app reads labels as lines of plain text (CLIENTS.md §8 R6)"
                .into(),
        );
    }
    Companion::Usable(text.lines().filter(|l| !l.trim().is_empty()).count())
}

/// Whether the app can show `classes` scores with this label file: `Err` when it cannot (a short
/// file throws, R6), a caveat when the labels may be offset (more lines than classes) or uncounted.
pub fn labels_for_classes(labels: &Companion, classes: i64) -> Result<Option<String>, String> {
    match labels {
        Companion::Unread => Ok(Some(format!(
            "the label file was not read: its lines are not counted against the {classes} classes"
        ))),
        Companion::Unusable(why) => Err(why.clone()),
        Companion::Usable(n) if (*n as i64) < classes => Err(format!(
            "the label file has {n} labels for {classes} classes: the app maps a label to every \
             score and fails on a short file (CLIENTS.md §8 R6)"
        )),
        Companion::Usable(n) if (*n as i64) > classes => Ok(Some(format!(
            "the label file has {n} labels for {classes} classes: the app shows the first {classes}, \
             which may be offset"
        ))),
        Companion::Usable(_) => Ok(None),
    }
}

/// A `tokenizer.json` as the app parses it (R10, `tokenizer_service.dart`): a Hugging Face BPE model
/// whose `merges` are `"a b"` strings; a Unigram or WordPiece model, or merges written as pairs (what
/// newer `tokenizers` releases write), fail.
pub fn tokenizer_file(bytes: &[u8]) -> Companion {
    let Ok(json) = serde_json::from_slice::<Value>(bytes) else {
        return Companion::Unusable("the tokenizer file is not JSON".into());
    };
    let model = &json["model"];
    match model["type"].as_str() {
        Some("BPE") => {}
        Some(kind) => {
            return Companion::Unusable(format!(
            "a {kind} tokenizer: the app parses BPE tokenizer.json files only (CLIENTS.md §8 R10)"
        ))
        }
        None => {
            return Companion::Unusable(
                "the tokenizer file names no model type: the app parses BPE tokenizer.json files \
                 only (CLIENTS.md §8 R10)"
                    .into(),
            )
        }
    }
    let Some(merges) = model["merges"].as_array() else {
        return Companion::Unusable("the BPE tokenizer has no merges list (R10)".into());
    };
    if merges
        .iter()
        .any(|m| !m.as_str().is_some_and(|m| m.contains(' ')))
    {
        return Companion::Unusable(
            "the tokenizer's merges are written as pairs, not \"a b\" strings: the app cannot \
             parse them (CLIENTS.md §8 R10)"
                .into(),
        );
    }
    Companion::Usable(merges.len())
}

/// The app release the specs are written for.
pub const APP_PROFILE: &str = "pocket-ai-app@f7ae2c9";

/// Object detection: the spec follows CLIENTS.md §4.5, but the app's detection result ends in
/// `return ErrorResult("test")` (~l.671, R9), so no box is ever shown — a detector is `pending`, never
/// `verified`, until an app release shows them.
pub const DETECTION_CAVEAT: &str = "the app at f7ae2c9 shows no detections (its detection result \
    ends in ErrorResult(\"test\"), CLIENTS.md §8 R9): the spec follows the app's detection steps for the \
    release that fixes it";

/// Why a bundle of this file name cannot be called verified for the app, if it cannot: the app installs
/// the download as a MediaPipe `.task` through flutter_gemma 0.12.5 (~l.228, R15); that this loads a
/// `.litertlm` file is not shown.
pub fn bundle_caveat(file_name: &str) -> Option<String> {
    file_name
        .to_ascii_lowercase()
        .ends_with(".litertlm")
        .then(|| {
            format!(
            "{file_name}: the app installs the download as a MediaPipe .task file (flutter_gemma \
             0.12.5); that it loads a .litertlm bundle that way is not shown (CLIENTS.md §8 R15)"
        )
        })
}

/// How the app fills a float image input: the `normalize` step to write (none: the float32 `format`'s
/// `px / 255`), and what in it is not what the model declared — an approximation or an assumption,
/// named, which makes the version `pending`.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatImage {
    pub normalize: Option<Value>,
    pub caveat: Option<String>,
}

/// A scalar at `digits` decimals, as JSON (the specs stay readable: 127.5, not 127.50000000001).
fn rounded(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The app's preprocessing for a float32 image input whose model declares `mean` and `std` (pixel
/// units, per channel or one value; `None` when the file declares no normalization).
pub fn float_image(mean: Option<&[f32]>, std: Option<&[f32]>) -> FloatImage {
    let declared = match (mean, std) {
        (Some(m), Some(s)) if !m.is_empty() && !s.is_empty() && s.iter().all(|v| *v > 0.0) => {
            Some((m, s))
        }
        _ => None,
    };
    let Some((m, s)) = declared else {
        return FloatImage {
            normalize: Some(uniform(127.5, 127.5)),
            caveat: Some(
                "inputs assumed in [-1, 1] (mean 127.5, stddev 127.5 on 0–255 pixels): the model file \
                 declares no normalization"
                    .into(),
            ),
        };
    };
    let same = |v: &[f32]| v.iter().all(|x| (x - v[0]).abs() < 1e-6);
    let average = |v: &[f32]| v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64;
    let (mm, ss) = (rounded(average(m)), rounded(average(s)));
    let caveat = (!(same(m) && same(s))).then(|| {
        format!(
            "per-channel normalization (mean {m:?}, stddev {s:?}) approximated by one mean {mm} and \
             stddev {ss}: the app applies a single mean and stddev to every channel (its per-channel \
             method is broken)"
        )
    });
    // px / 255 is what a float32 `format` of the image gives on its own.
    let normalize = if mm == 0.0 && ss == 255.0 {
        None
    } else {
        Some(uniform(mm, ss))
    };
    FloatImage { normalize, caveat }
}

/// `normalize_uniform`: `(px − mean) / stddev` on 0–255 pixels, scalars.
fn uniform(mean: f64, stddev: f64) -> Value {
    json!({"step": "normalize", "params": {"method": "normalize_uniform", "mean": mean,
        "stddev": stddev, "color_space": "RGB"}})
}

/// Why the app cannot feed this image input, if it cannot.
pub fn image_input_refusal(input: &TensorInfo) -> Option<String> {
    if input.shape.get(3) == Some(&1) {
        return Some(format!(
            "a one-channel image input ({:?}): the app always feeds 3 values a pixel",
            input.shape
        ));
    }
    match input.dtype.as_str() {
        "float32" | "uint8" => None,
        other => Some(format!(
            "an {other} image input: the app formats images as float32 or uint8 only"
        )),
    }
}

/// Why the app cannot run a model with these inputs from one preprocessing block, if it cannot.
pub fn inputs_refusal(inputs: &[TensorInfo]) -> Option<String> {
    (inputs.len() > 1).then(|| {
        format!(
            "{} inputs: the app feeds every input the result of its one preprocessing block",
            inputs.len()
        )
    })
}

/// Why the app cannot show these classification scores, if it cannot.
pub fn scores_refusal(scores: &TensorInfo) -> Option<String> {
    (scores.dtype != "float32").then(|| {
        format!(
            "{} classification scores: the app shows float scores only (it sorts them as doubles \
             and has no dequantize step)",
            scores.dtype
        )
    })
}

/// Why the app cannot decode this segmentation output, if it cannot.
pub fn mask_refusal(mask: &TensorInfo) -> Option<String> {
    match mask.shape.get(3) {
        Some(c) if *c >= 2 => None,
        _ => Some(format!(
            "a one-channel mask ({:?}): the app takes the most likely of the channels, so one \
             channel is always class 0",
            mask.shape
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_files_are_counted_as_the_app_reads_them_and_json_is_refused() {
        assert_eq!(labels_file(b"cat\n\n  dog \r\nbird"), Companion::Usable(3));
        assert!(
            matches!(labels_file(b"[\"cat\", \"dog\"]"), Companion::Unusable(w) if w.contains("JSON"))
        );
        assert!(matches!(labels_file(&[0xff, 0xfe]), Companion::Unusable(_)));
        assert_eq!(labels_for_classes(&Companion::Usable(3), 3), Ok(None));
        assert!(labels_for_classes(&Companion::Usable(2), 3).is_err());
        assert!(labels_for_classes(&Companion::Usable(4), 3)
            .unwrap()
            .is_some());
        assert!(labels_for_classes(&Companion::Unread, 3).unwrap().is_some());
    }

    #[test]
    fn only_bpe_tokenizers_with_string_merges_are_usable() {
        let bpe = br#"{"model": {"type": "BPE", "vocab": {}, "merges": ["a b", "ab c"]}}"#;
        assert_eq!(tokenizer_file(bpe), Companion::Usable(2));
        let pairs = br#"{"model": {"type": "BPE", "vocab": {}, "merges": [["a", "b"]]}}"#;
        assert!(matches!(tokenizer_file(pairs), Companion::Unusable(w) if w.contains("pairs")));
        let unigram = br#"{"model": {"type": "Unigram", "vocab": [["a", -1.0]]}}"#;
        assert!(matches!(tokenizer_file(unigram), Companion::Unusable(w) if w.contains("Unigram")));
        assert!(matches!(tokenizer_file(b"{}"), Companion::Unusable(_)));
        assert!(matches!(
            tokenizer_file(b"not json"),
            Companion::Unusable(_)
        ));
    }

    /// The app's `normalize_uniform` on one pixel value, as its loop computes it.
    fn app_uniform(step: &Value, px: f64) -> f64 {
        let p = &step["params"];
        (px - p["mean"].as_f64().unwrap()) / p["stddev"].as_f64().unwrap()
    }

    #[test]
    fn declared_ranges_become_steps_the_app_computes_right() {
        // [-1, 1]: 0 → -1, 255 → 1, exactly.
        let f = float_image(Some(&[127.5]), Some(&[127.5]));
        assert_eq!(f.caveat, None);
        let step = f.normalize.unwrap();
        assert_eq!(step["params"]["method"], "normalize_uniform");
        assert_eq!(app_uniform(&step, 0.0), -1.0);
        assert_eq!(app_uniform(&step, 255.0), 1.0);
        // [0, 1]: no normalize at all (a float32 format gives px / 255).
        let f = float_image(Some(&[0.0, 0.0, 0.0]), Some(&[255.0, 255.0, 255.0]));
        assert_eq!(
            f,
            FloatImage {
                normalize: None,
                caveat: None
            }
        );
        // Raw 0–255 floats: mean 0, stddev 1.
        let f = float_image(Some(&[0.0]), Some(&[1.0]));
        assert_eq!(app_uniform(&f.normalize.unwrap(), 200.0), 200.0);
    }

    #[test]
    fn per_channel_values_are_approximated_and_said_so() {
        let f = float_image(
            Some(&[123.675, 116.28, 103.53]),
            Some(&[58.395, 57.12, 57.375]),
        );
        let step = f.normalize.unwrap();
        assert_eq!(step["params"]["mean"], 114.495);
        assert_eq!(step["params"]["stddev"], 57.63);
        assert!(f.caveat.unwrap().contains("approximated"));
    }

    #[test]
    fn no_declared_normalization_is_an_assumption_named() {
        for (m, s) in [(None, None), (Some(&[0.0f32][..]), Some(&[0.0f32][..]))] {
            let f = float_image(m, s);
            assert_eq!(app_uniform(f.normalize.as_ref().unwrap(), 0.0), -1.0);
            assert!(f.caveat.unwrap().contains("assumed"));
        }
    }

    fn t(shape: &[i64], dtype: &str) -> TensorInfo {
        TensorInfo {
            name: "t".into(),
            shape: shape.to_vec(),
            shape_signature: None,
            dtype: dtype.into(),
            quantization: None,
        }
    }

    #[test]
    fn what_the_app_cannot_feed_or_read_is_refused_with_the_reason() {
        assert_eq!(image_input_refusal(&t(&[1, 8, 8, 3], "float32")), None);
        assert_eq!(image_input_refusal(&t(&[1, 8, 8, 3], "uint8")), None);
        assert!(image_input_refusal(&t(&[1, 8, 8, 3], "int8")).is_some());
        assert!(image_input_refusal(&t(&[1, 8, 8, 1], "float32")).is_some());
        assert!(inputs_refusal(&[t(&[1, 8, 8, 3], "uint8"), t(&[1], "int32")]).is_some());
        assert!(scores_refusal(&t(&[1, 5], "uint8")).is_some());
        assert_eq!(scores_refusal(&t(&[1, 5], "float32")), None);
        assert!(mask_refusal(&t(&[1, 8, 8, 1], "float32")).is_some());
        assert_eq!(mask_refusal(&t(&[1, 8, 8, 2], "float32")), None);
    }
}
