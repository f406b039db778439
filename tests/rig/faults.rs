//! Faulty cards: each failure has its own code and exit status, and none hangs.

use std::time::Duration;

use crate::support::*;

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn t0_card_reads_through_get_response() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &["--t0"]);
    let out = bridge(&["read", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(json(&out)["name"], sample().name.as_str());
    let apdus = sim.apdus();
    assert!(
        apdus.iter().any(|a| a.starts_with("00C00000")),
        "no GET RESPONSE: {apdus:?}"
    );
    // Case-4 GET DATA goes without Le under T=0.
    assert!(apdus.contains(&"00CA1100020000".to_owned()), "{apdus:?}");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn card_removed_mid_read_is_reported_not_hung() {
    let _rig = rig();
    let mut sim = Sim::start(SLOT0, &["--remove-after", "1"]);
    let out = bridge(&["read", "--json"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(json(&out)["code"], "8014");
    assert!(sim.wait_exit(Duration::from_secs(5)));
    assert_eq!(sim.apdus()[0], SELECT_HC);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn select_refused_means_not_an_nhi_card() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &["--sw", "A4=6A82"]);
    let out = bridge(&["read", "--json"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert_eq!(json(&out)["code"], "7005");
    assert_eq!(sim.apdus(), [SELECT_HC]);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn garbage_answers_are_their_own_error() {
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &["--garbage"]);
    let out = bridge(&["read", "--json"]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    assert_eq!(json(&out)["code"], "8015");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn profile_refused_is_8011() {
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &["--sw", "CA=6982"]);
    let out = bridge(&["read", "--json"]);
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
    assert_eq!(json(&out)["code"], "8011");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn slow_card_within_the_timeout_reads_and_past_it_times_out() {
    let _rig = rig();
    let slow = Sim::start(SLOT0, &["--delay-ms", "100"]);
    let out = bridge(&["read", "--json", "--timeout", "5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    slow.remove();

    let _stuck = Sim::start(SLOT0, &["--delay-ms", "4000"]);
    let out = bridge(&["read", "--json", "--timeout", "0.5"]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    assert_eq!(json(&out)["code"], "8016");
}
