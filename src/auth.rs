//! Authentication and roles. API tokens are opaque (`pcat_` + 40 random characters), shown once, and stored
//! only as their SHA-256. [`Caller`] is the extractor every handler uses: anonymous when no
//! `Authorization` header is sent, 401 when a token is sent but is not valid, and `require_*` turn a
//! missing role into 401 (nobody signed in) or 403 (signed in without the role).

use crate::error::ApiError;
use crate::http::AppState;
use crate::records::User;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "pcat_";
const TOKEN_RANDOM_CHARS: usize = 40;
/// `last_used_at` is written at most this often per token, so reads do not turn into writes.
const TOUCH_EVERY_SECS: i64 = 60;

/// A new random token. 40 alphanumeric characters carry about 238 bits of entropy.
pub fn generate_token() -> String {
    let random = Alphanumeric.sample_string(&mut rand::rng(), TOKEN_RANDOM_CHARS);
    format!("{TOKEN_PREFIX}{random}")
}

/// What is stored for a token: the hex SHA-256 of the whole token. Tokens are long random strings, so a
/// fast unsalted hash is enough (as crates.io and GitHub do).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Who is calling: a signed-in user, or nobody.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<User>);

impl Caller {
    pub fn user(&self) -> Result<&User, ApiError> {
        self.0
            .as_ref()
            .ok_or_else(|| ApiError::Unauthorized("Not authenticated".into()))
    }

    pub fn developer(&self) -> Result<&User, ApiError> {
        let user = self.user()?;
        if user.is_developer || user.is_admin {
            Ok(user)
        } else {
            Err(ApiError::Forbidden(
                "This action requires a developer account".into(),
            ))
        }
    }

    pub fn admin(&self) -> Result<&User, ApiError> {
        let user = self.user()?;
        if user.is_admin {
            Ok(user)
        } else {
            Err(ApiError::Forbidden(
                "This action requires an admin account".into(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Caller(None));
        };
        let invalid = || ApiError::Unauthorized("Invalid or expired token".into());
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty() && t.len() <= 4096)
            .ok_or_else(invalid)?;
        let Some((record, user)) = state.store.find_token(&hash_token(token)).await? else {
            return Err(invalid());
        };
        let now = crate::domain::now();
        if !record.is_usable(now) {
            return Err(invalid());
        }
        let stale = record
            .last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= TOUCH_EVERY_SECS);
        if stale {
            state.store.touch_token(record.id, now).await?;
        }
        Ok(Caller(Some(user)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_long_and_distinct() {
        let a = generate_token();
        let b = generate_token();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + TOKEN_RANDOM_CHARS);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}
