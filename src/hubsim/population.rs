//! The simulator's repos: a deterministic, realistic population generated from a seed (or read from a
//! JSON-lines file), and the deterministic mutation steps that update, remove, rename, privatise, add and
//! restore repos so tests can run incremental syncs and know exactly what changed.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha1::Digest as _;
use std::collections::{BTreeMap, HashSet};

mod world;
pub use world::{MutationReport, World};

/// A small, stable PRNG (splitmix64): the same seed gives the same population on every platform and
/// every version of every crate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    /// True with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(len);
        s
    }
}

/// One file of a repo. LFS files carry their sha256; every file has a git blob id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimFile {
    pub path: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lfs_sha256: Option<String>,
    pub blob_id: String,
}

impl SimFile {
    pub const POINTER_SIZE: i64 = 134;
}

/// One repo as the simulator serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimRepo {
    #[serde(rename = "_id")]
    pub object_id: String,
    pub id: String,
    pub sha: String,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "lastModified")]
    pub last_modified: DateTime<Utc>,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub disabled: bool,
    /// `auto` or `manual`; absent when not gated.
    #[serde(default)]
    pub gated: Option<String>,
    #[serde(default)]
    pub downloads: i64,
    #[serde(default)]
    pub likes: i64,
    #[serde(default, rename = "trendingScore")]
    pub trending_score: i64,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub pipeline_tag: Option<String>,
    #[serde(default)]
    pub library_name: Option<String>,
    #[serde(default, rename = "cardData")]
    pub card_data: Option<Value>,
    #[serde(default)]
    pub files: Vec<SimFile>,
    #[serde(default)]
    pub readme: String,
}

impl SimRepo {
    pub fn author(&self) -> &str {
        self.id.split_once('/').map_or(self.id.as_str(), |(o, _)| o)
    }

    /// Whether the sync's discovery should find this repo: listed (public) and carrying a LiteRT tag.
    pub fn is_litert(&self) -> bool {
        self.tags
            .iter()
            .any(|t| t == "litert" || t == "litert-lm" || t == "tflite")
    }

    pub fn used_storage(&self) -> i64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The content of a small (non-LFS) file, regenerated on demand; `None` for LFS files.
    pub fn content(&self, path: &str) -> Option<Vec<u8>> {
        let file = self.files.iter().find(|f| f.path == path)?;
        if file.lfs_sha256.is_some() {
            return None;
        }
        Some(small_file_content(&self.id, &self.readme, path))
    }
}

/// Deterministic content of a small file: README from the repo, anything else derived from its path.
fn small_file_content(repo_id: &str, readme: &str, path: &str) -> Vec<u8> {
    match path {
        "README.md" => readme.as_bytes().to_vec(),
        ".gitattributes" => b"*.tflite filter=lfs diff=lfs merge=lfs -text\n*.litertlm filter=lfs diff=lfs merge=lfs -text\n*.task filter=lfs diff=lfs merge=lfs -text\n".to_vec(),
        "labels.txt" => (0..20).map(|i| format!("label_{i}\n")).collect::<String>().into_bytes(),
        "config.json" => format!("{{\"repo\": \"{repo_id}\", \"format\": \"litert\"}}\n").into_bytes(),
        other => format!("{other} of {repo_id}\n").into_bytes(),
    }
}

