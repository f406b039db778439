//! The versioned JSON API (`/v1/...`, documented in docs/openapi.yaml).
//!
//! `status`, `readers` and `events` never touch a card; `card` reads the profile through the card
//! service (cached per insertion). Event payloads name readers only, never card-holder data.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use serde::Serialize;
use warp::reply::{Reply, Response};

use crate::apdu::hex;
use crate::error::ErrorCode;
use crate::reader::monitor::ReaderEvent;
use crate::service::CardReadout;

use super::{error_response, json_response, method_not_allowed, AppState, Request, API_VERSION};

/// SSE keep-alive comment interval.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `daemon` in `/v1/status`.
#[derive(Serialize)]
pub struct DaemonJson {
    /// Always `nhi-bridge`.
    pub name: &'static str,
    /// The daemon's version.
    pub version: &'static str,
}

/// One reader in `/v1/status`.
#[derive(Serialize)]
pub struct ReaderStateJson {
    /// The reader's PC/SC name.
    pub name: String,
    /// Whether a card is in it.
    pub card_present: bool,
}

/// `GET /v1/status`: the daemon and PC/SC as the monitor sees them, without I/O.
#[derive(Serialize)]
pub struct StatusJson {
    /// Who answers.
    pub daemon: DaemonJson,
    /// The API version (`1`).
    pub api_version: &'static str,
    /// "up" or "down".
    pub pcsc: &'static str,
    /// Every reader PC/SC lists.
    pub readers: Vec<ReaderStateJson>,
    /// The reader card operations go to, when known.
    pub selected_reader: Option<String>,
    /// When a page of an allowed origin last reached the daemon (`null`: none since it started).
    pub last_page_contact: Option<PageContactJson>,
}

/// `last_page_contact` in `/v1/status`.
#[derive(Serialize)]
pub struct PageContactJson {
    /// The page's origin.
    pub origin: String,
    /// RFC 3339, UTC.
    pub at: String,
}

/// One reader in `/v1/readers` (and `nhi-bridge readers --json`).
#[derive(Serialize)]
pub struct ReaderJson {
    /// The reader's PC/SC name.
    pub name: String,
    /// Whether a card is in it.
    pub card_present: bool,
    /// The card's ATR in hex, when a card is in.
    pub atr: Option<String>,
}

/// `GET /v1/readers`.
#[derive(Serialize)]
pub struct ReadersJson {
    /// Every reader PC/SC lists.
    pub readers: Vec<ReaderJson>,
}

/// The card profile as JSON: the same fields in the API and in `nhi-bridge read --json`.
#[derive(Serialize)]
pub struct CardJson<'a> {
    /// The reader the card is in.
    pub reader: &'a str,
    /// 卡號, 12 digits.
    pub card_no: &'a str,
    /// 姓名, as Unicode.
    pub name: &'a str,
    /// 身分證號.
    pub id_no: &'a str,
    /// 出生日期, ISO 8601.
    pub birth_date: String,
    /// 出生日期, ROC `yyyMMdd`.
    pub birth_date_roc: String,
    /// `M` or `F`.
    pub sex: String,
    /// 發卡日期, ISO 8601.
    pub issue_date: String,
    /// 發卡日期, ROC `yyyMMdd`.
    pub issue_date_roc: String,
    /// The 8 characters of `CA 24`; `null` when the card refuses it.
    pub card_data: Option<&'a str>,
}

