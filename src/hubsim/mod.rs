//! The Hugging Face Hub simulator (`pocket-catalog hubsim`): the Hub's model endpoints as HUB_API.md
//! describes them — listings with filters, expand and `Link` pagination, model info with blobs, trees,
//! README resolves, renames as 307, 401/404 for missing repos, gated and disabled repos, `RateLimit`
//! headers — over a deterministic population, plus what tests need: mutation steps, fault injection and
//! a request counter under `/_sim/`.

mod cdn;
mod listing;
mod models;
pub mod population;
mod repo;

use listing::*;
pub use models::{OwnModel, OWN_MODELS};
use repo::*;

use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use population::{MutationReport, SimRepo, World};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Faults the simulator injects; all off by default. Settable at start and through `PUT /_sim/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Every K-th Hub request answers `fail_status` (default 503).
    pub fail_every: Option<u64>,
    pub fail_status: Option<u16>,
    /// Added latency per Hub request, in milliseconds.
    pub latency_ms: u64,
    /// Every listing page carries one malformed entry.
    pub malformed_entries: bool,
    /// Every K-th listing page is cut off mid-body.
    pub truncate_every: Option<u64>,
    /// Requests allowed per window (the API bucket's quota); unlimited when absent.
    pub rate_limit_quota: Option<u64>,
    /// Length of the rate-limit window in seconds (the Hub's is 300).
    pub rate_limit_window_secs: Option<u64>,
    /// Send `Retry-After` on 429s as well as `RateLimit`.
    pub retry_after: bool,
    /// This percentage of the stored LFS objects (picked by their SHA-256) cannot be read: the CDN
    /// answers 503 to every request for them, as a broken or throttled object does (issue #32).
    pub broken_objects_pct: Option<u8>,
    /// Every `resolve` request answers 503: the Hub cannot say where a file is.
    pub resolve_fails: bool,
    /// Every model-info request at a revision (a commit's file list) answers 503.
    pub commit_details_fail: bool,
}

impl Faults {
    /// Whether the object with this SHA-256 is one of the broken ones.
    pub fn object_is_broken(&self, sha256: &str) -> bool {
        let pct = u64::from(self.broken_objects_pct.unwrap_or(0));
        let pick = sha256
            .get(..4)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or(0);
        pct > 0 && pick % 100 < pct
    }
}

/// Requests the simulator answered, by kind.
#[derive(Debug, Default, Serialize, Deserialize, Clone, PartialEq)]
pub struct Stats {
    pub requests: u64,
    pub list: u64,
    pub model_info: u64,
    pub tree: u64,
    pub resolve: u64,
    pub rate_limited: u64,
    pub faults: u64,
    /// CDN requests, bytes served, and requests that carried an `Authorization` header.
    #[serde(default)]
    pub cdn_requests: u64,
    #[serde(default)]
    pub cdn_bytes: u64,
    #[serde(default)]
    pub cdn_authorized: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    list: AtomicU64,
    model_info: AtomicU64,
    tree: AtomicU64,
    resolve: AtomicU64,
    rate_limited: AtomicU64,
    faults: AtomicU64,
}

/// The simulator's state.
pub struct Sim {
    world: RwLock<World>,
    faults: RwLock<Faults>,
    counters: Counters,
    window: Mutex<(Instant, u64)>,
    /// The `resolvers` bucket's window: the Hub meters file downloads apart from the API.
    resolve_window: Mutex<(Instant, u64)>,
    /// Cached orderings of public repos per sort key, invalidated by mutations.
    orderings: Mutex<HashMap<SortBy, RepoOrder>>,
    /// Listing entries as JSON text per requested key set and object id, invalidated by mutations:
    /// the simulator shares the benchmark machine with the sync it serves, so it renders each entry
    /// once, as a Hub behind a cache would.
    rendered: Mutex<HashMap<String, HashMap<String, Arc<str>>>>,
    /// LFS content by SHA-256 (`cdn.rs`): put into repos, or synthetic once resolved.
    blobs: RwLock<HashMap<String, cdn::Blob>>,
    /// Files uploaded to the storage stand-in (`cdn.rs`): object path → SHA-256 of a blob.
    uploads: RwLock<HashMap<String, String>>,
    cdn: cdn::CdnCounters,
}

/// Public repos as `(sort key, object id)`, highest first.
type RepoOrder = Arc<Vec<(i64, String)>>;

const DEFAULT_QUOTA: u64 = 1_000_000;
const DEFAULT_WINDOW: u64 = 300;
const MAX_PAGE: usize = 1000;

impl Sim {
    pub fn new(world: World, faults: Faults) -> Arc<Sim> {
        Arc::new(Sim {
            world: RwLock::new(world),
            faults: RwLock::new(faults),
            counters: Counters::default(),
            window: Mutex::new((Instant::now(), 0)),
            resolve_window: Mutex::new((Instant::now(), 0)),
            orderings: Mutex::new(HashMap::new()),
            rendered: Mutex::new(HashMap::new()),
            blobs: RwLock::new(HashMap::new()),
            uploads: RwLock::new(HashMap::new()),
            cdn: cdn::CdnCounters::default(),
        })
    }

    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            requests: l(&c.requests),
            list: l(&c.list),
            model_info: l(&c.model_info),
            tree: l(&c.tree),
            resolve: l(&c.resolve),
            rate_limited: l(&c.rate_limited),
            faults: l(&c.faults),
            cdn_requests: l(&self.cdn.requests),
            cdn_bytes: l(&self.cdn.bytes),
            cdn_authorized: l(&self.cdn.authorized),
        }
    }

    pub fn reset_stats(&self) {
        let c = &self.counters;
        for a in [
            &c.requests,
            &c.list,
            &c.model_info,
            &c.tree,
            &c.resolve,
            &c.rate_limited,
            &c.faults,
            &self.cdn.requests,
            &self.cdn.bytes,
            &self.cdn.authorized,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.cdn.by_file.lock().expect("cdn lock").clear();
    }

    /// A new commit of repo `repo_id` (a new sha, modified now) with the same files — a change of its
    /// model card, say; [`Sim::put_file`] then changes a file in it. Its sha, or `None` for an unknown repo.
    pub fn commit(&self, repo_id: &str) -> Option<String> {
        let sha = {
            let mut world = self.world.write().expect("world lock");
            let repo = world
                .repos
                .values_mut()
                .find(|r| r.id.eq_ignore_ascii_case(repo_id))?;
            let next = <sha2::Sha256 as sha2::Digest>::digest(format!("{}:{}", repo.sha, repo.id));
            repo.sha = hex::encode(next)[..40].to_string();
            repo.last_modified = chrono::Utc::now();
            repo.sha.clone()
        };
        self.invalidate();
        Some(sha)
    }

    pub fn mutate(&self) -> MutationReport {
        let report = self.world.write().expect("world lock").mutate();
        self.invalidate();
        report
    }

    /// Changes the download count of `percent` % of the public LiteRT repos (a metadata-only change,
    /// for benchmarks of an incremental re-sync); returns their ids.
    pub fn touch(&self, percent: f64) -> Vec<String> {
        let mut world = self.world.write().expect("world lock");
        let ids: Vec<String> = world
            .repos
            .values()
            .filter(|r| r.is_litert() && !r.private)
            .map(|r| r.object_id.clone())
            .collect();
        let n = ((ids.len() as f64) * percent / 100.0).round() as usize;
        let step = (ids.len() / n.max(1)).max(1);
        let mut touched = Vec::with_capacity(n);
        let mut touched_oids = Vec::with_capacity(n);
        for oid in ids.iter().step_by(step).take(n) {
            if let Some(r) = world.repos.get_mut(oid) {
                r.downloads += 1;
                touched.push(r.id.clone());
                touched_oids.push(oid.clone());
            }
        }
        drop(world);
        // Only the touched entries are rendered again, as a Hub's cache is purged per repo.
        self.orderings.lock().expect("orderings lock").clear();
        for cache in self.rendered.lock().expect("rendered lock").values_mut() {
            for oid in &touched_oids {
                cache.remove(oid);
            }
        }
        touched
    }

    /// Renders every public repo's listing entry for this key set ahead of the first request (the
    /// benchmark's simulator then serves its first listing as fast as its later ones).
    pub fn prerender(&self, keys: &[&str]) -> usize {
        let world = self.world.read().expect("world lock");
        let mut rendered = self.rendered.lock().expect("rendered lock");
        let cache = rendered.entry(key_set(keys)).or_default();
        for r in world.repos.values().filter(|r| !r.private) {
            rendered_entry(cache, r, keys);
        }
        cache.len()
    }

    /// Forgets what was derived from the world (orderings, rendered entries) after a change.
    fn invalidate(&self) {
        self.orderings.lock().expect("orderings lock").clear();
        self.rendered.lock().expect("rendered lock").clear();
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.write().expect("faults lock") = faults;
        *self.window.lock().expect("window lock") = (Instant::now(), 0);
        *self.resolve_window.lock().expect("window lock") = (Instant::now(), 0);
    }

    pub fn faults(&self) -> Faults {
        self.faults.read().expect("faults lock").clone()
    }

    /// Every repo, as the simulator holds it (the ground truth tests compare against).
    pub fn repos(&self) -> Vec<SimRepo> {
        self.world
            .read()
            .expect("world lock")
            .repos
            .values()
            .cloned()
            .collect()
    }

    fn ordering(&self, sort: SortBy) -> RepoOrder {
        if let Some(o) = self.orderings.lock().expect("orderings lock").get(&sort) {
            return o.clone();
        }
        let world = self.world.read().expect("world lock");
        let mut keys: Vec<(i64, String)> = world
            .repos
            .values()
            .filter(|r| !r.private)
            .map(|r| (sort.key(r), r.object_id.clone()))
            .collect();
        keys.sort_by(|a, b| b.cmp(a));
        let keys = Arc::new(keys);
        self.orderings
            .lock()
            .expect("orderings lock")
            .insert(sort, keys.clone());
        keys
    }
}

/// Serves the simulator on `listener` until `shutdown`.
pub async fn serve(
    sim: Arc<Sim>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(sim))
        .with_graceful_shutdown(shutdown)
        .await
}

pub fn router(sim: Arc<Sim>) -> Router {
    let hub = Router::new()
        .route("/api/models", get(list_models))
        .route("/api/models/{*rest}", get(repo_api))
        .fallback(get(resolve))
        .layer(middleware::from_fn_with_state(sim.clone(), hub_middleware));
    Router::new()
        .route(
            "/_sim/stats",
            get(|State(s): State<Arc<Sim>>| async move { Json(s.stats()) }),
        )
        .route(
            "/_sim/stats/reset",
            post(|State(s): State<Arc<Sim>>| async move {
                s.reset_stats();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_sim/mutate",
            post(|State(s): State<Arc<Sim>>| async move { Json(s.mutate()) }),
        )
        .route(
            "/_sim/repos",
            get(|State(s): State<Arc<Sim>>| async move { Json(s.repos()) }),
        )
        .route(
            "/_sim/touch",
            post(
                |State(s): State<Arc<Sim>>, RawQuery(q): RawQuery| async move {
                    let percent = parse_pairs(q.as_deref())
                        .into_iter()
                        .find(|(k, _)| k == "percent")
                        .and_then(|(_, v)| v.parse::<f64>().ok())
                        .unwrap_or(5.0)
                        .clamp(0.0, 100.0);
                    Json(json!({"touched": s.touch(percent).len()}))
                },
            ),
        )
        .route(
            "/_sim/faults",
            get(|State(s): State<Arc<Sim>>| async move { Json(s.faults()) }).put(
                |State(s): State<Arc<Sim>>, Json(f): Json<Faults>| async move {
                    s.set_faults(f);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route("/_cdn/{sha}/{name}", get(cdn::cdn).head(cdn::cdn))
        .route(
            "/storage/v1/object/public/{*path}",
            get(cdn::storage).head(cdn::storage),
        )
        .merge(hub)
        .with_state(sim)
}

fn hub_error(status: StatusCode, code: Option<&str>, message: &str) -> Response {
    let mut res = (status, Json(json!({"error": message}))).into_response();
    let h = res.headers_mut();
    if let Some(code) = code {
        h.insert(
            "x-error-code",
            HeaderValue::from_str(code).expect("ascii code"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(message) {
        h.insert("x-error-message", v);
    }
    res
}

/// Counting, the rate-limit window, injected latency and failures, and `RateLimit` headers on every
/// Hub response.
async fn hub_middleware(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let n = sim.counters.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let faults = sim.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let quota = faults.rate_limit_quota.unwrap_or(DEFAULT_QUOTA);
    let window = faults
        .rate_limit_window_secs
        .unwrap_or(DEFAULT_WINDOW)
        .max(1);
    // Downloads (`/{repo}/resolve/…`) count in their own bucket, as on the Hub.
    let resolving = req.uri().path().contains("/resolve/");
    let bucket = if resolving { "resolvers" } else { "api" };
    let (remaining, reset) = {
        let mut w = if resolving {
            sim.resolve_window.lock().expect("window lock")
        } else {
            sim.window.lock().expect("window lock")
        };
        if w.0.elapsed() >= Duration::from_secs(window) {
            *w = (Instant::now(), 0);
        }
        w.1 += 1;
        let reset = window.saturating_sub(w.0.elapsed().as_secs()).max(1);
        (quota as i64 - w.1 as i64, reset)
    };
    let mut res = if remaining < 0 {
        sim.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut res = hub_error(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            &format!("You have exceeded our hourly quotas for action: {bucket}. We invite you to retry later."),
        );
        if faults.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(reset));
        }
        res
    } else if faults.fail_every.is_some_and(|k| k > 0 && n % k == 0) {
        sim.counters.faults.fetch_add(1, Ordering::Relaxed);
        let status = StatusCode::from_u16(faults.fail_status.unwrap_or(503))
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        hub_error(status, None, "Injected failure")
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    let r = remaining.max(0);
    h.insert(
        "ratelimit",
        HeaderValue::from_str(&format!("\"{bucket}\";r={r};t={reset}")).expect("ascii"),
    );
    h.insert(
        "ratelimit-policy",
        HeaderValue::from_str(&format!(
            "\"fixed window\";\"{bucket}\";q={quota};w={window}"
        ))
        .expect("ascii"),
    );
    h.insert(
        "x-request-id",
        HeaderValue::from_str(&format!("Root=sim-{n}")).expect("ascii"),
    );
    res
}
