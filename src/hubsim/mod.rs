//! The Hugging Face Hub simulator (`pocket-catalog hubsim`): the Hub's model endpoints as HUB_API.md
//! describes them — listings with filters, expand and `Link` pagination, model info with blobs, trees,
//! README resolves, renames as 307, 401/404 for missing repos, gated and disabled repos, `RateLimit`
//! headers — over a deterministic population, plus what tests need: mutation steps, fault injection and
//! a request counter under `/_sim/`.

pub mod population;

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
    /// Cached orderings of public repos per sort key, invalidated by mutations.
    orderings: Mutex<HashMap<SortBy, RepoOrder>>,
    /// Listing entries as JSON text per requested key set and object id, invalidated by mutations:
    /// the simulator shares the benchmark machine with the sync it serves, so it renders each entry
    /// once, as a Hub behind a cache would.
    rendered: Mutex<HashMap<String, HashMap<String, Arc<str>>>>,
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
            orderings: Mutex::new(HashMap::new()),
            rendered: Mutex::new(HashMap::new()),
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
        ] {
            a.store(0, Ordering::Relaxed);
        }
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
    let (remaining, reset) = {
        let mut w = sim.window.lock().expect("window lock");
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
            "You have exceeded our hourly quotas for action: api. We invite you to retry later.",
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
        HeaderValue::from_str(&format!("\"api\";r={r};t={reset}")).expect("ascii"),
    );
    h.insert(
        "ratelimit-policy",
        HeaderValue::from_str(&format!("\"fixed window\";\"api\";q={quota};w={window}"))
            .expect("ascii"),
    );
    h.insert(
        "x-request-id",
        HeaderValue::from_str(&format!("Root=sim-{n}")).expect("ascii"),
    );
    res
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SortBy {
    Downloads,
    Likes,
    LastModified,
    CreatedAt,
    Trending,
}

impl SortBy {
    fn parse(s: &str) -> Option<SortBy> {
        Some(match s {
            "downloads" => SortBy::Downloads,
            "likes" => SortBy::Likes,
            "lastModified" | "last_modified" => SortBy::LastModified,
            "createdAt" | "created_at" => SortBy::CreatedAt,
            "trendingScore" | "trending_score" | "trending" => SortBy::Trending,
            _ => return None,
        })
    }
    fn key(self, r: &SimRepo) -> i64 {
        match self {
            SortBy::Downloads => r.downloads,
            SortBy::Likes => r.likes,
            SortBy::LastModified => r.last_modified.timestamp_millis(),
            SortBy::CreatedAt => r.created_at.timestamp_millis(),
            SortBy::Trending => r.trending_score,
        }
    }
}

const EXPAND_KEYS: &[&str] = &[
    "author",
    "cardData",
    "config",
    "createdAt",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "gated",
    "gguf",
    "inference",
    "lastModified",
    "library_name",
    "likes",
    "mask_token",
    "model-index",
    "pipeline_tag",
    "private",
    "safetensors",
    "sha",
    "siblings",
    "spaces",
    "tags",
    "transformersInfo",
    "trendingScore",
    "widgetData",
    "usedStorage",
    "resourceGroup",
    "xetEnabled",
];

