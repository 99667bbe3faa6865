//! The pipeline spec the phone app runs a model by (CLIENTS.md §4, "PipelineConfig"): checked on every
//! write of the `/api/v1` dialect and before a stored spec is shown to the app, which decodes it
//! strictly.
//!
//! What the reference backend's schema demands is demanded here too, and no more: the five top-level
//! lists; in `metadata` the model name, version and task as strings and a known framework; tensors
//! with a name, integer shape and one of four dtypes; blocks with their names, a known `expects_type`,
//! steps named from their phase's list and `params` that is an object. The reference accepts `params`
//! that fit *any* of the phase's parameter shapes (most have only optional fields, so in effect any
//! object); here the params that fit their own step's shape are normalised as the reference would —
//! defaults filled in, unknown keys dropped — and any other object is kept as it is.
//!
//! `metadata[].source_repository` must be a string for the app to open the model (§7.5): a null or
//! missing one is filled with the repository the caller names.
//!
//! `normalize` with `method: "normalize_uniform"` and scalar `mean`/`stddev` is accepted as sent: the
//! app computes it right (`(px − mean) / stddev`), while its per-channel `mean_stddev` is broken
//! (CLIENTS.md §8 R1) — the reference backend's validator does not list it, this catalog does, in both
//! dialects (`app_profile` writes it).

use serde_json::{Map, Value};

/// The field types of step parameters.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Float,
    Bool,
    FloatList,
    Enum(&'static [&'static str]),
}

