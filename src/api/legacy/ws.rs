//! `wss://…:7777/echo`: one text frame in, one text frame out, many commands per connection.
//! A page whose Host or Origin is refused still completes the handshake (so it can show a
//! message), gets `4041` for its first command and is disconnected — with no card I/O.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::header::HeaderMap;
use http::Method;
use warp::filters::ws::{Message, WebSocket, Ws};
use warp::reply::{Reply, Response};
use warp::Filter;

use super::command::Command;
use super::{encrypt, get_basic, h_sign, random, secure_basic, version};
use crate::api::guard::Guard;
use crate::api::AppState;
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

async fn session(socket: WebSocket, state: Arc<AppState>, allowed: bool) {
    let (mut tx, mut rx) = socket.split();
    while let Some(msg) = rx.next().await {
        let Ok(msg) = msg else { break };
        if msg.is_close() {
            let _ = tx.send(Message::close()).await;
            break;
        }
        let text = if let Ok(t) = msg.to_str() {
            t.to_owned()
        } else if msg.is_binary() {
            String::from_utf8_lossy(msg.as_bytes()).into_owned()
        } else {
            continue; // ping/pong: answered by the WebSocket layer
        };
        if !allowed {
            let _ = tx
                .send(Message::text(ErrorCode::OriginRefused.code()))
                .await;
            let _ = tx.send(Message::close()).await;
            break;
        }
        let cmd = Command::parse(&text);
        let out = reply(&state, &cmd).await;
        if tx.send(Message::text(out)).await.is_err() {
            break;
        }
    }
}

/// The `/echo` upgrade. Non-upgrade requests fall through to the other routes.
pub fn route(
    state: Arc<AppState>,
    guard: Arc<Guard>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    warp::path("echo")
        .and(warp::path::end())
        .and(warp::ws())
        .and(warp::header::headers_cloned())
        .map(move |ws: Ws, headers: HeaderMap| {
            let verdict = guard.check(&Method::GET, "/echo", &headers);
            if let Err(code) = verdict {
                log::info!("legacy WebSocket refused: {}", code.message_en());
            }
            let state = state.clone();
            ws.max_message_size(MAX_FRAME)
                .max_frame_size(MAX_FRAME)
                .on_upgrade(move |socket| session(socket, state, verdict.is_ok()))
                .into_response()
        })
}
