//! The HTTP side: OCI Distribution Spec v1.1 routes over [`RegistryStore`], and the token
//! endpoint of the Docker/OCI bearer-token flow.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::StreamExt;
use serde_json::json;
use volt_core::oci::{self, MEDIA_OCI_INDEX};
use volt_core::registry::{RResult, RegistryError, RegistryStore};

use crate::auth::{parse_scopes, Action, Claims, TokenKey};

/// Shared state of the server.
pub(crate) struct App {
    pub store: RegistryStore,
    pub key: TokenKey,
    pub anonymous_pull: bool,
    pub service: String,
    pub token_ttl: Duration,
    /// Permits for blob streams (see [`MAX_STREAMS`]).
    pub streams: Arc<tokio::sync::Semaphore>,
}

type Shared = Arc<App>;

fn error_response(status: StatusCode, code: &str, message: &str, detail: serde_json::Value) -> Response {
    let body = json!({"errors": [{"code": code, "message": message, "detail": detail}]});
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn err_resp(e: RegistryError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "registry request failed");
    }
    error_response(status, e.code(), &e.to_string(), serde_json::Value::Null)
}

/// Run blocking store work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> RResult<T> + Send + 'static) -> RResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RegistryError::Internal(volt_core::Error::Task(e.to_string())))?
}

/// What a request needs.
struct Need<'a> {
    repo: Option<&'a str>,
    action: Action,
}

/// Who is asking: what they may read, for operations that touch other repositories.
#[derive(Clone)]
struct Reader {
    anonymous_pull: bool,
    claims: Option<Claims>,
}

impl Reader {
    fn may_pull(&self, repo: &str) -> bool {
        self.anonymous_pull || self.claims.as_ref().is_some_and(|c| c.allows(repo, Action::Pull))
    }
}

enum AuthOutcome {
    Ok(Option<Claims>),
    Challenge(Option<String>),
    Bad(String),
}

fn bearer_or_basic_token(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?;
    if let Some(t) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
        return Some(t.trim().to_string());
    }
    basic_password(v)
}

fn basic_password(v: &str) -> Option<String> {
    let b = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    s.split_once(':').map(|(_, p)| p.to_string())
}

impl App {
    fn check(&self, headers: &HeaderMap, need: &Need<'_>) -> AuthOutcome {
        let scope = need.repo.map(|r| {
            let acts = match need.action {
                Action::Pull => "pull",
                Action::Push => "pull,push",
                Action::Delete => "delete",
            };
            format!("repository:{r}:{acts}")
        });
        match bearer_or_basic_token(headers) {
            None => {
                if need.action == Action::Pull && self.anonymous_pull && need.repo.is_some() {
                    AuthOutcome::Ok(None)
                } else {
                    AuthOutcome::Challenge(scope)
                }
            }
            Some(t) => match self.key.verify(&t) {
                Ok(claims) => match need.repo {
                    None => AuthOutcome::Ok(Some(claims)),
                    Some(r) if claims.allows(r, need.action) => AuthOutcome::Ok(Some(claims)),
                    Some(_) if need.action == Action::Pull && self.anonymous_pull => AuthOutcome::Ok(Some(claims)),
                    Some(_) => AuthOutcome::Challenge(scope),
                },
                Err(e) => AuthOutcome::Bad(e.to_string()),
            },
        }
    }

    fn challenge(&self, headers: &HeaderMap, scheme: &str, scope: Option<String>, message: &str) -> Response {
        let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        let mut v = format!("Bearer realm=\"{scheme}://{host}/token\",service=\"{}\"", self.service);
        if let Some(s) = scope {
            v.push_str(&format!(",scope=\"{s}\""));
        }
        let mut r = error_response(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message, serde_json::Value::Null);
        if let Ok(h) = HeaderValue::from_str(&v) {
            r.headers_mut().insert("www-authenticate", h);
        }
        r
    }
}

pub(crate) fn router(app: Shared, scheme: &'static str) -> axum::Router {
    axum::Router::new()
        .route("/token", axum::routing::get(token).post(token))
        .fallback(move |state, method, uri, headers, query, body| {
            dispatch(state, method, uri, headers, query, body, scheme)
        })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(app)
}

