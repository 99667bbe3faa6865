//! The Hub's wire types: what its JSON says, parsed tolerantly (keys without a value are omitted by the
//! Hub, so nearly everything is optional). Nothing outside `hub` and `sync` sees these; the sync maps
//! them into catalog records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A model as a listing or model info describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HubModel {
    /// The stable repo object id (24 hex digits); survives renames. Absent from some trimmed payloads.
    #[serde(rename = "_id", default)]
    pub object_id: Option<String>,
    pub id: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(rename = "lastModified", default)]
    pub last_modified: Option<DateTime<Utc>>,
    #[serde(rename = "createdAt", default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub private: Option<bool>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default, deserialize_with = "gated")]
    pub gated: Option<String>,
    #[serde(default)]
    pub downloads: Option<i64>,
    #[serde(default)]
    pub likes: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub pipeline_tag: Option<String>,
    #[serde(default)]
    pub library_name: Option<String>,
    #[serde(rename = "cardData", default)]
    pub card_data: Option<Value>,
    #[serde(default)]
    pub siblings: Option<Vec<Sibling>>,
    #[serde(rename = "usedStorage", default)]
    pub used_storage: Option<i64>,
}

/// `gated` is `false`, `"auto"` or `"manual"`; kept as `"false"`, `"auto"`, `"manual"`.
fn gated<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::Bool(false)) => Some("false".into()),
        Some(Value::Bool(true)) => Some("true".into()),
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "unexpected gated value {other}"
            )))
        }
    })
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sibling {
    pub rfilename: String,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(rename = "blobId", default)]
    pub blob_id: Option<String>,
    #[serde(default)]
    pub lfs: Option<SiblingLfs>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SiblingLfs {
    pub sha256: String,
    pub size: i64,
    #[serde(rename = "pointerSize", default)]
    pub pointer_size: Option<i64>,
}

/// An entry of `GET /api/models/{id}/tree/{rev}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TreeEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub oid: String,
    #[serde(default)]
    pub size: i64,
    pub path: String,
    #[serde(default)]
    pub lfs: Option<TreeLfs>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TreeLfs {
    pub oid: String,
    pub size: i64,
    #[serde(rename = "pointerSize", default)]
    pub pointer_size: Option<i64>,
}

/// A listing entry that could not be parsed: what it was called (when that much was readable) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    pub id: Option<String>,
    pub reason: String,
}

/// Parses a listing page: the body must be a JSON array; each entry that does not parse (or lacks the
/// object id a listing always carries) is reported, not fatal.
pub fn parse_page(body: &[u8]) -> Result<(Vec<HubModel>, Vec<SkippedEntry>), String> {
    parse_page_except(body, |_| false)
}

/// [`parse_page`], leaving out (undecoded) the entries whose leading object id `known` says were
/// read before — a repo listed by several filters is decoded once per run.
pub fn parse_page_except(
    body: &[u8],
    mut known: impl FnMut(&str) -> bool,
) -> Result<(Vec<HubModel>, Vec<SkippedEntry>), String> {
    // Each entry is parsed once, straight into its type; only a failed one is read again for its id.
    let entries: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body)
        .map_err(|e| format!("listing page is not a JSON array: {e}"))?;
    let mut models = Vec::with_capacity(entries.len());
    let mut skipped = Vec::new();
    for entry in entries {
        if leading_object_id(entry.get()).is_some_and(&mut known) {
            continue;
        }
        let parsed = serde_json::from_str::<HubModel>(entry.get());
        let id = || {
            serde_json::from_str::<Value>(entry.get())
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
        };
        match parsed {
            Ok(m) if m.object_id.as_deref().is_some_and(is_object_id) => models.push(m),
            Ok(m) => skipped.push(SkippedEntry {
                id: Some(m.id),
                reason: "listing entry has no valid _id".into(),
            }),
            Err(e) => skipped.push(SkippedEntry {
                id: id(),
                reason: format!("malformed listing entry: {e}"),
            }),
        }
    }
    Ok((models, skipped))
}

