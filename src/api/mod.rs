//! The HTTP face of the daemon: every request passes the [`guard`] (Host, then Origin) before it is
//! routed, so no refused request reaches the card service. Routes: the v1 JSON API ([`v1`]) and
//! the status page at `/` ([`page`]). Errors are JSON `{"code","message_zh","message_en"}` with a
//! fitting HTTP status.

pub mod guard;
pub mod legacy;
pub mod page;
pub mod popup;
pub mod v1;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use serde::Serialize;
use warp::filters::path::FullPath;
use warp::reply::Response;
use warp::Filter;

use crate::capacity::Connection;
use crate::config::Allowlist;
use crate::error::ErrorCode;
use crate::service::card_service::CardService;

pub use guard::{Caller, Guard, PageToken};

/// Largest request body accepted.
pub const MAX_BODY: usize = 16 * 1024;

/// The version of the `/v1` API.
pub const API_VERSION: &str = "1";

/// Shared by every request, whichever listener it came in on.
pub struct AppState {
    /// The one owner of card access.
    pub service: Arc<CardService>,
    /// Origins that may use the card.
    pub allowlist: Allowlist,
    /// What the legacy protocols need beyond the card service.
    pub legacy: legacy::LegacySettings,
    /// Ends long-lived responses (event streams) on shutdown.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Quoted by the self-check page to follow the event stream (see [`PageToken`]).
    pub page_token: PageToken,
    /// When a page of an allowed origin last reached the daemon.
    pub contact: PageContact,
}

/// The last time a page of an allowed origin reached the daemon, and which origin: in memory only,
/// never personal. It tells a browser that blocks pages from reaching loopback (Chrome's Local
/// Network Access) from a component that is not there. It also keeps the few allowed origins seen
/// since start, most recent first: the AuthHC popup cannot learn its opener's origin (browsers send
/// no Referer from an https page to `http://localhost`), so it greets exactly these and no one else.
#[derive(Default)]
pub struct PageContact(std::sync::Mutex<Vec<(String, std::time::SystemTime)>>);

/// How many distinct origins [`PageContact`] remembers.
const CONTACT_ORIGINS: usize = 16;

impl PageContact {
    /// Notes a request from `origin` now.
    pub fn note(&self, origin: &str) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::SystemTime::now();
        match seen.first_mut() {
            Some((o, at)) if o == origin => *at = now,
            _ => {
                seen.retain(|(o, _)| o != origin);
                seen.insert(0, (origin.to_owned(), now));
                seen.truncate(CONTACT_ORIGINS);
            }
        }
    }

    /// The last contact: origin and time.
    pub fn last(&self) -> Option<(String, std::time::SystemTime)> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .cloned()
    }

    /// The allowed origins seen since start, most recent first.
    pub fn origins(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(o, _)| o.clone())
            .collect()
    }
}

/// A request as the routes see it.
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (may be empty).
    pub query: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, at most [`MAX_BODY`] bytes.
    pub body: Bytes,
    /// The connection it came on (slot and long-lived budget), when served by `server`.
    pub conn: Option<Connection>,
}

/// The JSON of every error answer.
#[derive(Serialize)]
pub struct ErrorBody {
    /// The four-digit code.
    pub code: &'static str,
    /// The message in zh-TW.
    pub message_zh: &'static str,
    /// The message in English.
    pub message_en: &'static str,
}

impl ErrorBody {
    /// The body for a code.
    pub fn new(code: ErrorCode) -> ErrorBody {
        ErrorBody {
            code: code.code(),
            message_zh: code.message_zh(),
            message_en: code.message_en(),
        }
    }
}

