//! One repo's endpoints: model info (`/api/models/{id}[/revision/{rev}]`, with blobs), trees,
//! renames as 307, missing repos as 401/404, and `resolve` (README and files).

use super::*;
/// 401 for anonymous callers, 404 `RepoNotFound` with a token, as the Hub answers for missing, deleted
/// and private repos alike.
pub(super) fn missing(headers: &HeaderMap) -> Response {
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

pub(super) fn redirect(location: String) -> Response {
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

/// The head branch, the commit, or a prefix of its sha of at least 7 digits (as the Hub resolves them).
fn revision_matches(r: &SimRepo, rev: &str) -> bool {
    rev == "main" || rev == r.sha || (rev.len() >= 7 && r.sha.starts_with(rev))
}

/// `/api/models/{repo}`, `/api/models/{repo}/revision/{rev}`, `/api/models/{repo}/tree/{rev}[/{path}]`.
pub(super) async fn repo_api(
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
                if sim.faults().commit_details_fail {
                    sim.counters.faults.fetch_add(1, Ordering::Relaxed);
                    return hub_error(StatusCode::SERVICE_UNAVAILABLE, None, "Injected failure");
                }
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

/// `/{repo}/resolve/{rev}/{path}`: small files are served; every LFS file is a 302 to the CDN
/// (`cdn.rs`), which serves the bytes put there or pseudo-random bytes of the file's size.
pub(super) async fn resolve(State(sim): State<Arc<Sim>>, headers: HeaderMap, uri: Uri) -> Response {
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
    if sim.faults().resolve_fails {
        sim.counters.faults.fetch_add(1, Ordering::Relaxed);
        return hub_error(StatusCode::SERVICE_UNAVAILABLE, None, "Injected failure");
    }
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
    if let Some(sha) = file.lfs_sha256.as_deref() {
        sim.ensure_served(sha, file.size);
        let name = path.rsplit('/').next().unwrap_or(&path);
        return cdn::to_cdn(&headers, sha, name, file.size, &repo.sha);
    }
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
            &format!("{path} has no content"),
        ),
    }
}

use axum::http::HeaderName;

pub(super) fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A repo id as a URL path: each part encoded, the `/` between them kept.
pub(super) fn encode_id(id: &str) -> String {
    id.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

pub(super) fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