/// The token endpoint: a client logs in with any user name and a Volt token as the password
/// (or anonymously, for pull when allowed) and gets a token narrowed to the scopes it asked for.
async fn token(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let query = uri.query().unwrap_or_default();
    let pairs: Vec<(String, String)> = form_pairs(query);
    let scopes: Vec<&str> = pairs.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.as_str()).collect();
    let wanted = parse_scopes(scopes);
    let password = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(basic_password);
    let mut not_after = u64::MAX;
    let access = match password {
        Some(p) => match app.key.verify(&p) {
            Ok(claims) => {
                not_after = claims.exp;
                claims.narrow(&wanted)
            }
            Err(e) => {
                tracing::info!(reason = %e, "token request refused");
                return error_response(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    &e.to_string(),
                    serde_json::Value::Null,
                );
            }
        },
        None if app.anonymous_pull => wanted
            .into_iter()
            .filter(|(_, a)| a.contains(&Action::Pull))
            .map(|(repo, _)| crate::auth::Access { repo, actions: vec![Action::Pull] })
            .collect(),
        None => {
            return error_response(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "log in with a token from `volt registry token create` as the password",
                serde_json::Value::Null,
            )
        }
    };
    let (t, claims): (String, Claims) = app.key.issue_until("token-endpoint", access, app.token_ttl, not_after);
    let body = json!({
        "token": t,
        "access_token": t,
        "expires_in": claims.exp.saturating_sub(claims.iat),
        "issued_at": time::OffsetDateTime::from_unix_timestamp(claims.iat as i64)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
    });
    (StatusCode::OK, [("content-type", "application/json")], body.to_string()).into_response()
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed `/v2/...` path.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Ping,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    Uploads(String),
    Upload(String, String),
    Referrers(String, String),
}

fn parse_route(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Ping);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.into()));
    }
    if let Some(name) = rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads")) {
        return Some(Route::Uploads(name.into()));
    }
    if let Some(i) = rest.rfind("/blobs/uploads/") {
        return Some(Route::Upload(rest[..i].into(), rest[i + 15..].into()));
    }
    for (marker, kind) in [("/blobs/", 0), ("/manifests/", 1), ("/referrers/", 2)] {
        if let Some(i) = rest.rfind(marker) {
            let (name, arg) = (rest[..i].to_string(), rest[i + marker.len()..].to_string());
            if arg.is_empty() || arg.contains('/') {
                continue;
            }
            return Some(match kind {
                0 => Route::Blob(name, arg),
                1 => Route::Manifest(name, arg),
                _ => Route::Referrers(name, arg),
            });
        }
    }
    None
}

fn location(r: Response, loc: String) -> Response {
    let mut r = r;
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert("location", v);
    }
    r
}