fn date(d: chrono::DateTime<chrono::Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// One key of a repo as the Hub renders it; `None` when the Hub omits it.
fn field(r: &SimRepo, key: &str, blobs: bool) -> Option<Value> {
    Some(match key {
        "_id" => json!(r.object_id),
        "id" | "modelId" => json!(r.id),
        "author" => json!(r.author()),
        "sha" => json!(r.sha),
        "lastModified" => json!(date(r.last_modified)),
        "createdAt" => json!(date(r.created_at)),
        "private" => json!(r.private),
        "disabled" => json!(r.disabled),
        "gated" => r.gated.as_ref().map_or(json!(false), |g| json!(g)),
        "downloads" => json!(r.downloads),
        "likes" => json!(r.likes),
        "trendingScore" => json!(r.trending_score),
        "tags" => json!(r.tags),
        "pipeline_tag" => json!(r.pipeline_tag.as_ref()?),
        "library_name" => json!(r.library_name.as_ref()?),
        "cardData" => r.card_data.clone()?,
        "usedStorage" => json!(r.used_storage()),
        "siblings" => Value::Array(
            r.files
                .iter()
                .map(|f| {
                    if !blobs {
                        return json!({"rfilename": f.path});
                    }
                    let mut s = json!({"rfilename": f.path, "size": f.size, "blobId": f.blob_id});
                    if let Some(sha) = &f.lfs_sha256 {
                        s["lfs"] = json!({"sha256": sha, "size": f.size, "pointerSize": population::SimFile::POINTER_SIZE});
                    }
                    s
                })
                .collect(),
        ),
        _ => return None,
    })
}

/// The render cache's key for a set of requested keys (an entry's keys come out sorted whatever the
/// order they were asked in).
fn key_set(keys: &[&str]) -> String {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(",")
}

/// A repo's listing entry as JSON text, rendered on first use.
fn rendered_entry(cache: &mut HashMap<String, Arc<str>>, r: &SimRepo, keys: &[&str]) -> Arc<str> {
    cache
        .entry(r.object_id.clone())
        .or_insert_with(|| render(r, keys, false).to_string().into())
        .clone()
}

fn render(r: &SimRepo, keys: &[&str], blobs: bool) -> Value {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = field(r, k, blobs) {
            m.insert((*k).to_string(), v);
        }
    }
    Value::Object(m)
}

const DEFAULT_KEYS: &[&str] = &[
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
];
const FULL_KEYS: &[&str] = &[
    "author",
    "gated",
    "lastModified",
    "sha",
    "siblings",
    "disabled",
];
const INFO_KEYS: &[&str] = &[
    "_id",
    "id",
    "modelId",
    "author",
    "sha",
    "lastModified",
    "private",
    "disabled",
    "gated",
    "downloads",
    "likes",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "cardData",
    "siblings",
    "usedStorage",
];

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "True" | "1")
}

/// Which keys an item carries, from `full`, `cardData`, `config` and `expand`; a 400 when they clash.
fn requested_keys(
    pairs: &[(String, String)],
    defaults: &[&str],
) -> Result<Vec<String>, Box<Response>> {
    let expand: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "expand" || k == "expand[]")
        .map(|(_, v)| v.as_str())
        .collect();
    let flag = |name: &str| pairs.iter().any(|(k, v)| k == name && truthy(v));
    if !expand.is_empty() {
        if flag("full") || flag("cardData") || flag("config") {
            return Err(Box::new(hub_error(
                StatusCode::BAD_REQUEST,
                None,
                "`expand` cannot be used with `full`, `cardData` or `config`",
            )));
        }
        if let Some(bad) = expand.iter().find(|k| !EXPAND_KEYS.contains(k)) {
            return Err(Box::new(hub_error(
                StatusCode::BAD_REQUEST,
                None,
                &format!("\"expand\" must be one of {EXPAND_KEYS:?}, got \"{bad}\""),
            )));
        }
        let mut keys = vec!["_id".to_string(), "id".to_string()];
        keys.extend(expand.iter().map(|k| k.to_string()));
        return Ok(keys);
    }
    let mut keys: Vec<String> = defaults.iter().map(|k| k.to_string()).collect();
    if flag("full") {
        keys.extend(FULL_KEYS.iter().map(|k| k.to_string()));
    }
    if flag("cardData") {
        keys.push("cardData".into());
    }
    Ok(keys)
}

fn parse_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    k: i64,
    i: String,
}

