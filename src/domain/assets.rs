//! A version's assets as the Pocket AI clients see them (CLIENTS.md §3.3): six pointers —
//! `tflite`, `litert_lm`, `labels`, `tokenizer`, `vocab`, `anchors` — picked from the exact asset list the
//! catalog keeps (every file with its size and hash; the root dialect shows that list whole).
//!
//! The app downloads `tflite` always and never `litert_lm`, so for a repo whose only model is an LLM
//! bundle `tflite` points at the bundle too.

use crate::domain::changes::{Change, FileChange};
use crate::domain::records::{Asset, Inspected};
use serde::Serialize;
use utoipa::ToSchema;

/// The asset keys the clients know, in the order the app downloads them after `tflite`.
pub const KEYS: [&str; 6] = [
    "tflite",
    "litert_lm",
    "labels",
    "tokenizer",
    "vocab",
    "anchors",
];

/// The six pointers; every key is always present in JSON (null when unset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct AssetPointers {
    pub tflite: Option<String>,
    pub litert_lm: Option<String>,
    pub labels: Option<String>,
    pub tokenizer: Option<String>,
    pub vocab: Option<String>,
    pub anchors: Option<String>,
}

fn is_bundle(a: &Asset) -> bool {
    matches!(a.asset_type.as_str(), "litertlm" | "task")
}

fn name(a: &Asset) -> String {
    let key = a.asset_key.to_ascii_lowercase();
    key.rsplit('/').next().unwrap_or(&key).to_string()
}

/// The first asset (in key order) that `pick` accepts.
fn first(assets: &[Asset], pick: impl Fn(&Asset) -> bool) -> Option<&Asset> {
    assets
        .iter()
        .filter(|a| pick(a))
        .min_by(|a, b| a.asset_key.cmp(&b.asset_key))
}

/// The app's main file: the first `.tflite` that is not an EdgeTPU build, else the first `.tflite`,
/// else the first LLM bundle (`.litertlm` or `.task`).
pub fn main_file(assets: &[Asset]) -> Option<&Asset> {
    first(assets, |a| {
        a.asset_type == "tflite" && !a.asset_key.to_ascii_lowercase().contains("edgetpu")
    })
    .or_else(|| first(assets, |a| a.asset_type == "tflite"))
    .or_else(|| first(assets, is_bundle))
}

fn same_content(a: &Asset, b: &Asset) -> bool {
    match (&a.file_hash, &b.file_hash) {
        (Some(x), Some(y)) if a.hash_kind == b.hash_kind => x.eq_ignore_ascii_case(y),
        _ => a.file_size_bytes == b.file_size_bytes,
    }
}

/// The files of `current` that differ from `previous` (a model's previous version), by path and
/// content (issue #32) (hosted copies — files this service
/// extracted from a model — are not the repo's and are left out).
pub fn changed_files(previous: &[Asset], current: &[Asset]) -> Vec<FileChange> {
    let repo = |list: &[Asset]| -> Vec<Asset> {
        list.iter()
            .filter(|a| !a.is_hosted_by_us)
            .cloned()
            .collect()
    };
    let (previous, current) = (repo(previous), repo(current));
    let find = |list: &[Asset], path: &str| list.iter().find(|a| a.asset_key == path).cloned();
    let mut out = Vec::new();
    for now in &current {
        let change = match find(&previous, &now.asset_key) {
            None => Some(Change::Added),
            Some(before) if !same_content(&before, now) => Some(Change::Changed),
            Some(_) => None,
        };
        if let Some(change) = change {
            out.push(FileChange {
                path: now.asset_key.clone(),
                kind: now.asset_type.clone(),
                change,
            });
        }
    }
    for before in previous
        .iter()
        .filter(|b| find(&current, &b.asset_key).is_none())
    {
        out.push(FileChange {
            path: before.asset_key.clone(),
            kind: before.asset_type.clone(),
            change: Change::Removed,
        });
    }
    out.sort_by(|a, b| (a.change, &a.path).cmp(&(b.change, &b.path)));
    out
}

