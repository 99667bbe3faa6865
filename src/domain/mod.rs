//! Domain types shared by the store, the HTTP API and the sync: the closed vocabularies of the catalog
//! (categories, licences, statuses, triggers) here; its identifiers in `ids`, how it ranks models in
//! `ranking`, records, text rules, policy and the rest in their modules. Nothing here knows about HTTP
//! or SQL.

pub mod assets;
pub mod changes;
pub mod client_card;
mod ids;
pub mod inspection;
pub mod policy;
mod ranking;
pub mod records;
pub mod runs;
pub mod stats;
pub mod text;

pub use ids::{RepoId, Slug};
pub use ranking::{
    popularity, weighted_rating, POPULARITY_HUB_CAP, POPULARITY_OWN_CAP, RATING_PRIOR_MEAN,
    RATING_PRIOR_WEIGHT,
};

use serde::{Deserialize, Serialize};
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

/// Whether the Hub's `gated` field of a repo (`"false"`, `"auto"`, `"manual"`; absent when not said)
/// says its files need access.
pub fn is_gated(gated: Option<&str>) -> bool {
    gated.is_some_and(|g| g != "false")
}

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
}
