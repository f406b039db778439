//! `wss://…:7777/echo`: one text frame in, one text frame out, many commands per connection.
//! A page whose Host or Origin is refused still completes the handshake (so it can show a
//! message), gets `4041` for its first command (or is closed when none comes within a few
//! seconds) and is disconnected — with no card I/O. A client without an Origin header is not a
//! browser: it may ask `GetVersion`, and is refused like a foreign page for anything else.
//!
//! A session keeps its connection's slot and a long-lived place (see `capacity`) for its whole
//! life, and is closed after `idle_timeout_secs` without a frame from the page.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::header::HeaderMap;
use http::Method;
use warp::filters::ws::{Message, WebSocket, Ws};
use warp::reply::{Reply, Response};
use warp::Filter;

use super::command::Command;
use super::{encrypt, get_basic, h_sign, random, secure_basic, version};
use crate::api::guard::{Caller, Guard};
use crate::api::{error_response, AppState};
use crate::capacity::{Budget, Capacity, Connection, LongLived};
use crate::error::ErrorCode;

/// Largest frame accepted; commands are a few dozen bytes.
pub const MAX_FRAME: usize = 16 * 1024;

/// The reply text to one command.
pub async fn reply(state: &AppState, cmd: &Command) -> String {
    let name = cmd.reply_name();
    let result = match cmd {
        Command::GetVersion => Ok(version().to_owned()),
        Command::GetRandom => random(),
        Command::GetBasic => get_basic(state).await,
        Command::HSign(arg) => h_sign(state, arg).await,
        Command::EnCrypt(pwd) => encrypt(state, pwd).await,
        Command::SecureGetBasic => secure_basic(state).await,
        Command::Unsupported | Command::Unknown => Err(ErrorCode::UnknownCommand.code()),
    };
    match result {
        Ok(payload) => format!("{name}:{payload}"),
        Err(code) => code.to_owned(),
    }
}

/// What a session may do, decided by the guard before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// An allowed page: every command.
    Full,
    /// No Origin header (not a browser): `GetVersion` only; a card command gets `4041` and the
    /// connection is closed, as for a refused page.
    VersionOnly,
    /// Host or Origin refused: the first command gets `4041`, then the connection is closed.
    Refused,
}

/// Serves one `/echo` session until the page closes it, goes quiet for the idle timeout, or is
/// refused. `_place` is the session's long-lived admission and `conn` its connection slot: both
/// are given back when this returns.
async fn session(
    socket: WebSocket,
    state: Arc<AppState>,
    access: Access,
    origin: String,
    conn: Option<Connection>,
    _place: LongLived,
) {
    let idle =
        conn.as_ref()
            .map_or(DEFAULT_IDLE, |c| c.idle_timeout)
            .min(if access == Access::Full {
                Duration::MAX
            } else {
                conn.as_ref()
                    .map_or(DEFAULT_FIRST_MESSAGE, |c| c.first_message_timeout)
            });
    // A session that is not fully allowed ends at an absolute deadline: pings (or anything else)
    // do not keep it open.
    let deadline = (access != Access::Full).then(|| tokio::time::Instant::now() + idle);
    let (mut tx, mut rx) = socket.split();
    let mut shutdown = state.shutdown.clone();
    loop {
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(tokio::time::Instant::now()),
            None => idle,
        };
        let msg = tokio::select! {
            _ = shutdown.changed() => break,
            m = tokio::time::timeout(wait, rx.next()) => match m {
                Err(_) => {
                    log::debug!("closing an /echo session quiet for {} ms", idle.as_millis());
                    break;
                }
                Ok(None) | Ok(Some(Err(_))) => return,
                Ok(Some(Ok(msg))) => msg,
            },
        };
        if msg.is_close() {
            break;
        }
        let text = if let Ok(t) = msg.to_str() {
            t.to_owned()
        } else if msg.is_binary() {
            String::from_utf8_lossy(msg.as_bytes()).into_owned()
        } else {
            continue; // ping/pong: answered by the WebSocket layer
        };
        let cmd = Command::parse(&text);
        let allowed = match access {
            Access::Full => true,
            Access::VersionOnly => cmd == Command::GetVersion,
            Access::Refused => false,
        };
        if !allowed {
            let _ = tokio::time::timeout(
                SEND_TIMEOUT,
                tx.send(Message::text(ErrorCode::OriginRefused.code())),
            )
            .await;
            break;
        }
        let out = crate::service::fair::as_caller(&origin, reply(&state, &cmd)).await;
        match tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::text(out))).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
    // Say goodbye, but do not wait for a peer that does not read.
    let _ = tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::close())).await;
}

/// Without a connection extension (not served by `server`): the configured defaults.
const DEFAULT_IDLE: Duration = Duration::from_secs(60);
const DEFAULT_FIRST_MESSAGE: Duration = Duration::from_secs(5);
/// Longest a reply may wait for a page that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The `/echo` upgrade. Non-upgrade requests fall through to the other routes.
pub fn route(
    state: Arc<AppState>,
    guard: Arc<Guard>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    warp::path("echo")
        .and(warp::path::end())
        .and(warp::ws())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<Connection>())
        .map(
            move |ws: Ws, headers: HeaderMap, conn: Option<Connection>| {
                let access = match guard.check(&Method::GET, "/echo", "", &headers) {
                    Ok(Caller::NoOrigin) => Access::VersionOnly,
                    Ok(Caller::Site(origin)) => {
                        state.contact.note(&origin);
                        Access::Full
                    }
                    // Our own pages never read the card over /echo.
                    Ok(Caller::OwnPage) => Access::VersionOnly,
                    // The guard names a popup only for `/api/` posts.
                    Ok(Caller::Popup(_)) => Access::VersionOnly,
                    Err(code) => {
                        log::info!("legacy WebSocket refused: {}", code.message_en());
                        Access::Refused
                    }
                };
                let origin = headers
                    .get(http::header::ORIGIN)
                    .and_then(|o| o.to_str().ok())
                    .unwrap_or("");
                // A refused session takes a place of its own small pool, never one of the
                // long-lived places allowed pages need.
                let claim = |c: &Connection| {
                    if access == Access::Refused {
                        c.capacity.claim_refused()
                    } else {
                        c.capacity.claim(origin)
                    }
                };
                let place = match conn.as_ref().map(claim) {
                    Some(Ok(place)) => place,
                    Some(Err(full)) => {
                        log::info!("legacy WebSocket not admitted: {full:?} full");
                        return error_response(ErrorCode::TooManyConnections);
                    }
                    // Served outside `server` (tests of the filter alone): an unbounded place.
                    None => match Capacity::new(Budget::for_connections(1)).claim(origin) {
                        Ok(place) => place,
                        Err(_) => return error_response(ErrorCode::TooManyConnections),
                    },
                };
                let state = state.clone();
                let origin = origin.to_owned();
                ws.max_message_size(MAX_FRAME)
                    .max_frame_size(MAX_FRAME)
                    .on_upgrade(move |socket| session(socket, state, access, origin, conn, place))
                    .into_response()
            },
        )
}