/// The git blob id (`sha1("blob {len}\0{content}")`) of some content.
pub fn git_blob_id(content: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

/// Families of on-device models: the base name, the task, and the bundle kind.
const ARCHS: &[(&str, &str, &str)] = &[
    ("mobilenet_v2", "image-classification", "tflite"),
    ("MobileNet-V3-Small", "image-classification", "tflite"),
    ("efficientnet-lite0", "image-classification", "tflite"),
    ("resnet50", "image-classification", "tflite"),
    ("yolov8n", "object-detection", "tflite"),
    ("ssd_mobilenet_v1", "object-detection", "tflite"),
    ("deeplabv3", "image-segmentation", "tflite"),
    ("whisper-tiny", "automatic-speech-recognition", "tflite"),
    ("yamnet", "audio-classification", "tflite"),
    ("movenet-lightning", "keypoint-detection", "tflite"),
    ("midas-small", "depth-estimation", "tflite"),
    ("mobilebert", "question-answering", "tflite"),
    ("Gemma3-1B-IT", "text-generation", "litertlm"),
    ("Qwen2.5-1.5B-Instruct", "text-generation", "litertlm"),
    ("phi-4-mini", "text-generation", "task"),
    ("SmolLM-135M", "text-generation", "task"),
    ("esrgan", "image-to-image", "tflite"),
    ("blazeface", "object-detection", "tflite"),
];

const AUTHORS: &[&str] = &[
    "litert-community",
    "google",
    "qualcomm",
    "mediapipe",
    "on-device-ai",
    "Edge-Lab",
];

const LICENCES: &[&str] = &[
    "apache-2.0",
    "apache-2.0",
    "apache-2.0",
    "apache-2.0",
    "mit",
    "mit",
    "gemma",
    "cc-by-4.0",
    "llama3.2",
    "other",
    "bsd-3-clause",
    "openrail",
    "cc-by-nc-4.0",
    "agpl-3.0",
    "",
    "",
    "",
    "LIST",
];

const DESCRIPTIONS: &[&str] = &[
    "A compact model for phones, quantised to int8.",
    "Modèle léger pour la détection d'objets sur l'appareil — rapide et précis.",
    "端侧图像分类模型，适用于移动设备。",
    "Runs fully offline with LiteRT; ✓ GPU delegate ✓ NNAPI.",
];

/// The options of a generated population.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PopulationSpec {
    pub litert: usize,
    pub other: usize,
    pub seed: u64,
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// A generator of repos; mutation steps keep using it so new repos stay unique.
#[derive(Debug)]
pub struct Generator {
    seed: u64,
    next_index: u64,
    used_ids: HashSet<String>,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            seed,
            next_index: 0,
            used_ids: HashSet::new(),
        }
    }

    pub fn reserve(&mut self, id: &str) {
        self.used_ids.insert(id.to_ascii_lowercase());
    }

    fn unique(&mut self, owner: &str, name: &str, index: u64) -> String {
        let mut id = format!("{owner}/{name}");
        if self.used_ids.contains(&id.to_ascii_lowercase()) {
            id = format!("{owner}/{name}-{index}");
        }
        self.reserve(&id);
        id
    }

    /// A LiteRT repo. Every 37th is a case/separator variant of a name that slugifies alike, every 53rd
    /// splits its owner so that `a-b/c` meets `a/b-c`, every 41st has a name only older Hub rules allowed
    /// ([`AWKWARD_NAMES`]: non-ASCII letters, spaces, `#`, `%`, `+`, `?`, `--`), and so do its files.
    pub fn litert_repo(&mut self, created_offset_days: i64) -> SimRepo {
        let index = self.next_index;
        self.next_index += 1;
        let mut rng = Rng::new(self.seed.wrapping_mul(1_000_003).wrapping_add(index));
        let &(arch, task, kind) = rng.pick(ARCHS);
        let author = if rng.chance(250) {
            format!("user{}", rng.below(400))
        } else {
            rng.pick(AUTHORS).to_string()
        };
        let variant = *rng.pick(&["", "-int8", "-fp16", "_quant", "-v2", "-edge"]);
        let mut name = format!("{arch}{variant}");
        let mut owner = author.clone();
        if index % 41 == 40 {
            let pattern = AWKWARD_NAMES[(index / 41) as usize % AWKWARD_NAMES.len()];
            name = pattern.replace("{}", &name);
            if pattern.contains("--") {
                owner = format!("{owner}--legacy");
            }
        } else if index % 37 == 36 {
            name = name.to_uppercase().replace('-', "_");
        } else if index % 53 == 52 {
            if let Some((first, rest)) = name.split_once(['-', '_']) {
                owner = format!("{owner}-{first}");
                name = rest.to_string();
            }
        }
        let id = self.unique(&owner, &name, index);
        let created_at = base_time()
            + Duration::days(created_offset_days)
            + Duration::seconds(rng.below(86_400 * 900) as i64);
        let llm = kind != "tflite";
        let library = if llm {
            if rng.chance(800) {
                Some("litert-lm")
            } else {
                Some("litert")
            }
        } else if rng.chance(700) {
            Some("litert")
        } else {
            *rng.pick(&[Some("transformers"), Some("tf-keras"), None])
        };
        let licence = *rng.pick(LICENCES);
        let licences: Vec<&str> = match licence {
            "" => vec![],
            "LIST" => vec!["apache-2.0", "mit"],
            l => vec![l],
        };
        let mut files = vec![small_file(&id, "", ".gitattributes")];
        let stem = name.to_ascii_lowercase().replace('-', "_");
        let no_model_file = rng.chance(20);
        if !no_model_file {
            files.extend(model_files(&mut rng, kind, &stem));
        }
        if task.contains("classification") || task == "object-detection" {
            files.push(small_file(&id, "", "labels.txt"));
        }
        if task == "question-answering" {
            files.push(small_file(&id, "", "vocab.txt"));
        }
        if llm {
            files.push(lfs_file(&mut rng, "tokenizer.model", 500_000, 5_000_000));
        }
        if rng.chance(500) {
            files.push(small_file(&id, "", "config.json"));
        }
        let summary = rng.chance(200).then(|| rng.pick(DESCRIPTIONS).to_string());
        let readme_para = if rng.chance(100) {
            // A long, unicode-heavy first paragraph.
            "Ünïcødé ✓ 模型 ".repeat(300)
        } else {
            format!("{arch} converted to LiteRT for on-device {task}.")
        };
        let mut readme = String::from("---\n");
        if let Some(l) = licences.first() {
            readme.push_str(&format!("license: {l}\n"));
        }
        readme.push_str(&format!("pipeline_tag: {task}\n---\n\n# {name}\n\n{readme_para}\n\n## Usage\n\nLoad it with LiteRT.\n"));
        files.insert(1, small_file(&id, &readme, "README.md"));

        let tags = repo_tags(library, &files, llm, task, &licences);

        let card_data = card_data(&mut rng, &licences, summary, task);
        let gated = if rng.chance(40) {
            Some("auto".to_string())
        } else if rng.chance(10) {
            Some("manual".to_string())
        } else {
            None
        };
        let downloads = (rng.below(1000) * rng.below(1000)) as i64 / (1 + rng.below(50) as i64);
        SimRepo {
            object_id: object_id(created_at, &mut rng),
            id,
            sha: rng.hex(40),
            created_at,
            last_modified: created_at + Duration::seconds(rng.below(86_400 * 60) as i64),
            private: rng.chance(10),
            disabled: rng.chance(5),
            gated,
            downloads,
            likes: (rng.below(100) * rng.below(10)) as i64,
            trending_score: rng.below(100) as i64,
            tags,
            pipeline_tag: (!rng.chance(50)).then(|| task.to_string()),
            library_name: library.map(str::to_string),
            card_data,
            files,
            readme,
        }
    }

    /// A repo of another framework that the LiteRT discovery must not pick up.
    pub fn other_repo(&mut self) -> SimRepo {
        let index = self.next_index;
        self.next_index += 1;
        let mut rng = Rng::new(self.seed.wrapping_mul(7_000_003).wrapping_add(index));
        let (library, ext) = *rng.pick(&[
            ("transformers", "safetensors"),
            ("gguf", "gguf"),
            ("diffusers", "safetensors"),
            ("onnx", "onnx"),
        ]);
        let owner = format!("org{}", rng.below(300));
        let id = self.unique(&owner, &format!("model-{index}"), index);
        let created_at = base_time() + Duration::seconds(rng.below(86_400 * 1000) as i64);
        SimRepo {
            object_id: object_id(created_at, &mut rng),
            sha: rng.hex(40),
            created_at,
            last_modified: created_at,
            private: false,
            disabled: false,
            gated: None,
            downloads: rng.below(100_000) as i64,
            likes: rng.below(100) as i64,
            trending_score: rng.below(100) as i64,
            tags: vec![
                library.into(),
                "text-generation".into(),
                "license:mit".into(),
                "region:us".into(),
            ],
            pipeline_tag: Some("text-generation".into()),
            library_name: Some(library.into()),
            card_data: Some(json!({"license": "mit"})),
            files: vec![
                small_file(&id, "", ".gitattributes"),
                lfs_file(&mut rng, &format!("model.{ext}"), 1_000_000, 900_000_000),
            ],
            readme: String::new(),
            id,
        }
    }
}

