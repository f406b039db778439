//! The reader monitor's events for card insertion/removal and pcscd stop/start.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use nhi_bridge::reader::monitor::{EventSink, Monitor, ReaderEvent};

use crate::support::*;

struct Sink(mpsc::Sender<ReaderEvent>);

impl EventSink for Sink {
    fn publish(&self, event: ReaderEvent) {
        let _ = self.0.send(event);
    }
}

/// Receives events until one matches, failing after `timeout`.
fn expect(
    rx: &mpsc::Receiver<ReaderEvent>,
    timeout: Duration,
    want: impl Fn(&ReaderEvent) -> bool,
) -> ReaderEvent {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if want(&e) => return e,
            Ok(e) => seen.push(e),
            Err(_) => panic!("expected event not received within {timeout:?}; saw {seen:?}"),
        }
    }
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn monitor_reports_cards_and_pcscd_restarts() {
    let _rig = rig();
    let (tx, rx) = mpsc::channel();
    let monitor = Monitor::spawn(Sink(tx)).expect("spawn monitor");
    let t = Duration::from_secs(5);
    expect(&rx, t, |e| *e == ReaderEvent::PcscUp);
    for slot in [SLOT0, SLOT1] {
        expect(
            &rx,
            t,
            |e| matches!(e, ReaderEvent::ReaderAdded { reader } if reader == slot.reader),
        );
    }

    let sim = Sim::start(SLOT1, &["--retry-secs", "30"]);
    let inserted = expect(&rx, t, |e| matches!(e, ReaderEvent::CardInserted { .. }));
    let ReaderEvent::CardInserted { reader, atr, .. } = inserted else {
        unreachable!()
    };
    assert_eq!(reader, SLOT1.reader);
    assert_eq!(atr.first(), Some(&0x3B));

    // pcscd down within 2 s, with the card and readers gone; back up with them again.
    let stopped = PcscdStopped::new();
    expect(&rx, Duration::from_secs(2), |e| *e == ReaderEvent::PcscDown);
    expect(
        &rx,
        t,
        |e| matches!(e, ReaderEvent::CardRemoved { reader } if reader == SLOT1.reader),
    );
    stopped.restart();
    expect(&rx, Duration::from_secs(3), |e| *e == ReaderEvent::PcscUp);
    expect(
        &rx,
        t,
        |e| matches!(e, ReaderEvent::ReaderAdded { reader } if reader == SLOT0.reader),
    );
    expect(
        &rx,
        Duration::from_secs(15),
        |e| matches!(e, ReaderEvent::CardInserted { reader, .. } if reader == SLOT1.reader),
    );

    sim.remove();
    expect(
        &rx,
        t,
        |e| matches!(e, ReaderEvent::CardRemoved { reader } if reader == SLOT1.reader),
    );

    assert!(
        monitor.stop(Duration::from_secs(2)),
        "monitor did not stop within 2 s"
    );
}