fn hdr(r: &mut Response, k: &'static str, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        r.headers_mut().insert(k, v);
    }
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    State(app): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
    scheme: &'static str,
) -> Response {
    let Some(route) = parse_route(uri.path()) else {
        return error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint", json!(uri.path()));
    };
    let (repo, action) = match (&route, &method) {
        (Route::Ping, _) | (Route::Catalog, _) => (None, Action::Pull),
        (Route::Tags(n) | Route::Manifest(n, _) | Route::Blob(n, _) | Route::Referrers(n, _), m)
            if m == Method::GET || m == Method::HEAD =>
        {
            (Some(n.as_str()), Action::Pull)
        }
        (Route::Manifest(n, _) | Route::Blob(n, _), m) if m == Method::DELETE => (Some(n.as_str()), Action::Delete),
        (Route::Uploads(n) | Route::Upload(n, _) | Route::Manifest(n, _), _) => (Some(n.as_str()), Action::Push),
        (Route::Tags(n) | Route::Blob(n, _) | Route::Referrers(n, _), _) => (Some(n.as_str()), Action::Pull),
    };
    if let Some(r) = repo {
        if let Err(e) = volt_core::registry::check_repository(r) {
            return err_resp(e);
        }
    }
    let reader = match app.check(&headers, &Need { repo, action }) {
        AuthOutcome::Ok(claims) => Reader { anonymous_pull: app.anonymous_pull, claims },
        AuthOutcome::Challenge(scope) => return app.challenge(&headers, scheme, scope, "authentication required"),
        AuthOutcome::Bad(why) => {
            tracing::info!(reason = %why, path = %uri.path(), "token refused");
            return app.challenge(&headers, scheme, None, &why);
        }
    };
    let res = match (route, method.clone()) {
        (Route::Ping, Method::GET | Method::HEAD) => {
            let mut r = StatusCode::OK.into_response();
            hdr(&mut r, "docker-distribution-api-version", "registry/2.0");
            Ok(r)
        }
        (Route::Catalog, Method::GET) => catalog(&app, &query, reader).await,
        (Route::Tags(n), Method::GET) => tags(&app, n, &query).await,
        (Route::Manifest(n, r), Method::GET) => get_manifest(&app, n, r, false).await,
        (Route::Manifest(n, r), Method::HEAD) => get_manifest(&app, n, r, true).await,
        (Route::Manifest(n, r), Method::PUT) => put_manifest(&app, n, r, &headers, body).await,
        (Route::Manifest(n, r), Method::DELETE) => {
            let s = app.store.clone();
            blocking(move || s.delete_manifest(&n, &r)).await.map(|()| StatusCode::ACCEPTED.into_response())
        }
        (Route::Blob(n, d), Method::GET) => get_blob(&app, n, d, &headers, false).await,
        (Route::Blob(n, d), Method::HEAD) => get_blob(&app, n, d, &headers, true).await,
        (Route::Blob(n, d), Method::DELETE) => {
            let s = app.store.clone();
            blocking(move || s.delete_blob(&n, &d)).await.map(|()| StatusCode::ACCEPTED.into_response())
        }
        (Route::Uploads(n), Method::POST) => start_upload(&app, n, &query, reader, body).await,
        (Route::Upload(n, id), Method::GET) => upload_status(&app, &n, &id),
        (Route::Upload(n, id), Method::PATCH) => patch_upload(&app, n, id, &headers, body).await,
        (Route::Upload(n, id), Method::PUT) => put_upload(&app, n, id, &query, &headers, body).await,
        (Route::Upload(n, id), Method::DELETE) => {
            app.store.cancel_upload(&n, &id).map(|()| StatusCode::NO_CONTENT.into_response())
        }
        (Route::Referrers(n, d), Method::GET) => referrers(&app, n, d, &query).await,
        _ => Err(RegistryError::Unsupported(format!("{method} {}", uri.path()))),
    };
    let mut r = res.unwrap_or_else(err_resp);
    hdr(&mut r, "docker-distribution-api-version", "registry/2.0");
    r
}

async fn catalog(app: &App, q: &HashMap<String, String>, reader: Reader) -> RResult<Response> {
    let s = app.store.clone();
    let mut repos = blocking(move || s.repositories()).await?;
    repos.retain(|r| reader.may_pull(r));
    if let Some(l) = q.get("last") {
        repos.retain(|r| r > l);
    }
    if let Some(n) = q.get("n").and_then(|n| n.parse::<usize>().ok()) {
        repos.truncate(n);
    }
    Ok(axum::Json(json!({ "repositories": repos })).into_response())
}

async fn tags(app: &App, name: String, q: &HashMap<String, String>) -> RResult<Response> {
    let n = match q.get("n") {
        Some(v) => Some(v.parse::<usize>().map_err(|_| RegistryError::Unsupported(format!("n={v:?}")))?),
        None => None,
    };
    let last = q.get("last").cloned();
    let s = app.store.clone();
    let nm = name.clone();
    let (tags, more) = blocking(move || {
        let all = s.tags(&nm, None, last.as_deref())?;
        let more = n.is_some_and(|n| all.len() > n);
        let mut t = all;
        if let Some(n) = n {
            t.truncate(n);
        }
        Ok((t, more))
    })
    .await?;
    let mut r = axum::Json(json!({ "name": name, "tags": tags })).into_response();
    if more {
        if let (Some(n), Some(last)) = (n, tags.last()) {
            hdr(&mut r, "link", &format!("</v2/{name}/tags/list?n={n}&last={last}>; rel=\"next\""));
        }
    }
    Ok(r)
}