async fn list_models(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let page_no = sim.counters.list.fetch_add(1, Ordering::Relaxed) + 1;
    let pairs = parse_pairs(query.as_deref());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let keys = match requested_keys(&pairs, DEFAULT_KEYS) {
        Ok(k) => k,
        Err(res) => return *res,
    };
    let limit = match get("limit").map(str::parse::<i64>) {
        None => MAX_PAGE,
        Some(Ok(n)) if n > 0 => (n as usize).min(MAX_PAGE),
        Some(_) => {
            return hub_error(
                StatusCode::BAD_REQUEST,
                None,
                "\"limit\" must be a positive integer",
            )
        }
    };
    let sort = match get("sort") {
        None => SortBy::Trending,
        Some(s) => match SortBy::parse(s) {
            Some(s) => s,
            None => {
                return hub_error(
                    StatusCode::BAD_REQUEST,
                    None,
                    &format!("Invalid sort \"{s}\""),
                )
            }
        },
    };
    let cursor = match get("cursor") {
        None => None,
        Some(c) => match base64::engine::general_purpose::STANDARD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
        {
            Some(c) => Some(c),
            None => return hub_error(StatusCode::BAD_REQUEST, None, "Invalid cursor"),
        },
    };
    let filters: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "filter")
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect();
    let author = get("author").map(str::to_ascii_lowercase);
    let search = get("search").map(str::to_ascii_lowercase);
    let pipeline = get("pipeline_tag");
    let ordering = sim.ordering(sort);
    let start = match &cursor {
        None => 0,
        Some(c) => ordering.partition_point(|(k, i)| (*k, i.as_str()) >= (c.k, c.i.as_str())),
    };
    let world = sim.world.read().expect("world lock");
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut rendered = sim.rendered.lock().expect("rendered lock");
    let cache = rendered.entry(key_set(&refs)).or_default();
    let mut items: Vec<Arc<str>> = Vec::with_capacity(limit.min(ordering.len()));
    let mut last: Option<(i64, String)> = None;
    let mut more = false;
    for (key, oid) in &ordering[start..] {
        let Some(r) = world.repos.get(oid) else {
            continue;
        };
        let matches = !r.private
            && filters
                .iter()
                .all(|f| r.tags.iter().any(|t| t == f) || r.library_name.as_deref() == Some(f))
            && author
                .as_deref()
                .is_none_or(|a| r.author().eq_ignore_ascii_case(a))
            && search
                .as_deref()
                .is_none_or(|s| r.id.to_ascii_lowercase().contains(s))
            && pipeline.is_none_or(|p| r.pipeline_tag.as_deref() == Some(p));
        if !matches {
            continue;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(rendered_entry(cache, r, &refs));
        last = Some((*key, oid.clone()));
    }
    drop(rendered);
    drop(world);
    let faults = sim.faults();
    if faults.malformed_entries && !items.is_empty() {
        let bad = json!({"_id": format!("bad{page_no}"), "id": format!("broken/entry-{page_no}"), "tags": "not-a-list", "downloads": "many"});
        items.insert(items.len() / 2, bad.to_string().into());
    }
    let mut res_headers = HeaderMap::new();
    if let (true, Some((k, i))) = (more, last) {
        let cursor = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&Cursor { k, i }).expect("cursor"));
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "cursor") {
            next.append_pair(k, v);
        }
        next.append_pair("cursor", &cursor);
        let link = format!(
            "<{}/api/models?{}>; rel=\"next\"",
            base_url(&headers),
            next.finish()
        );
        res_headers.insert(
            header::LINK,
            HeaderValue::from_str(&link).expect("ascii link"),
        );
    }
    let body = format!("[{}]", items.join(","));
    if faults
        .truncate_every
        .is_some_and(|k| k > 0 && page_no % k == 0)
    {
        sim.counters.faults.fetch_add(1, Ordering::Relaxed);
        let cut = body.len() / 2;
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body[..cut].to_string(),
        )
            .into_response();
    }
    (
        res_headers,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// 401 for anonymous callers, 404 `RepoNotFound` with a token, as the Hub answers for missing, deleted
/// and private repos alike.
fn missing(headers: &HeaderMap) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        hub_error(
            StatusCode::NOT_FOUND,
            Some("RepoNotFound"),
            "Repository not found",
        )
    } else {
        hub_error(
            StatusCode::UNAUTHORIZED,
            None,
            "Invalid username or password.",
        )
    }
}

