//! From the Hub's wire types to what the catalog stores: name, licence, description, task, tags, dates
//! and counters of one repo. Pure functions, unit-tested on real and simulated payloads.

use crate::domain::{LicenseType, RepoId};
use crate::hub::HubModel;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The page of repo `repo_id` on the Hub, each segment percent-encoded.
pub fn repo_url(repo_id: &str) -> String {
    let mut url = url::Url::parse(crate::hub::DEFAULT_ENDPOINT).expect("static URL");
    url.path_segments_mut()
        .expect("a base URL")
        .pop_if_empty()
        .extend(repo_id.split('/'));
    url.to_string()
}

/// The repo id of a Hub page URL made by [`repo_url`] (`https://huggingface.co/owner/name`).
pub use crate::domain::client_card::repo_of_url;

/// The longest description taken from a card or a README.
pub const MAX_DESCRIPTION: usize = 2000;

/// What the catalog mirrors of one Hub repo.
#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    pub object_id: String,
    pub repo_id: RepoId,
    pub name: String,
    /// From the model card (`summary` or `description`), when the author wrote one.
    pub card_description: Option<String>,
    pub license_type: LicenseType,
    pub task: Option<String>,
    /// No `pipeline_tag` upstream: the task was inferred by [`infer_task`].
    pub task_inferred: bool,
    pub tags: Vec<String>,
    pub sha: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub downloads: i64,
    pub likes: i64,
    pub gated: Option<String>,
    pub library_name: Option<String>,
    /// File names from the listing's siblings, when requested.
    pub files: Option<Vec<String>>,
}

impl Mirror {
    /// The repo's page on the Hub, each segment of the id percent-encoded.
    pub fn origin_url(&self) -> String {
        repo_url(self.repo_id.as_str())
    }

    pub fn author(&self) -> &str {
        self.repo_id.owner().unwrap_or("")
    }

    /// A fingerprint of every field the sync writes from this entry (all but `files`, which feed
    /// versions): equal digests mean an unchanged model, so a re-sync compares one stored number
    /// instead of reading the whole model. The first 8 bytes of a SHA-256 over a length-prefixed
    /// encoding; the leading tag changes whenever the field set does, so old digests stop matching.
    pub fn digest(&self) -> i64 {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut text = |s: Option<&str>| match s {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        };
        text(Some("mirror-digest-v1"));
        text(Some(&self.object_id));
        text(Some(self.repo_id.as_str()));
        text(Some(&self.name));
        text(self.card_description.as_deref());
        text(Some(self.license_type.as_str()));
        text(self.task.as_deref());
        text(Some(if self.task_inferred {
            "inferred"
        } else {
            "listed"
        }));
        text(Some(&self.tags.len().to_string()));
        for tag in &self.tags {
            text(Some(tag));
        }
        text(self.sha.as_deref());
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros().to_string());
        text(time(self.last_modified).as_deref());
        text(time(self.created_at).as_deref());
        text(Some(&self.downloads.to_string()));
        text(Some(&self.likes.to_string()));
        text(self.gated.as_deref());
        text(self.library_name.as_deref());
        let bytes = h.finalize();
        i64::from_le_bytes(bytes[..8].try_into().expect("a SHA-256 has 32 bytes"))
    }
}

/// The text used when neither the card nor the README describes a model (the seed's fallback).
pub fn fallback_description(repo_id: &str) -> String {
    format!("LiteRT model from HuggingFace: {repo_id}")
}

/// Maps a listing entry; a record that cannot be mirrored is an error with the reason.
pub fn map_model(m: &HubModel) -> Result<Mirror, String> {
    let object_id = m
        .object_id
        .clone()
        .filter(|o| crate::hub::wire::is_object_id(o))
        .ok_or_else(|| "no valid _id".to_string())?;
    let repo_id: RepoId = m.id.parse().map_err(|e: crate::domain::InvalidValue| e.0)?;
    if m.private == Some(true) {
        return Err("repo is private".into());
    }
    // Text from the Hub may hold NUL and other control characters: dropped, never a failed write.
    let text = |s: &str| crate::domain::text::clean(s).into_owned();
    let opt = |s: &Option<String>| s.as_deref().map(text);
    let given = opt(&m.pipeline_tag).filter(|t| !t.trim().is_empty());
    let task_inferred = given.is_none();
    let task = given.unwrap_or_else(|| infer_task(repo_id.as_str(), &m.tags));
    Ok(Mirror {
        name: repo_id.name().to_string(),
        card_description: card_description(m.card_data.as_ref()).map(|d| text(&d)),
        license_type: license(m.card_data.as_ref(), &m.tags),
        task: Some(task.clone()),
        task_inferred,
        tags: m
            .tags
            .iter()
            .map(|t| text(t))
            .filter(|t| !crate::domain::text::is_blank(t))
            .collect(),
        sha: opt(&m.sha),
        last_modified: m.last_modified,
        created_at: m.created_at,
        downloads: m.downloads.unwrap_or(0).max(0),
        likes: m.likes.unwrap_or(0).max(0),
        gated: opt(&m.gated),
        library_name: opt(&m.library_name),
        files: m
            .siblings
            .as_ref()
            .map(|s| s.iter().map(|f| text(&f.rfilename)).collect()),
        object_id,
        repo_id,
    })
}