/// Fills the main file's size in what `found` will record from what its reading found
/// (`inspection.size`), when it was unknown or 0 (a portal version's), on top of the assets
/// [`Inspected::host_files`] gave.
pub fn size_main_file(found: &mut Inspected, assets: &[Asset]) {
    let size = found.inspection["size"].as_u64().unwrap_or(0);
    let current = found.assets.as_deref().unwrap_or(assets);
    if let Some(sized) = sized(current, size) {
        found.assets = Some(sized);
    }
}

/// `assets` with the main file's size set to `size` (the bytes its reading found), when its size was
/// unknown or 0 — the portal sends 0, and the app checks free space against it (issue #32); `None` when
/// nothing is to change.
pub fn sized(assets: &[Asset], size: u64) -> Option<Vec<Asset>> {
    let main = main_file(assets)?;
    if main.file_size_bytes.is_some_and(|n| n > 0) || size == 0 {
        return None;
    }
    let key = main.asset_key.clone();
    let mut out = assets.to_vec();
    for a in out.iter_mut().filter(|a| a.asset_key == key) {
        a.file_size_bytes = i64::try_from(size).ok();
    }
    Some(out)
}

/// The size of [`main_file`] (0 when there is none or its size is unknown): the version's
/// `file_size_bytes`, which the app checks free space against.
pub fn main_file_size(assets: &[Asset]) -> i64 {
    main_file(assets)
        .and_then(|a| a.file_size_bytes)
        .unwrap_or(0)
}

impl AssetPointers {
    /// The pointers of an asset list. A file the clients' own key names (`asset_key` equal to one of
    /// [`KEYS`], as versions published through `/api/v1` store them) wins over a pick by file name.
    pub fn from_assets(assets: &[Asset]) -> AssetPointers {
        let url = |a: Option<&Asset>| a.map(|a| a.source_url.clone());
        let keyed = |key: &str| assets.iter().find(|a| a.asset_key == key);
        let by_name = |test: &dyn Fn(&str) -> bool| first(assets, |a| test(&name(a)));
        AssetPointers {
            tflite: url(keyed("tflite").or_else(|| main_file(assets))),
            litert_lm: url(keyed("litert_lm").or_else(|| first(assets, is_bundle))),
            // Plain text only: the app reads the labels file as lines (CLIENTS.md §8 R6), so a JSON
            // label file is never the `labels` asset.
            labels: url(keyed("labels").or_else(|| {
                first(assets, |a| a.asset_type == "label_txt").or_else(|| {
                    by_name(&|n| {
                        n.ends_with(".txt")
                            && ["label", "class", "synset"].iter().any(|w| n.contains(w))
                    })
                })
            })),
            tokenizer: url(
                keyed("tokenizer").or_else(|| by_name(&|n| n.contains("tokenizer.json")))
            ),
            vocab: url(keyed("vocab").or_else(|| {
                first(assets, |a| a.asset_type == "vocab_txt")
                    .or_else(|| by_name(&|n| n.contains("vocab.txt")))
            })),
            anchors: url(keyed("anchors").or_else(|| {
                first(assets, |a| a.asset_type == "anchors")
                    .or_else(|| by_name(&|n| n.contains("anchor")))
            })),
        }
    }

    /// The URL behind one client key, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        match key {
            "tflite" => self.tflite.as_deref(),
            "litert_lm" => self.litert_lm.as_deref(),
            "labels" => self.labels.as_deref(),
            "tokenizer" => self.tokenizer.as_deref(),
            "vocab" => self.vocab.as_deref(),
            "anchors" => self.anchors.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(key: &str, kind: &str, size: i64) -> Asset {
        Asset {
            asset_key: key.into(),
            asset_type: kind.into(),
            source_url: format!("https://hub.example/r/resolve/abc/{key}"),
            file_size_bytes: Some(size),
            file_hash: None,
            hash_kind: None,
            is_hosted_by_us: false,
            is_primary: false,
        }
    }

