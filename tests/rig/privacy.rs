//! Card-holder data never reaches the log, even at trace level: not from the CLI, not from the
//! daemon (v1 and the legacy WebSocket, whose library would log every frame), not through a
//! diagnostics bundle.

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
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
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
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn trace_log_of_a_failed_read_has_no_holder_data() {
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &["--remove-after", "2"]);
    let out = bridge_env(&["read", "-vvv"], &[("RUST_LOG", "trace")]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_no_holder_data(&text(&out.stderr));
    assert_no_holder_data(&text(&out.stdout));
}

/// Every file under `dir` (the log directory).
fn read_logs(dir: &std::path::Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(dir).expect("log dir").flatten() {
        all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    all
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_trace_level_daemon_logs_no_frames_and_keeps_its_log_private() {
    use crate::https::*;
    let _rig = rig();
    let _sim = Sim::start(SLOT0, &[]);
    let d = Daemon::start_in(
        tempfile::tempdir().expect("tempdir"),
        "log_level = \"trace\"\n",
        &[("RUST_LOG", "trace")],
    );
    let mut ws = EchoSocket::open(&d.ca, d.port, &d.host(), NHI_ORIGIN);
    let basic = ws.send("GetBasic").expect("reply");
    assert!(
        basic.contains(sample().id_no.as_str()),
        "the page gets the data"
    );
    let enc = ws.send("EnCrypt?Pwd=SeCrEt9876").expect("reply");
    assert!(enc.starts_with("EnCrypt:"), "{enc}");
    assert_eq!(
        d.get("/v1/card", Some(NHI_ORIGIN)).json()["id_no"],
        sample().id_no.as_str()
    );
    assert_eq!(d.get("/v1/readers", Some(NHI_ORIGIN)).status, 200);
    drop(ws);
    let logs = d.data.join("logs");
    let stderr = d.log();
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "trace logging is on: {stderr}"
    );
    let file = read_logs(&logs);
    assert!(
        file.contains("[nhi_bridge::"),
        "the file log is written: {file}"
    );
    for log in [&stderr, &file] {
        assert_no_holder_data(log);
        assert!(
            !log.contains("SeCrEt9876"),
            "the password in the log:\n{log}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&logs), 0o700, "log directory");
    for e in std::fs::read_dir(&logs).expect("log dir").flatten() {
        assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
    }
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn diagnose_withholds_planted_holder_data() {
    let _rig = rig();
    let data = tempfile::tempdir().expect("tempdir");
    let logs = data.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let p = sample();
    let (big5, _, _) = encoding_rs::BIG5.encode(&p.name);
    let big5_hex: String = big5.iter().map(|b| format!("{b:02X}")).collect();
    // What an old version, a foreign crate or a future bug might have written.
    let planted = [
        format!(
            "[2026-11-27 10:00:00.000 +08:00] TRACE [tungstenite::protocol] frame: GetBasic:{},{},{},{},{},1",
            p.card_no, p.id_no, p.name, p.birth_date, p.sex
        ),
        "[2026-11-27 10:00:01.000 +08:00] TRACE [tungstenite::protocol] frame: EnCrypt?Pwd=SeCrEt9876".to_owned(),
        format!("[2026-11-27 10:00:02.000 +08:00] DEBUG [x] holder {} {}", p.name, p.birth_date),
        format!("[2026-11-27 10:00:03.000 +08:00] DEBUG [x] id {}", p.id_no),
        format!("[2026-11-27 10:00:04.000 +08:00] DEBUG [x] rx {big5_hex}9000"),
        "[2026-11-27 10:00:05.000 +08:00] INFO  [nhi_bridge::daemon] an ordinary line".to_owned(),
    ];
    std::fs::write(
        logs.join("nhi-bridge_rCURRENT.log"),
        planted.join("\n") + "\n",
    )
    .expect("plant");
    let out_path = data.path().join("bundle.tar.gz");
    let out = bridge(&[
        "--data-dir",
        data.path().to_str().expect("path"),
        "diagnose",
        "--out",
        out_path.to_str().expect("path"),
        "--port",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&out_path).expect("bundle"));
    let mut all = String::new();
    let mut log_tail = String::new();
    let mut manifest = String::new();
    for e in tar::Archive::new(gz).entries().expect("entries") {
        let mut e = e.expect("entry");
        let name = e.path().expect("path").display().to_string();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut e, &mut body).expect("read");
        if name.ends_with("log-tail.txt") {
            log_tail = body.clone();
        }
        if name.ends_with("MANIFEST.txt") {
            manifest = body.clone();
        }
        all.push_str(&body);
    }
    assert_no_holder_data(&all);
    assert!(!all.contains("SeCrEt9876"));
    assert!(log_tail.contains("an ordinary line"), "{log_tail}");
    assert_eq!(
        log_tail.matches("[withheld by nhi-bridge").count(),
        5,
        "{log_tail}"
    );
    assert!(
        manifest.contains("log-tail.txt: 5 line(s) withheld"),
        "{manifest}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out_path)
        .expect("bundle")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the bundle is the user's alone");
}
