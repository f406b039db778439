//! docs/openapi.yaml stays true: real responses of the running daemon, success and error, are
//! validated against the schemas the document gives for their path and status.

use serde_json::{json, Value};

use crate::https::*;
use crate::support::*;

fn spec() -> Value {
    let text = include_str!("../../docs/openapi.yaml");
    serde_norway::from_str(text).expect("docs/openapi.yaml parses")
}

/// The schema for (path, status) with `components` beside it so its `$ref`s resolve.
fn schema_for(spec: &Value, path: &str, status: u16) -> Value {
    let op = &spec["paths"][path];
    let responses = if op["get"].is_object() {
        &op["get"]["responses"]
    } else {
        &op["post"]["responses"]
    };
    assert!(responses.is_object(), "{path} is not documented");
    let mut resp = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
        .unwrap_or_else(|| panic!("{path} documents no response for {status}"))
        .clone();
    if let Some(r) = resp.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().expect("ref name");
        resp = spec["components"]["responses"][name].clone();
    }
    let mut schema = resp["content"]["application/json"]["schema"].clone();
    assert!(schema.is_object(), "{path} {status}: no JSON schema");
    schema["components"] = spec["components"].clone();
    schema
}

fn check(spec: &Value, path: &str, r: &HttpResponse) {
    let instance = r.json();
    let schema = schema_for(spec, path, r.status);
    let validator = jsonschema::draft202012::new(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{path} {}: {instance} does not match the spec: {errors:?}",
        r.status
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn responses_match_the_openapi_document() {
    let _rig = rig();
    let spec = spec();
    let sim = Sim::start(SLOT0, &[]);
    let d = Daemon::start("");
    let cases = [
        ("/v1/status", d.get("/v1/status", None)),
        ("/v1/readers", d.get("/v1/readers", Some(NHI_ORIGIN))),
        ("/v1/card", d.get("/v1/card", Some(NHI_ORIGIN))),
        ("/v1/card", d.get("/v1/card?reader=Nope", Some(NHI_ORIGIN))),
        ("/v1/card", d.get("/v1/card?bad=1", Some(NHI_ORIGIN))),
        ("/v1/card", d.get("/v1/card", Some("https://evil.example"))),
    ];
    let statuses: Vec<u16> = cases.iter().map(|(_, r)| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 404, 400, 403]);
    for (path, r) in &cases {
        check(&spec, path, r);
    }
    let host = d.host();
    let bad = d.request(
        "POST",
        "/v1/card/hsign",
        &[
            ("Host", &host),
            ("Origin", NHI_ORIGIN),
            ("Content-Type", "application/json"),
        ],
        br#"{"argument":"short"}"#,
    );
    assert_eq!(bad.status, 400);
    check(&spec, "/v1/card/hsign", &bad);
    sim.remove();
    let no_card = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!(no_card.status, 503);
    check(&spec, "/v1/card", &no_card);
    let after = d.get("/v1/status", None);
    check(&spec, "/v1/status", &after);
    assert_eq!(after.json()["readers"][0]["card_present"], json!(false));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn every_documented_path_is_served() {
    let _rig = rig();
    let spec = spec();
    let d = Daemon::start("");
    let paths = spec["paths"].as_object().expect("paths");
    assert!(paths.len() >= 4);
    for path in paths.keys() {
        if path == "/v1/events" {
            let ev = d.events(NHI_ORIGIN);
            assert_eq!(ev.status, 200);
            continue;
        }
        let r = d.get(path, Some(NHI_ORIGIN));
        assert_ne!(r.status, 404, "{path} is documented but not served");
        if spec["paths"][path]["get"].is_null() {
            assert_eq!(r.status, 405, "{path} is POST only");
        }
    }
}