fn object_id(created_at: DateTime<Utc>, rng: &mut Rng) -> String {
    format!("{:08x}{}", created_at.timestamp() as u32, rng.hex(16))
}

/// The model files of a repo of `kind` (`tflite`, `litertlm`, `task`) named after `stem`.
fn model_files(rng: &mut Rng, kind: &str, stem: &str) -> Vec<SimFile> {
    let mut out = Vec::new();
    match kind {
        "tflite" => {
            out.push(lfs_file(
                rng,
                &format!("{stem}.tflite"),
                1_000_000,
                50_000_000,
            ));
            if rng.chance(400) {
                out.push(lfs_file(
                    rng,
                    &format!("{stem}_int8.tflite"),
                    500_000,
                    20_000_000,
                ));
            }
            if rng.chance(200) {
                out.push(lfs_file(
                    rng,
                    &format!("{stem}_edgetpu.tflite"),
                    500_000,
                    20_000_000,
                ));
            }
        }
        "litertlm" => {
            out.push(lfs_file(
                rng,
                &format!("{stem}.litertlm"),
                300_000_000,
                4_000_000_000,
            ));
            if rng.chance(300) {
                out.push(lfs_file(
                    rng,
                    &format!("{stem}_Google_Tensor_G5.litertlm"),
                    300_000_000,
                    4_000_000_000,
                ));
            }
        }
        _ => out.push(lfs_file(
            rng,
            &format!("{stem}.task"),
            100_000_000,
            2_000_000_000,
        )),
    }
    out
}

