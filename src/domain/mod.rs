//! Domain types shared by the store, the HTTP API and the sync: validated newtypes and the closed
//! vocabularies of the catalog (categories, licences, upstream status). Nothing here knows about HTTP
//! or SQL.

pub mod assets;
pub mod changes;
pub mod client_card;
pub mod inspection;
pub mod policy;
pub mod records;
pub mod runs;
pub mod stats;
pub mod text;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// An error raised when a value does not parse into a domain type. The message is meant for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        // Written by hand: utoipa's derive does not see serde renames that come through a macro.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(InvalidValue(format!(
                        "unknown {} '{}', expected one of: {}",
                        stringify!($name),
                        other.chars().take(64).collect::<String>(),
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}

string_enum!(
    /// What a model is for, as the portal groups them. Synced models start as `utility`.
    Category {
        Utility => "utility",
        Diagnostic => "diagnostic",
        Performance => "performance",
        Fun => "fun",
        Other => "other",
    }
);

string_enum!(
    /// The licences the catalog knows. Anything else is `other`; no licence at all is `unknown`.
    LicenseType {
        Apache2 => "apache-2.0",
        Mit => "mit",
        Bsd => "bsd",
        Bsd3Clause => "bsd-3-clause",
        Bsd3ClauseClear => "bsd-3-clause-clear",
        Cc0 => "cc0-1.0",
        Afl3 => "afl-3.0",
        CcBy4 => "cc-by-4.0",
        CcBySa3 => "cc-by-sa-3.0",
        CcBySa4 => "cc-by-sa-4.0",
        Openrail => "openrail",
        OpenrailPlusPlus => "openrail++",
        CcByNc4 => "cc-by-nc-4.0",
        CcByNcSa4 => "cc-by-nc-sa-4.0",
        CcByNcNd4 => "cc-by-nc-nd-4.0",
        Gpl3 => "gpl-3.0",
        Agpl3 => "agpl-3.0",
        Llama2 => "llama2",
        Llama3 => "llama3",
        Other => "other",
        Unknown => "unknown",
    }
);

impl LicenseType {
    /// Normalises a licence identifier as the Hub spells it (`Apache-2.0`, `apache 2.0`, `gemma`, ...).
    /// A listed licence maps to itself, a known alias to its canonical form, anything else non-empty to
    /// `other`, and nothing to `unknown`.
    pub fn normalize(raw: &str) -> LicenseType {
        let s = raw.trim().to_ascii_lowercase();
        if s.is_empty() {
            return LicenseType::Unknown;
        }
        if let Ok(known) = s.parse::<LicenseType>() {
            return known;
        }
        let dashed = s.replace(['_', ' '], "-");
        if let Ok(known) = dashed.parse::<LicenseType>() {
            return known;
        }
        match dashed.as_str() {
            "apache-2" | "apache2" | "apache" | "apache-license-2.0" => LicenseType::Apache2,
            "mit-license" => LicenseType::Mit,
            "bsd-2-clause" => LicenseType::Bsd,
            "bsd-3" => LicenseType::Bsd3Clause,
            "cc0" => LicenseType::Cc0,
            "gpl-3" | "gpl3" | "gplv3" => LicenseType::Gpl3,
            "agpl-3" | "agplv3" => LicenseType::Agpl3,
            "llama-2" => LicenseType::Llama2,
            "llama-3" | "llama3.1" | "llama3.2" | "llama3.3" => LicenseType::Llama3,
            _ => LicenseType::Other,
        }
    }

    /// The original's grouping: green (permissive), yellow (attribution or use restrictions), red
    /// (non-commercial or copyleft); `other` and `unknown` have no class.
    pub fn class(self) -> LicenseClass {
        use LicenseType::*;
        match self {
            Apache2 | Mit | Bsd | Bsd3Clause | Bsd3ClauseClear | Cc0 | Afl3 => {
                LicenseClass::Permissive
            }
            CcBy4 | CcBySa3 | CcBySa4 | Openrail | OpenrailPlusPlus | Llama2 | Llama3 => {
                LicenseClass::Conditions
            }
            CcByNc4 | CcByNcSa4 | CcByNcNd4 | Gpl3 | Agpl3 => LicenseClass::Restricted,
            Other | Unknown => LicenseClass::Unknown,
        }
    }

    /// Whether commercial use is generally allowed; `None` when the licence is not known well enough.
    pub fn commercial_use(self) -> Option<bool> {
        match self.class() {
            LicenseClass::Permissive | LicenseClass::Conditions => Some(true),
            LicenseClass::Restricted => Some(false),
            LicenseClass::Unknown => None,
        }
    }