/// One parameter: its name, type, and default (`None`: required; `Some(Value::Null)`: optional).
type Param = (&'static str, Ty, Option<fn() -> Value>);

const NULL: Option<fn() -> Value> = Some(|| Value::Null);

macro_rules! default {
    ($v:expr) => {
        Some(|| serde_json::json!($v))
    };
}

const PRE_STEPS: &[(&str, &[Param])] = &[
    (
        "resize_image",
        &[
            ("height", Ty::Int, None),
            ("width", Ty::Int, None),
            (
                "method",
                Ty::Enum(&["bilinear", "nearest_neighbor"]),
                default!("bilinear"),
            ),
        ],
    ),
    (
        "normalize",
        &[
            (
                "method",
                Ty::Enum(&[
                    "mean_stddev",
                    "normalize_uniform",
                    "scale_shift",
                    "scale_div",
                ]),
                default!("mean_stddev"),
            ),
            ("mean", Ty::FloatList, NULL),
            ("stddev", Ty::FloatList, NULL),
            ("scale", Ty::Float, NULL),
            ("shift", Ty::Float, NULL),
            ("value", Ty::Float, NULL),
            ("color_space", Ty::Str, default!("RGB")),
        ],
    ),
    (
        "format",
        &[
            (
                "target_dtype",
                Ty::Enum(&["float32", "uint8", "int8"]),
                None,
            ),
            ("color_space", Ty::Str, default!("RGB")),
            ("data_layout", Ty::Enum(&["NHWC", "NCHW"]), default!("NHWC")),
        ],
    ),
    (
        "tokenize",
        &[
            ("max_length", Ty::Int, default!(512)),
            ("padding", Ty::Bool, default!(true)),
            ("truncation", Ty::Bool, default!(true)),
            ("add_special_tokens", Ty::Bool, default!(true)),
            ("vocab_file", Ty::Str, NULL),
            ("tokenizer_file", Ty::Str, NULL),
        ],
    ),
    (
        "resample_audio",
        &[
            ("target_sample_rate", Ty::Int, default!(16000)),
            ("max_duration_s", Ty::Float, default!(10.0)),
            ("normalize", Ty::Bool, default!(true)),
        ],
    ),
];

const POST_STEPS: &[(&str, &[Param])] = &[
    (
        "apply_activation",
        &[("function", Ty::Enum(&["softmax", "sigmoid", "relu"]), None)],
    ),
    (
        "map_labels",
        &[
            ("labels_url", Ty::Str, None),
            ("class_tensor", Ty::Str, None),
            ("top_k", Ty::Int, default!(5)),
            ("label_offset", Ty::Int, default!(0)),
        ],
    ),
    (
        "filter_by_score",
        &[
            ("threshold", Ty::Float, None),
            ("score_tensor", Ty::Str, None),
            ("num_detections_tensor", Ty::Str, NULL),
        ],
    ),
    ("decode_boxes", &[("box_tensor", Ty::Str, None)]),
    (
        "apply_nms",
        &[
            ("iou_threshold", Ty::Float, None),
            ("score_threshold", Ty::Float, None),
            ("box_tensor", Ty::Str, None),
            ("score_tensor", Ty::Str, None),
        ],
    ),
    (
        "generate",
        &[
            (
                "mode",
                Ty::Enum(&["single_pass", "autoregressive"]),
                default!("single_pass"),
            ),
            ("max_new_tokens", Ty::Int, default!(128)),
            ("temperature", Ty::Float, default!(1.0)),
            ("do_sample", Ty::Bool, default!(false)),
            ("eos_token_id", Ty::Int, NULL),
        ],
    ),
    (
        "decode_tokens",
        &[("skip_special_tokens", Ty::Bool, default!(true))],
    ),
    (
        "mediapipe_generate",
        &[
            (
                "model_type",
                Ty::Enum(&["gemmaIt", "general", "deepSeek", "qwen", "llama", "hammer"]),
                default!("gemmaIt"),
            ),
            ("max_tokens", Ty::Int, default!(512)),
            ("temperature", Ty::Float, default!(0.8)),
            ("top_k", Ty::Int, default!(40)),
            ("top_p", Ty::Float, default!(0.9)),
            ("random_seed", Ty::Int, NULL),
        ],
    ),
    (
        "decode_segmentation_mask",
        &[
            ("num_classes", Ty::Int, None),
            ("argmax_axis", Ty::Int, default!(-1)),
            (
                "color_map",
                Ty::Enum(&["pascal_voc", "cityscapes", "ade20k"]),
                NULL,
            ),
        ],
    ),
    (
        "ctc_decode",
        &[
            ("blank_id", Ty::Int, default!(0)),
            ("word_delimiter", Ty::Str, default!("|")),
            ("vocabulary_url", Ty::Str, NULL),
        ],
    ),
];

pub const FRAMEWORKS: &[&str] = &["tflite", "pytorch_lite", "onnx", "mediapipe_litert"];
pub const DTYPES: &[&str] = &["float32", "uint8", "int8", "int32"];
pub const EXPECTS: &[&str] = &["image", "audio", "text"];

fn fits(value: &Value, ty: Ty) -> bool {
    match ty {
        Ty::Str => value.is_string(),
        Ty::Int => value.is_i64() || value.is_u64(),
        Ty::Float => value.is_number(),
        Ty::Bool => value.is_boolean(),
        Ty::FloatList => value
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_number)),
        Ty::Enum(words) => value.as_str().is_some_and(|s| words.contains(&s)),
    }
}

/// `params` as its own step's shape gives it (defaults filled, unknown keys dropped), or `None` when
/// it does not fit that shape.
fn normalise_params(params: &Map<String, Value>, shape: &[Param]) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (name, ty, default) in shape {
        match params.get(*name) {
            Some(Value::Null) | None => match default {
                Some(d) => {
                    out.insert(name.to_string(), d());
                }
                None => return None,
            },
            Some(v) if fits(v, *ty) => {
                out.insert(name.to_string(), v.clone());
            }
            Some(_) => return None,
        }
    }
    Some(out)
}

struct Checker {
    path: Vec<String>,
}

type Checked<T> = Result<T, String>;

impl Checker {
    fn at(&self, key: &str) -> String {
        let mut p = self.path.join("");
        if !key.is_empty() {
            if !p.is_empty() && !key.starts_with('[') {
                p.push('.');
            }
            p.push_str(key);
        }
        if p.is_empty() {
            "pipeline_spec".into()
        } else {
            format!("pipeline_spec.{p}")
        }
    }