async fn get_manifest(app: &App, name: String, reference: String, head: bool) -> RResult<Response> {
    let s = app.store.clone();
    let (info, bytes) = blocking(move || s.manifest(&name, &reference)).await?;
    let len = bytes.len();
    let mut r = if head { Response::new(Body::empty()) } else { Response::new(Body::from(bytes)) };
    hdr(&mut r, "content-type", &info.media_type);
    hdr(&mut r, "content-length", &len.to_string());
    hdr(&mut r, "docker-content-digest", &info.digest);
    Ok(r)
}

async fn read_limited(body: Body, limit: u64) -> RResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut s = body.into_data_stream();
    while let Some(chunk) = s.next().await {
        let c = chunk.map_err(|e| RegistryError::UploadInvalid { reason: e.to_string(), range: false })?;
        if (out.len() + c.len()) as u64 > limit {
            return Err(RegistryError::SizeInvalid(format!("body exceeds the limit of {limit} bytes")));
        }
        out.extend_from_slice(&c);
    }
    Ok(out)
}

async fn put_manifest(
    app: &App,
    name: String,
    reference: String,
    headers: &HeaderMap,
    body: Body,
) -> RResult<Response> {
    let limit = app.store.settings().max_manifest_size;
    let bytes = read_limited(body, limit).await?;
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
    let s = app.store.clone();
    let n = name.clone();
    let (digest, subject) = blocking(move || s.put_manifest(&n, &reference, ct.as_deref(), &bytes)).await?;
    let mut r = location(StatusCode::CREATED.into_response(), format!("/v2/{name}/manifests/{digest}"));
    hdr(&mut r, "docker-content-digest", &digest);
    if let Some(s) = subject {
        hdr(&mut r, "oci-subject", &s);
    }
    Ok(r)
}

fn parse_range(h: &str, size: u64) -> Option<(u64, u64)> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return None;
        }
        (size.saturating_sub(n), size.checked_sub(1)?)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() { size.checked_sub(1)? } else { b.parse::<u64>().ok()?.min(size.checked_sub(1)?) };
        (start, end)
    };
    (start <= end && start < size).then_some((start, end))
}

async fn get_blob(app: &App, name: String, digest: String, headers: &HeaderMap, head: bool) -> RResult<Response> {
    let s = app.store.clone();
    let d = digest.clone();
    let (id, size) = blocking(move || s.blob(&name, &d)).await?;
    let range = headers.get("range").and_then(|v| v.to_str().ok());
    let (start, end, partial) = match range {
        Some(h) => match parse_range(h, size) {
            Some((a, b)) => (a, b, true),
            None => {
                let mut r = error_response(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "BLOB_UNKNOWN",
                    "requested range not satisfiable",
                    json!(h),
                );
                hdr(&mut r, "content-range", &format!("bytes */{size}"));
                return Ok(r);
            }
        },
        None => (0, size.saturating_sub(1), false),
    };
    let len = if size == 0 { 0 } else { end - start + 1 };
    let body = if head || len == 0 {
        Body::empty()
    } else {
        stream_object(app.store.cas().clone(), id, start, len, app.streams.clone())
    };
    let mut r = Response::new(body);
    if partial {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        hdr(&mut r, "content-range", &format!("bytes {start}-{end}/{size}"));
    }
    hdr(&mut r, "content-length", &len.to_string());
    hdr(&mut r, "content-type", "application/octet-stream");
    hdr(&mut r, "docker-content-digest", &digest);
    hdr(&mut r, "accept-ranges", "bytes");
    Ok(r)
}

/// Blob streams served at once. Each holds a blocking-pool thread while it runs (reading ahead
/// of a client that may be slow), so they are capped well below the pool's size: other requests
/// always find a thread, and streams beyond the cap wait for one to finish.
pub(crate) const MAX_STREAMS: usize = 128;