fn redirect(location: String) -> Response {
    let mut res = (
        StatusCode::TEMPORARY_REDIRECT,
        format!("Temporary Redirect. Redirecting to {location}"),
    )
        .into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("ascii location"),
    );
    res
}

/// Splits `owner/name/rest…` or `name/rest…` (a legacy id without owner) at the first reserved word.
fn split_repo<'a>(segments: &'a [&'a str], reserved: &[&str]) -> (String, &'a [&'a str]) {
    let cut = segments
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, s)| reserved.contains(s))
        .map_or(segments.len(), |(i, _)| i);
    let cut = cut.min(2);
    (segments[..cut].join("/"), &segments[cut..])
}

enum Lookup<'a> {
    Found(&'a SimRepo),
    Moved(String),
    Missing,
}

fn lookup<'a>(world: &'a World, id: &str) -> Lookup<'a> {
    match world.find(id) {
        Some(r) if !r.private => Lookup::Found(r),
        Some(_) => Lookup::Missing,
        None => match world.redirect(id) {
            Some(new) => Lookup::Moved(new.to_string()),
            None => Lookup::Missing,
        },
    }
}

fn revision_matches(r: &SimRepo, rev: &str) -> bool {
    rev == "main" || rev == r.sha
}

/// `/api/models/{repo}`, `/api/models/{repo}/revision/{rev}`, `/api/models/{repo}/tree/{rev}[/{path}]`.
async fn repo_api(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = uri.path().trim_start_matches("/api/models/");
    let decoded: Vec<String> = raw.split('/').map(percent_decode).collect();
    let segments: Vec<&str> = decoded
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if segments.is_empty() {
        return hub_error(StatusCode::NOT_FOUND, None, "Not found");
    }
    let (repo_id, rest) = split_repo(&segments, &["revision", "tree"]);
    let pairs = parse_pairs(query.as_deref());
    let world = sim.world.read().expect("world lock");
    let repo = match lookup(&world, &repo_id) {
        Lookup::Found(r) => r,
        Lookup::Missing => {
            sim.counters.model_info.fetch_add(1, Ordering::Relaxed);
            return missing(&headers);
        }
        Lookup::Moved(new) => {
            let tail: String = rest
                .iter()
                .map(|s| format!("/{}", encode_segment(s)))
                .collect();
            let q = query.map(|q| format!("?{q}")).unwrap_or_default();
            return redirect(format!("/api/models/{}{tail}{q}", encode_id(&new)));
        }
    };
    match rest {
        [] | ["revision", _] => {
            sim.counters.model_info.fetch_add(1, Ordering::Relaxed);
            if let ["revision", rev] = rest {
                if !revision_matches(repo, rev) {
                    return hub_error(
                        StatusCode::NOT_FOUND,
                        Some("RevisionNotFound"),
                        &format!("Invalid rev id: {rev}"),
                    );
                }
            }
            let keys = match requested_keys(&pairs, INFO_KEYS) {
                Ok(k) => k,
                Err(res) => return *res,
            };
            let blobs = pairs.iter().any(|(k, v)| k == "blobs" && truthy(v));
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            Json(render(repo, &refs, blobs)).into_response()
        }
        ["tree", rev, prefix @ ..] => {
            sim.counters.tree.fetch_add(1, Ordering::Relaxed);
            if !revision_matches(repo, rev) {
                return hub_error(
                    StatusCode::NOT_FOUND,
                    Some("RevisionNotFound"),
                    &format!("Invalid rev id: {rev}"),
                );
            }
            tree(repo, &prefix.join("/"), &pairs, &headers, uri.path())
        }
        _ => hub_error(StatusCode::NOT_FOUND, None, "Not found"),
    }
}

