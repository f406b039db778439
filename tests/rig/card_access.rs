//! How the daemon shares the card: a slow cloud SAM never holds it, a timed-out operation keeps it
//! until it has really finished, a swapped card never answers for its successor, and reads leave
//! the card as they found it (only H_Sign and an abandoned operation reset it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::https::*;
use crate::support::*;

fn resets(sim: &Sim) -> usize {
    sim.log_lines().iter().filter(|l| *l == "# reset").count()
}

fn selects(sim: &Sim) -> usize {
    sim.apdus().iter().filter(|a| *a == SELECT_HC).count()
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_trickling_sam_neither_holds_the_card_nor_outlives_the_request() {
    let _rig = rig();
    let _card = Sim::start(SLOT0, &[]);
    let sam = SamSim::start(&["--fault", "trickle"]);
    let d = Daemon::start(&format!(
        "sam_endpoint = \"{}\"\nsam_hello_timeout_secs = 60\nsam_reply_timeout_secs = 60\nhsign_timeout_secs = 3\n",
        sam.endpoint()
    ));
    let (ca, port, host) = (d.ca.clone(), d.port, d.host());
    let signer = std::thread::spawn(move || {
        request(
            &ca,
            port,
            "POST",
            "/v1/card/hsign",
            &[
                ("Host", &host),
                ("Origin", NHI_ORIGIN),
                ("Content-Type", "application/json"),
            ],
            br#"{"argument":"00111234567890123456"}"#,
        )
    });
    eventually("the SAM trickles", Duration::from_secs(10), || {
        sam.events().iter().any(|e| e == "trickle")
    });
    // While the SAM check hangs, the card is free for others.
    let card = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!(card.status, 200, "{}", card.text());
    assert!(
        sam.events().iter().all(|e| e != "hung-up"),
        "the read finished while the SAM was still trickling"
    );
    let signed = signer.join().expect("signer");
    assert!(signed.status >= 500, "{}", signed.text());
    // The daemon hangs up on the SAM by the operation's deadline, not after hours of trickle.
    eventually(
        "the daemon hangs up on the SAM",
        Duration::from_secs(10),
        || sam.events().iter().any(|e| e == "hung-up"),
    );
    assert_eq!(d.get("/v1/status", None).status, 200);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_timed_out_read_keeps_the_card_until_it_ends_and_readers_do_not_wait() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &["--delay-ms", "1500"]);
    let d = Daemon::start("card_timeout_secs = 1\n");
    let first = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!(first.json()["code"], "8016", "{}", first.text());
    // The first read is still at the card: a second request must not start another one.
    let second = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!(second.json()["code"], "8016", "{}", second.text());
    // The reader list comes without waiting for the APDU in flight.
    let readers = d.get("/v1/readers", Some(NHI_ORIGIN));
    assert_eq!(readers.status, 200);
    assert!(readers.text().contains(SLOT0.reader));
    assert_eq!(
        resets(&sim),
        0,
        "answered while the first read was still running"
    );
    // When the abandoned read finally ends, the card is reset, and it was the only read.
    eventually(
        "the abandoned read resets the card",
        Duration::from_secs(15),
        || resets(&sim) == 1,
    );
    assert_eq!(selects(&sim), 1, "{:?}", sim.apdus());
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn reads_leave_the_card_as_found_and_h_sign_resets_it() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &[]);
    let sam = SamSim::start(&[]);
    let d = Daemon::start(&format!("sam_endpoint = \"{}\"\n", sam.endpoint()));
    assert_eq!(d.get("/v1/card", Some(NHI_ORIGIN)).status, 200);
    let mut ws = EchoSocket::open(&d.ca, d.port, &d.host(), NHI_ORIGIN);
    assert!(ws
        .send("GetBasic")
        .is_some_and(|r| r.starts_with("GetBasic:")));
    let out = bridge(&["read", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        resets(&sim),
        0,
        "a read reset the card: {:?}",
        sim.log_lines()
    );
    assert!(selects(&sim) >= 2, "the CLI read the card too");

    let sig = ws
        .send("H_Sign?Random=00111234567890123456")
        .expect("reply");
    assert!(sig.starts_with("H_Sign:"), "{sig}");
    eventually("H_Sign resets the card", Duration::from_secs(5), || {
        resets(&sim) == 1
    });
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_swapped_card_never_answers_for_its_successor() {
    let _rig = rig();
    let a = Sim::start(SLOT0, &[]);
    let d = Daemon::start("");
    let first = d.get("/v1/card", Some(NHI_ORIGIN));
    let card_a = sample().card_no;
    assert_eq!(first.json()["card_no"], card_a.as_str());

    // Requests keep coming from two clients while card A is swapped for card B with no gap.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (ca, port, host, stop) = (d.ca.clone(), d.port, d.host(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let r = request(
                        &ca,
                        port,
                        "GET",
                        "/v1/card",
                        &[("Host", &host), ("Origin", NHI_ORIGIN)],
                        b"",
                    );
                    let card = (r.status == 200)
                        .then(|| r.json()["card_no"].as_str().unwrap_or("").to_owned());
                    seen.push((started, card));
                }
                seen
            })
        })
        .collect();
    let profile_b = nhi_sim::profile::SAMPLE.replace(&card_a, "000099990000");
    assert_ne!(profile_b, nhi_sim::profile::SAMPLE);
    // B dials vpcd first (it waits in the backlog), then A is pulled: no gap between the two.
    let b = Sim::spawn(SLOT0, Some(&profile_b), &[]);
    a.pull_now();
    // B is in once pcscd reports a new insertion: from then on no answer may be A's.
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("context");
    let name = std::ffi::CString::new(SLOT0.reader).expect("name");
    let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut states)
        .expect("status");
    let before = states[0].event_count();
    let deadline = Instant::now() + Duration::from_secs(10);
    let b_in = loop {
        states[0].sync_current_state();
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "pcscd never saw card B");
        let _ = ctx.get_status_change(left, &mut states);
        let st = states[0].event_state();
        if st.contains(pcsc::State::PRESENT) && states[0].event_count() >= before + 2 {
            break Instant::now();
        }
    };
    // Let the clients run on after B is in: until B is read, then 20 requests more.
    eventually("B is read", Duration::from_secs(10), || {
        d.get("/v1/card", Some(NHI_ORIGIN)).json()["card_no"] == "000099990000"
    });
    for _ in 0..20 {
        let _ = d.get("/v1/card", Some(NHI_ORIGIN));
    }
    stop.store(true, Ordering::SeqCst);
    let mut stale = 0;
    let mut after = 0;
    for c in clients {
        for (started, card) in c.join().expect("client") {
            if started > b_in {
                after += 1;
                if card.as_deref() == Some(card_a.as_str()) {
                    stale += 1;
                }
            }
        }
    }
    assert!(after > 0, "no request was made after B was in");
    assert_eq!(
        stale, 0,
        "{stale} of {after} answers after the swap were card A's"
    );
    drop(b);
}

