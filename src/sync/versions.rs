//! Versions from upstream commits: which files of a commit are assets (model files and their companions),
//! their exact sizes and hashes, URLs pinned to the commit, the primary file an app should download, and
//! the version's name.
//!
//! `version_string` is `YYYY.MM.DD-<sha7>`: the commit's date (the repo's `lastModified` when the commit
//! was listed) and the first seven hex digits of its sha — sortable by date and unique per commit.

use super::mapping::Mirror;
use crate::domain::records::{Asset, NewVersion};
use crate::hub::Sibling;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const MODEL_EXTENSIONS: &[&str] = &["tflite", "litertlm", "task"];

/// The asset type of a file, when it is one: model files by extension, companions by name.
pub fn asset_type(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    let file = lower.rsplit('/').next().unwrap_or(&lower);
    if let Some(ext) = file.rsplit_once('.').map(|(_, e)| e) {
        match ext {
            "tflite" => return Some("tflite"),
            "litertlm" => return Some("litertlm"),
            "task" => return Some("task"),
            _ => {}
        }
    }
    // Label files as the clients' scanner finds them (CLIENTS.md §3.3): a `.txt` or `.json` whose name
    // says label, class or synset; anchors by name.
    let labelled = ["label", "class", "synset"]
        .iter()
        .any(|w| file.contains(w));
    if file == "vocab.txt" || (file.starts_with("vocab") && file.ends_with(".txt")) {
        Some("vocab_txt")
    } else if file.starts_with("tokenizer") && (file.ends_with(".model") || file.ends_with(".json"))
    {
        Some("tokenizer")
    } else if file == "config.json" || file == "generation_config.json" {
        Some("config_json")
    } else if labelled && file.ends_with(".txt") {
        Some("label_txt")
    } else if labelled && file.ends_with(".json") {
        Some("label_json")
    } else if file.contains("anchor") {
        Some("anchors")
    } else {
        None
    }
}

/// Whether a file list holds a model file; `None` when the list is unknown.
pub fn has_model_file(files: Option<&[String]>) -> Option<bool> {
    files.map(|f| {
        f.iter()
            .any(|p| matches!(asset_type(p), Some("tflite" | "litertlm" | "task")))
    })
}

/// `{endpoint}/{repo}/resolve/{sha}/{path}`, each segment encoded.
pub fn pinned_url(endpoint: &str, repo_id: &str, sha: &str, path: &str) -> String {
    let mut url = url::Url::parse(endpoint)
        .unwrap_or_else(|_| url::Url::parse(crate::hub::DEFAULT_ENDPOINT).expect("static"));
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
        segments.extend(repo_id.split('/'));
        segments.push("resolve");
        segments.push(sha);
        segments.extend(path.split('/'));
    }
    url.to_string()
}

/// The assets of a commit from its model info (`blobs=true`): exact sizes, the LFS sha256 (or the git
/// blob id of small files, marked as such), URLs pinned to the commit, one primary file.
pub fn assets(
    endpoint: &str,
    repo_id: &str,
    sha: &str,
    siblings: Option<&[Sibling]>,
) -> Result<Vec<Asset>, String> {
    let siblings = siblings.ok_or("the commit's file list is missing")?;
    let mut out = Vec::new();
    for s in siblings {
        let Some(kind) = asset_type(&s.rfilename) else {
            continue;
        };
        let (size, hash, hash_kind) = match &s.lfs {
            Some(lfs) => (Some(lfs.size), Some(lfs.sha256.clone()), "sha256"),
            None => (s.size, s.blob_id.clone(), "git-blob-sha1"),
        };
        if size.is_none() || hash.is_none() {
            return Err(format!("no size or hash for {}", s.rfilename));
        }
        out.push(Asset {
            // A control character in a file's name is dropped from its key (its URL keeps the
            // name percent-encoded, as the Hub serves it).
            asset_key: crate::domain::text::clean(&s.rfilename).into_owned(),
            asset_type: kind.to_string(),
            source_url: pinned_url(endpoint, repo_id, sha, &s.rfilename),
            file_size_bytes: size,
            file_hash: hash,
            hash_kind: Some(hash_kind.to_string()),
            is_hosted_by_us: false,
            is_primary: false,
        });
    }
    if let Some(i) = primary(&out) {
        out[i].is_primary = true;
    }
    Ok(out)
}

/// The file an app should download: a `.litertlm` bundle, else a `.task` bundle, else a `.tflite` that is
/// not an EdgeTPU build (else any `.tflite`); the first in path order among equals.
pub fn primary(assets: &[Asset]) -> Option<usize> {
    let rank = |a: &Asset| match a.asset_type.as_str() {
        "litertlm" => Some(0),
        "task" => Some(1),
        "tflite" if !a.asset_key.to_ascii_lowercase().contains("edgetpu") => Some(2),
        "tflite" => Some(3),
        _ => None,
    };
    assets
        .iter()
        .enumerate()
        .filter_map(|(i, a)| rank(a).map(|r| (r, a.asset_key.as_str(), i)))
        .min()
        .map(|(_, _, i)| i)
}