/// Stream `len` bytes of an object from `start`: a blocking-pool thread reads 256 KiB pieces
/// two ahead of the client, under one of the [`MAX_STREAMS`] permits.
fn stream_object(
    cas: Arc<volt_core::cas::Cas>,
    id: volt_core::cas::ObjectId,
    start: u64,
    len: u64,
    permits: Arc<tokio::sync::Semaphore>,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(2);
    tokio::spawn(async move {
        let Ok(permit) = permits.acquire_owned().await else { return };
        let _ = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut r = match cas.open_object_at(&id, start) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            let mut left = len;
            while left > 0 {
                let want = left.min(256 << 10) as usize;
                let mut buf = vec![0u8; want];
                let filled = match volt_core::cas::read_full(&mut r, &mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                if filled == 0 {
                    let _ = tx.blocking_send(Err(std::io::Error::other("object shorter than its size")));
                    return;
                }
                buf.truncate(filled);
                left -= filled as u64;
                if tx.blocking_send(Ok(bytes::Bytes::from(buf))).is_err() {
                    return; // the client went away
                }
            }
        })
        .await;
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) }))
}

/// Ends an upload session when the request completing it ends, however it ends (an error, or
/// the client going away mid-request); after a successful finish the session is already gone.
struct CancelOnDrop<'a>(&'a RegistryStore, &'a volt_core::registry::Upload);

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.cancel_upload(&self.1.repo, &self.1.id);
    }
}

fn upload_response(status: StatusCode, name: &str, id: &str, received: u64) -> Response {
    let mut r = location(status.into_response(), format!("/v2/{name}/blobs/uploads/{id}"));
    hdr(&mut r, "docker-upload-uuid", id);
    hdr(&mut r, "range", &format!("0-{}", received.saturating_sub(1)));
    hdr(&mut r, "content-length", "0");
    r
}

async fn pump(up: &volt_core::registry::Upload, start: Option<u64>, body: Body) -> RResult<u64> {
    let mut s = body.into_data_stream();
    let mut first = start;
    let mut total = up.received();
    while let Some(chunk) = s.next().await {
        let c = chunk
            .map_err(|e| RegistryError::UploadInvalid { reason: format!("reading the body: {e}"), range: false })?;
        total = up.append(first.take(), c).await?;
    }
    if let Some(st) = first {
        // An empty body still has to start in the right place.
        total = up.append(Some(st), bytes::Bytes::new()).await?;
    }
    Ok(total)
}

async fn start_upload(
    app: &App,
    name: String,
    q: &HashMap<String, String>,
    reader: Reader,
    body: Body,
) -> RResult<Response> {
    if let Some(d) = q.get("mount") {
        let s = app.store.clone();
        let (n, dd, from) = (name.clone(), d.clone(), q.get("from").cloned());
        // Mounting reads the source: only from repositories the caller may pull.
        match blocking(move || s.mount(&n, &dd, from.as_deref(), &|r: &str| reader.may_pull(r))).await {
            Ok(_) => {
                let mut r = location(StatusCode::CREATED.into_response(), format!("/v2/{name}/blobs/{d}"));
                hdr(&mut r, "docker-content-digest", d);
                return Ok(r);
            }
            Err(RegistryError::BlobUnknown(_)) => {} // fall through to a normal upload session
            Err(e) => return Err(e),
        }
    }
    let up = app.store.start_upload(&name)?;
    if let Some(d) = q.get("digest") {
        let _cancel = CancelOnDrop(&app.store, &up);
        let _g = up.lock.lock().await;
        pump(&up, None, body).await?;
        app.store.finish_upload(&up, d).await?;
        let mut r = location(StatusCode::CREATED.into_response(), format!("/v2/{name}/blobs/{d}"));
        hdr(&mut r, "docker-content-digest", d);
        return Ok(r);
    }
    let mut r = upload_response(StatusCode::ACCEPTED, &name, &up.id, 0);
    hdr(&mut r, "oci-chunk-min-length", "0");
    Ok(r)
}

fn upload_status(app: &App, name: &str, id: &str) -> RResult<Response> {
    let up = app.store.upload(name, id)?;
    Ok(upload_response(StatusCode::NO_CONTENT, name, id, up.received()))
}

