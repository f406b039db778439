//! The daemon end to end: real TLS with the generated CA, the guard, the v1 API, live events,
//! recovery from pcscd restarts, and its start-up failures.

use std::time::Duration;

use crate::https::*;
use crate::support::*;

const EVIL: [&str; 6] = [
    "https://evil.example",
    "https://evilnhi.gov.tw",
    "https://nhi.gov.tw.evil.com",
    "http://cloudicweb.nhi.gov.tw",
    "null",
    "file://",
];

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn allowed_origin_reads_the_card_with_cors() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &[]);
    let d = Daemon::start("");
    let r = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let p = sample();
    assert_eq!(v["name"], p.name.as_str());
    assert_eq!(v["id_no"], p.id_no.as_str());
    assert_eq!(v["card_no"], p.card_no.as_str());
    assert_eq!(v["reader"], SLOT0.reader);
    assert_eq!(r.header("access-control-allow-origin"), Some(NHI_ORIGIN));
    assert!(r.header("vary").is_some_and(|v| v.contains("Origin")));
    assert!(r
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/json")));
    assert_eq!(sim.apdus()[0], SELECT_HC);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn refused_origins_get_403_and_never_reach_the_card() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &[]);
    let d = Daemon::start("");
    for origin in EVIL {
        for path in ["/v1/card", "/v1/readers", "/v1/status", "/v1/events"] {
            let r = d.get(path, Some(origin));
            assert_eq!(r.status, 403, "{origin} {path}: {}", r.text());
            assert_eq!(r.json()["code"], "4041");
            assert!(r.json()["message_zh"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            assert_eq!(r.header("access-control-allow-origin"), None, "{origin}");
        }
    }
    // Without Origin only the status is open (curl, the self-check CLI).
    assert_eq!(d.get("/v1/status", None).status, 200);
    assert_eq!(d.get("/v1/card", None).status, 403);
    assert!(
        sim.apdus().is_empty(),
        "refused requests touched the card: {:?}",
        sim.apdus()
    );
    // The daemon still serves an allowed page afterwards.
    assert_eq!(d.get("/v1/card", Some("https://nhi.gov.tw")).status, 200);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn wrong_host_gets_421() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &[]);
    let d = Daemon::start("");
    let wrong_port = format!("127.0.0.1:{}", d.port.wrapping_add(1));
    for host in [
        "evil.example",
        "evil.example:7777",
        wrong_port.as_str(),
        "127.0.0.1.nip.io",
    ] {
        let r = d.request(
            "GET",
            "/v1/card",
            &[("Host", host), ("Origin", NHI_ORIGIN)],
            b"",
        );
        assert_eq!(r.status, 421, "{host}");
        assert_eq!(r.json()["code"], "4042");
    }
    for name in ["localhost", "iccert.nhi.gov.tw", "[::1]"] {
        let host = format!("{name}:{}", d.port);
        let r = d.request("GET", "/v1/status", &[("Host", &host)], b"");
        assert_eq!(r.status, 200, "{host}");
    }
    assert!(sim.apdus().is_empty());
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn preflight_for_allowed_and_refused_origins() {
    let _rig = rig();
    let d = Daemon::start("");
    let host = d.host();
    let ask = |origin: &str| {
        d.request(
            "OPTIONS",
            "/v1/card",
            &[
                ("Host", &host),
                ("Origin", origin),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Private-Network", "true"),
            ],
            b"",
        )
    };
    let ok = ask(NHI_ORIGIN);
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some(NHI_ORIGIN));
    assert!(ok
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("GET")));
    assert!(ok.header("access-control-max-age").is_some());
    assert_eq!(
        ok.header("access-control-allow-private-network"),
        Some("true")
    );
    let bad = ask("https://evil.example");
    assert_eq!(bad.status, 403);
    assert_eq!(bad.header("access-control-allow-origin"), None);
    assert_eq!(bad.header("access-control-allow-private-network"), None);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn events_follow_the_card_in_and_out() {
    let _rig = rig();
    let d = Daemon::start("");
    let mut ev = d.events(NHI_ORIGIN);
    assert_eq!(ev.status, 200);
    assert!(
        ev.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type")
                && v.starts_with("text/event-stream"))
    );
    let t = Duration::from_secs(10);
    ev.expect("pcsc-up", "", t);
    ev.expect("reader-added", SLOT1.reader, t);
    let sim = Sim::start(SLOT1, &[]);
    let data = ev.expect("card-inserted", SLOT1.reader, t);
    // Events name the reader and nothing about the holder.
    let p = sample();
    assert!(!data.contains(&p.card_no) && !data.contains(&p.name));
    sim.remove();
    ev.expect("card-removed", SLOT1.reader, t);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn fifty_concurrent_reads_cost_one_profile_read() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &["--delay-ms", "20"]);
    let d = Daemon::start("");
    let (ca, port) = (d.ca.clone(), d.port);
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let ca = ca.clone();
            std::thread::spawn(move || {
                let host = format!("127.0.0.1:{port}");
                request(
                    &ca,
                    port,
                    "GET",
                    "/v1/card",
                    &[("Host", &host), ("Origin", NHI_ORIGIN)],
                    b"",
                )
            })
        })
        .collect();
    for t in threads {
        let r = t.join().expect("client thread");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["card_no"], sample().card_no.as_str());
    }
    let reads = sim
        .apdus()
        .iter()
        .filter(|a| a.starts_with("00CA1100"))
        .count();
    assert_eq!(reads, 1, "profile reads at the card: {:?}", sim.apdus());
    // Re-inserting the card makes the next request read it again.
    sim.remove();
    let again = Sim::start(SLOT0, &[]);
    assert_eq!(d.get("/v1/card", Some(NHI_ORIGIN)).status, 200);
    assert_eq!(
        again
            .apdus()
            .iter()
            .filter(|a| a.starts_with("00CA1100"))
            .count(),
        1
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn card_errors_have_codes_and_statuses() {
    let _rig = rig();
    let d = Daemon::start("card_timeout_secs = 1\n");
    let r = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (503, Some("7004")));

    let other = Sim::start(SLOT0, &["--sw", "A4=6A82"]);
    let r = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (503, Some("7005")));
    other.remove();

    let r = d.get("/v1/card?reader=Nope", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (404, Some("7006")));
    let r = d.get("/v1/card?what=1", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("4000")));
    let r = d.get("/v1/nothing", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (404, Some("4040")));
    let host = d.host();
    let r = d.request(
        "POST",
        "/v1/status",
        &[("Host", &host), ("Origin", NHI_ORIGIN)],
        b"{}",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    let big = vec![b'x'; 17 * 1024];
    let r = d.request(
        "POST",
        "/v1/card",
        &[("Host", &host), ("Origin", NHI_ORIGIN)],
        &big,
    );
    assert_eq!((r.status, r.json()["code"].as_str()), (413, Some("4130")));

    let removed = Sim::start(SLOT0, &["--remove-after", "1"]);
    let r = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (503, Some("8014")));
    drop(removed);

    // A card slower than the timeout: 504, the daemon keeps serving, and when the card finally
    // answers the abandoned operation resets it.
    let slow = Sim::start(SLOT0, &["--delay-ms", "2500"]);
    let r = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (504, Some("8016")));
    assert_eq!(d.get("/v1/status", None).status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !slow
        .log_lines()
        .iter()
        .any(|l| l == "# reset" || l == "# power-off")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "card not reset: {:?}",
            slow.log_lines()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    slow.remove();
    let fine = Sim::start(SLOT0, &[]);
    assert_eq!(d.get("/v1/card", Some(NHI_ORIGIN)).status, 200);
    drop(fine);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn pcscd_restart_is_reported_and_recovered_without_restarting_the_daemon() {
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &["--retry-secs", "30"]);
    let d = Daemon::start("");
    let mut ev = d.events(NHI_ORIGIN);
    ev.expect("card-inserted", SLOT0.reader, Duration::from_secs(10));
    assert_eq!(d.get("/v1/card", Some(NHI_ORIGIN)).status, 200);

    let stopped = PcscdStopped::new();
    ev.expect("pcsc-down", "", Duration::from_secs(2));
    let st = d.get("/v1/status", None).json();
    assert_eq!(st["pcsc"], "down");
    let r = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (503, Some("7001")));
    let r = d.get("/v1/readers", Some(NHI_ORIGIN));
    assert_eq!((r.status, r.json()["code"].as_str()), (503, Some("7001")));

    stopped.restart();
    ev.expect("pcsc-up", "", Duration::from_secs(2));
    ev.expect("reader-added", SLOT0.reader, Duration::from_secs(2));
    ev.expect("card-inserted", SLOT0.reader, Duration::from_secs(15));
    let st = d.get("/v1/status", None).json();
    assert_eq!(st["pcsc"], "up");
    assert_eq!(st["readers"].as_array().map(|a| a.len()), Some(2));
    let r = d.get("/v1/card", Some(NHI_ORIGIN));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = d.get("/v1/readers", Some(NHI_ORIGIN));
    assert_eq!(r.status, 200);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn status_and_readers_describe_the_rig() {
    let _rig = rig();
    let sim = Sim::start(SLOT1, &[]);
    let d = Daemon::start("");
    let st = d.get("/v1/status", None).json();
    assert_eq!(st["api_version"], "1");
    assert_eq!(st["daemon"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(st["pcsc"], "up");
    let readers = st["readers"].as_array().expect("readers");
    assert!(readers
        .iter()
        .any(|r| r["name"] == SLOT1.reader && r["card_present"] == true));
    assert!(readers
        .iter()
        .any(|r| r["name"] == SLOT0.reader && r["card_present"] == false));
    assert_eq!(st["selected_reader"], serde_json::Value::Null);
    assert_eq!(d.get("/v1/card", Some(NHI_ORIGIN)).status, 200);
    assert_eq!(
        d.get("/v1/status", None).json()["selected_reader"],
        SLOT1.reader
    );
    let r = d.get("/v1/readers", Some(NHI_ORIGIN)).json();
    let list = r["readers"].as_array().expect("readers");
    assert!(list.iter().any(
        |x| x["name"] == SLOT1.reader && x["atr"].as_str().is_some_and(|a| a.starts_with("3B"))
    ));
    // Status and readers never touch the card.
    assert_eq!(sim.apdus().iter().filter(|a| *a == SELECT_HC).count(), 1);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn listens_on_loopback_only() {
    let _rig = rig();
    let d = Daemon::start("");
    let out = std::process::Command::new("ss")
        .args(["-ltnH"])
        .output()
        .expect("ss");
    let text = String::from_utf8_lossy(&out.stdout);
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(3)
                .is_some_and(|a| a.ends_with(&format!(":{}", d.port)))
        })
        .collect();
    assert!(!ours.is_empty(), "daemon socket not listed:\n{text}");
    for line in ours {
        let local = line.split_whitespace().nth(3).unwrap_or("");
        assert!(
            local.starts_with("127.0.0.1:") || local.starts_with("[::1]:"),
            "non-loopback socket: {line}"
        );
    }
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn port_in_use_names_the_holder() {
    let _rig = rig();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bridge(&[
        "--data-dir",
        dir.path().to_str().expect("path"),
        "run",
        "--headless",
        "--port",
        &port.to_string(),
        "--config",
        empty_config(dir.path()).to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(69));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("process {}", std::process::id())),
        "{err}"
    );
    assert!(err.contains(&port.to_string()), "{err}");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn bad_config_names_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "port = 7777\nallowed_origins = [\"https://*.tw\"]\n").expect("write");
    let out = bridge(&[
        "--data-dir",
        dir.path().to_str().expect("path"),
        "run",
        "--headless",
        "--config",
        cfg.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(78));
    let err = text(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("allowed_origins"),
        "{err}"
    );
    std::fs::write(&cfg, "port = 7777\ncard_timeout = 3\n").expect("write");
    let out = bridge(&[
        "--data-dir",
        dir.path().to_str().expect("path"),
        "run",
        "--config",
        cfg.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(78));
    let err = text(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("card_timeout"),
        "{err}"
    );
    // A named file that does not exist: 78 with its path (not a silent start on the defaults),
    // for the daemon and for check alike.
    let missing = dir.path().join("typo.toml");
    for cmd in ["run", "check"] {
        let out = bridge(&[
            "--data-dir",
            dir.path().to_str().expect("path"),
            cmd,
            "--config",
            missing.to_str().expect("path"),
        ]);
        assert_eq!(out.status.code(), Some(78), "{cmd}");
        assert!(
            text(&out.stderr).contains("typo.toml"),
            "{cmd}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn near_expiry_certificate_is_reissued_at_start() {
    let _rig = rig();
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = nhi_bridge::tls::Paths::new(dir.path());
    let old = nhi_bridge::tls::issue_and_store(&paths, 10).expect("issue");
    let old_ca = old.ca.to_der().expect("der");
    let d = Daemon::start_in(dir, "", &[]);
    // The client trusts only the CA now on disk: the handshake proves the new pair is served.
    assert_eq!(d.get("/v1/status", None).status, 200);
    let new_ca = openssl::x509::X509::from_pem(&std::fs::read(&d.ca).expect("ca")).expect("pem");
    assert_ne!(new_ca.to_der().expect("der"), old_ca);
    assert!(
        d.log().contains("issued a new TLS certificate"),
        "{}",
        d.log()
    );
    let out = bridge(&[
        "--data-dir",
        d.data.to_str().expect("path"),
        "cert",
        "status",
        "--json",
    ]);
    let st = json(&out);
    assert_eq!(st["ca_key_present"], false);
    assert!(st["days_left"].as_i64().is_some_and(|d| d > 800));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn sigterm_stops_gracefully_and_ends_event_streams() {
    let _rig = rig();
    let d = Daemon::start("");
    let mut ev = d.events(NHI_ORIGIN);
    ev.expect("pcsc-up", "", Duration::from_secs(10));
    let status = d.stop();
    assert!(status.success(), "{status:?}");
    // The daemon ended the stream itself (final chunk), rather than it being cut off at exit.
    while ev.next_event().is_some() {}
    assert!(
        ev.ended_cleanly,
        "the event stream was not ended by the daemon"
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn stalled_clients_are_cut_off_and_do_not_block_others() {
    let _rig = rig();
    let d = Daemon::start("header_timeout_secs = 1\nmax_connections = 4\n");
    // Two clients that connect and never speak TLS, two that finish TLS and never send a request.
    let mut raw: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", d.port)).expect("connect"))
        .collect();
    let tls: Vec<_> = (0..2).map(|_| tls_connect(&d.ca, d.port)).collect();
    // Each is closed by the daemon after the header timeout (EOF or reset, not our own timeout).
    for s in raw.iter_mut() {
        let tcp = s.try_clone().expect("clone");
        assert_closed_by_daemon(
            s,
            |t| drop(tcp.set_read_timeout(Some(t))),
            "a stalled handshake",
        );
    }
    for mut s in tls {
        let tcp = s.get_ref().try_clone().expect("clone");
        assert_closed_by_daemon(
            &mut s,
            |t| drop(tcp.set_read_timeout(Some(t))),
            "an idle TLS connection",
        );
    }
    assert_eq!(d.get("/v1/status", None).status, 200);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn self_check_page_is_self_contained_and_guarded() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &[]);
    // The daemon reads the card once, at insertion (its own read): the page shows that result
    // and never reads the card itself, whoever loads it.
    let d = Daemon::start("prefetch = true\n");
    eventually(
        "the card read at insertion",
        Duration::from_secs(10),
        || {
            d.get("/", None)
                .text()
                .contains(r#"id="row-card" class="ok""#)
        },
    );
    let apdus = sim.apdus().len();
    let r = d.get("/", None);
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    let csp = r.header("content-security-policy").expect("CSP header");
    for part in [
        "default-src 'none'",
        "script-src 'sha256-",
        "style-src 'sha256-",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    let html = r.text();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external reference in the page"
    );
    assert!(
        !html.contains(" src=") && !html.contains("<link"),
        "the page loads nothing"
    );
    // Rendered on the server: the report is there without JavaScript, card row already green.
    assert!(html.contains(r#"id="row-card" class="ok""#), "{html}");
    assert!(html.contains("可以開始使用") || html.contains("尚未就緒"));
    let p = sample();
    assert!(!html.contains(&p.card_no) && !html.contains(&p.name) && !html.contains(&p.id_no));

    // The page's own event stream (same-origin, no Origin header) is let through; nothing else is.
    let host = d.host();
    let own = d.request(
        "GET",
        "/v1/card",
        &[("Host", &host), ("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(own.status, 403, "the page never gets card data");
    let cross = d.request(
        "GET",
        "/v1/status",
        &[("Host", &host), ("Sec-Fetch-Site", "cross-site")],
        b"",
    );
    assert_eq!(cross.status, 200, "status is open");
    assert_eq!(d.get("/selfcheck.json", None).status, 200);
    assert_eq!(sim.apdus().len(), apdus, "the page touched the card");
}