/// Task tags of the Hub that may stand in a repo's tags.
const TASK_TAGS: &[&str] = &[
    "image-classification",
    "object-detection",
    "image-segmentation",
    "automatic-speech-recognition",
    "text-generation",
    "text2text-generation",
    "text-classification",
    "question-answering",
    "audio-classification",
    "depth-estimation",
    "keypoint-detection",
    "image-to-image",
    "feature-extraction",
    "text-to-speech",
    "translation",
    "summarization",
    "fill-mask",
    "token-classification",
    "image-to-text",
    "zero-shot-image-classification",
    "sentence-similarity",
    "text-to-image",
    "image-feature-extraction",
];

/// Well-known architecture names, most specific first (`ssd_mobilenet` is a detector, `deeplab_mobilenet`
/// a segmenter, before `mobilenet` is a classifier).
const NAME_RULES: &[(&[&str], &str)] = &[
    (&["whisper"], "automatic-speech-recognition"),
    (
        &[
            "yolo",
            "ssd",
            "detr",
            "efficientdet",
            "blazeface",
            "rtmdet",
            "face_detect",
            "face-detect",
        ],
        "object-detection",
    ),
    (
        &["deeplab", "segformer", "unet", "segment"],
        "image-segmentation",
    ),
    (
        &["movenet", "posenet", "pose", "landmark"],
        "keypoint-detection",
    ),
    (&["midas", "depth"], "depth-estimation"),
    (&["yamnet", "audio"], "audio-classification"),
    (
        &["esrgan", "super-resolution", "superres"],
        "image-to-image",
    ),
    (
        &[
            "mobilenet",
            "efficientnet",
            "resnet",
            "inception",
            "vit",
            "convnext",
            "squeezenet",
            "mnasnet",
        ],
        "image-classification",
    ),
    (
        &[
            "gemma",
            "llama",
            "qwen",
            "phi-",
            "phi_",
            "smollm",
            "mistral",
            "deepseek",
            "tinyllama",
        ],
        "text-generation",
    ),
    (&["bert", "electra"], "text-classification"),
];

/// The task of a repo without `pipeline_tag`, in tiers: a task tag, else a well-known architecture in the
/// repo id, else `unknown`.
pub fn infer_task(repo_id: &str, tags: &[String]) -> String {
    if let Some(tag) = tags.iter().find(|t| TASK_TAGS.contains(&t.as_str())) {
        return tag.clone();
    }
    let id = repo_id.to_ascii_lowercase();
    NAME_RULES
        .iter()
        .find(|(names, _)| names.iter().any(|n| id.contains(n)))
        .map_or_else(|| "unknown".to_string(), |(_, task)| task.to_string())
}

/// The card's `summary`, else its `description`, when it is a non-empty string.
pub fn card_description(card: Option<&Value>) -> Option<String> {
    let card = card?;
    ["summary", "description"].iter().find_map(|k| {
        card.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| truncate(s, MAX_DESCRIPTION))
    })
}

/// The licence from the card (`license`, a string or a list), else from `license:` tags.
pub fn license(card: Option<&Value>, tags: &[String]) -> LicenseType {
    let from_card = match card.and_then(|c| c.get("license")) {
        Some(Value::String(s)) => LicenseType::from_candidates([s.as_str()]),
        Some(Value::Array(items)) => {
            LicenseType::from_candidates(items.iter().filter_map(Value::as_str))
        }
        _ => LicenseType::Unknown,
    };
    if from_card != LicenseType::Unknown {
        return from_card;
    }
    LicenseType::from_candidates(tags.iter().filter_map(|t| t.strip_prefix("license:")))
}