    fn object<'v>(&self, v: &'v Value, key: &str) -> Checked<&'v Map<String, Value>> {
        v.as_object()
            .ok_or_else(|| format!("{} must be an object", self.at(key)))
    }

    fn list<'v>(&self, obj: &'v Map<String, Value>, key: &str) -> Checked<&'v Vec<Value>> {
        match obj.get(key) {
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(format!("{} must be a list", self.at(key))),
            None => Err(format!("{} is required (a list)", self.at(key))),
        }
    }

    fn string(&self, obj: &Map<String, Value>, key: &str) -> Checked<String> {
        match obj.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Null) | None => Err(format!("{} is required (a string)", self.at(key))),
            Some(_) => Err(format!("{} must be a string", self.at(key))),
        }
    }

    fn word(
        &self,
        obj: &Map<String, Value>,
        key: &str,
        words: &[&str],
        default: Option<&str>,
    ) -> Checked<String> {
        match (obj.get(key), default) {
            (Some(Value::Null) | None, Some(d)) => Ok(d.to_string()),
            (Some(Value::String(s)), _) if words.contains(&s.as_str()) => Ok(s.clone()),
            _ => Err(format!(
                "{} must be one of: {}",
                self.at(key),
                words.join(", ")
            )),
        }
    }

    fn enter(&mut self, key: &str, i: usize) {
        let sep = if self.path.is_empty() { "" } else { "." };
        self.path.push(format!("{sep}{key}[{i}]"));
    }

    fn leave(&mut self) {
        self.path.pop();
    }
}

/// Checks `spec` against the app's schema and returns it normalised (see the module docs), or a
/// sentence naming the first problem (`pipeline_spec.inputs[0].dtype must be one of: …`).
/// `source_repository` fills a null or missing `metadata[].source_repository`.
pub fn check(spec: &Value, source_repository: &str) -> Result<Value, String> {
    let mut c = Checker { path: Vec::new() };
    let top = c.object(spec, "")?;
    let mut out = Map::new();
    let mut metadata = Vec::new();
    for (i, m) in c.list(top, "metadata")?.iter().enumerate() {
        c.enter("metadata", i);
        let m = c.object(m, "")?;
        let mut block = Map::new();
        let schema_version = match m.get("schema_version") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "1.0.0".into(),
            Some(_) => return Err(format!("{} must be a string", c.at("schema_version"))),
        };
        block.insert("schema_version".into(), schema_version.into());
        for key in ["model_name", "model_version", "model_task"] {
            block.insert(key.into(), c.string(m, key)?.into());
        }
        block.insert(
            "framework".into(),
            c.word(m, "framework", FRAMEWORKS, Some("tflite"))?.into(),
        );
        let source = match m.get("source_repository") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => source_repository.to_string(),
            Some(_) => return Err(format!("{} must be a string", c.at("source_repository"))),
        };
        block.insert("source_repository".into(), source.into());
        metadata.push(Value::Object(block));
        c.leave();
    }
    out.insert("metadata".into(), metadata.into());
    for side in ["inputs", "outputs"] {
        let mut tensors = Vec::new();
        for (i, t) in c.list(top, side)?.iter().enumerate() {
            c.enter(side, i);
            let t = c.object(t, "")?;
            let name = c.string(t, "name")?;
            let shape = match t.get("shape") {
                Some(Value::Array(dims)) if dims.iter().all(|d| d.is_i64()) => dims.clone(),
                _ => return Err(format!("{} must be a list of integers", c.at("shape"))),
            };
            let dtype = c.word(t, "dtype", DTYPES, None)?;
            tensors.push(serde_json::json!({"name": name, "shape": shape, "dtype": dtype}));
            c.leave();
        }
        out.insert(side.into(), tensors.into());
    }
    let mut pre = Vec::new();
    for (i, b) in c.list(top, "preprocessing")?.iter().enumerate() {
        c.enter("preprocessing", i);
        let b = c.object(b, "")?;
        let mut block = Map::new();
        block.insert("input_name".into(), c.string(b, "input_name")?.into());
        block.insert(
            "expects_type".into(),
            c.word(b, "expects_type", EXPECTS, Some("image"))?.into(),
        );
        block.insert("steps".into(), steps(&mut c, b, PRE_STEPS)?.into());
        pre.push(Value::Object(block));
        c.leave();
    }
    out.insert("preprocessing".into(), pre.into());
    let mut post = Vec::new();
    for (i, b) in c.list(top, "postprocessing")?.iter().enumerate() {
        c.enter("postprocessing", i);
        let b = c.object(b, "")?;
        let mut block = Map::new();
        block.insert("output_name".into(), c.string(b, "output_name")?.into());
        block.insert(
            "interpretation".into(),
            c.string(b, "interpretation")?.into(),
        );
        let sources = match b.get("source_tensors") {
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            _ => {
                return Err(format!(
                    "{} must be a list of strings",
                    c.at("source_tensors")
                ))
            }
        };
        block.insert("source_tensors".into(), sources.into());
        let format = match b.get("coordinate_format") {
            Some(v @ (Value::String(_) | Value::Null)) => v.clone(),
            None => Value::Null,
            Some(_) => return Err(format!("{} must be a string", c.at("coordinate_format"))),
        };
        block.insert("coordinate_format".into(), format);
        block.insert("steps".into(), steps(&mut c, b, POST_STEPS)?.into());
        post.push(Value::Object(block));
        c.leave();
    }
    out.insert("postprocessing".into(), post.into());
    Ok(Value::Object(out))
}