/// The tags the Hub shows for a repo with these files and library.
fn repo_tags(
    library: Option<&str>,
    files: &[SimFile],
    llm: bool,
    task: &str,
    licences: &[&str],
) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    if let Some(l) = library {
        tags.push(l.to_string());
    }
    if files.iter().any(|f| f.path.ends_with(".tflite")) || (library == Some("litert") && !llm) {
        tags.push("tflite".into());
    }
    if library.is_none() && !tags.iter().any(|t| t == "tflite") {
        tags.push("tflite".into());
    }
    tags.push(task.to_string());
    for l in licences {
        tags.push(format!("license:{l}"));
    }
    tags.push("region:us".into());
    tags
}

/// A repo's card data: its licence(s), a summary or description, its pipeline tag — or none at all.
fn card_data(
    rng: &mut Rng,
    licences: &[&str],
    summary: Option<String>,
    task: &str,
) -> Option<Value> {
    if licences.is_empty() && summary.is_none() && rng.chance(500) {
        None
    } else {
        let mut card = serde_json::Map::new();
        match licences.len() {
            0 => {}
            1 => {
                card.insert("license".into(), json!(licences[0]));
            }
            _ => {
                card.insert("license".into(), json!(licences));
            }
        }
        if let Some(s) = summary {
            card.insert(
                if rng.chance(500) {
                    "summary"
                } else {
                    "description"
                }
                .into(),
                json!(s),
            );
        }
        card.insert("pipeline_tag".into(), json!(task));
        Some(Value::Object(card))
    }
}

fn lfs_file(rng: &mut Rng, path: &str, min: u64, max: u64) -> SimFile {
    SimFile {
        path: path.to_string(),
        size: (min + rng.below(max - min)) as i64,
        lfs_sha256: Some(rng.hex(64)),
        blob_id: rng.hex(40),
    }
}

fn small_file(repo_id: &str, readme: &str, path: &str) -> SimFile {
    let content = small_file_content(repo_id, readme, path);
    SimFile {
        path: path.to_string(),
        size: content.len() as i64,
        lfs_sha256: None,
        blob_id: git_blob_id(&content),
    }
}

/// Generates the population of `spec`: LiteRT repos first, then the others.
/// Names the Hub lists although its current rules refuse them (`{}` is the ordinary name).
pub const AWKWARD_NAMES: &[&str] = &[
    "{}-é",
    "{} #2",
    "{}-100%",
    "{}+q",
    "{}?v=1",
    "модель-{}",
    "{}--v1",
    "{} (copy)",
];

pub fn generate(spec: PopulationSpec) -> (Vec<SimRepo>, Generator) {
    let mut generator = Generator::new(spec.seed);
    let mut repos = Vec::with_capacity(spec.litert + spec.other);
    for _ in 0..spec.litert {
        repos.push(generator.litert_repo(0));
    }
    for _ in 0..spec.other {
        repos.push(generator.other_repo());
    }
    (repos, generator)
}

/// Reads repos from JSON lines (one `SimRepo` per line; blank lines ignored).
pub fn read_jsonl(text: &str) -> Result<Vec<SimRepo>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests;
