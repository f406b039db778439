//! pcscd going away and coming back, seen by the CLI and by one long-lived process.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use nhi_bridge::error::ErrorCode;
use nhi_bridge::reader::Pcsc;
use nhi_bridge::service;

use crate::support::*;

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn pcscd_stopped_is_reported_and_reads_resume_in_the_same_process() {
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &["--retry-secs", "30"]);
    let pcsc = Pcsc::new();
    let first =
        service::read_card(&pcsc, None, &AtomicBool::new(false)).expect("read before the restart");
    assert_eq!(first.value.profile.card_no.as_str(), sample().card_no);

    let stopped = PcscdStopped::new();
    let err = service::read_card(&pcsc, None, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PcscUnavailable, "{err}");
    assert!(!pcsc.is_available());

    let out = bridge(&["read", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(json(&out)["code"], "7001");
    let out = bridge(&["readers"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));

    stopped.restart();
    // The simulator reconnects to the new vpcd by itself: the card comes back.
    assert!(wait_card(SLOT0.reader, true, Duration::from_secs(15)));
    let again = service::read_card(&pcsc, None, &AtomicBool::new(false))
        .expect("read after the restart, same Pcsc");
    assert_eq!(again.value.profile.card_no.as_str(), sample().card_no);
    assert!(pcsc.is_available());
}
