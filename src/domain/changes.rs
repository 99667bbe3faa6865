//! What changed between two versions of a model (issue #32): their files compared by path and content
//! (the LFS sha256 or git blob id the commit's file list gives, else the size) — model files, labels,
//! tokenizers, configs, anchors. A new mirrored version records the list (`changed_files`, so an app can
//! update only when its own files changed) and a changelog in plain words from it; a commit that changed
//! none of them changed only other files, such as the model card.

use crate::domain::records::Asset;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a file differs from the previous version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Changed,
    Removed,
}

/// One file that differs from the previous version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileChange {
    /// Its path in the repo.
    pub path: String,
    /// Its asset type (`tflite`, `label_txt`, `tokenizer`, `config_json`, …).
    pub kind: String,
    pub change: Change,
}

fn same_content(a: &Asset, b: &Asset) -> bool {
    match (&a.file_hash, &b.file_hash) {
        (Some(x), Some(y)) if a.hash_kind == b.hash_kind => x.eq_ignore_ascii_case(y),
        _ => a.file_size_bytes == b.file_size_bytes,
    }
}

/// The files of `current` that differ from `previous`, by path (hosted copies — files this service
/// extracted from a model — are not the repo's and are left out).
pub fn changes(previous: &[Asset], current: &[Asset]) -> Vec<FileChange> {
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

/// The changelog of a mirrored version whose record says `head` ("Mirrored from … at commit …"),
/// from what changed since the version named `previous` (`None` for the model's first).
pub fn changelog(head: &str, previous: Option<&str>, changes: &[FileChange]) -> String {
    let head = format!("{}.", head.trim_end_matches('.'));
    let Some(previous) = previous else {
        return format!("{head} The first version mirrored.");
    };
    if changes.is_empty() {
        return format!(
            "{head} No model or companion file changed since {previous}: the commit changed other \
             files only, such as the model card."
        );
    }
    let said: Vec<String> = changes
        .iter()
        .map(|c| {
            let what = if matches!(c.kind.as_str(), "tflite" | "litertlm" | "task") {
                "the model file"
            } else {
                "the file"
            };
            let verb = match c.change {
                Change::Added => "was added",
                Change::Changed => "changed",
                Change::Removed => "was removed",
            };
            format!("{what} {} {verb}", c.path)
        })
        .collect();
    format!("{head} Since {previous}: {}.", said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, kind: &str, sha: &str) -> Asset {
        Asset {
            asset_key: path.into(),
            asset_type: kind.into(),
            source_url: format!("https://huggingface.co/o/r/resolve/c/{path}"),
            file_size_bytes: Some(10),
            file_hash: Some(sha.into()),
            hash_kind: Some("sha256".into()),
            is_hosted_by_us: false,
            is_primary: kind == "tflite",
        }
    }

    #[test]
    fn files_are_compared_by_path_and_content() {
        let before = vec![
            file("model.tflite", "tflite", "aa"),
            file("labels.txt", "label_txt", "bb"),
            file("old.json", "config_json", "cc"),
        ];
        let after = vec![
            file("model.tflite", "tflite", "AA"),
            file("labels.txt", "label_txt", "b2"),
            file("tokenizer.json", "tokenizer", "dd"),
        ];
        let found = changes(&before, &after);
        let said: Vec<(&str, Change)> = found.iter().map(|c| (c.path.as_str(), c.change)).collect();
        assert_eq!(
            said,
            [
                ("tokenizer.json", Change::Added),
                ("labels.txt", Change::Changed),
                ("old.json", Change::Removed)
            ],
            "the model file's hash differs only in case"
        );
        let text = changelog("Mirrored at c2", Some("2026.01.01-c1"), &found);
        assert!(text.contains("Since 2026.01.01-c1: the file tokenizer.json was added; the file labels.txt changed"), "{text}");
        assert!(changelog("m", Some("v1"), &[]).contains("No model or companion file changed"));
        assert!(changelog("m", None, &[]).contains("first version"));
    }
}
