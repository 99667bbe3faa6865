//! Small real LiteRT models for the app replay (issue #31), built here with the code `flatc` generated
//! from the official TFLite schemas — no TensorFlow: each is a graph of builtin ops with real weights that
//! the LiteRT interpreter runs, and TFLite Model Metadata declaring its input normalization (and a label
//! file packed after the model, as the metadata populator packs it). They cover what MediaPipe's released
//! files lack: a float32 classifier with inputs in [-1, 1], a float32 segmenter with inputs in [0, 1] and a
//! two-channel output, a uint8 classifier with uint8 scores, a one-channel mask, per-channel ImageNet
//! normalization. Each is sensitive to its preprocessing: fed anything but what its metadata declares,
//! its answer changes on the test photo (the replay's negative controls show it).

use flatbuffers::FlatBufferBuilder;
use pocket_catalog::inspect::generated::metadata_schema::tflite as md;
use pocket_catalog::inspect::generated::schema::tflite as fb;
use std::io::Write;

/// A built model: its file's bytes and what the tests expect the catalog to call it.
pub struct AppModel {
    /// The file name (also the model's name in the simulator).
    pub name: &'static str,
    /// The Hub's task for the repo that publishes it.
    pub task: &'static str,
    pub bytes: Vec<u8>,
    /// The status the catalog must give it, and a word its reason must contain when not verified.
    pub expect: (&'static str, &'static str),
}

/// Every built model.
pub fn all() -> Vec<AppModel> {
    vec![
        AppModel {
            name: "colour_classifier_neg1_1.tflite",
            task: "image-classification",
            bytes: colour_classifier(Some((&[127.5], &[127.5])), CLASSIFIER_LABELS),
            expect: ("verified", ""),
        },
        AppModel {
            name: "colour_classifier_imagenet.tflite",
            task: "image-classification",
            bytes: colour_classifier(
                Some((&[123.675, 116.28, 103.53], &[58.395, 57.12, 57.375])),
                CLASSIFIER_LABELS,
            ),
            expect: ("pending", "approximated"),
        },
        AppModel {
            name: "colour_classifier_undeclared.tflite",
            task: "image-classification",
            bytes: colour_classifier(None, CLASSIFIER_LABELS),
            expect: ("pending", "assumed"),
        },
        AppModel {
            name: "bright_segmenter_0_1.tflite",
            task: "image-segmentation",
            bytes: bright_segmenter(),
            expect: ("verified", ""),
        },
        AppModel {
            name: "channel_classifier_uint8.tflite",
            task: "image-classification",
            bytes: uint8_classifier(),
            expect: ("missing", "uint8 classification scores"),
        },
        AppModel {
            name: "sigmoid_mask_segmenter.tflite",
            task: "image-segmentation",
            bytes: one_channel_segmenter(),
            expect: ("missing", "one-channel mask"),
        },
    ]
}

const CLASSIFIER_LABELS: &str = "warm\ncool\nflat\nbright\n";

/// The side of the built models' square image inputs.
const SIDE: i32 = 64;

/// A tensor of the graph being built.
struct TensorDef {
    name: &'static str,
    shape: Vec<i32>,
    dtype: fb::TensorType,
    buffer: u32,
    quant: Option<(f32, i64)>,
}

/// An operator of the graph: its builtin code, tensors and options.
struct OpDef {
    code: fb::BuiltinOperator,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    options: Options,
}

enum Options {
    None,
    Reducer,
    FullyConnected,
    Softmax,
    Conv2D,
}

/// One subgraph's tensors, constant buffers and operators, in the order the converter writes them.
#[derive(Default)]
struct Graph {
    tensors: Vec<TensorDef>,
    /// Constant data; buffer 0 is the empty sentinel, so constant `i` is buffer `i + 1`.
    constants: Vec<Vec<u8>>,
    ops: Vec<OpDef>,
}

impl Graph {
    fn tensor(&mut self, name: &'static str, shape: &[i32], dtype: fb::TensorType) -> i32 {
        self.tensors.push(TensorDef {
            name,
            shape: shape.to_vec(),
            dtype,
            buffer: 0,
            quant: None,
        });
        self.tensors.len() as i32 - 1
    }

    fn quantized(&mut self, name: &'static str, shape: &[i32], scale: f32) -> i32 {
        let t = self.tensor(name, shape, fb::TensorType::UINT8);
        self.tensors[t as usize].quant = Some((scale, 0));
        t
    }