    fn hashed(path: &str, kind: &str, sha: &str) -> Asset {
        Asset {
            file_hash: Some(sha.into()),
            hash_kind: Some("sha256".into()),
            ..asset(path, kind, 10)
        }
    }

    #[test]
    fn files_are_compared_by_path_and_content() {
        let before = vec![
            hashed("model.tflite", "tflite", "aa"),
            hashed("labels.txt", "label_txt", "bb"),
            hashed("old.json", "config_json", "cc"),
        ];
        let after = vec![
            hashed("model.tflite", "tflite", "AA"),
            hashed("labels.txt", "label_txt", "b2"),
            hashed("tokenizer.json", "tokenizer", "dd"),
        ];
        let said: Vec<(String, Change)> = changed_files(&before, &after)
            .into_iter()
            .map(|c| (c.path, c.change))
            .collect();
        assert_eq!(
            said,
            [
                ("tokenizer.json".to_string(), Change::Added),
                ("labels.txt".to_string(), Change::Changed),
                ("old.json".to_string(), Change::Removed)
            ],
            "the model file's hash differs only in case"
        );
    }

    #[test]
    fn the_main_file_is_a_plain_tflite_before_an_edgetpu_one_before_a_bundle() {
        let assets = vec![
            asset("model_edgetpu.tflite", "tflite", 5),
            asset("model.tflite", "tflite", 7),
            asset("gemma.task", "task", 900),
            asset("labels.txt", "label_txt", 1),
        ];
        assert_eq!(main_file(&assets).unwrap().asset_key, "model.tflite");
        assert_eq!(main_file_size(&assets), 7);
        let p = AssetPointers::from_assets(&assets);
        assert!(p.tflite.unwrap().ends_with("/model.tflite"));
        assert!(p.litert_lm.unwrap().ends_with("/gemma.task"));
        assert!(p.labels.unwrap().ends_with("/labels.txt"));
        assert_eq!((p.tokenizer, p.vocab, p.anchors), (None, None, None));
    }

    #[test]
    fn a_json_label_file_is_never_the_labels_asset() {
        let assets = vec![
            asset("model.tflite", "tflite", 7),
            asset("synset_words.json", "label_json", 1),
            asset("class_labels.json", "other", 1),
        ];
        assert_eq!(AssetPointers::from_assets(&assets).labels, None);
        let assets = vec![
            asset("labels.json", "label_json", 1),
            asset("imagenet_classes.txt", "other", 1),
        ];
        let labels = AssetPointers::from_assets(&assets).labels.unwrap();
        assert!(labels.ends_with("/imagenet_classes.txt"), "{labels}");
    }

    #[test]
    fn an_llm_only_repo_gives_its_bundle_as_tflite_too() {
        let assets = vec![
            asset("gemma3-1b.litertlm", "litertlm", 500),
            asset("tokenizer.json", "tokenizer", 2),
        ];
        let p = AssetPointers::from_assets(&assets);
        assert_eq!(p.tflite, p.litert_lm);
        assert!(p.tflite.unwrap().ends_with("/gemma3-1b.litertlm"));
        assert!(p.tokenizer.unwrap().ends_with("/tokenizer.json"));
        assert_eq!(main_file_size(&assets), 500);
    }

    #[test]
    fn assets_stored_under_the_client_keys_are_taken_as_they_are() {
        let assets = vec![
            asset("tflite", "tflite", 3),
            asset("labels", "other", 1),
            asset("vocab", "other", 1),
        ];
        let p = AssetPointers::from_assets(&assets);
        assert!(p.get("tflite").unwrap().ends_with("/tflite"));
        assert!(p.get("labels").unwrap().ends_with("/labels"));
        assert!(p.get("vocab").unwrap().ends_with("/vocab"));
        assert_eq!(p.get("nope"), None);
        assert_eq!(AssetPointers::default().get("tflite"), None);
    }
}