fn profile_reads(sim: &Sim) -> usize {
    sim.apdus()
        .iter()
        .filter(|a| a.starts_with("00CA1100"))
        .count()
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn prefetch_reads_the_card_at_insertion_and_the_page_gets_it_from_memory() {
    let _rig = rig();
    let d = Daemon::start("prefetch = true\nlog_level = \"debug\"\n");
    let sim = Sim::start(SLOT0, &[]);
    eventually("the card is prefetched", Duration::from_secs(10), || {
        d.log().contains("prefetched the card")
    });
    let before = sim.apdus().len();
    assert_eq!(profile_reads(&sim), 1);
    let card = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!(card.json()["card_no"], sample().card_no.as_str());
    assert_eq!(
        sim.apdus().len(),
        before,
        "the page's request went to the card"
    );
    assert_eq!(resets(&sim), 0, "the prefetch reset the card");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn prefetch_gives_a_foreign_card_one_select_only() {
    let _rig = rig();
    let d = Daemon::start("prefetch = true\nlog_level = \"debug\"\n");
    let sim = Sim::start(SLOT0, &["--sw", "A4=6A82"]);
    eventually("the prefetch is over", Duration::from_secs(10), || {
        d.log().contains("prefetch in")
    });
    assert_eq!(
        sim.apdus(),
        [SELECT_HC],
        "more than the SELECT reached a foreign card"
    );
    assert_eq!(resets(&sim), 0);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_request_during_the_prefetch_joins_it() {
    let _rig = rig();
    let d = Daemon::start("prefetch = true\nlog_level = \"debug\"\n");
    // 3 APDUs at 300 ms: the request arrives while the prefetch holds the card.
    let sim = Sim::start(SLOT0, &["--delay-ms", "300"]);
    let card = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!(card.json()["card_no"], sample().card_no.as_str());
    eventually("the prefetch is over", Duration::from_secs(10), || {
        d.log().contains("prefetched the card")
    });
    assert_eq!(profile_reads(&sim), 1, "two reads: {:?}", sim.apdus());
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_card_pulled_during_the_prefetch_leaves_nothing_behind() {
    let _rig = rig();
    let d = Daemon::start("prefetch = true\nlog_level = \"debug\"\n");
    let sim = Sim::start(SLOT0, &["--delay-ms", "400"]);
    eventually("the prefetch has begun", Duration::from_secs(10), || {
        !sim.apdus().is_empty()
    });
    sim.remove();
    eventually("the prefetch is over", Duration::from_secs(10), || {
        d.log().contains("prefetch in") || d.log().contains("prefetched the card")
    });
    let r = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_ne!(
        r.status,
        200,
        "a pulled card's data was served: {}",
        r.text()
    );
    assert_eq!(r.json()["code"], "7004");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn without_prefetch_no_apdu_reaches_the_card_until_asked() {
    let _rig = rig();
    let d = Daemon::start("prefetch = false\nlog_level = \"debug\"\n");
    let mut events = d.events(NHI_ORIGIN);
    events.expect("pcsc-up", "", Duration::from_secs(5));
    let sim = Sim::start(SLOT0, &[]);
    events.expect("card-inserted", SLOT0.reader, Duration::from_secs(5));
    assert_eq!(d.get("/v1/readers", Some(NHI_ORIGIN)).status, 200);
    assert!(sim.apdus().is_empty(), "{:?}", sim.apdus());
    assert!(!d.log().contains("prefetch"));
    assert_eq!(d.get("/v1/card", Some(NHI_ORIGIN)).status, 200);
    assert_eq!(profile_reads(&sim), 1);
}