    fn constant(
        &mut self,
        name: &'static str,
        shape: &[i32],
        dtype: fb::TensorType,
        data: Vec<u8>,
    ) -> i32 {
        self.constants.push(data);
        let t = self.tensor(name, shape, dtype);
        self.tensors[t as usize].buffer = self.constants.len() as u32;
        t
    }

    fn floats(&mut self, name: &'static str, shape: &[i32], values: &[f32]) -> i32 {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(name, shape, fb::TensorType::FLOAT32, data)
    }

    fn ints(&mut self, name: &'static str, shape: &[i32], values: &[i32]) -> i32 {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(name, shape, fb::TensorType::INT32, data)
    }

    fn op(&mut self, code: fb::BuiltinOperator, inputs: &[i32], outputs: &[i32], options: Options) {
        self.ops.push(OpDef {
            code,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            options,
        });
    }

    /// The model file: the FlatBuffer with `metadata` in a buffer named `TFLITE_METADATA`, then the
    /// `packed` files as a ZIP archive, as the metadata populator writes them.
    fn finish(
        self,
        inputs: &[i32],
        outputs: &[i32],
        metadata: Option<Vec<u8>>,
        packed: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut b = FlatBufferBuilder::new();
        let mut buffers = vec![fb::Buffer::create(&mut b, &fb::BufferArgs::default())];
        let mut datas: Vec<&[u8]> = self.constants.iter().map(Vec::as_slice).collect();
        if let Some(m) = &metadata {
            datas.push(m);
        }
        for data in datas {
            let data = b.create_vector(data);
            buffers.push(fb::Buffer::create(
                &mut b,
                &fb::BufferArgs {
                    data: Some(data),
                    ..Default::default()
                },
            ));
        }
        let tensors: Vec<_> = self
            .tensors
            .iter()
            .map(|t| {
                let shape = b.create_vector(&t.shape);
                let name = b.create_string(t.name);
                let quantization = t.quant.map(|(s, z)| {
                    let scale = b.create_vector(&[s]);
                    let zero_point = b.create_vector(&[z]);
                    fb::QuantizationParameters::create(
                        &mut b,
                        &fb::QuantizationParametersArgs {
                            scale: Some(scale),
                            zero_point: Some(zero_point),
                            ..Default::default()
                        },
                    )
                });
                fb::Tensor::create(
                    &mut b,
                    &fb::TensorArgs {
                        shape: Some(shape),
                        type_: t.dtype,
                        buffer: t.buffer,
                        name: Some(name),
                        quantization,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut codes: Vec<fb::BuiltinOperator> = Vec::new();
        let mut ops = Vec::new();
        for op in &self.ops {
            let index = codes.iter().position(|c| *c == op.code).unwrap_or_else(|| {
                codes.push(op.code);
                codes.len() - 1
            });
            let (kind, options) = options(&mut b, &op.options);
            let inputs = b.create_vector(&op.inputs);
            let outputs = b.create_vector(&op.outputs);
            ops.push(fb::Operator::create(
                &mut b,
                &fb::OperatorArgs {
                    opcode_index: index as u32,
                    inputs: Some(inputs),
                    outputs: Some(outputs),
                    builtin_options_type: kind,
                    builtin_options: options,
                    ..Default::default()
                },
            ));
        }
        let codes: Vec<_> = codes
            .iter()
            .map(|code| {
                fb::OperatorCode::create(
                    &mut b,
                    &fb::OperatorCodeArgs {
                        deprecated_builtin_code: code.0.min(127) as i8,
                        builtin_code: *code,
                        version: 1,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let tensors = b.create_vector(&tensors);
        let ops = b.create_vector(&ops);
        let inputs = b.create_vector(inputs);
        let outputs = b.create_vector(outputs);
        let name = b.create_string("main");
        let subgraph = fb::SubGraph::create(
            &mut b,
            &fb::SubGraphArgs {
                tensors: Some(tensors),
                inputs: Some(inputs),
                outputs: Some(outputs),
                operators: Some(ops),
                name: Some(name),
                ..Default::default()
            },
        );
        let subgraphs = b.create_vector(&[subgraph]);
        let codes = b.create_vector(&codes);
        let buffer_count = buffers.len() as u32;
        let buffers = b.create_vector(&buffers);
        let metadata = metadata.map(|_| {
            let name = b.create_string("TFLITE_METADATA");
            let entry = fb::Metadata::create(
                &mut b,
                &fb::MetadataArgs {
                    name: Some(name),
                    buffer: buffer_count - 1,
                },
            );
            b.create_vector(&[entry])
        });
        let description = b.create_string("built by pocket-catalog's tests/it/app_models.rs");
        let model = fb::Model::create(
            &mut b,
            &fb::ModelArgs {
                version: 3,
                operator_codes: Some(codes),
                subgraphs: Some(subgraphs),
                description: Some(description),
                buffers: Some(buffers),
                metadata,
                ..Default::default()
            },
        );
        fb::finish_model_buffer(&mut b, model);
        let mut file = b.finished_data().to_vec();
        if !packed.is_empty() {
            file.extend(zip_of(packed));
        }
        file
    }
}

fn options(
    b: &mut FlatBufferBuilder<'static>,
    options: &Options,
) -> (
    fb::BuiltinOptions,
    Option<flatbuffers::WIPOffset<flatbuffers::UnionWIPOffset>>,
) {
    match options {
        Options::None => (fb::BuiltinOptions::NONE, None),
        Options::Reducer => {
            let o = fb::ReducerOptions::create(b, &fb::ReducerOptionsArgs { keep_dims: false });
            (fb::BuiltinOptions::ReducerOptions, Some(o.as_union_value()))
        }
        Options::FullyConnected => {
            let o = fb::FullyConnectedOptions::create(b, &fb::FullyConnectedOptionsArgs::default());
            (
                fb::BuiltinOptions::FullyConnectedOptions,
                Some(o.as_union_value()),
            )
        }
        Options::Softmax => {
            let o = fb::SoftmaxOptions::create(b, &fb::SoftmaxOptionsArgs { beta: 1.0 });
            (fb::BuiltinOptions::SoftmaxOptions, Some(o.as_union_value()))
        }
        Options::Conv2D => {
            let o = fb::Conv2DOptions::create(
                b,
                &fb::Conv2DOptionsArgs {
                    padding: fb::Padding::VALID,
                    stride_w: 1,
                    stride_h: 1,
                    dilation_w_factor: 1,
                    dilation_h_factor: 1,
                    ..Default::default()
                },
            );
            (fb::BuiltinOptions::Conv2DOptions, Some(o.as_union_value()))
        }
    }
}

/// The files, stored uncompressed in a ZIP archive.
fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, text) in files {
        zip.start_file(*name, stored).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// What a model's TFLite Model Metadata says: its name and version, the image input's normalization
/// (pixel units, per channel or one value), and the first output's name and label file.
pub struct Meta<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub output: &'a str,
    pub norm: Option<(&'a [f32], &'a [f32])>,
    pub labels: Option<&'a str>,
    pub min_parser_version: Option<&'a str>,
}

impl<'a> Meta<'a> {
    /// The metadata of a model built here: version 1, output `scores`, parser 1.0.0.
    fn built(name: &'a str, norm: Option<(&'a [f32], &'a [f32])>, labels: Option<&'a str>) -> Self {
        Meta {
            name,
            version: "1",
            output: "scores",
            norm,
            labels,
            min_parser_version: Some("1.0.0"),
        }
    }
}

/// The Model Metadata FlatBuffer `m` describes.
pub fn metadata(m: &Meta) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();
    let units = m.norm.map(|(mean, std)| {
        let mean = b.create_vector(mean);
        let std = b.create_vector(std);
        let norm = md::NormalizationOptions::create(
            &mut b,
            &md::NormalizationOptionsArgs {
                mean: Some(mean),
                std_: Some(std),
            },
        );
        let unit = md::ProcessUnit::create(
            &mut b,
            &md::ProcessUnitArgs {
                options_type: md::ProcessUnitOptions::NormalizationOptions,
                options: Some(norm.as_union_value()),
            },
        );
        b.create_vector(&[unit])
    });
    let image = md::ImageProperties::create(
        &mut b,
        &md::ImagePropertiesArgs {
            color_space: md::ColorSpaceType::RGB,
            default_size: None,
        },
    );
    let content = md::Content::create(
        &mut b,
        &md::ContentArgs {
            content_properties_type: md::ContentProperties::ImageProperties,
            content_properties: Some(image.as_union_value()),
            range: None,
        },
    );
    let in_name = b.create_string("image");
    let input = md::TensorMetadata::create(
        &mut b,
        &md::TensorMetadataArgs {
            name: Some(in_name),
            content: Some(content),
            process_units: units,
            ..Default::default()
        },
    );
    let files = m.labels.map(|file| {
        let file = b.create_string(file);
        let label = md::AssociatedFile::create(
            &mut b,
            &md::AssociatedFileArgs {
                name: Some(file),
                type_: md::AssociatedFileType::TENSOR_AXIS_LABELS,
                ..Default::default()
            },
        );
        b.create_vector(&[label])
    });
    let out_name = b.create_string(m.output);
    let output = md::TensorMetadata::create(
        &mut b,
        &md::TensorMetadataArgs {
            name: Some(out_name),
            associated_files: files,
            ..Default::default()
        },
    );
    let inputs = b.create_vector(&[input]);
    let outputs = b.create_vector(&[output]);
    let sub = md::SubGraphMetadata::create(
        &mut b,
        &md::SubGraphMetadataArgs {
            input_tensor_metadata: Some(inputs),
            output_tensor_metadata: Some(outputs),
            ..Default::default()
        },
    );
    let subs = b.create_vector(&[sub]);
    let name = b.create_string(m.name);
    let version = b.create_string(m.version);
    let license = b.create_string("Apache-2.0");
    let parser = m.min_parser_version.map(|v| b.create_string(v));
    let meta = md::ModelMetadata::create(
        &mut b,
        &md::ModelMetadataArgs {
            name: Some(name),
            version: Some(version),
            license: Some(license),
            subgraph_metadata: Some(subs),
            min_parser_version: parser,
            ..Default::default()
        },
    );
    md::finish_model_metadata_buffer(&mut b, meta);
    b.finished_data().to_vec()
}

/// `[1,64,64,3]` float32 → MEAN over the pixels → FULLY_CONNECTED → SOFTMAX → 4 scores: warm (red over
/// blue), cool (blue over red), flat (a constant) and bright (the sum of the channels). Its weights
/// assume inputs in [-1, 1] whatever its metadata says, so that the metadata, and only it, tells
/// what the model needs.
fn colour_classifier(norm: Option<(&[f32], &[f32])>, labels: &str) -> Vec<u8> {
    let mut g = Graph::default();
    let image = g.tensor("image", &[1, SIDE, SIDE, 3], fb::TensorType::FLOAT32);
    let axes = g.ints("axes", &[2], &[1, 2]);
    let mean = g.tensor("mean", &[1, 3], fb::TensorType::FLOAT32);
    g.op(
        fb::BuiltinOperator::MEAN,
        &[image, axes],
        &[mean],
        Options::Reducer,
    );
    #[rustfmt::skip]
    let weights = g.floats("weights", &[4, 3], &[
        8.0, 0.0, -8.0, // warm
        -8.0, 0.0, 8.0, // cool
        0.0, 0.0, 0.0, // flat
        3.0, 3.0, 3.0, // bright
    ]);
    let bias = g.floats("bias", &[4], &[0.0, 0.0, 1.0, -1.5]);
    let logits = g.tensor("logits", &[1, 4], fb::TensorType::FLOAT32);
    g.op(
        fb::BuiltinOperator::FULLY_CONNECTED,
        &[mean, weights, bias],
        &[logits],
        Options::FullyConnected,
    );
    let scores = g.tensor("scores", &[1, 4], fb::TensorType::FLOAT32);
    g.op(
        fb::BuiltinOperator::SOFTMAX,
        &[logits],
        &[scores],
        Options::Softmax,
    );
    let meta = metadata(&Meta::built("Colour classifier", norm, Some("labels.txt")));
    g.finish(&[image], &[scores], Some(meta), &[("labels.txt", labels)])
}

/// `[1,64,64,3]` float32 in [0, 1] → a 1×1 CONV_2D → SOFTMAX over 2 channels: background, and
/// foreground where the pixel is bright (r + g + b above 1.8 of 3).
fn bright_segmenter() -> Vec<u8> {
    let mut g = Graph::default();
    let image = g.tensor("image", &[1, SIDE, SIDE, 3], fb::TensorType::FLOAT32);
    #[rustfmt::skip]
    let filter = g.floats("filter", &[2, 1, 1, 3], &[
        0.0, 0.0, 0.0, // background
        4.0, 4.0, 4.0, // foreground
    ]);
    let bias = g.floats("bias", &[2], &[0.0, -7.2]);
    let logits = g.tensor("logits", &[1, SIDE, SIDE, 2], fb::TensorType::FLOAT32);
    g.op(
        fb::BuiltinOperator::CONV_2D,
        &[image, filter, bias],
        &[logits],
        Options::Conv2D,
    );
    let mask = g.tensor("mask", &[1, SIDE, SIDE, 2], fb::TensorType::FLOAT32);
    g.op(
        fb::BuiltinOperator::SOFTMAX,
        &[logits],
        &[mask],
        Options::Softmax,
    );
    let meta = metadata(&Meta::built(
        "Bright segmenter",
        Some((&[0.0], &[255.0])),
        None,
    ));
    g.finish(&[image], &[mask], Some(meta), &[])
}

/// `[1,32,32,3]` uint8 → MEAN → 3 uint8 scores (red, green, blue): a full-integer model, as the
/// converter makes them.
fn uint8_classifier() -> Vec<u8> {
    let mut g = Graph::default();
    let image = g.quantized("image", &[1, 32, 32, 3], 1.0 / 255.0);
    let axes = g.ints("axes", &[2], &[1, 2]);
    let scores = g.quantized("scores", &[1, 3], 1.0 / 255.0);
    g.op(
        fb::BuiltinOperator::MEAN,
        &[image, axes],
        &[scores],
        Options::Reducer,
    );
    let meta = metadata(&Meta::built("Channel classifier", None, Some("labels.txt")));
    g.finish(
        &[image],
        &[scores],
        Some(meta),
        &[("labels.txt", "red\ngreen\nblue\n")],
    )
}

/// `[1,32,32,3]` float32 → a 1×1 CONV_2D to one channel → LOGISTIC: a sigmoid mask.
fn one_channel_segmenter() -> Vec<u8> {
    let mut g = Graph::default();
    let image = g.tensor("image", &[1, 32, 32, 3], fb::TensorType::FLOAT32);
    let filter = g.floats("filter", &[1, 1, 1, 3], &[4.0, 4.0, 4.0]);
    let bias = g.floats("bias", &[1], &[-7.2]);
    let logits = g.tensor("logits", &[1, 32, 32, 1], fb::TensorType::FLOAT32);
    g.op(
        fb::BuiltinOperator::CONV_2D,
        &[image, filter, bias],
        &[logits],
        Options::Conv2D,
    );
    let mask = g.tensor("mask", &[1, 32, 32, 1], fb::TensorType::FLOAT32);
    g.op(
        fb::BuiltinOperator::LOGISTIC,
        &[logits],
        &[mask],
        Options::None,
    );
    let meta = metadata(&Meta::built("Sigmoid mask", Some((&[0.0], &[255.0])), None));
    g.finish(&[image], &[mask], Some(meta), &[])
}

/// Writes every built model into `dir`; returns their paths with the models.
pub fn write_all(dir: &std::path::Path) -> Vec<(std::path::PathBuf, AppModel)> {
    all()
        .into_iter()
        .map(|m| {
            let path = dir.join(m.name);
            std::fs::write(&path, &m.bytes).unwrap();
            (path, m)
        })
        .collect()
}

/// The simulator carries these models as its own (`src/hubsim/models/`, `hubsim::OWN_MODELS`): the
/// committed files are exactly what this module builds, under the same names and tasks. After a change
/// here, `POCKET_WRITE_SIM_MODELS=1 cargo test --test it simulators_own_models` writes them again.
#[test]
fn the_simulators_own_models_are_the_ones_built_here() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/hubsim/models");
    let write = std::env::var_os("POCKET_WRITE_SIM_MODELS").is_some();
    let built = all();
    for m in &built {
        let path = dir.join(m.name);
        if write {
            std::fs::write(&path, &m.bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == m.bytes,
            "{} differs from what app_models.rs builds: run POCKET_WRITE_SIM_MODELS=1 cargo test \
             --test it simulators_own_models",
            path.display()
        );
    }
    let own: Vec<(&str, &str, &[u8])> = pocket_catalog::hubsim::OWN_MODELS
        .iter()
        .map(|m| (m.name, m.task, m.bytes))
        .collect();
    let built: Vec<(&str, &str, &[u8])> = built
        .iter()
        .map(|m| (m.name, m.task, &m.bytes[..]))
        .collect();
    assert_eq!(own, built, "hubsim::OWN_MODELS lists the built models");
}
