//! The clients' model object (`MLModelRead`, CLIENTS.md §3) split where it changes: the **card** —
//! every field a model's own edits and the sync's metadata writes change — is rendered to JSON once,
//! when the model is written, and stored beside it (`ml_models.client_card`); the **counters** (its
//! Pocket AI downloads and its versions at a glance), which change on every download and version
//! write, are appended from their columns when a list is read ([`CARD_CLOSING_SQL`]). A list of 1,000
//! models is then one concatenation in the database instead of 34,000 values decoded and
//! re-serialised (issue #33: BENCHMARKS.md, "The clients' catalog").
//!
//! The one serialisation of the card is [`ClientCard`]'s `Serialize`; `/api/v1`'s `ClientModel` is a
//! card and the counters, so a model rendered whole and one read from the stored card are the same
//! JSON (asserted on both backends in `tests/it/client_cards.rs`).

use super::records::{Model, NewModel};
use super::{Category, LicenseType};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

/// One fixed timestamp format: the app sorts `created_at` by string comparison (CLIENTS.md §1.1).
pub fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// The fields of a client model that only writes of the model itself change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientCard {
    pub id: Uuid,
    /// The publishing user (a Supabase user id); mirrored models belong to the sync's system user.
    pub author_id: Uuid,
    pub name: String,
    pub slug: String,
    /// Never null.
    pub description: String,
    pub category: Category,
    pub tags: Vec<String>,
    pub task: Option<String>,
    /// `owner/repo` of a model mirrored from (or published from) the Hugging Face Hub.
    pub hf_model_id: Option<String>,
    pub is_verified_official: bool,
    pub is_public: bool,
    pub license_type: LicenseType,
    pub total_ratings: i64,
    pub rating_weighted_avg: f64,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// What SQL appends to a stored card to close it into the clients' model object: the counters, read
/// from their columns at that moment (the same SQL on both backends).
pub const CARD_CLOSING_SQL: &str = "',\"total_download_count\":' || total_download_count || \
    ',\"version_count\":' || version_count || ',\"file_size_bytes\":' || largest_file_bytes || \
    ',\"best_version_status\":' || COALESCE('\"' || best_version_status || '\"', 'null') || '}'";

/// `owner/repo` of a Hugging Face Hub repo URL (`https://huggingface.co/owner/repo`), percent-decoded;
/// `None` for any other URL.
pub fn repo_of_url(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    if u.host_str() != Some("huggingface.co") {
        return None;
    }
    let parts: Vec<String> = u
        .path_segments()?
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    (parts.len() == 2).then(|| parts.join("/"))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.replace('+', "%2B").as_bytes())
        .map(|(k, v)| {
            if v.is_empty() {
                k.into_owned()
            } else {
                format!("{k}={v}")
            }
        })
        .collect()
}

/// A person's model names its Hub repo by its origin; a mirror by its identity.
fn hub_repo(hf_model_id: Option<&str>, origin_repo_url: Option<&str>) -> Option<String> {
    hf_model_id
        .map(str::to_string)
        .or_else(|| origin_repo_url.and_then(repo_of_url))
}

impl ClientCard {
    /// The card of a stored model.
    pub fn of(m: &Model) -> ClientCard {
        ClientCard {
            id: m.id,
            author_id: m.author_id,
            name: m.name.clone(),
            slug: m.slug.clone(),
            description: m.description.clone(),
            category: m.category,
            tags: m.tags.clone(),
            task: m.task.clone(),
            hf_model_id: hub_repo(m.hf_model_id.as_deref(), m.origin_repo_url.as_deref()),
            is_verified_official: m.is_verified_official,
            is_public: m.is_public,
            license_type: m.license_type,
            total_ratings: m.total_ratings,
            rating_weighted_avg: m.rating_weighted_avg,
            created_at: m.created_at,
        }
    }

    /// The card of a model about to be inserted under `slug` at `now` (no ratings yet).
    pub fn of_new(new: &NewModel, slug: &str, now: DateTime<Utc>) -> ClientCard {
        ClientCard {
            id: new.id,
            author_id: new.author_id,
            name: new.name.clone(),
            slug: slug.to_string(),
            description: new.description.clone(),
            category: new.category,
            tags: new.tags.clone(),
            task: new.task.clone(),
            hf_model_id: hub_repo(new.hf_model_id.as_deref(), new.origin_repo_url.as_deref()),
            is_verified_official: new.is_verified_official,
            is_public: new.is_public,
            license_type: new.license_type,
            total_ratings: 0,
            rating_weighted_avg: 0.0,
            created_at: now,
        }
    }

    /// The card as stored: its JSON object without the closing brace, which [`CARD_CLOSING_SQL`]
    /// supplies after the counters.
    pub fn stored(&self) -> String {
        let mut json = serde_json::to_string(self).expect("a card serialises");
        json.pop();
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_card_is_its_json_object_left_open() {
        let new = NewModel {
            id: Uuid::nil(),
            name: "Tiny \"net\"".into(),
            slug_hint: "tiny".into(),
            slug_disambiguator: "x".into(),
            description: String::new(),
            category: Category::Utility,
            license_type: LicenseType::Mit,
            origin_repo_url: Some("https://huggingface.co/acme/tiny%20net".into()),
            author_id: Uuid::nil(),
            hf_model_id: None,
            is_verified_official: false,
            tags: vec!["a".into()],
            task: None,
            task_inferred: false,
            upstream: None,
            is_public: true,
        };
        let now = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let stored = ClientCard::of_new(&new, "tiny", now).stored();
        assert!(stored.starts_with("{\"id\":\"00000000-0000-0000-0000-000000000000\""));
        assert!(stored.ends_with("\"created_at\":\"2026-01-02T03:04:05.500000Z\""));
        let closed: serde_json::Value = serde_json::from_str(&format!("{stored}}}")).unwrap();
        assert_eq!(closed["hf_model_id"], "acme/tiny net");
        assert_eq!(closed["name"], "Tiny \"net\"");
        assert_eq!(closed["rating_weighted_avg"], 0.0);
    }
}