impl<'a> CardJson<'a> {
    /// The JSON view of a readout.
    pub fn new(r: &'a CardReadout) -> CardJson<'a> {
        let p = &r.profile;
        CardJson {
            reader: &r.reader,
            card_no: p.card_no.as_str(),
            name: p.name.text(),
            id_no: p.id_no.as_str(),
            birth_date: p.birth_date.iso(),
            birth_date_roc: p.birth_date.roc_text(),
            sex: p.sex.as_char().to_string(),
            issue_date: p.issue_date.iso(),
            issue_date_roc: p.issue_date.roc_text(),
            card_data: r.card_data.as_ref().map(|d| d.as_str()),
        }
    }
}

/// What `/v1/status` answers now.
pub fn status_json(state: &AppState) -> StatusJson {
    let snap = state.service.snapshot();
    StatusJson {
        daemon: DaemonJson {
            name: "nhi-bridge",
            version: env!("CARGO_PKG_VERSION"),
        },
        api_version: API_VERSION,
        pcsc: if snap.pcsc_up { "up" } else { "down" },
        readers: snap
            .readers
            .iter()
            .map(|(name, card)| ReaderStateJson {
                name: name.clone(),
                card_present: card.is_some(),
            })
            .collect(),
        selected_reader: state.service.selected_reader(),
        last_page_contact: state.contact.last().map(|(origin, at)| PageContactJson {
            origin,
            at: chrono::DateTime::<chrono::Utc>::from(at)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
    }
}

/// Serves one `/v1/...` request that passed the guard.
pub async fn route(state: &Arc<AppState>, req: Request) -> Response {
    let rest = req.path.strip_prefix("/v1/").unwrap_or_default();
    let get_only = |m: &Method| *m == Method::GET || *m == Method::HEAD;
    match rest {
        "status" if get_only(&req.method) => json_response(StatusCode::OK, &status_json(state)),
        "readers" if get_only(&req.method) => readers(state),
        "card" if get_only(&req.method) => card(state, &req.query).await,
        "events" if get_only(&req.method) => events(state, &req),
        "card/hsign" if req.method == Method::POST => hsign(state, &req).await,
        "card/hsign" => method_not_allowed("POST"),
        "status" | "readers" | "card" | "events" => method_not_allowed("GET"),
        _ => error_response(ErrorCode::NotFound),
    }
}

/// From the monitor's picture: never waits behind a card operation.
fn readers(state: &AppState) -> Response {
    if !state.service.snapshot().pcsc_up {
        return error_response(ErrorCode::PcscUnavailable);
    }
    let readers = state
        .service
        .readers()
        .into_iter()
        .map(|(name, card)| ReaderJson {
            card_present: card.is_some(),
            atr: card.map(|c| hex(&c.atr)),
            name,
        })
        .collect();
    json_response(StatusCode::OK, &ReadersJson { readers })
}

fn parse_query(query: &str) -> Result<Option<String>, ErrorCode> {
    if query.is_empty() {
        return Ok(None);
    }
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(query).map_err(|_| ErrorCode::BadRequest)?;
    if params.keys().any(|k| k != "reader") {
        return Err(ErrorCode::BadRequest);
    }
    Ok(params.get("reader").filter(|r| !r.is_empty()).cloned())
}

async fn card(state: &AppState, query: &str) -> Response {
    let reader = match parse_query(query) {
        Ok(r) => r,
        Err(code) => return error_response(code),
    };
    if !state.service.snapshot().pcsc_up {
        return error_response(ErrorCode::PcscUnavailable);
    }
    match state.service.profile(reader).await {
        Ok(readout) => json_response(StatusCode::OK, &CardJson::new(&readout)),
        Err(e) => {
            log::info!("GET /v1/card: {e}");
            error_response(e.code)
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HSignBody {
    argument: String,
}

/// `POST /v1/card/hsign`'s answer.
#[derive(Serialize)]
pub struct HSignJson {
    /// The 256-character H_Sign signature.
    pub signature: String,
}

async fn hsign(state: &AppState, req: &Request) -> Response {
    let json = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return error_response(ErrorCode::UnsupportedMediaType);
    }
    let Ok(body) = serde_json::from_slice::<HSignBody>(&req.body) else {
        return error_response(ErrorCode::BadRequest);
    };
    let Some(argument) = crate::service::hsign::HSignArgument::parse(&body.argument) else {
        return error_response(ErrorCode::BadRequest);
    };
    if !state.service.snapshot().pcsc_up {
        return error_response(ErrorCode::PcscUnavailable);
    }
    match state.service.hsign(argument).await {
        Ok(signature) => json_response(StatusCode::OK, &HSignJson { signature }),
        Err(e) => {
            log::info!("POST /v1/card/hsign: {e}");
            error_response(e.code)
        }
    }
}

/// SSE event name and JSON data for a monitor event.
pub fn sse_event(event: &ReaderEvent) -> warp::sse::Event {
    #[derive(Serialize)]
    struct ReaderData<'a> {
        reader: &'a str,
    }
    let (name, reader) = match event {
        ReaderEvent::PcscUp => ("pcsc-up", None),
        ReaderEvent::PcscDown => ("pcsc-down", None),
        ReaderEvent::ReaderAdded { reader } => ("reader-added", Some(reader)),
        ReaderEvent::ReaderRemoved { reader } => ("reader-removed", Some(reader)),
        ReaderEvent::CardInserted { reader, .. } => ("card-inserted", Some(reader)),
        ReaderEvent::CardRemoved { reader } => ("card-removed", Some(reader)),
    };
    let data = match reader {
        Some(r) => serde_json::to_string(&ReaderData { reader: r }),
        None => Ok("{}".to_owned()),
    }
    .unwrap_or_else(|_| "{}".to_owned());
    warp::sse::Event::default().event(name).data(data)
}

/// The current picture as events, so a new subscriber needs no separate query.
fn replay(state: &AppState) -> Vec<ReaderEvent> {
    let snap = state.service.snapshot();
    let mut out = vec![if snap.pcsc_up {
        ReaderEvent::PcscUp
    } else {
        ReaderEvent::PcscDown
    }];
    for (reader, card) in &snap.readers {
        out.push(ReaderEvent::ReaderAdded {
            reader: reader.clone(),
        });
        if let Some(c) = card {
            out.push(ReaderEvent::CardInserted {
                reader: reader.clone(),
                atr: c.atr.clone(),
                event_count: c.event_count,
            });
        }
    }
    out
}

/// The event stream: a long-lived place (see `capacity`) for as long as the client listens.
fn events(state: &AppState, req: &Request) -> Response {
    let origin = req
        .headers
        .get(http::header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .unwrap_or("");
    let place = match req.conn.as_ref().map(|c| c.capacity.claim(origin)) {
        Some(Ok(place)) => Some(place),
        Some(Err(full)) => {
            log::info!("event stream not admitted: {full:?} full");
            return error_response(ErrorCode::TooManyConnections);
        }
        None => None,
    };
    // Subscribe before taking the snapshot, so nothing falls between the two.
    let rx = state.service.subscribe();
    let initial = futures_util::stream::iter(replay(state));
    let shutdown = state.shutdown.clone();
    // The place travels with the stream and is given back when the stream is dropped.
    let live = futures_util::stream::unfold(
        (rx, shutdown, place),
        |(mut rx, mut shutdown, place)| async move {
            loop {
                if *shutdown.borrow() {
                    return None;
                }
                tokio::select! {
                    _ = shutdown.changed() => return None,
                    got = rx.recv() => match got {
                        Ok(ev) => return Some((ev, (rx, shutdown, place))),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            log::warn!("event subscriber lagged by {n} events");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    },
                }
            }
        },
    );
    use futures_util::StreamExt;
    let stream = initial
        .chain(live)
        .map(|ev| Ok::<_, Infallible>(sse_event(&ev)));
    let mut resp = warp::sse::reply(warp::sse::keep_alive().interval(KEEP_ALIVE).stream(stream))
        .into_response();
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_accepts_reader_only() {
        assert_eq!(parse_query(""), Ok(None));
        assert_eq!(
            parse_query("reader=Virtual%20PCD%2000%2001"),
            Ok(Some("Virtual PCD 00 01".into()))
        );
        assert_eq!(parse_query("reader=A+B"), Ok(Some("A B".into())));
        assert_eq!(parse_query("reader="), Ok(None));
        assert_eq!(parse_query("x=1"), Err(ErrorCode::BadRequest));
    }
}
