//! Short-lived, bounded in-memory caches of the API's hot reads: the number of models matching a filter
//! (`X-Total-Count`), whole `GET /models` pages, `GET /models/{id}` answers and the Hub search answers. They trade a bounded
//! staleness for not repeating the same database work under load; writes through this replica's API clear
//! them at once (`AppState::catalog_changed`).

use crate::http::error::{ApiError, ApiResult};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries live `ttl`; at most `max` of them (expired ones are dropped first, then everything).
#[derive(Clone)]
pub struct TtlCache<V> {
    entries: Arc<Mutex<HashMap<String, (Instant, V)>>>,
    /// One gate per key being filled: concurrent misses of a key wait for one fill instead of all
    /// running the same query (no stampede when a hot entry expires).
    gates: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    ttl: Duration,
    max: usize,
}

impl<V: Clone> TtlCache<V> {
    /// A zero `ttl` disables the cache: nothing is stored.
    pub fn new(ttl: Duration, max: usize) -> Self {
        TtlCache {
            entries: Default::default(),
            gates: Default::default(),
            ttl,
            max,
        }
    }

    /// The cached value of `key`, or the one `fill` makes (cached when it succeeds). Of concurrent
    /// misses of one key, one fills and the others wait for it and take its value. An expired entry is
    /// refreshed by one request while the others still get the expired value, so a hot key never makes
    /// a crowd wait (a value is at most `ttl` plus one refresh old).
    pub async fn get_or_fill<E, F>(&self, key: &str, fill: F) -> Result<V, E>
    where
        F: std::future::Future<Output = Result<V, E>>,
    {
        if self.ttl.is_zero() {
            return fill.await;
        }
        let cached = self
            .entries
            .lock()
            .expect("cache lock")
            .get(key)
            .map(|(t, v)| (t.elapsed() < self.ttl, v.clone()));
        let gate = match cached {
            Some((true, v)) => return Ok(v),
            Some((false, stale)) => {
                let Ok(turn) = self.gate(key).try_lock_owned() else {
                    return Ok(stale);
                };
                return self.fill(key, fill, turn).await;
            }
            None => self.gate(key),
        };
        let turn = gate.lock_owned().await;
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        self.fill(key, fill, turn).await
    }

    fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.gates
            .lock()
            .expect("cache lock")
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    async fn fill<E, F>(
        &self,
        key: &str,
        fill: F,
        turn: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<V, E>
    where
        F: std::future::Future<Output = Result<V, E>>,
    {
        // The gate leaves the map however the fill ends, a dropped (cancelled) request included.
        let _turn = Turn {
            gates: &self.gates,
            key,
            _guard: turn,
        };
        let filled = fill.await;
        if let Ok(v) = &filled {
            self.put(key.to_string(), v.clone());
        }
        filled
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().expect("cache lock");
        entries
            .get(key)
            .filter(|(t, _)| t.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= self.max {
            let ttl = self.ttl;
            entries.retain(|_, (t, _)| t.elapsed() < ttl);
            if entries.len() >= self.max {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn clear(&self) {
        self.entries.lock().expect("cache lock").clear();
    }
}

/// The right to fill a key; dropping it removes the key's gate.
struct Turn<'a> {
    gates: &'a Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    key: &'a str,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Ok(mut gates) = self.gates.lock() {
            gates.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_misses_of_a_key_fill_it_once() {
        let cache = TtlCache::new(Duration::from_secs(5), 16);
        let fills = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, fills) = (cache.clone(), fills.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_fill("k", async {
                            fills.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            Ok::<_, ()>(7)
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(7));
        }
        assert_eq!(fills.load(Ordering::SeqCst), 1);
        // Expired: one caller refreshes while the others get the old value at once.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let short = TtlCache::new(Duration::from_millis(20), 16);
        short.put("k".into(), 1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let refresher = {
            let short = short.clone();
            tokio::spawn(async move {
                short
                    .get_or_fill("k", async {
                        let _ = rx.await;
                        Ok::<_, ()>(2)
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            short.get_or_fill("k", async { Ok::<_, ()>(3) }).await,
            Ok(1),
            "stale while another refreshes"
        );
        tx.send(()).unwrap();
        assert_eq!(refresher.await.unwrap(), Ok(2));
        assert_eq!(short.get("k"), Some(2));
        // A fill whose request goes away leaves no gate behind, and the next caller fills.
        let abandoned = cache.get_or_fill("gone", std::future::pending::<Result<i32, ()>>());
        assert!(tokio::time::timeout(Duration::from_millis(10), abandoned)
            .await
            .is_err());
        assert!(cache.gates.lock().unwrap().is_empty());
        assert_eq!(
            cache.get_or_fill("gone", async { Ok::<_, ()>(5) }).await,
            Ok(5)
        );
        // A failed fill caches nothing.
        let r: Result<i32, &str> = cache.get_or_fill("e", async { Err("down") }).await;
        assert_eq!(r, Err("down"));
        assert_eq!(cache.get("e"), None);
    }

    #[test]
    fn entries_expire_are_bounded_and_a_zero_ttl_stores_nothing() {
        let cache = TtlCache::new(Duration::from_millis(40), 2);
        cache.put("a".into(), 1);
        cache.put("b".into(), 2);
        assert_eq!(cache.get("a"), Some(1));
        cache.put("c".into(), 3);
        assert_eq!(cache.get("c"), Some(3), "a full cache makes room");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(cache.get("c"), None, "expired");
        cache.put("d".into(), 4);
        cache.clear();
        assert_eq!(cache.get("d"), None);
        let off = TtlCache::new(Duration::ZERO, 8);
        off.put("a".into(), 1);
        assert_eq!(off.get("a"), None);
    }
}

/// A value as the JSON body of a cached answer.
pub(crate) fn json_body<T: Serialize>(value: &T) -> ApiResult<bytes::Bytes> {
    serde_json::to_vec(value)
        .map(Into::into)
        .map_err(|e| ApiError::Internal(e.into()))
}

/// A catalogue answer as the page caches keep it (both dialects' lists and models).
#[derive(Clone)]
pub struct CachedPage {
    pub(crate) headers: HeaderMap,
    pub(crate) body: bytes::Bytes,
}

impl IntoResponse for CachedPage {
    fn into_response(self) -> Response {
        let mut res = (self.headers, self.body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }
}
