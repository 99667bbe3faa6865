//! A spec checked against the app as it runs (issue #31): what in a pipeline spec the app at `f7ae2c9`
//! would compute wrong, skip, or fail on (CLIENTS.md §4 and §8). A person's spec is accepted as the
//! reference accepts it; these are reported on the version (`app_warnings`, both dialects and the
//! dashboard) and refuse nothing. A spec the recipes derive has none.

use serde_json::Value;

/// The screens `metadata[0].model_task` opens (either spelling, CLIENTS.md §4.5).
const SCREENS: &[&str] = &[
    "image_classification",
    "object_detection",
    "text_generation",
    "semantic_segmentation",
    "image_segmentation",
    "segmentation",
    "automatic_speech_recognition",
    "image_to_text",
    "text_to_image",
];

/// Postprocessing steps the app runs (matched case-insensitively, R8); others are skipped silently.
const POST_STEPS: &[&str] = &[
    "apply_activation",
    "map_labels",
    "filter_by_score",
    "decode_boxes",
    "generate",
    "decode_tokens",
    "mediapipe_generate",
    "decode_segmentation_mask",
    "ctc_decode",
    "decode_image",
];

/// Each rule of the app that `spec` breaks, in words a person can act on; empty when the app runs it
/// as it says.
pub fn warnings(spec: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let task = spec["metadata"][0]["model_task"]
        .as_str()
        .unwrap_or_default()
        .replace('-', "_");
    if !SCREENS.contains(&task.to_ascii_lowercase().as_str()) {
        out.push(format!(
            "model_task {task:?}: the app has no screen for it (\"Task type … is not yet supported\")"
        ));
    }
    let inputs = spec["inputs"].as_array().map_or(0, Vec::len);
    let blocks = spec["preprocessing"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if inputs > 1 || blocks.len() > 1 {
        out.push(format!(
            "{inputs} inputs and {} preprocessing blocks: the app applies only the first block and feeds \
             its result to every input (R3)",
            blocks.len()
        ));
    }
    for step in blocks.iter().flat_map(steps) {
        pre_step(step, &mut out);
    }
    for block in spec["postprocessing"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
    {
        post_block(spec, block, &mut out);
    }
    out
}

fn steps(block: &Value) -> &[Value] {
    block["steps"].as_array().map_or(&[][..], Vec::as_slice)
}

fn pre_step(step: &Value, out: &mut Vec<String>) {
    let params = &step["params"];
    match step["step"].as_str().unwrap_or_default() {
        "normalize" => match params["method"].as_str() {
            Some("mean_stddev") | None => out.push(
                "normalize mean_stddev: the app's per-channel loop writes 2 of every 7 values, from the \
                 wrong channels (R1); use normalize_uniform with one mean and stddev, scale_div, or none \
                 for inputs in [0, 1]"
                    .into(),
            ),
            Some("normalize_uniform") if !(params["mean"].is_number() || params["mean"].is_null())
                || !(params["stddev"].is_number() || params["stddev"].is_null()) =>
            {
                out.push(
                    "normalize_uniform with a list mean or stddev: the app needs one number each, and \
                     passes the pixels on unchanged otherwise"
                        .into(),
                )
            }
            Some("normalize_uniform" | "scale_div") => {}
            Some(other) => out.push(format!(
                "normalize {other}: not implemented in the app, the data passes unchanged (R2)"
            )),
        },
        "format" => {
            let missing: Vec<&str> = ["target_dtype", "color_space", "data_layout"]
                .into_iter()
                .filter(|k| !params[*k].is_string())
                .collect();
            if !missing.is_empty() {
                out.push(format!(
                    "format without {}: the app fails (all three are required)",
                    missing.join(", ")
                ));
            }
            if let Some(t @ ("int8" | "int32")) = params["target_dtype"].as_str() {
                out.push(format!("format to {t}: the app cannot convert an image to {t} (R4)"));
            }
        }
        _ => {}
    }
}

fn post_block(spec: &Value, block: &Value, out: &mut Vec<String>) {
    let interpretation = block["interpretation"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let source = block["source_tensors"][0].as_str().unwrap_or_default();
    let tensor = spec["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|t| t["name"] == source));
    let dtype = tensor.and_then(|t| t["dtype"].as_str()).unwrap_or_default();
    if interpretation.starts_with("classification") && matches!(dtype, "uint8" | "int8" | "int32") {
        out.push(format!(
            "{dtype} classification scores: the app shows float scores only (R7)"
        ));
    }
    if interpretation == "detection_boxes_scores_classes" {
        out.push("object detection: the app at f7ae2c9 shows no boxes (R9)".into());
    }
    for step in steps(block) {
        let name = step["step"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let params = &step["params"];
        if !POST_STEPS.contains(&name.as_str()) {
            out.push(format!("{name}: not a step the app runs; it is skipped"));
        }
        match name.as_str() {
            "apply_activation" if params["function"] != "softmax" => out.push(format!(
                "apply_activation {}: the app implements softmax only; the data passes unchanged",
                params["function"]
            )),
            "map_labels" if !params["top_k"].is_null() && !params["top_k"].is_i64() => out
                .push("map_labels top_k is not an integer: the classification screen fails".into()),
            "filter_by_score" if !params["num_detections_tensor"].is_string() => out.push(
                "filter_by_score without num_detections_tensor: the app reads the count from it"
                    .into(),
            ),
            "decode_segmentation_mask" => {
                let channels = tensor
                    .and_then(|t| t["shape"].as_array())
                    .filter(|s| s.len() == 4)
                    .and_then(|s| s[3].as_i64());
                if channels == Some(1) {
                    out.push(
                        "decode_segmentation_mask on a one-channel output: the app takes the first \
                         maximum, so every pixel is class 0 (R8)"
                            .into(),
                    );
                }
            }
            _ => {}
        }
    }
    let first_generate = steps(block).iter().position(|s| {
        s["step"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case("generate"))
    });
    if first_generate.is_some_and(|i| i > 0) {
        out.push("generate is not the block's first step: the app runs it only first".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(pre: Value, post: Value, output: Value) -> Value {
        json!({
            "metadata": [{"model_task": "image_classification"}],
            "inputs": [{"name": "image", "shape": [1, 8, 8, 3], "dtype": "float32"}],
            "outputs": [output],
            "preprocessing": [{"input_name": "image", "expects_type": "image", "steps": pre}],
            "postprocessing": [post],
        })
    }

    fn classifier(pre: Value, dtype: &str) -> Value {
        spec(
            pre,
            json!({"output_name": "s", "interpretation": "classification_scores", "source_tensors": ["s"],
                "steps": [{"step": "map_labels", "params": {"class_tensor": "s", "top_k": 5}}]}),
            json!({"name": "s", "shape": [1, 4], "dtype": dtype}),
        )
    }

    #[test]
    fn a_spec_the_app_runs_as_written_has_no_warning() {
        let pre = json!([
            {"step": "resize_image", "params": {"height": 8, "width": 8}},
            {"step": "normalize", "params": {"method": "normalize_uniform", "mean": 127.5, "stddev": 127.5}},
            {"step": "format", "params": {"target_dtype": "float32", "color_space": "RGB", "data_layout": "NHWC"}},
        ]);
        assert_eq!(warnings(&classifier(pre, "float32")), Vec::<String>::new());
    }

    #[test]
    fn each_rule_a_spec_breaks_is_named() {
        let pre = json!([
            {"step": "normalize", "params": {"method": "mean_stddev", "mean": [0.5], "stddev": [0.5]}},
            {"step": "format", "params": {"target_dtype": "int8"}},
        ]);
        let found = warnings(&classifier(pre, "uint8"));
        let said = found.join("\n");
        for rule in ["R1", "format without color_space, data_layout", "R4", "R7"] {
            assert!(said.contains(rule), "{rule} in {said}");
        }
        assert_eq!(found.len(), 4, "{found:?}");
        let mask = spec(
            json!([{"step": "scale_shift", "params": {}}]),
            json!({"output_name": "m", "interpretation": "segmentation_mask", "source_tensors": ["m"],
                "steps": [{"step": "apply_nms", "params": {}},
                          {"step": "decode_segmentation_mask", "params": {"num_classes": 2}}]}),
            json!({"name": "m", "shape": [1, 8, 8, 1], "dtype": "float32"}),
        );
        let said = warnings(&mask).join("\n");
        assert!(
            said.contains("R8") && said.contains("apply_nms: not a step"),
            "{said}"
        );
    }
}
