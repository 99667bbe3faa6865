//! Authentication and roles. API tokens are opaque (`pcat_` + 40 random characters), shown once, and stored
//! only as their SHA-256. The [`Authenticator`] tells who a request's `Authorization` header names
//! ([`Caller`]): anonymous when none is sent, 401 when a token is sent but is not valid; `developer()` and
//! `admin()` turn a missing role into 401 (nobody signed in) or 403 (signed in without the role). The HTTP
//! layer extracts a [`Caller`] with it for every handler.

pub mod jwt;

use crate::auth::jwt::{username_base, username_candidates, Identity, JwtVerifier};
use crate::domain::records::{NewUser, User};
use crate::store::{constraint, Store, StoreError};
use axum::http::HeaderValue;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

/// Why a caller is refused, in words for the person: the HTTP layer gives each its status
/// (`http::error`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Nobody is signed in, or the credentials are not valid (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in without the role this needs (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed attempts from this client (429).
    #[error("{0}")]
    TooManyRequests(String),
    /// No unique username could be made for a new identity (409).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

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
    pub fn user(&self) -> Result<&User, AuthError> {
        self.0
            .as_ref()
            .ok_or_else(|| AuthError::Unauthorized("Not authenticated".into()))
    }

    pub fn developer(&self) -> Result<&User, AuthError> {
        let user = self.user()?;
        if user.is_developer || user.is_admin {
            Ok(user)
        } else {
            Err(AuthError::Forbidden(
                "This action requires a developer account".into(),
            ))
        }
    }

    pub fn admin(&self) -> Result<&User, AuthError> {
        let user = self.user()?;
        if user.is_admin {
            Ok(user)
        } else {
            Err(AuthError::Forbidden(
                "This action requires an admin account".into(),
            ))
        }
    }
}

/// Tells who a request is from: API tokens, Supabase access tokens (when configured), and the throttle of
/// repeated failures. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    jwt: Option<JwtVerifier>,
    throttle: AuthThrottle,
}

impl Authenticator {
    pub fn new(store: Store, jwt: Option<JwtVerifier>, throttle: AuthThrottle) -> Authenticator {
        Authenticator {
            store,
            jwt,
            throttle,
        }
    }

    /// The caller named by `authorization` (none: anonymous), from `client` (its socket address; a
    /// forwarded-for header is the client's to forge). Failures are throttled per client address:
    /// past the limit, a client's *invalid* credentials get 429 instead of 401 until the window ends
    /// — valid credentials are always accepted, so behind a proxy (one address for everyone) one
    /// client's failures never lock the others out.
    pub async fn caller(
        &self,
        authorization: Option<&HeaderValue>,
        client: &str,
    ) -> Result<Caller, AuthError> {
        let Some(value) = authorization else {
            return Ok(Caller(None));
        };
        match self.authenticate(value).await {
            Err(AuthError::Unauthorized(m)) => {
                if let Some(wait) = self.throttle.blocked(client) {
                    return Err(AuthError::TooManyRequests(format!(
                        "Too many failed authentication attempts; try again in {} s",
                        wait.as_secs().max(1)
                    )));
                }
                self.throttle.failure(client);
                Err(AuthError::Unauthorized(m))
            }
            other => other,
        }
    }

    /// Who a bearer token names: an API token's user, or a verified Supabase identity's user.
    async fn authenticate(&self, value: &HeaderValue) -> Result<Caller, AuthError> {
        // The reference backend's words (CLIENTS.md §1.2).
        let invalid = || AuthError::Unauthorized("Could not validate credentials".into());
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty() && t.len() <= 4096)
            .ok_or_else(invalid)?;
        if !token.starts_with(TOKEN_PREFIX) {
            if let Some(verifier) = self
                .jwt
                .as_ref()
                .filter(|_| JwtVerifier::looks_like_jwt(token))
            {
                let identity = verifier.verify(token).await.map_err(|e| {
                    tracing::info!(error = %e, "bearer JWT refused");
                    invalid()
                })?;
                return Ok(Caller(Some(self.user_for(&identity).await?)));
            }
            return Err(invalid());
        }
        let Some((record, user)) = self.store.find_token(&hash_token(token)).await? else {
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
            self.store.touch_token(record.id, now).await?;
        }
        Ok(Caller(Some(user)))
    }

    /// The user of a verified Supabase identity, created on first sight as a plain user (id = `sub`, a
    /// username from the email's local part, made unique deterministically).
    async fn user_for(&self, identity: &Identity) -> Result<User, AuthError> {
        if let Some(user) = self.store.get_user(identity.user_id).await? {
            return Ok(user);
        }
        let base = username_base(identity.email.as_deref(), identity.user_id);
        let mut email = identity
            .email
            .clone()
            .unwrap_or_else(|| format!("{}@users.supabase.invalid", identity.user_id));
        for username in username_candidates(&base, identity.user_id) {
            let new = NewUser {
                username,
                email: email.clone(),
                is_developer: false,
                is_admin: false,
            };
            match self.store.create_user_with_id(identity.user_id, &new).await {
                Ok(user) => {
                    tracing::info!(user = %user.username, "created a user for a new Supabase identity");
                    return Ok(user);
                }
                Err(e) if e.is_conflict_on(constraint::USERS_USERNAME) => continue,
                // The email already belongs to another account: keep the accounts apart.
                Err(e) if e.is_conflict_on(constraint::USERS_EMAIL) => {
                    email = format!("{}@users.supabase.invalid", identity.user_id);
                }
                // Created meanwhile by a concurrent request.
                Err(StoreError::Conflict { .. }) => {
                    if let Some(user) = self.store.get_user(identity.user_id).await? {
                        return Ok(user);
                    }
                }
                Err(e) => return Err(AuthError::Store(e)),
            }
        }
        Err(AuthError::Conflict(
            "could not derive a unique username for this account".into(),
        ))
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

/// Failed authentications per client: after `max` failures within a window, the client is refused
/// (429) until the window ends. Successful requests do not count.
#[derive(Clone)]
pub struct AuthThrottle {
    inner: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u32)>>,
    >,
    max: u32,
    window: std::time::Duration,
}

impl AuthThrottle {
    pub fn new(max: u32, window: std::time::Duration) -> AuthThrottle {
        AuthThrottle {
            inner: Default::default(),
            max,
            window,
        }
    }

    /// How long the client must still wait, when it is blocked.
    pub fn blocked(&self, client: &str) -> Option<std::time::Duration> {
        let map = self.inner.lock().expect("throttle lock");
        let (start, n) = map.get(client)?;
        let left = self.window.checked_sub(start.elapsed())?;
        (*n >= self.max).then_some(left)
    }

    pub fn failure(&self, client: &str) {
        let mut map = self.inner.lock().expect("throttle lock");
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| start.elapsed() < self.window);
        }
        let entry = map
            .entry(client.to_string())
            .or_insert((std::time::Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (std::time::Instant::now(), 0);
        }
        entry.1 += 1;
        if entry.1 == self.max {
            tracing::warn!(client, "too many failed authentications; client throttled");
        }
    }
}
