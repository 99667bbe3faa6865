//! The catalogue's identifiers: a model's [`Slug`] (URL-safe, unique, made deterministically from a
//! name) and a Hub repository's [`RepoId`] (`owner/name`, as the Hub lists it). Re-exported by the
//! domain.

use super::InvalidValue;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A URL-safe, unique model identifier: lower-case ASCII letters, digits and single dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 96;

    /// The readable base of a slug: transliterated to ASCII (`é` → `e`, `модель` → `model`), lower case,
    /// every run of other characters folded to one dash, trimmed. Several inputs share a base (`A/b`,
    /// `a-b`, `a/b-é`); [`Slug::candidates`] makes them unique.
    pub fn base(input: &str) -> String {
        let ascii = deunicode::deunicode_with_tofu(input, "-");
        let mut out = String::with_capacity(ascii.len());
        let mut dash = false;
        for ch in ascii.chars() {
            if ch.is_ascii_alphanumeric() {
                out.push(ch.to_ascii_lowercase());
                dash = false;
            } else if !dash && !out.is_empty() {
                out.push('-');
                dash = true;
            }
        }
        while out.ends_with('-') {
            out.pop();
        }
        out.truncate(Self::MAX_LEN - 17);
        while out.ends_with('-') {
            out.pop();
        }
        if out.is_empty() {
            out.push_str("model");
        }
        out
    }

    /// The slugs to try, in order, for `input`: the base, then the base with a longer and longer suffix
    /// taken from the SHA-256 of `disambiguator` (the exact Hub id, or the new model's id). The order is
    /// deterministic, so the same inputs always lead to the same slug given the same catalog.
    pub fn candidates(input: &str, disambiguator: &str) -> Vec<Slug> {
        let base = Self::base(input);
        let digest = hex::encode(Sha256::digest(disambiguator.as_bytes()));
        let mut out = vec![Slug(base.clone())];
        for len in [8usize, 12, 16] {
            out.push(Slug(format!("{base}-{}", &digest[..len])));
        }
        out
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Slug {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Slug(s.to_owned()))
        } else {
            Err(InvalidValue(format!("'{s}' is not a valid slug")))
        }
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Hugging Face repo id, `owner/name` (or a bare legacy `name`), as the Hub lists it: anything but what
/// cannot be handled safely (see [`RepoId::from_str`]). Every URL built from one encodes each segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoId(String);

impl RepoId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn owner(&self) -> Option<&str> {
        self.0.split_once('/').map(|(o, _)| o)
    }
    pub fn name(&self) -> &str {
        self.0.rsplit_once('/').map(|(_, n)| n).unwrap_or(&self.0)
    }
}

impl RepoId {
    /// Longer ids are refused: no Hub rule ever allowed them, and they would only bloat URLs and logs.
    pub const MAX_LEN: usize = 1024;

    /// Why `s` cannot be handled safely as a repo id, if it cannot. Only what would break a path or a URL
    /// is refused: the Hub lists repos created under older, looser rules (non-ASCII letters, `--`,
    /// spaces), and a mirror is never stricter than its source.
    fn unsafe_reason(s: &str) -> Option<&'static str> {
        if s.len() > Self::MAX_LEN {
            return Some("longer than 1,024 bytes");
        }
        if s.chars().any(char::is_control) {
            return Some("it holds a control character");
        }
        if s.contains('\\') {
            return Some("it holds a backslash");
        }
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() > 2 {
            return Some("it has more than one '/'");
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Some("it has an empty part");
        }
        if parts.iter().any(|p| *p == "." || *p == "..") {
            return Some("it has a '.' or '..' part");
        }
        None
    }
}

impl FromStr for RepoId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Self::unsafe_reason(s) {
            None => Ok(RepoId(s.to_owned())),
            Some(why) => Err(InvalidValue(format!(
                "'{}' is not a repo id this service can handle safely: {why}",
                s.chars()
                    .take(200)
                    .flat_map(char::escape_default)
                    .collect::<String>()
            ))),
        }
    }
}

impl TryFrom<String> for RepoId {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<RepoId> for String {
    fn from(value: RepoId) -> Self {
        value.0
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_bases_fold_case_and_separators() {
        assert_eq!(
            Slug::base("litert-community/Gemma3-1B"),
            "litert-community-gemma3-1b"
        );
        assert_eq!(Slug::base("  Héllo  World!! "), "hello-world");
        assert_eq!(
            Slug::base("owner/selfie_segmenter-é"),
            "owner-selfie-segmenter-e"
        );
        assert_eq!(Slug::base("модель/сегментатор"), "model-segmentator");
        assert_eq!(Slug::base("o/my model #2"), "o-my-model-2");
        assert_eq!(Slug::base("///"), "model");
    }

    #[test]
    fn colliding_ids_get_distinct_deterministic_candidates() {
        let a = Slug::candidates("a-b/c", "a-b/c");
        let b = Slug::candidates("a/b-c", "a/b-c");
        assert_eq!(a[0], b[0], "the original's collision");
        assert_ne!(a[1], b[1]);
        assert_eq!(a, Slug::candidates("a-b/c", "a-b/c"));
        for s in a.iter().chain(b.iter()) {
            assert!(
                s.as_str().parse::<Slug>().is_ok(),
                "{s} must be a valid slug"
            );
        }
    }

    #[test]
    fn repo_ids_parse_and_reject() {
        let id: RepoId = "litert-community/Qwen2.5-1.5B".parse().unwrap();
        assert_eq!(id.owner(), Some("litert-community"));
        assert_eq!(id.name(), "Qwen2.5-1.5B");
        assert!("bert-base-uncased".parse::<RepoId>().is_ok());
        for bad in [
            "", "a/b/c", "../x", "a/..", "./x", "a/", "/b", "a\\b/c", "a/b\n", "a/\u{7}b",
        ] {
            assert!(bad.parse::<RepoId>().is_err(), "{bad:?}");
        }
        assert!("a/".repeat(600).parse::<RepoId>().is_err());
    }

    #[test]
    fn repo_ids_the_hub_lists_from_older_rules_are_accepted() {
        for listed in [
            "owner/selfie_segmenter-é",
            "old--user/model--v1",
            "x y/z",
            "a/.hidden",
            "a/b..c",
            "-lead/_x",
            "o/my model #2",
            "o/100%",
            "o/a+b?c",
            "модель/сегментатор",
        ] {
            let id: RepoId = listed.parse().unwrap_or_else(|e| panic!("{listed}: {e:?}"));
            assert_eq!(id.as_str(), listed);
        }
    }

    proptest::proptest! {
        #[test]
        fn slug_candidates_are_always_valid(input in ".{0,200}", dis in ".{0,40}") {
            for s in Slug::candidates(&input, &dis) {
                proptest::prop_assert!(s.as_str().parse::<Slug>().is_ok(), "{}", s);
            }
        }
    }
}