    /// The licences whose `commercial_use` is `allowed`.
    /// Permissive enough that the clients show no warning (CLIENTS.md §3.2 `is_commercial_safe`).
    pub fn is_commercial_safe(self) -> bool {
        use LicenseType::*;
        matches!(
            self,
            Apache2 | Mit | Bsd | Bsd3Clause | Bsd3ClauseClear | Cc0
        )
    }

    /// Copyleft or non-commercial: the clients warn before commercial use
    /// (`requires_commercial_warning`).
    pub fn requires_commercial_warning(self) -> bool {
        use LicenseType::*;
        matches!(self, Gpl3 | Agpl3 | CcByNc4 | CcByNcSa4 | CcByNcNd4)
    }

    pub fn with_commercial_use(allowed: bool) -> Vec<LicenseType> {
        LicenseType::ALL
            .iter()
            .copied()
            .filter(|l| l.commercial_use() == Some(allowed))
            .collect()
    }

    /// Picks the licence from several candidates (a card's list): the first listed one wins, else
    /// `other` if any was given, else `unknown`.
    pub fn from_candidates<'a>(candidates: impl IntoIterator<Item = &'a str>) -> LicenseType {
        let mut seen_any = false;
        for c in candidates {
            match LicenseType::normalize(c) {
                LicenseType::Unknown => {}
                LicenseType::Other => seen_any = true,
                known => return known,
            }
        }
        if seen_any {
            LicenseType::Other
        } else {
            LicenseType::Unknown
        }
    }
}

string_enum!(
    /// The original's licence colours: permissive (green), attribution or restrictions (yellow),
    /// non-commercial or copyleft (red).
    LicenseClass {
        Permissive => "permissive",
        Conditions => "conditions",
        Restricted => "restricted",
        Unknown => "unknown",
    }
);

string_enum!(
    /// Where a synced model stands on the Hub.
    UpstreamStatus {
        Active => "active",
        Removed => "removed",
        Private => "private",
        Renamed => "renamed",
    }
);

impl UpstreamStatus {
    /// Still listed upstream (a model without a status is too): the sync keeps it up to date. The
    /// same set as the store's `listed_status_sql!`.
    pub fn is_listed(status: Option<UpstreamStatus>) -> bool {
        status.is_none_or(|s| matches!(s, UpstreamStatus::Active | UpstreamStatus::Renamed))
    }
}

string_enum!(
    /// Whether the app can run a version, in the clients' words (CLIENTS.md §4.7): `verified` — its
    /// pipeline spec ran on the real model file; `pending` — it has a spec not verified yet; `missing` —
    /// no usable spec. The app lists only `verified` and `pending`.
    VersionStatus {
        Verified => "verified",
        Pending => "pending",
        Missing => "missing",
    }
);

impl VersionStatus {
    /// A status as a client sends it: the clients' words, or the reference backend's older
    /// `supported` (= verified) and `unsupported` (= missing).
    pub fn parse_lenient(s: &str) -> Result<VersionStatus, InvalidValue> {
        match s.trim().to_ascii_lowercase().as_str() {
            "supported" => Ok(VersionStatus::Verified),
            "unsupported" => Ok(VersionStatus::Missing),
            other => other.parse(),
        }
    }

    /// The app can run it (the `supported_only` set).
    pub fn is_usable(self) -> bool {
        matches!(self, VersionStatus::Verified | VersionStatus::Pending)
    }
}

string_enum!(
    /// Where a model comes from.
    Source {
        HuggingFace => "huggingface",
        User => "user",
    }
);

string_enum!(
    /// What started a sync run (or, `inspection`, a job inspecting stored versions: the clients'
    /// generate-pipeline-all and retry-segmentation, recorded beside the runs; it holds no lease).
    Trigger {
        Manual => "manual",
        Schedule => "schedule",
        Startup => "startup",
        Webhook => "webhook",
        Adhoc => "adhoc",
        Inspection => "inspection",
    }
);

string_enum!(
    /// How a sync run stands or ended: `success` is a run that completed, whatever it skipped (skips and
    /// warnings are kept beside the status); `failed` one that did not complete; `missed` a schedule slot
    /// that did not run (service down, paused, or older than the catch-up window).
    RunStatus {
        Running => "running",
        Success => "success",
        Failed => "failed",
        Missed => "missed",
    }
);

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

