//! The image recipes (CLIENTS.md §4.5): classification, SSD detection and semantic segmentation, and
//! the image preprocessing they and image-to-text share — each written for the app as
//! [`app_profile`] says it runs (one scalar normalization or none, 3 values a pixel, float scores, a
//! mask of at least two channels).

use super::Context;
use crate::inspect::{MetadataSummary, ModelInfo, TensorInfo};
use crate::pipeline::app_profile;
use serde_json::{json, Value};

/// A recipe's model task, preprocessing block and postprocessing block; or why the app cannot run it.
type Pipeline = Result<(&'static str, Value, Value), String>;

/// Softmax when the graph has none, then `map_labels` over the first output's scores.
pub(super) fn classification(
    model: &ModelInfo,
    metadata: Option<&MetadataSummary>,
    ctx: &Context,
    defaults: &mut Vec<String>,
) -> Pipeline {
    let out = &model.outputs[0];
    if let Some(why) = app_profile::scores_refusal(out) {
        return Err(why);
    }
    let mut steps = vec![activation_if_needed(model)];
    steps.retain(|s| !s.is_null());
    steps.push(json!({"step": "map_labels", "params": {
    "labels_url": "", "class_tensor": out.name, "top_k": 5, "label_offset": 0}}));
    // Without labels the app's map_labels passes the scores on, and the screen cannot show them.
    if !ctx.has_labels {
        return Err(app_profile::NO_LABELS.into());
    }
    let classes = out.shape.iter().skip(1).product::<i64>();
    defaults.extend(app_profile::labels_for_classes(&ctx.labels, classes)?);
    let post = json!({"output_name": out.name, "interpretation": "classification_scores",
    "source_tensors": [out.name], "coordinate_format": null, "steps": steps});
    Ok((
        "image_classification",
        image_pre(model, metadata, defaults)?,
        post,
    ))
}

/// `filter_by_score` at the metadata's threshold, `decode_boxes`, `map_labels` — the four outputs of
/// an SSD model's post-processing, in model order.
pub(super) fn detection(
    model: &ModelInfo,
    metadata: Option<&MetadataSummary>,
    ctx: &Context,
    defaults: &mut Vec<String>,
    needs: &mut Vec<(&'static str, bool)>,
) -> Pipeline {
    let o = &model.outputs;
    let threshold = match metadata.and_then(|m| m.outputs.iter().find_map(|t| t.score_threshold)) {
        Some(t) => t,
        None => {
            defaults.push("score threshold 0.5 (the metadata gives none)".into());
            0.5
        }
    };
    needs.push(("labels", ctx.has_labels));
    let post = json!({"output_name": "detections", "interpretation": "detection_boxes_scores_classes",
    "source_tensors": [o[0].name, o[1].name, o[2].name, o[3].name],
    "coordinate_format": "normalized_ymin_xmin_ymax_xmax",
    "steps": [
        {"step": "filter_by_score", "params": {"threshold": threshold, "score_tensor": o[2].name,
            "num_detections_tensor": o[3].name}},
        {"step": "decode_boxes", "params": {"box_tensor": o[0].name}},
        {"step": "map_labels", "params": {"labels_url": "", "class_tensor": o[1].name,
            "top_k": 5, "label_offset": 0}},
    ]});
    Ok((
        "object_detection",
        image_pre(model, metadata, defaults)?,
        post,
    ))
}

/// `decode_segmentation_mask` over the output's channels, with a palette for the usual class counts.
pub(super) fn segmentation(
    model: &ModelInfo,
    metadata: Option<&MetadataSummary>,
    defaults: &mut Vec<String>,
) -> Pipeline {
    let out = &model.outputs[0];
    if let Some(why) = app_profile::mask_refusal(out) {
        return Err(why);
    }
    let classes = out.shape.get(3).copied().unwrap_or(1).max(1);
    let palette = if classes == 21 {
        json!("pascal_voc")
    } else if classes == 19 {
        json!("cityscapes")
    } else {
        Value::Null
    };
    let post = json!({"output_name": out.name, "interpretation": "segmentation_mask",
    "source_tensors": [out.name], "coordinate_format": null,
    "steps": [{"step": "decode_segmentation_mask", "params": {
        "num_classes": classes, "argmax_axis": -1, "color_map": palette}}]});
    Ok((
        "semantic_segmentation",
        image_pre(model, metadata, defaults)?,
        post,
    ))
}

/// A `[1, H, W, C]` tensor with 1 or 3 channels.
pub(super) fn is_image(t: &TensorInfo) -> bool {
    t.shape.len() == 4
        && t.shape[0] == 1
        && matches!(t.shape[3], 1 | 3)
        && t.shape[1] > 0
        && t.shape[2] > 0
}

/// A softmax when the graph does not end in one (scores shown as confidences).
fn activation_if_needed(model: &ModelInfo) -> Value {
    let has = |name: &str| {
        model
            .operators
            .iter()
            .any(|o| o.name == name && o.count > 0)
    };
    if has("SOFTMAX") || has("LOGISTIC") || model.outputs[0].dtype != "float32" {
        Value::Null
    } else {
        json!({"step": "apply_activation", "params": {"function": "softmax"}})
    }
}

/// Resize, normalize (float inputs, as the app profile computes it from what the metadata declares),
/// format; or why the app cannot feed this input.
pub(super) fn image_pre(
    model: &ModelInfo,
    metadata: Option<&MetadataSummary>,
    defaults: &mut Vec<String>,
) -> Result<Value, String> {
    if let Some(why) = app_profile::inputs_refusal(&model.inputs) {
        return Err(why);
    }
    let input = &model.inputs[0];
    if let Some(why) = app_profile::image_input_refusal(input) {
        return Err(why);
    }
    let (h, w) = (input.shape[1], input.shape[2]);
    let mut steps = vec![
        json!({"step": "resize_image", "params": {"height": h, "width": w, "method": "bilinear"}}),
    ];
    if input.dtype == "float32" {
        let meta = metadata.and_then(|m| m.inputs.first());
        let fed = app_profile::float_image(
            meta.and_then(|m| m.mean.as_deref()),
            meta.and_then(|m| m.std.as_deref()),
        );
        steps.extend(fed.normalize);
        defaults.extend(fed.caveat);
    }
    steps.push(json!({"step": "format", "params": {"target_dtype": input.dtype, "color_space": "RGB", "data_layout": "NHWC"}}));
    Ok(json!({"input_name": input.name, "expects_type": "image", "steps": steps}))
}