fn steps(
    c: &mut Checker,
    block: &Map<String, Value>,
    phase: &[(&str, &[Param])],
) -> Checked<Vec<Value>> {
    let mut out = Vec::new();
    let names: Vec<&str> = phase.iter().map(|(n, _)| *n).collect();
    for (i, s) in c.list(block, "steps")?.iter().enumerate() {
        c.enter("steps", i);
        let s = c.object(s, "")?;
        let step = c.word(s, "step", &names, None)?;
        let params = match s.get("params") {
            Some(Value::Object(p)) => p,
            _ => return Err(format!("{} is required (an object)", c.at("params"))),
        };
        let shape = phase
            .iter()
            .find(|(n, _)| *n == step)
            .map(|(_, p)| *p)
            .unwrap_or(&[]);
        let params = normalise_params(params, shape).unwrap_or_else(|| params.clone());
        out.push(serde_json::json!({"step": step, "params": params}));
        c.leave();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uniform_normalization_with_scalars_is_kept_as_sent() {
        let step = json!({"step": "normalize", "params": {"method": "normalize_uniform",
            "mean": 127.5, "stddev": 127.5, "color_space": "RGB"}});
        let spec = json!({
            "metadata": [{"model_name": "m", "model_version": "1", "model_task": "image_classification"}],
            "inputs": [{"name": "x", "shape": [1, 8, 8, 3], "dtype": "float32"}],
            "outputs": [{"name": "y", "shape": [1, 2], "dtype": "float32"}],
            "preprocessing": [{"input_name": "x", "steps": [step]}],
            "postprocessing": [],
        });
        let checked = check(&spec, "").unwrap();
        assert_eq!(checked["preprocessing"][0]["steps"][0], step);
    }
    use serde_json::json;

    pub(crate) fn classifier() -> Value {
        json!({
            "metadata": [{"model_name": "MobileNet", "model_version": "1.0", "model_task": "image_classification"}],
            "inputs": [{"name": "input", "shape": [1, 224, 224, 3], "dtype": "float32"}],
            "outputs": [{"name": "scores", "shape": [1, 1001], "dtype": "float32"}],
            "preprocessing": [{"input_name": "input", "steps": [
                {"step": "resize_image", "params": {"height": 224, "width": 224}},
                {"step": "normalize", "params": {"method": "mean_stddev", "mean": [0.5], "stddev": [0.5], "extra": 1}},
                {"step": "format", "params": {"target_dtype": "float32"}}
            ]}],
            "postprocessing": [{"output_name": "scores", "interpretation": "classification_scores",
                "source_tensors": ["scores"], "steps": [
                {"step": "map_labels", "params": {"labels_url": "labels", "class_tensor": "scores"}}
            ]}]
        })
    }

    #[test]
    fn a_valid_spec_is_normalised_as_the_reference_does() {
        let out = check(&classifier(), "https://huggingface.co/o/r").unwrap();
        let meta = &out["metadata"][0];
        assert_eq!(meta["framework"], "tflite");
        assert_eq!(meta["schema_version"], "1.0.0");
        assert_eq!(meta["source_repository"], "https://huggingface.co/o/r");
        assert_eq!(out["preprocessing"][0]["expects_type"], "image");
        let steps = &out["preprocessing"][0]["steps"];
        assert_eq!(steps[0]["params"]["method"], "bilinear");
        assert!(
            steps[1]["params"].get("extra").is_none(),
            "unknown keys dropped"
        );
        assert_eq!(steps[1]["params"]["color_space"], "RGB");
        assert_eq!(steps[2]["params"]["data_layout"], "NHWC");
        assert_eq!(out["postprocessing"][0]["steps"][0]["params"]["top_k"], 5);
        assert_eq!(
            check(&out, "x").unwrap(),
            out,
            "normalising twice changes nothing"
        );
    }

    #[test]
    fn each_schema_rule_names_what_is_wrong() {
        type Breakage = (fn(&mut Value), &'static str);
        let cases: Vec<Breakage> = vec![
            (
                |s| {
                    s.as_object_mut().unwrap().remove("outputs");
                },
                "pipeline_spec.outputs is required",
            ),
            (
                |s| s["inputs"][0]["dtype"] = json!("float16"),
                "pipeline_spec.inputs[0].dtype must be one of",
            ),
            (
                |s| s["inputs"][0]["shape"] = json!([1, "h"]),
                "pipeline_spec.inputs[0].shape must be a list of integers",
            ),
            (
                |s| s["metadata"][0]["model_task"] = Value::Null,
                "pipeline_spec.metadata[0].model_task is required",
            ),
            (
                |s| s["metadata"][0]["framework"] = json!("coreml"),
                "pipeline_spec.metadata[0].framework must be one of",
            ),
            (
                |s| s["preprocessing"][0]["expects_type"] = json!("video"),
                "pipeline_spec.preprocessing[0].expects_type",
            ),
            (
                |s| s["preprocessing"][0]["steps"][0]["step"] = json!("center_crop"),
                "pipeline_spec.preprocessing[0].steps[0].step must be one of",
            ),
            (
                |s| s["postprocessing"][0]["steps"][0]["params"] = Value::Null,
                "pipeline_spec.postprocessing[0].steps[0].params is required",
            ),
            (
                |s| s["postprocessing"][0]["steps"][0]["step"] = json!("resize_image"),
                "postprocessing[0].steps[0].step must be one of",
            ),
        ];
        for (break_it, expected) in cases {
            let mut spec = classifier();
            break_it(&mut spec);
            let err = check(&spec, "").unwrap_err();
            assert!(err.contains(expected), "{err} does not say {expected}");
        }
        assert!(check(&json!([]), "")
            .unwrap_err()
            .contains("pipeline_spec must be an object"));
    }

    #[test]
    fn params_that_fit_another_shape_of_the_phase_are_kept_as_they_are() {
        // The reference accepts them (its parameter shapes are a union); the app falls back.
        let mut spec = classifier();
        spec["preprocessing"][0]["steps"][0]["params"] = json!({"max_length": 8});
        let out = check(&spec, "").unwrap();
        assert_eq!(
            out["preprocessing"][0]["steps"][0]["params"],
            json!({"max_length": 8})
        );
    }
}