fn tree(
    repo: &SimRepo,
    prefix: &str,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    path: &str,
) -> Response {
    let recursive = pairs.iter().any(|(k, v)| k == "recursive" && truthy(v));
    let under = |p: &str| prefix.is_empty() || p.starts_with(&format!("{prefix}/"));
    let depth = |p: &str| p.matches('/').count();
    let base_depth = if prefix.is_empty() {
        0
    } else {
        depth(prefix) + 1
    };
    let mut entries: Vec<Value> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for f in repo.files.iter().filter(|f| under(&f.path)) {
        // Directories along the way.
        let parts: Vec<&str> = f.path.split('/').collect();
        for i in base_depth..parts.len().saturating_sub(1) {
            let dir = parts[..=i].join("/");
            if (recursive || i == base_depth) && !dirs.contains(&dir) {
                dirs.push(dir.clone());
                entries.push(json!({"type": "directory", "oid": population::git_blob_id(dir.as_bytes()), "size": 0, "path": dir}));
            }
        }
        if !recursive && depth(&f.path) != base_depth {
            continue;
        }
        let mut e = json!({"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path});
        if let Some(sha) = &f.lfs_sha256 {
            e["lfs"] = json!({"oid": sha, "size": f.size, "pointerSize": population::SimFile::POINTER_SIZE});
        }
        entries.push(e);
    }
    // Paginated like listings: an offset cursor, 1000 entries per page.
    let offset: usize = pairs
        .iter()
        .find(|(k, _)| k == "cursor")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let limit = pairs
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let page: Vec<Value> = entries.iter().skip(offset).take(limit).cloned().collect();
    let mut res = Json(page).into_response();
    if offset + limit < entries.len() {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "cursor") {
            next.append_pair(k, v);
        }
        next.append_pair("cursor", &(offset + limit).to_string());
        let link = format!(
            "<{}{}?{}>; rel=\"next\"",
            base_url(headers),
            path,
            next.finish()
        );
        res.headers_mut()
            .insert(header::LINK, HeaderValue::from_str(&link).expect("ascii"));
    }
    res
}

/// `/{repo}/resolve/{rev}/{path}`: small files are served; LFS content is not simulated.
async fn resolve(State(sim): State<Arc<Sim>>, headers: HeaderMap, uri: Uri) -> Response {
    let decoded: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let (repo_id, rest) = split_repo(&segments, &["resolve"]);
    let ["resolve", rev, path @ ..] = rest else {
        return hub_error(StatusCode::NOT_FOUND, None, "Not found");
    };
    if path.is_empty() {
        return hub_error(StatusCode::NOT_FOUND, None, "Not found");
    }
    sim.counters.resolve.fetch_add(1, Ordering::Relaxed);
    let world = sim.world.read().expect("world lock");
    let repo = match lookup(&world, &repo_id) {
        Lookup::Found(r) => r,
        Lookup::Missing => return missing(&headers),
        Lookup::Moved(new) => {
            let tail: String = rest
                .iter()
                .map(|s| format!("/{}", encode_segment(s)))
                .collect();
            return redirect(format!("/{}{tail}", encode_id(&new)));
        }
    };
    if !revision_matches(repo, rev) {
        return hub_error(
            StatusCode::NOT_FOUND,
            Some("RevisionNotFound"),
            &format!("Invalid rev id: {rev}"),
        );
    }
    let path = path.join("/");
    if repo.gated.is_some() && path != "README.md" {
        let status = if headers.contains_key(header::AUTHORIZATION) {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        return hub_error(
            status,
            Some("GatedRepo"),
            "Access to this model is restricted",
        );
    }
    let Some(file) = repo.files.iter().find(|f| f.path == path) else {
        return hub_error(
            StatusCode::NOT_FOUND,
            Some("EntryNotFound"),
            &format!("{path} does not exist"),
        );
    };
    match repo.content(&path) {
        Some(content) => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/plain; charset=utf-8".to_string(),
                ),
                (header::ETAG, format!("\"{}\"", file.blob_id)),
                (HeaderName::from_static("x-repo-commit"), repo.sha.clone()),
            ],
            content,
        )
            .into_response(),
        None => hub_error(
            StatusCode::NOT_FOUND,
            Some("EntryNotFound"),
            "LFS content is not simulated",
        ),
    }
}

use axum::http::HeaderName;

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A repo id as a URL path: each part encoded, the `/` between them kept.
fn encode_id(id: &str) -> String {
    id.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