/// Checks that a listing page is one whole JSON array (a truncated or garbled body is not), without
/// decoding its entries.
pub fn check_page(body: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(body)
        .map(drop)
        .map_err(|e| format!("listing page is not a JSON array: {e}"))
}

/// The object id an entry starts with, read without decoding the entry: the Hub (and the simulator)
/// write `_id` first. `None` for any other layout, which is then decoded in full.
pub fn leading_object_id(entry: &str) -> Option<&str> {
    let rest = entry
        .strip_prefix('{')?
        .trim_start()
        .strip_prefix("\"_id\"")?
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let id = rest.get(..24)?;
    (is_object_id(id) && rest[24..].starts_with('"')).then_some(id)
}

/// A Hub object id: 24 hex digits.
pub fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hub");

    /// A recorded Hub payload from `tests/data/hub` (see its README for where they come from).
    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{name}"))
            .unwrap_or_else(|e| panic!("{FIXTURES}/{name}: {e}"))
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,16}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z_]{1,10}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Real entries with random damage (a field replaced by any JSON value, or the entry replaced
        /// whole): the page still parses, and every entry is either a model or a skip with a reason.
        #[test]
        fn every_entry_of_a_damaged_page_is_parsed_or_skipped_with_a_reason(
            damage in proptest::collection::vec(
                (0u8..3, "(id|_id|tags|siblings|lastModified|downloads|cardData|gated|sha|[a-z]{1,6})", json_value()),
                1..24,
            )
        ) {
            let real: Vec<Value> = serde_json::from_slice(&fixture("list_expand_page.json")).unwrap();
            let entries: Vec<Value> = damage
                .iter()
                .enumerate()
                .map(|(i, (how, field, value))| {
                    let mut entry = real[i % real.len()].clone();
                    match how {
                        0 => entry,
                        1 => {
                            entry[field.as_str()] = value.clone();
                            entry
                        }
                        _ => value.clone(),
                    }
                })
                .collect();
            let body = serde_json::to_vec(&entries).unwrap();
            let (models, skipped) = parse_page(&body).expect("a JSON array always parses");
            proptest::prop_assert_eq!(models.len() + skipped.len(), entries.len());
            proptest::prop_assert!(skipped.iter().all(|s| !s.reason.is_empty()));
            let intact = damage.iter().filter(|(how, _, _)| *how == 0).count();
            proptest::prop_assert!(models.len() >= intact, "intact entries are kept");
        }
    }

    #[test]
    fn real_listing_pages_parse() {
        let default = fixture("list_default_page.json");
        let (models, skipped) = parse_page(&default).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(models[0].id, "moonshotai/Kimi-K2-Thinking");
        assert_eq!(
            models[0].object_id.as_deref(),
            Some("6909b87b734dd24dd19da3ef")
        );
        assert!(models[0].tags.contains(&"license:other".to_string()));
        assert_eq!(models[1].downloads, Some(846249));
        let expand = fixture("list_expand_page.json");
        let (models, skipped) = parse_page(&expand).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(models[0].siblings.as_ref().unwrap().len(), 2);
        assert_eq!(
            models[0].last_modified.unwrap().to_rfc3339(),
            "2026-09-08T22:20:58+00:00"
        );
        assert_eq!(models[1].pipeline_tag, None, "omitted keys are None");
    }

    #[test]
    fn real_model_infos_parse() {
        let bert = fixture("model_info_bert-base-uncased.json");
        let bert: HubModel = serde_json::from_slice(&bert).unwrap();
        assert_eq!(bert.gated.as_deref(), Some("false"));
        assert_eq!(bert.card_data.as_ref().unwrap()["license"], "apache-2.0");
        let gemma: HubModel =
            serde_json::from_slice(&fixture("model_info_litert_functiongemma_trimmed.json"))
                .unwrap();
        assert_eq!(gemma.gated.as_deref(), Some("auto"));
        assert_eq!(gemma.library_name.as_deref(), Some("litert-lm"));
        assert_eq!(gemma.object_id, None);
        assert_eq!(gemma.used_storage, Some(1432447106));
        let albert: HubModel =
            serde_json::from_slice(&fixture("model_info_paraphrase-albert-small-v2.json")).unwrap();
        assert_eq!(
            albert.object_id.as_deref(),
            Some("621ffdc136468d709f1802e8")
        );
        let siblings = albert.siblings.unwrap();
        assert!(siblings
            .iter()
            .any(|s| s.rfilename == "1_Pooling/config.json"));
        assert!(
            siblings.iter().all(|s| s.size.is_none()),
            "no blobs=true, no sizes"
        );
    }

    #[test]
    fn real_trees_parse() {
        let tree = fixture("tree_bert-base-uncased.json");
        let entries: Vec<TreeEntry> = serde_json::from_slice(&tree).unwrap();
        let lfs = entries
            .iter()
            .find(|e| e.path == "pytorch_model.bin")
            .unwrap();
        assert_eq!(lfs.lfs.as_ref().unwrap().size, 440473133);
        assert_eq!(
            lfs.lfs.as_ref().unwrap().oid,
            "097417381d6c7230bd9e3557456d726de6e83245ec8b24f529f60198a67b203a"
        );
        let vocab = entries.iter().find(|e| e.path == "vocab.txt").unwrap();
        assert!(vocab.lfs.is_none());
        assert_eq!(vocab.size, 231508);
    }

    #[test]
    fn entries_read_before_are_left_out_by_their_leading_object_id() {
        assert_eq!(
            leading_object_id(r#"{"_id":"6909b87b734dd24dd19da3ef","id":"a/b"}"#),
            Some("6909b87b734dd24dd19da3ef")
        );
        assert_eq!(
            leading_object_id(r#"{ "_id" : "6909b87b734dd24dd19da3ef" }"#),
            Some("6909b87b734dd24dd19da3ef")
        );
        for other in [
            r#"{"id":"a/b","_id":"6909b87b734dd24dd19da3ef"}"#,
            r#"{"_id":"6909b87b734dd24dd19da3efff"}"#,
            r#"{"_id":"6909b87b734dd24dd19da3eg"}"#,
            r#"{"_id":6909}"#,
            "{}",
        ] {
            assert_eq!(leading_object_id(other), None, "{other}");
        }
        // The real Hub writes `_id` first.
        let listing = fixture("list_expand_page.json");
        let (all, _) = parse_page(&listing).unwrap();
        let first = all[0].object_id.clone().unwrap();
        let (rest, skipped) = parse_page_except(&listing, |id| id == first).unwrap();
        assert_eq!(rest.len(), all.len() - 1);
        assert!(skipped.is_empty());
        assert!(rest
            .iter()
            .all(|m| m.object_id.as_deref() != Some(first.as_str())));
        // An entry laid out otherwise is decoded in full, whatever `known` says.
        let body = br#"[{"id":"a/b","_id":"6909b87b734dd24dd19da3ef"}]"#;
        assert_eq!(parse_page_except(body, |_| true).unwrap().0.len(), 1);
    }

    #[test]
    fn malformed_entries_are_skipped_with_a_reason() {
        let body = br#"[{"_id":"6909b87b734dd24dd19da3ef","id":"a/ok"},
                         {"_id":"bad","id":"a/no-oid"},
                         {"_id":"6909b87b734dd24dd19da3e0","id":"a/bad","tags":"x"},
                         {"nothing": true}]"#;
        let (models, skipped) = parse_page(body).unwrap();
        assert_eq!(models.len(), 1);
        assert_eq!(skipped.len(), 3);
        assert_eq!(skipped[1].id.as_deref(), Some("a/bad"));
        assert!(skipped[1].reason.contains("malformed"));
        assert_eq!(skipped[2].id, None);
        assert!(parse_page(b"[{\"_id\":").is_err());
        assert!(parse_page(b"{}").is_err());
        assert!(check_page(b"[{\"_id\":").is_err());
        assert!(check_page(b"{}").is_err());
        assert!(check_page(b"[{\"_id\": 1}, 2]").is_ok());
    }
}
