//! The HTTP variant (`http://localhost:59001/api/…`, `https://localhost:59002/api/…`, §2):
//! POST endpoints answering JSON with `result` (`"0000"` = OK, else a legacy code) and always
//! HTTP 200 — jQuery only reads `result` from a successful response — and two BMP images that
//! carry JSON in their pixels. Request bodies are parsed as JSON whatever their Content-Type,
//! because jQuery's `$.post` sends them form-encoded.

use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use warp::reply::Response;

use super::{bmp, encrypt, get_basic_fields, h_sign, random, secure_basic, version, Code};
use crate::api::{error_response, json_response, method_not_allowed, AppState, Request};
use crate::error::ErrorCode;

const OK: &str = "0000";

fn result(r: Result<Value, Code>) -> Response {
    let body = match r {
        Ok(mut v) => {
            v["result"] = json!(OK);
            v
        }
        Err(code) => json!({ "result": code }),
    };
    json_response(StatusCode::OK, &body)
}

fn body_field(req: &Request, name: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(&req.body).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

#[derive(Serialize)]
struct Basic<'a> {
    card_no: &'a str,
    as_id: &'a str,
    name: &'a str,
    birthday: String,
    sex: String,
    card_termination: String,
}

fn image(json: &str) -> Response {
    let Some(bytes) = bmp::encode(json) else {
        return error_response(ErrorCode::Internal);
    };
    let mut resp = Response::new(bytes.into());
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/bmp"));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Serves one `/api/...` request that passed the guard.
pub async fn route(state: &AppState, req: Request) -> Response {
    let endpoint = req.path.strip_prefix("/api/").unwrap_or_default();
    match (endpoint, &req.method) {
        ("GetStatus.bmp", &Method::GET) => image(r#"{"result":"0000"}"#),
        ("GetCardStatus.bmp", &Method::GET) => {
            let card = state
                .service
                .snapshot()
                .readers
                .values()
                .any(|c| c.is_some());
            image(if card {
                r#"{"result":"0000"}"#
            } else {
                r#"{"result":"8013"}"#
            })
        }
        ("GetStatus.bmp" | "GetCardStatus.bmp", _) => method_not_allowed("GET"),
        (_, m) if *m != Method::POST => match endpoint {
            "GetVersion" | "GetRandom" | "GetBasic" | "SignHC" | "EncryptPwd"
            | "GetEncryptBasic" => method_not_allowed("POST"),
            _ => error_response(ErrorCode::NotFound),
        },
        ("GetVersion", _) => result(Ok(json!({ "version": version() }))),
        ("GetRandom", _) => result(random().map(|r| json!({ "random": r }))),
        ("GetBasic", _) => result(
            get_basic_fields(state, |f| {
                serde_json::to_value(Basic {
                    card_no: f.card_no,
                    as_id: f.id_no,
                    name: f.name,
                    birthday: f.birthday,
                    sex: f.sex.to_string(),
                    card_termination: f.flag.to_string(),
                })
                .unwrap_or(Value::Null)
            })
            .await,
        ),
        ("SignHC", _) => {
            let mut arg = body_field(&req, "random").unwrap_or_default();
            // The library's AuthHC chain sends GetRandom's 16 characters without the version
            // its H_Sign chain puts in front; the SAM exchange takes the 20-character form.
            if arg.len() == 16 {
                arg.insert_str(0, version());
            }
            result(
                h_sign(state, &arg)
                    .await
                    .map(|sign| json!({ "sign": sign })),
            )
        }
        ("EncryptPwd", _) => {
            let pwd = body_field(&req, "pwd").unwrap_or_default();
            result(
                encrypt(state, &pwd)
                    .await
                    .map(|e| json!({ "encrypted": e, "encrypt_pwd": e })),
            )
        }
        ("GetEncryptBasic", _) => {
            // AuthHC merges all six replies into one object, so each payload also has a name
            // of its own that the next reply cannot overwrite.
            result(
                secure_basic(state)
                    .await
                    .map(|e| json!({ "encrypted": e, "encrypt_basic": e })),
            )
        }
        _ => error_response(ErrorCode::NotFound),
    }
}
