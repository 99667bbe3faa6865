//! Supabase access tokens (JWTs), for the existing Pocket AI web portal and app. HS256 with
//! `SUPABASE_JWT_SECRET`, and/or RS256/ES256 with the keys of `{SUPABASE_URL}/auth/v1/.well-known/jwks.json`.
//! The algorithm is pinned to the key's type (never `none`), the signature, `exp`, `nbf` and `iat` (a
//! token not yet valid or issued in the future is refused; 30 s of leeway for clock skew) and the
//! audience `authenticated` are checked. JWKS are fetched once and cached; an unknown `kid` triggers one
//! refetch (at most every 30 s), and when the JWKS server is down the cached keys keep working.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use uuid::Uuid;

pub const AUDIENCE: &str = "authenticated";
const LEEWAY_SECS: u64 = 30;
const REFETCH_EVERY: Duration = Duration::from_secs(30);

/// The claims we use.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// Issued at (seconds since the epoch): a token from the future is refused.
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A verified token's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: Uuid,
    pub email: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("invalid token: {0}")]
    Invalid(String),
}

fn invalid(e: impl std::fmt::Display) -> JwtError {
    JwtError::Invalid(e.to_string())
}

type KeyMap = HashMap<String, (DecodingKey, Algorithm)>;

#[derive(Default)]
struct KeyCache {
    keys: KeyMap,
    last_load: Option<Instant>,
    last_refetch: Option<Instant>,
}

#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    hs256: Option<DecodingKey>,
    jwks_url: Option<url::Url>,
    http: reqwest::Client,
    /// kid → (key, its algorithm), and when the keys were last loaded while none were cached and when
    /// an unknown kid last caused a refetch.
    keys: Mutex<KeyCache>,
}

impl JwtVerifier {
    /// `None` when neither a secret nor a Supabase URL is configured.
    pub fn new(
        secret: Option<SecretString>,
        supabase_url: Option<url::Url>,
    ) -> Option<JwtVerifier> {
        if secret.is_none() && supabase_url.is_none() {
            return None;
        }
        let jwks_url = supabase_url.and_then(|u| u.join("auth/v1/.well-known/jwks.json").ok());
        Some(JwtVerifier {
            inner: Arc::new(Inner {
                hs256: secret.map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes())),
                jwks_url,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .expect("static client configuration"),
                keys: Mutex::new(KeyCache::default()),
            }),
        })
    }

    /// Whether a bearer token has the shape of a JWT.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3 && token.starts_with("ey")
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        let header = decode_header(token).map_err(invalid)?;
        let (key, alg) = match header.alg {
            Algorithm::HS256 => (
                self.inner
                    .hs256
                    .clone()
                    .ok_or_else(|| invalid("HS256 tokens are not accepted"))?,
                Algorithm::HS256,
            ),
            Algorithm::RS256 | Algorithm::ES256 => {
                let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
                let (key, alg) = self.key(&kid).await?;
                if alg != header.alg {
                    return Err(invalid("the algorithm does not match the key"));
                }
                (key, alg)
            }
            other => return Err(invalid(format!("algorithm {other:?} is not accepted"))),
        };
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        let data = decode::<Claims>(token, &key, &validation).map_err(invalid)?;
        let now = jsonwebtoken::get_current_timestamp() as i64;
        if data
            .claims
            .iat
            .is_some_and(|iat| iat > now + LEEWAY_SECS as i64)
        {
            return Err(invalid("the token is issued in the future (iat)"));
        }
        let user_id =
            Uuid::parse_str(&data.claims.sub).map_err(|_| invalid("sub is not a UUID"))?;
        Ok(Identity {
            user_id,
            email: data.claims.email,
        })
    }

    /// The key for `kid`, refetching the JWKS (rate-limited) when it is unknown.
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), JwtError> {
        let url = self
            .inner
            .jwks_url
            .clone()
            .ok_or_else(|| invalid("asymmetric tokens are not accepted"))?;
        let mut guard = self.inner.keys.lock().await;
        if let Some(k) = guard.keys.get(kid) {
            return Ok(k.clone());
        }
        // Loading the keys is retried at most every few seconds while none are cached; once keys are
        // cached, an unknown kid refetches at most every REFETCH_EVERY.
        let empty = guard.keys.is_empty();
        let gap = if empty {
            Duration::from_secs(5)
        } else {
            REFETCH_EVERY
        };
        let last = if empty {
            &mut guard.last_load
        } else {
            &mut guard.last_refetch
        };
        if last.is_some_and(|t| t.elapsed() < gap) {
            return Err(invalid("unknown kid"));
        }
        *last = Some(Instant::now());
        match self.fetch(&url).await {
            Ok(keys) => {
                // Keep keys we know even if the set changed; a rotated-out key expires with its tokens.
                guard.keys.extend(keys);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch the Supabase JWKS; cached keys stay in use")
            }
        }
        guard
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| invalid("unknown kid"))
    }

    async fn fetch(&self, url: &url::Url) -> Result<KeyMap, String> {
        let set: JwkSet = self
            .inner
            .http
            .get(url.clone())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            // The algorithm follows from the key's type, whatever a token claims.
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => continue,
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, alg));
            }
        }
        Ok(keys)
    }
}

/// A username from an email's local part: letters, digits, `-`, `_`, `.`; at least one character.
pub fn username_base(email: Option<&str>, user_id: Uuid) -> String {
    let local = email.and_then(|e| e.split('@').next()).unwrap_or("");
    let mut s: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(48)
        .collect();
    if s.is_empty() {
        s = format!("user-{}", &user_id.simple().to_string()[..8]);
    }
    s
}

/// Usernames to try, in order: the base, then with more and more of the user id appended.
pub fn username_candidates(base: &str, user_id: Uuid) -> Vec<String> {
    let hex = user_id.simple().to_string();
    let mut out = vec![base.to_string()];
    for n in [6, 12, 32] {
        out.push(format!("{base}-{}", &hex[..n]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_email_and_stay_unique() {
        let id = Uuid::parse_str("0a1b2c3d-0000-0000-0000-000000000000").unwrap();
        assert_eq!(
            username_base(Some("Jane.Doe+x@example.com"), id),
            "Jane.Doex"
        );
        assert_eq!(username_base(None, id), "user-0a1b2c3d");
        let c = username_candidates("jane", id);
        assert_eq!(c[0], "jane");
        assert_eq!(c[1], "jane-0a1b2c");
        assert!(JwtVerifier::looks_like_jwt(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"
        ));
        assert!(!JwtVerifier::looks_like_jwt("pcat_abc"));
    }
}
