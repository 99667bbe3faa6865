//! What changed between two versions of a model (issue #32): their files compared by path and content
//! (the LFS sha256 or git blob id the commit's file list gives, else the size; `assets::changed_files`)
//! — model files, labels, tokenizers, configs, anchors. A new mirrored version records the list (`changed_files`, so an app can
//! update only when its own files changed) and a changelog in plain words from it; a commit that changed
//! none of them changed only other files, such as the model card.

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

    fn change(path: &str, kind: &str, change: Change) -> FileChange {
        FileChange {
            path: path.into(),
            kind: kind.into(),
            change,
        }
    }

    #[test]
    fn the_changelog_names_what_changed_in_plain_words() {
        let found = [
            change("tokenizer.json", "tokenizer", Change::Added),
            change("model.tflite", "tflite", Change::Changed),
        ];
        let text = changelog("Mirrored at c2", Some("2026.01.01-c1"), &found);
        assert!(
            text.contains("Since 2026.01.01-c1: the file tokenizer.json was added; the model file model.tflite changed"),
            "{text}"
        );
        assert!(changelog("m", Some("v1"), &[]).contains("No model or companion file changed"));
        assert!(changelog("m", None, &[]).contains("first version"));
    }
}