fn content_range_start(headers: &HeaderMap) -> RResult<Option<u64>> {
    let Some(v) = headers.get("content-range") else { return Ok(None) };
    let v = v.to_str().unwrap_or_default().trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let (a, _b) = v.split_once('-').ok_or_else(|| RegistryError::UploadInvalid {
        reason: format!("Content-Range {v:?}: expected start-end"),
        range: true,
    })?;
    a.parse::<u64>().map(Some).map_err(|_| RegistryError::UploadInvalid {
        reason: format!("Content-Range {v:?}: expected start-end"),
        range: true,
    })
}

/// A chunk that does not start where the upload ends is refused with 416, and nothing of it is
/// taken: the session stays, and the answer carries its Location and Range so that the client
/// can resend from the right offset.
fn out_of_order(e: RegistryError, name: &str, up: &volt_core::registry::Upload) -> RResult<Response> {
    match e {
        RegistryError::UploadInvalid { range: true, .. } => {
            let mut r = err_resp(e);
            let h = upload_response(StatusCode::OK, name, &up.id, up.received());
            for k in ["location", "docker-upload-uuid", "range"] {
                if let Some(v) = h.headers().get(k) {
                    r.headers_mut().insert(k, v.clone());
                }
            }
            Ok(r)
        }
        e => Err(e),
    }
}

async fn patch_upload(app: &App, name: String, id: String, headers: &HeaderMap, body: Body) -> RResult<Response> {
    let up = app.store.upload(&name, &id)?;
    let start = content_range_start(headers)?;
    let _g = up.lock.lock().await;
    match pump(&up, start, body).await {
        Ok(total) => Ok(upload_response(StatusCode::ACCEPTED, &name, &id, total)),
        Err(e) => out_of_order(e, &name, &up),
    }
}

async fn put_upload(
    app: &App,
    name: String,
    id: String,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> RResult<Response> {
    let up = app.store.upload(&name, &id)?;
    let digest =
        q.get("digest").ok_or_else(|| RegistryError::DigestInvalid("the digest parameter is missing".into()))?;
    // The closing request may carry the last chunk with its Content-Range: out of order, it is
    // refused as a PATCH would be, before anything of the session is finished.
    let start = content_range_start(headers)?;
    let _g = up.lock.lock().await;
    if let Err(e) = pump(&up, start, body).await {
        return out_of_order(e, &name, &up);
    }
    app.store.finish_upload(&up, digest).await?;
    let mut r = location(StatusCode::CREATED.into_response(), format!("/v2/{name}/blobs/{digest}"));
    hdr(&mut r, "docker-content-digest", digest);
    Ok(r)
}

async fn referrers(app: &App, name: String, digest: String, q: &HashMap<String, String>) -> RResult<Response> {
    let filter = q.get("artifactType").cloned();
    let s = app.store.clone();
    let f = filter.clone();
    let list = blocking(move || s.referrers(&name, &digest, f.as_deref())).await?;
    let body = json!({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": list});
    let mut r = (StatusCode::OK, body.to_string()).into_response();
    hdr(&mut r, "content-type", oci::MEDIA_OCI_INDEX);
    if filter.is_some() {
        hdr(&mut r, "oci-filters-applied", "artifactType");
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_with_nested_names() {
        assert_eq!(parse_route("/v2/"), Some(Route::Ping));
        assert_eq!(parse_route("/v2"), Some(Route::Ping));
        assert_eq!(parse_route("/v2/a/b/tags/list"), Some(Route::Tags("a/b".into())));
        assert_eq!(parse_route("/v2/a/blobs/uploads/"), Some(Route::Uploads("a".into())));
        assert_eq!(parse_route("/v2/a/blobs/uploads/xyz"), Some(Route::Upload("a".into(), "xyz".into())));
        assert_eq!(
            parse_route("/v2/x/manifests/y/manifests/latest"),
            Some(Route::Manifest("x/manifests/y".into(), "latest".into()))
        );
        assert_eq!(parse_route("/v2/a/blobs/sha256:ab"), Some(Route::Blob("a".into(), "sha256:ab".into())));
        assert_eq!(parse_route("/v2/a/referrers/sha256:ab"), Some(Route::Referrers("a".into(), "sha256:ab".into())));
        assert_eq!(parse_route("/v3/a"), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(percent_decode("repository%3Aa%2Fb%3Apull"), "repository:a/b:pull");
    }
}