/// The version of a mirrored commit.
pub fn new_version(
    model_id: Uuid,
    m: &Mirror,
    assets: Vec<Asset>,
    now: DateTime<Utc>,
) -> NewVersion {
    let sha = m.sha.clone().unwrap_or_default();
    let date = m.last_modified.unwrap_or(now);
    let short: String = sha.chars().take(7).collect();
    NewVersion {
        model_id,
        version_string: format!("{}-{short}", date.format("%Y.%m.%d")),
        changelog: Some(format!("Mirrored from {} at commit {sha}", m.origin_url())),
        hf_commit_sha: Some(sha),
        pipeline_spec: None,
        assets,
        published_at: date,
        created_by: None,
        license_type: None,
        inspected: None,
        refusal: None,
        deferred: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::wire::SiblingLfs;

    fn sib(path: &str, size: i64, lfs: Option<&str>) -> Sibling {
        Sibling {
            rfilename: path.into(),
            size: Some(size),
            blob_id: Some("b".repeat(40)),
            lfs: lfs.map(|h| SiblingLfs {
                sha256: h.into(),
                size,
                pointer_size: Some(134),
            }),
        }
    }

    #[test]
    fn asset_types_by_extension_and_name() {
        assert_eq!(asset_type("m/Model.TFLite"), Some("tflite"));
        assert_eq!(asset_type("gemma.litertlm"), Some("litertlm"));
        assert_eq!(asset_type("llm.task"), Some("task"));
        assert_eq!(asset_type("labels.txt"), Some("label_txt"));
        assert_eq!(asset_type("labelmap.txt"), Some("label_txt"));
        assert_eq!(asset_type("imagenet_classes.txt"), Some("label_txt"));
        assert_eq!(asset_type("synset_words.json"), Some("label_json"));
        assert_eq!(asset_type("ssd_anchors.bin"), Some("anchors"));
        assert_eq!(asset_type("vocab.txt"), Some("vocab_txt"));
        assert_eq!(asset_type("tokenizer.model"), Some("tokenizer"));
        assert_eq!(asset_type("config.json"), Some("config_json"));
        assert_eq!(asset_type("README.md"), None);
        assert_eq!(asset_type(".gitattributes"), None);
        assert_eq!(
            has_model_file(Some(&["README.md".to_string()])),
            Some(false)
        );
        assert_eq!(has_model_file(None), None);
    }

    #[test]
    fn assets_are_exact_and_pinned_with_one_primary() {
        let siblings = vec![
            sib(".gitattributes", 10, None),
            sib("model_edgetpu.tflite", 500, Some(&"e".repeat(64))),
            sib("model.tflite", 1000, Some(&"a".repeat(64))),
            sib("labels.txt", 42, None),
            sib("README.md", 99, None),
        ];
        let assets = assets("http://127.0.0.1:9000", "o/m", "abc123", Some(&siblings)).unwrap();
        assert_eq!(assets.len(), 3);
        let model = assets
            .iter()
            .find(|a| a.asset_key == "model.tflite")
            .unwrap();
        assert!(model.is_primary);
        assert_eq!(model.file_size_bytes, Some(1000));
        assert_eq!(model.file_hash.as_deref(), Some("a".repeat(64).as_str()));
        assert_eq!(model.hash_kind.as_deref(), Some("sha256"));
        assert_eq!(
            model.source_url,
            "http://127.0.0.1:9000/o/m/resolve/abc123/model.tflite"
        );
        let labels = assets.iter().find(|a| a.asset_key == "labels.txt").unwrap();
        assert_eq!(labels.hash_kind.as_deref(), Some("git-blob-sha1"));
        assert_eq!(assets.iter().filter(|a| a.is_primary).count(), 1);
        assert!(self::assets("https://huggingface.co", "o/m", "s", None).is_err());
    }

    #[test]
    fn bundles_are_primary_for_llms() {
        let siblings = vec![
            sib("gemma_Google_Tensor_G5.litertlm", 5, Some(&"1".repeat(64))),
            sib("gemma.litertlm", 5, Some(&"2".repeat(64))),
            sib("gemma.tflite", 5, Some(&"3".repeat(64))),
        ];
        let assets = assets("https://huggingface.co", "o/m", "s", Some(&siblings)).unwrap();
        let p: Vec<&str> = assets
            .iter()
            .filter(|a| a.is_primary)
            .map(|a| a.asset_key.as_str())
            .collect();
        assert_eq!(p, ["gemma.litertlm"]);
        assert_eq!(
            pinned_url("https://huggingface.co", "o/m", "s", "dir/a b.tflite"),
            "https://huggingface.co/o/m/resolve/s/dir/a%20b.tflite"
        );
        assert_eq!(
            pinned_url(
                "https://huggingface.co",
                "o--ld/m é",
                "s",
                "x/100% #1+?.tflite"
            ),
            "https://huggingface.co/o--ld/m%20%C3%A9/resolve/s/x/100%25%20%231+%3F.tflite"
        );
    }
}