/// The HTTP status for an error code (from the table in `error`).
pub fn http_status(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A JSON answer, not to be cached.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(bytes.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The JSON error answer for a code, with its HTTP status.
pub fn error_response(code: ErrorCode) -> Response {
    json_response(http_status(code), &ErrorBody::new(code))
}

/// The filter one listener runs (`port` and `tls` are that listener's, for the Host check and the
/// daemon's own origin): the `/echo` WebSocket upgrade, else everything through [`handle`].
pub fn routes(
    state: Arc<AppState>,
    port: u16,
    tls: bool,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let guard = Arc::new(Guard::new(
        port,
        tls,
        state.allowlist.clone(),
        state.page_token.clone(),
    ));
    let echo = legacy::ws::route(state.clone(), guard.clone());
    let guard = warp::any().map(move || guard.clone());
    let state = warp::any().map(move || state.clone());
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let main = warp::any()
        .and(state)
        .and(guard)
        .and(warp::method())
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<Connection>())
        .and(warp::body::stream())
        .then(
            |state: Arc<AppState>,
             guard: Arc<Guard>,
             method,
             path: FullPath,
             query,
             headers,
             conn,
             body| async move {
                let req = Head {
                    method,
                    path: path.as_str().to_owned(),
                    query,
                    headers,
                    conn,
                };
                handle(state, &guard, req, body).await
            },
        );
    echo.or(main)
        .unify()
        .recover(|_rejection: warp::Rejection| async move {
            Ok::<_, Infallible>(error_response(ErrorCode::BadRequest))
        })
        .unify()
}

/// Reads at most [`MAX_BODY`] bytes: a larger body is `PayloadTooLarge`, one that breaks off or is
/// badly framed (a malformed chunk) is `BadRequest`.
async fn read_body<S, B>(headers: &HeaderMap, body: S) -> Result<Bytes, ErrorCode>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(ErrorCode::PayloadTooLarge);
    }
    let mut out = Vec::new();
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|_| ErrorCode::BadRequest)?;
        while chunk.has_remaining() {
            let part = chunk.chunk();
            if out.len() + part.len() > MAX_BODY {
                return Err(ErrorCode::PayloadTooLarge);
            }
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(Bytes::from(out))
}

/// A request before its body is read.
struct Head {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    conn: Option<Connection>,
}

async fn handle<S, B>(state: Arc<AppState>, guard: &Guard, head: Head, body: S) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let Head {
        method,
        path,
        query,
        headers,
        conn,
    } = head;
    let caller = match guard.check(&method, &path, &query, &headers) {
        Ok(c) => {
            if let Caller::Site(origin) | Caller::Popup(origin) = &c {
                state.contact.note(origin);
            }
            c
        }
        Err(code) => {
            log::info!("refused {method} {path}: {}", code.message_en());
            return error_response(code);
        }
    };
    if method == Method::OPTIONS {
        let mut resp = Response::new(Bytes::new().into());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        guard::add_cors(resp.headers_mut(), &caller);
        guard::add_preflight(resp.headers_mut());
        return resp;
    }
    let mut resp = match read_body(&headers, body).await {
        Err(code) => error_response(code),
        Ok(body) => {
            let req = Request {
                method,
                path,
                query,
                headers,
                body,
                conn,
            };
            // Card operations wait their turn queued under this page's origin (fair between
            // pages: `service::fair`).
            let origin = match &caller {
                Caller::Site(o) | Caller::Popup(o) => o.clone(),
                _ => String::new(),
            };
            crate::service::fair::as_caller(&origin, route(&state, req)).await
        }
    };
    guard::add_cors(resp.headers_mut(), &caller);
    resp
}

async fn route(state: &Arc<AppState>, req: Request) -> Response {
    // `/echo` without an upgrade is what a user's browser asks for when told to accept the
    // certificate: it gets the status page, as the official component answers with a page.
    if req.path == "/" || req.path == "/echo" {
        return match req.method {
            Method::GET | Method::HEAD => {
                let model = crate::diag::model::page(&page::facts(state).await);
                page::status_page(state, &model)
            }
            _ => method_not_allowed("GET"),
        };
    }
    if req.path == "/selfcheck.json" {
        return match req.method {
            Method::GET | Method::HEAD => {
                page::selfcheck_json(&crate::diag::model::page(&page::facts(state).await))
            }
            _ => method_not_allowed("GET"),
        };
    }
    if req.path == "/auth.html" {
        return match req.method {
            Method::GET | Method::HEAD => popup::auth_page(&state.contact.origins()),
            _ => method_not_allowed("GET"),
        };
    }
    if req.path.starts_with("/v1/") {
        return v1::route(state, req).await;
    }
    if req.path.starts_with("/api/") {
        return legacy::http::route(state, req).await;
    }
    error_response(ErrorCode::NotFound)
}

/// `405` with the `Allow` header.
pub fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = error_response(ErrorCode::MethodNotAllowed);
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}