/// The first paragraph of prose in a README: after the YAML front matter, skipping headings, badges,
/// HTML, tables, code and link-only lines.
pub fn readme_first_paragraph(readme: &str) -> Option<String> {
    let readme = crate::domain::text::clean(readme);
    let readme: &str = &readme;
    let mut text = readme.trim_start_matches('\u{feff}');
    if let Some(rest) = text.strip_prefix("---") {
        if let Some(end) = rest.find("\n---") {
            text = &rest[end + 4..];
        }
    }
    let mut paragraph: Vec<&str> = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("```") || l.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let noise = l.starts_with('#')
            || l.starts_with('<')
            || l.starts_with('|')
            || l.starts_with("![")
            || l.starts_with("[![")
            || l.starts_with('>')
            || l.starts_with("---")
            || (l.starts_with('[') && l.ends_with(')'));
        if l.is_empty() || noise {
            if !paragraph.is_empty() {
                break;
            }
            continue;
        }
        paragraph.push(l);
    }
    let joined = paragraph.join(" ");
    let joined = joined.trim();
    (!joined.is_empty()).then(|| truncate(joined, MAX_DESCRIPTION))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_urls_round_trip_with_awkward_names() {
        for id in ["google/mobilenet", "ü ber/mo dèl#1+x", "a/b%20c"] {
            let url = repo_url(id);
            assert!(url.starts_with("https://huggingface.co/"), "{url}");
            assert_eq!(repo_of_url(&url).as_deref(), Some(id), "{url}");
        }
        assert_eq!(repo_of_url("https://example.com/a/b"), None);
        assert_eq!(repo_of_url("https://huggingface.co/a/b/c"), None);
    }

    fn hub(json: Value) -> HubModel {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn maps_the_fields_the_original_lost() {
        let m = hub(serde_json::json!({
            "_id": "6909b87b734dd24dd19da3ef", "id": "litert-community/Gemma3-1B-IT",
            "cardData": {"license": ["gemma", "apache-2.0"], "summary": "  On-device Gemma.  "},
            "tags": ["litert-lm", "license:gemma"], "pipeline_tag": "text-generation",
            "sha": "abc", "downloads": 12, "likes": 3, "gated": "auto",
            "lastModified": "2026-08-31T13:49:04.000Z", "createdAt": "2026-02-25T23:13:08.000Z"
        }));
        let mirror = map_model(&m).unwrap();
        assert_eq!(mirror.name, "Gemma3-1B-IT");
        assert_eq!(mirror.license_type, LicenseType::Apache2);
        assert_eq!(mirror.card_description.as_deref(), Some("On-device Gemma."));
        assert_eq!(mirror.task.as_deref(), Some("text-generation"));
        assert_eq!(mirror.gated.as_deref(), Some("auto"));
        assert_eq!(
            mirror.origin_url(),
            "https://huggingface.co/litert-community/Gemma3-1B-IT"
        );
        assert_eq!(mirror.author(), "litert-community");
    }

    #[test]
    fn ids_from_older_hub_rules_are_mapped_with_encoded_urls() {
        let m = hub(serde_json::json!({
            "_id": "64b7f0c2a1b2c3d4e5f60718", "id": "old--user/selfie segmenter #é",
            "sha": "abc", "tags": ["litert"]
        }));
        let mirror = map_model(&m).unwrap();
        assert_eq!(mirror.repo_id.as_str(), "old--user/selfie segmenter #é");
        assert_eq!(
            mirror.origin_url(),
            "https://huggingface.co/old--user/selfie%20segmenter%20%23%C3%A9"
        );
        let unsafe_id = hub(serde_json::json!({"_id": "64b7f0c2a1b2c3d4e5f60719", "id": "a/../b"}));
        let err = map_model(&unsafe_id).unwrap_err();
        assert!(err.contains("more than one '/'"), "{err}");
    }

    #[test]
    fn the_digest_changes_with_every_synced_field_and_only_with_them() {
        let base = map_model(&hub(serde_json::json!({
            "_id": "6909b87b734dd24dd19da3ef", "id": "o/a", "sha": "abc", "downloads": 1,
            "likes": 2, "gated": false, "library_name": "litert", "tags": ["litert", "x"],
            "pipeline_tag": "image-classification",
            "lastModified": "2026-08-31T13:49:04.000Z", "createdAt": "2026-02-25T23:13:08.000Z"
        })))
        .unwrap();
        let d = base.digest();
        assert_eq!(d, base.clone().digest(), "stable");
        type Change = (&'static str, fn(&mut Mirror));
        let changes: [Change; 16] = [
            ("object id", |m| {
                m.object_id = "6909b87b734dd24dd19da3e0".into()
            }),
            ("repo id", |m| m.repo_id = "o/b".parse().unwrap()),
            ("name", |m| m.name = "b".into()),
            ("card", |m| m.card_description = Some(String::new())),
            ("licence", |m| m.license_type = LicenseType::Mit),
            ("task", |m| m.task = None),
            ("inferred", |m| m.task_inferred = true),
            ("tag order", |m| m.tags.reverse()),
            ("tags split", |m| m.tags = vec!["litertx".into()]),
            ("sha", |m| m.sha = None),
            ("modified", |m| {
                m.last_modified = "2026-08-31T13:49:04.001Z".parse().ok()
            }),
            ("created", |m| m.created_at = None),
            ("downloads", |m| m.downloads += 1),
            ("likes", |m| m.likes -= 1),
            ("gated", |m| m.gated = Some("auto".into())),
            ("library", |m| m.library_name = None),
        ];
        for (what, change) in changes {
            let mut m = base.clone();
            change(&mut m);
            assert_ne!(m.digest(), d, "{what} must change the digest");
        }
        let mut files = base.clone();
        files.files = Some(vec!["model.tflite".into()]);
        assert_eq!(files.digest(), d, "files feed versions, not the model row");
    }

    #[test]
    fn tasks_are_inferred_in_tiers() {
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "o/anything",
                &["litert", "image-segmentation"],
                "image-segmentation",
            ),
            (
                "openai/whisper-tiny-litert",
                &["litert"],
                "automatic-speech-recognition",
            ),
            ("o/yolov8n", &[], "object-detection"),
            ("o/ssd_mobilenet_v1", &[], "object-detection"),
            ("o/deeplabv3_mobilenet", &[], "image-segmentation"),
            ("o/MobileNet-V3-Small", &[], "image-classification"),
            ("o/efficientnet-lite0", &[], "image-classification"),
            ("o/resnet50", &[], "image-classification"),
            ("google/gemma3-1b-it-litert-lm", &[], "text-generation"),
            ("o/movenet-lightning", &[], "keypoint-detection"),
            ("o/midas-small", &[], "depth-estimation"),
            ("o/yamnet", &[], "audio-classification"),
            ("o/mystery-model", &["litert"], "unknown"),
        ];
        for (id, tags, task) in cases {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            assert_eq!(infer_task(id, &tags), *task, "{id}");
        }
        let m = hub(
            serde_json::json!({"_id": "6909b87b734dd24dd19da3ef", "id": "o/yolov8n", "pipeline_tag": "image-classification"}),
        );
        let mirror = map_model(&m).unwrap();
        assert_eq!(
            (mirror.task.as_deref(), mirror.task_inferred),
            (Some("image-classification"), false)
        );
        let m = hub(serde_json::json!({"_id": "6909b87b734dd24dd19da3ef", "id": "o/yolov8n"}));
        let mirror = map_model(&m).unwrap();
        assert_eq!(
            (mirror.task.as_deref(), mirror.task_inferred),
            (Some("object-detection"), true)
        );
    }

    #[test]
    fn licence_falls_back_to_tags_then_unknown() {
        assert_eq!(license(None, &["license:mit".into()]), LicenseType::Mit);
        assert_eq!(
            license(Some(&serde_json::json!({"license": "gemma"})), &[]),
            LicenseType::Other
        );
        assert_eq!(
            license(Some(&serde_json::json!({})), &["license:llama3".into()]),
            LicenseType::Llama3
        );
        assert_eq!(license(None, &["tflite".into()]), LicenseType::Unknown);
    }

    #[test]
    fn records_without_id_or_with_a_bad_one_are_refused() {
        assert!(map_model(&hub(serde_json::json!({"id": "a/b"}))).is_err());
        assert!(map_model(&hub(
            serde_json::json!({"_id": "6909b87b734dd24dd19da3ef", "id": "a/b/c"})
        ))
        .is_err());
        assert!(map_model(&hub(
            serde_json::json!({"_id": "6909b87b734dd24dd19da3ef", "id": "a/b", "private": true})
        ))
        .is_err());
    }

    #[test]
    fn readme_paragraphs_skip_front_matter_and_noise() {
        let readme = "---\nlicense: mit\n---\n\n# Title\n\n[![badge](x)](y)\n<img src=x>\n\nFirst line\nsecond line.\n\nNext paragraph.";
        assert_eq!(
            readme_first_paragraph(readme).as_deref(),
            Some("First line second line.")
        );
        assert_eq!(
            readme_first_paragraph("---\nlicense: mit\n---\n# Only a title\n"),
            None
        );
        assert_eq!(
            readme_first_paragraph("```\ncode\n```\nText."),
            Some("Text.".into())
        );
        let long = "é".repeat(5000);
        assert_eq!(
            readme_first_paragraph(&long).unwrap().chars().count(),
            MAX_DESCRIPTION
        );
    }
}