/// How popular a model is, as one number that orders models the way the catalogue promises "most
/// used first" (the default order of `GET /api/v1/models`, the root dialect's `sort=downloads`): by
/// Pocket AI's own downloads, then — among equals — by the Hub's, then (in the listing) by id. The
/// Hub's count is capped at [`POPULARITY_HUB_CAP`] so it never reaches the next own download, and own
/// downloads at [`POPULARITY_OWN_CAP`] so the number fits 63 bits. The database computes the same
/// number (`ml_models.popularity`, migration 0030); a test holds the two equal.
pub fn popularity(own_downloads: i64, hub_downloads: i64) -> i64 {
    own_downloads.clamp(0, POPULARITY_OWN_CAP) * (POPULARITY_HUB_CAP + 1)
        + hub_downloads.clamp(0, POPULARITY_HUB_CAP)
}

/// The largest own download count [`popularity`] tells apart (2^32 - 1).
pub const POPULARITY_OWN_CAP: i64 = (1 << 32) - 1;

/// The largest Hub download count [`popularity`] tells apart (2^31 - 1).
pub const POPULARITY_HUB_CAP: i64 = (1 << 31) - 1;

/// A model's rating as the catalogue ranks it (`rating_weighted_avg`): the Bayesian average of its
/// versions' `count` ratings summing `stars`, as if [`RATING_PRIOR_WEIGHT`] more people had given
/// [`RATING_PRIOR_MEAN`] stars — so one 5-star rating gives 3.33, and a model needs five 5-star ratings
/// to reach the portal's "Popular" badge (4.0). 0 without ratings (the clients show no stars).
pub fn weighted_rating(count: i64, stars: i64) -> f64 {
    if count <= 0 {
        return 0.0;
    }
    (RATING_PRIOR_WEIGHT * RATING_PRIOR_MEAN + stars as f64) / (RATING_PRIOR_WEIGHT + count as f64)
}

/// The rating [`weighted_rating`] assumes before anyone rated: the middle of the 1–5 scale.
pub const RATING_PRIOR_MEAN: f64 = 3.0;
/// How many ratings that assumption weighs as.
pub const RATING_PRIOR_WEIGHT: f64 = 5.0;

/// The current time truncated to microseconds, the precision both databases keep, so a value read back
/// equals the value written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_five_star_rating_cannot_top_many_good_ones() {
        assert_eq!(weighted_rating(0, 0), 0.0);
        let one_perfect = weighted_rating(1, 5);
        assert!((one_perfect - 20.0 / 6.0).abs() < 1e-9);
        let many_good = weighted_rating(20, 20 * 9 / 2);
        assert!(many_good > one_perfect, "{many_good} {one_perfect}");
        assert!(weighted_rating(4, 20) < 4.0 && weighted_rating(5, 25) >= 4.0);
        assert!(weighted_rating(1, 1) > 1.0 && weighted_rating(1000, 1000) < 1.01);
    }

    #[test]
    fn version_statuses_accept_the_legacy_words() {
        assert_eq!(
            VersionStatus::parse_lenient("supported").unwrap(),
            VersionStatus::Verified
        );
        assert_eq!(
            VersionStatus::parse_lenient("Unsupported").unwrap(),
            VersionStatus::Missing
        );
        assert_eq!(
            VersionStatus::parse_lenient("pending").unwrap(),
            VersionStatus::Pending
        );
        assert!(VersionStatus::parse_lenient("maybe").is_err());
        assert!(VersionStatus::Pending.is_usable() && !VersionStatus::Missing.is_usable());
    }

    #[test]
    fn licence_normalisation_maps_known_aliases_and_unknowns() {
        assert_eq!(LicenseType::normalize("Apache-2.0"), LicenseType::Apache2);
        assert_eq!(LicenseType::normalize("apache 2.0"), LicenseType::Apache2);
        assert_eq!(LicenseType::normalize("MIT"), LicenseType::Mit);
        assert_eq!(
            LicenseType::normalize("openrail++"),
            LicenseType::OpenrailPlusPlus
        );
        assert_eq!(LicenseType::normalize("gemma"), LicenseType::Other);
        assert_eq!(LicenseType::normalize("  "), LicenseType::Unknown);
        assert_eq!(
            LicenseType::from_candidates(["gemma", "mit"]),
            LicenseType::Mit
        );
        assert_eq!(LicenseType::from_candidates(["gemma"]), LicenseType::Other);
        assert_eq!(LicenseType::from_candidates([]), LicenseType::Unknown);
    }

    #[test]
    fn every_listed_licence_round_trips() {
        for l in LicenseType::ALL {
            assert_eq!(LicenseType::normalize(l.as_str()), *l);
        }
    }

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
