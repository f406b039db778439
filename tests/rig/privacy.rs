//! Card-holder data never reaches the log, even at trace level.

use crate::support::*;

fn assert_no_holder_data(log: &str) {
    let p = sample();
    let (big5, _, _) = encoding_rs::BIG5.encode(&p.name);
    let big5_hex: String = big5.iter().map(|b| format!("{b:02X}")).collect();
    let digits_hex: String = p.id_no.bytes().map(|b| format!("{b:02X}")).collect();
    for secret in [
        p.name.as_str(),
        p.id_no.as_str(),
        p.card_no.as_str(),
        p.birth_date.as_str(),
        big5_hex.as_str(),
        digits_hex.as_str(),
    ] {
        assert!(
            !log.contains(secret),
            "card-holder data {secret:?} in the log:\n{log}"
        );
    }
}

#[test]
fn trace_log_of_a_read_has_no_holder_data() {
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &[]);
    let out = bridge_env(&["read", "--json", "-vvv"], &[("RUST_LOG", "trace")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = text(&out.stderr);
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging is on: {log}"
    );
    assert_no_holder_data(&log);
    // ... while the JSON the user asked for does carry it.
    assert_eq!(json(&out)["id_no"], sample().id_no.as_str());
}

#[test]
fn trace_log_of_a_failed_read_has_no_holder_data() {
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &["--remove-after", "2"]);
    let out = bridge_env(&["read", "-vvv"], &[("RUST_LOG", "trace")]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_no_holder_data(&text(&out.stderr));
    assert_no_holder_data(&text(&out.stdout));
}
