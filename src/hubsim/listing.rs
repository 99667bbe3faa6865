//! The listing endpoint (`GET /api/models`): filters, search, sort, `expand` and `Link` pagination
//! over the population, entries rendered once and reused.

use super::*;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum SortBy {
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
    pub(super) fn key(self, r: &SimRepo) -> i64 {
        match self {
            SortBy::Downloads => r.downloads,
            SortBy::Likes => r.likes,
            SortBy::LastModified => r.last_modified.timestamp_millis(),
            SortBy::CreatedAt => r.created_at.timestamp_millis(),
            SortBy::Trending => r.trending_score,
        }
    }
}

pub(super) const EXPAND_KEYS: &[&str] = &[
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

pub(super) fn date(d: chrono::DateTime<chrono::Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// One key of a repo as the Hub renders it; `None` when the Hub omits it.
pub(super) fn field(r: &SimRepo, key: &str, blobs: bool) -> Option<Value> {
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
pub(super) fn key_set(keys: &[&str]) -> String {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(",")
}

/// A repo's listing entry as JSON text, rendered on first use.
pub(super) fn rendered_entry(
    cache: &mut HashMap<String, Arc<str>>,
    r: &SimRepo,
    keys: &[&str],
) -> Arc<str> {
    cache
        .entry(r.object_id.clone())
        .or_insert_with(|| render(r, keys, false).to_string().into())
        .clone()
}

pub(super) fn render(r: &SimRepo, keys: &[&str], blobs: bool) -> Value {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = field(r, k, blobs) {
            m.insert((*k).to_string(), v);
        }
    }
    Value::Object(m)
}

pub(super) const DEFAULT_KEYS: &[&str] = &[
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
pub(super) const FULL_KEYS: &[&str] = &[
    "author",
    "gated",
    "lastModified",
    "sha",
    "siblings",
    "disabled",
];
pub(super) const INFO_KEYS: &[&str] = &[
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

pub(super) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

pub(super) fn truthy(v: &str) -> bool {
    matches!(v, "true" | "True" | "1")
}

/// Which keys an item carries, from `full`, `cardData`, `config` and `expand`; a 400 when they clash.
pub(super) fn requested_keys(
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

pub(super) fn parse_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    k: i64,
    i: String,
}

pub(super) async fn list_models(
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
    let (limit, sort, cursor) = match page_params(&get) {
        Ok(p) => p,
        Err(res) => return *res,
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
        let link = next_link(&headers, &pairs, Cursor { k, i });
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

/// A listing's page size, order and cursor from its query, or the Hub's 400.
#[allow(clippy::type_complexity)]
fn page_params<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<(usize, SortBy, Option<Cursor>), Box<Response>> {
    let limit = match get("limit").map(str::parse::<i64>) {
        None => MAX_PAGE,
        Some(Ok(n)) if n > 0 => (n as usize).min(MAX_PAGE),
        Some(_) => {
            return Err(Box::new(hub_error(
                StatusCode::BAD_REQUEST,
                None,
                "\"limit\" must be a positive integer",
            )))
        }
    };
    let sort = match get("sort") {
        None => SortBy::Trending,
        Some(s) => match SortBy::parse(s) {
            Some(s) => s,
            None => {
                return Err(Box::new(hub_error(
                    StatusCode::BAD_REQUEST,
                    None,
                    &format!("Invalid sort \"{s}\""),
                )))
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
            None => {
                return Err(Box::new(hub_error(
                    StatusCode::BAD_REQUEST,
                    None,
                    "Invalid cursor",
                )))
            }
        },
    };
    Ok((limit, sort, cursor))
}

/// The `Link` of the page after the one ending at `cursor`: the same query, that cursor.
fn next_link(headers: &HeaderMap, pairs: &[(String, String)], cursor: Cursor) -> String {
    let cursor = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&cursor).expect("cursor"));
    let mut next = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "cursor") {
        next.append_pair(k, v);
    }
    next.append_pair("cursor", &cursor);
    format!(
        "<{}/api/models?{}>; rel=\"next\"",
        base_url(headers),
        next.finish()
    )
}
