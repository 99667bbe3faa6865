//! The bounds of what a person may write into the catalog — names, labels, free text, URLs, tags,
//! asset lists — the same for both dialects (each names the field as its clients know it).

use super::error::{CatalogError, CatalogResult};
use crate::domain::records::Asset;

/// A model's name.
pub const MAX_NAME: usize = 200;
/// A description or a changelog.
pub const MAX_TEXT: usize = 20_000;
/// Tags of one model.
pub const MAX_TAGS: usize = 64;
/// One tag, or a task.
pub const MAX_TAG: usize = 100;
/// A URL.
pub const MAX_URL: usize = 2048;
/// Assets of one version.
pub const MAX_ASSETS: usize = 500;
/// A version's name or commit.
pub const MAX_VERSION_LABEL: usize = 100;
/// A pipeline spec, as JSON text.
pub const MAX_SPEC_BYTES: usize = 64 * 1024;

pub fn check_name(name: &str) -> CatalogResult<String> {
    check_label("name", name, MAX_NAME)
}

/// A one-line label a person must give (a name, a version's name, a commit): trimmed, 1 to `max`
/// characters, no line break or control character, not only spaces and invisible characters.
pub fn check_label(field: &str, value: &str, max: usize) -> CatalogResult<String> {
    let value = value.trim();
    if crate::domain::text::is_blank(value) || value.chars().count() > max {
        return Err(CatalogError::Invalid(format!(
            "{field} must be 1 to {max} characters, not only spaces or invisible characters"
        )));
    }
    if let Some(c) = crate::domain::text::first_refused(value, false) {
        return Err(CatalogError::Invalid(format!(
            "{field} must be one line without control characters (found {})",
            crate::domain::text::shown(c)
        )));
    }
    Ok(value.to_string())
}

pub fn check_text(field: &str, value: &str, max: usize) -> CatalogResult<()> {
    if value.chars().count() > max {
        return Err(CatalogError::Invalid(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(())
}

pub fn check_url(field: &str, value: &str) -> CatalogResult<()> {
    let ok = value.len() <= MAX_URL
        && url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if ok {
        Ok(())
    } else {
        Err(CatalogError::Invalid(format!(
            "{field} must be an http(s) URL"
        )))
    }
}

pub fn check_tags(tags: &[String]) -> CatalogResult<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(CatalogError::Invalid(format!(
            "at most {MAX_TAGS} tags are allowed"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        let t = check_label("each tag", t, MAX_TAG)?;
        let t = t.as_str();
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// A version's asset list, whichever dialect built it: at most [`MAX_ASSETS`], each with a key, a
/// type, an http(s) URL, a size that is not negative and a hash of a plausible length.
pub fn check_assets(assets: &[Asset]) -> CatalogResult<()> {
    if assets.len() > MAX_ASSETS {
        return Err(CatalogError::Invalid(format!(
            "at most {MAX_ASSETS} assets are allowed"
        )));
    }
    for a in assets {
        check_label("asset_key", &a.asset_key, 500)?;
        check_label("asset_type", &a.asset_type, 50)?;
        if a.file_hash.as_ref().is_some_and(|h| h.len() > 128)
            || a.hash_kind.as_ref().is_some_and(|k| k.len() > 16)
        {
            return Err(CatalogError::Invalid(
                "file_hash must be at most 128 characters and hash_kind at most 16".into(),
            ));
        }
        check_url("source_url", &a.source_url)?;
        if a.file_size_bytes.is_some_and(|s| s < 0) {
            return Err(CatalogError::Invalid(
                "file_size_bytes must not be negative".into(),
            ));
        }
    }
    Ok(())
}
