//! The TFLite Model Metadata a model may carry in its `TFLITE_METADATA` buffer (the schema
//! `metadata_schema.fbs`): read whole — it is a few KiB — through the code `flatc` generated, with the
//! FlatBuffers verifier checking every offset first. What the pipeline needs is kept: the model's name,
//! description, version, author and licence; per input its content kind, normalization and value range;
//! per output its associated files (a label file), score threshold and bounding-box layout.

use super::generated::metadata_schema::tflite as md;
use serde::{Deserialize, Serialize};

/// A summary of the model's metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    pub inputs: Vec<TensorMeta>,
    pub outputs: Vec<TensorMeta>,
    /// Files the metadata names for the whole model (a vocabulary, a tokenizer model).
    pub associated_files: Vec<FileMeta>,
}

/// What the metadata says of one tensor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TensorMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `image`, `feature`, `bounding_box` or `audio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The image's colour space (`RGB`, `GRAYSCALE`), for image inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_space: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std: Option<Vec<f32>>,
    /// `stats.min` / `stats.max`: the value range the tensor holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_threshold: Option<f32>,
    /// The bounding-box layout (`BOUNDARIES`, `UPPER_LEFT`, `CENTER`) and its coordinate type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub box_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub box_coordinates: Option<String>,
    pub associated_files: Vec<FileMeta>,
}

/// A file the metadata names, usually packed into the model's ZIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    pub name: String,
    /// `TENSOR_AXIS_LABELS`, `TENSOR_VALUE_LABELS`, `VOCABULARY`, `DESCRIPTIONS`, …
    pub kind: String,
}

/// The metadata in `bytes`, or why it cannot be read.
pub fn read(bytes: &[u8]) -> Result<MetadataSummary, String> {
    if !md::model_metadata_buffer_has_identifier(bytes) {
        return Err(
            "the TFLITE_METADATA buffer is not TFLite Model Metadata (identifier M001)".into(),
        );
    }
    let m = md::root_as_model_metadata(bytes)
        .map_err(|e| format!("the TFLITE_METADATA buffer is corrupt: {e}"))?;
    let text = |s: Option<&str>| s.map(str::to_string).filter(|s| !s.trim().is_empty());
    let mut summary = MetadataSummary {
        name: text(m.name()),
        description: text(m.description()),
        version: text(m.version()),
        author: text(m.author()),
        license: text(m.license()),
        associated_files: files(m.associated_files()),
        ..MetadataSummary::default()
    };
    if let Some(sub) = m
        .subgraph_metadata()
        .filter(|s| !s.is_empty())
        .map(|s| s.get(0))
    {
        summary.inputs = tensors(sub.input_tensor_metadata());
        summary.outputs = tensors(sub.output_tensor_metadata());
        summary
            .associated_files
            .extend(files(sub.associated_files()));
    }
    Ok(summary)
}

type Files<'a> =
    Option<flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<md::AssociatedFile<'a>>>>;

fn files(list: Files<'_>) -> Vec<FileMeta> {
    list.map(|l| {
        l.iter()
            .filter_map(|f| {
                Some(FileMeta {
                    name: f.name()?.to_string(),
                    kind: f.type_().variant_name().unwrap_or("UNKNOWN").to_string(),
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

type Tensors<'a> =
    Option<flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<md::TensorMetadata<'a>>>>;

fn tensors(list: Tensors<'_>) -> Vec<TensorMeta> {
    let floats =
        |v: Option<flatbuffers::Vector<'_, f32>>| v.map(|v| v.iter().collect::<Vec<f32>>());
    list.map(|l| {
        l.iter()
            .map(|t| {
                let mut meta = TensorMeta {
                    name: t.name().map(str::to_string),
                    associated_files: files(t.associated_files()),
                    ..TensorMeta::default()
                };
                if let Some(content) = t.content() {
                    meta.content = match content.content_properties_type() {
                        md::ContentProperties::ImageProperties => Some("image".into()),
                        md::ContentProperties::FeatureProperties => Some("feature".into()),
                        md::ContentProperties::BoundingBoxProperties => Some("bounding_box".into()),
                        md::ContentProperties::AudioProperties => Some("audio".into()),
                        _ => None,
                    };
                    if let Some(image) = content.content_properties_as_image_properties() {
                        meta.color_space = image.color_space().variant_name().map(str::to_string);
                    }
                    if let Some(b) = content.content_properties_as_bounding_box_properties() {
                        meta.box_type = b.type_().variant_name().map(str::to_string);
                        meta.box_coordinates =
                            b.coordinate_type().variant_name().map(str::to_string);
                    }
                }
                for unit in t.process_units().into_iter().flatten() {
                    if let Some(n) = unit.options_as_normalization_options() {
                        meta.mean = floats(n.mean());
                        meta.std = floats(n.std_());
                    }
                    if let Some(th) = unit.options_as_score_thresholding_options() {
                        meta.score_threshold = Some(th.global_score_threshold());
                    }
                }
                if let Some(stats) = t.stats() {
                    meta.min = floats(stats.min());
                    meta.max = floats(stats.max());
                }
                meta
            })
            .collect()
    })
    .unwrap_or_default()
}
