//! `nhi-bridge check` and `nhi-bridge diagnose` against the real rig: every check's ok and fail
//! path that the rig can produce, the JSON shape, exit statuses, and the bundle's privacy.

use std::io::Read;
use std::path::Path;

use crate::https::*;
use crate::support::*;

/// A user's world: a data dir, a HOME (NSS databases), a hosts file.
struct World {
    data: tempfile::TempDir,
    home: tempfile::TempDir,
    hosts: std::path::PathBuf,
    _hosts_dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let hosts_dir = tempfile::tempdir().expect("tempdir");
        let hosts = hosts_dir.path().join("hosts");
        std::fs::write(&hosts, "127.0.0.1 localhost\n").expect("hosts");
        World {
            data: tempfile::tempdir().expect("tempdir"),
            home: tempfile::tempdir().expect("tempdir"),
            hosts,
            _hosts_dir: hosts_dir,
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("HOME", self.home.path().to_str().expect("home")),
            ("NHI_BRIDGE_HOSTS_FILE", self.hosts.to_str().expect("hosts")),
            ("NO_COLOR", "1"),
        ]
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--data-dir", self.data.path().to_str().expect("data")];
        all.extend_from_slice(args);
        bridge_env(&all, &self.env())
    }

    /// `check --json` against the daemon on `port`.
    fn check(&self, port: u16) -> (i32, serde_json::Value) {
        let cfg = empty_config(self.data.path());
        let out = self.run(&[
            "check",
            "--json",
            "--port",
            &port.to_string(),
            "--config",
            cfg.to_str().expect("cfg"),
        ]);
        (out.status.code().unwrap_or(-1), json(&out))
    }

    /// A daemon sharing this world's data dir (certificate, logs) and hosts file.
    fn daemon(&self) -> Daemon {
        Daemon::start_at(self.data.path(), "", &self.env())
    }
}

fn row<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no {id} check in {report}"))
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn all_green_after_cert_install_with_the_simulated_card() {
    let _rig = rig();
    let w = World::new();
    // A Firefox profile with its own (empty) NSS database, as Firefox creates one.
    let profile = w.home.path().join(".mozilla/firefox/t3st.default-release");
    std::fs::create_dir_all(&profile).expect("profile");
    let ok = std::process::Command::new("certutil")
        .args(["-N", "--empty-password", "-d"])
        .arg(format!("sql:{}", profile.display()))
        .status()
        .expect("certutil");
    assert!(ok.success());
    let out = w.run(&["cert", "install"]);
    assert!(text(&out.stdout).contains("Firefox t3st.default-release"));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let _sim = Sim::start(SLOT0, &[]);
    let d = w.daemon();
    let (code, report) = w.check(d.port);
    let bad: Vec<_> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] != "ok")
        .collect();
    assert!(bad.is_empty(), "not all green: {bad:?}");
    assert_eq!(code, 0);
    assert_eq!(report["verdict"], "ok");
    let p = sample();
    let card = row(&report, "card.nhi");
    let msg = card["message_en"].as_str().expect("msg");
    assert!(
        msg.contains(&format!("********{}", &p.card_no[8..])),
        "{msg}"
    );
    let all = report.to_string();
    assert!(!all.contains(&p.card_no) && !all.contains(&p.name) && !all.contains(&p.id_no));
    assert_eq!(row(&report, "trust.nss")["target"], "Chrome/Chromium");
    let ff = row(&report, "trust.firefox");
    assert_eq!(ff["target"], "Firefox t3st.default-release");
    assert_eq!(ff["status"], "ok");
    // The human form says the same, with the verdict last.
    let cfg = empty_config(w.data.path());
    let human = w.run(&[
        "check",
        "--port",
        &d.port.to_string(),
        "--config",
        cfg.to_str().expect("cfg"),
    ]);
    let s = text(&human.stdout);
    assert!(
        s.contains("可以開始使用") && s.contains("All good") && !s.contains("\x1b["),
        "{s}"
    );
    // Uninstall takes the NSS entry and the hosts line away again.
    let out = w.run(&["cert", "uninstall"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let (code, report) = w.check(d.port);
    assert_eq!(code, 51, "a failure");
    assert_eq!(row(&report, "trust.nss")["status"], "fail");
    assert_eq!(row(&report, "trust.firefox")["status"], "fail");
    assert_eq!(row(&report, "hosts")["status"], "fail");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn failures_name_their_fix_and_set_exit_status_51() {
    let _rig = rig();
    let w = World::new();
    // Nothing installed, no daemon, no card.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let (code, report) = w.check(port);
    assert_eq!(code, 51, "a failure");
    assert_eq!(report["verdict"], "fail");
    // Never started: one row says so; the certificate rows wait for it instead of a fix.
    assert!(
        row(&report, "daemon")["message_en"]
            .as_str()
            .is_some_and(|m| m.contains("has not started yet")),
        "{report}"
    );
    for id in ["tls.leaf", "tls.ca_key", "tls.key_mode", "trust.system"] {
        let r = row(&report, id);
        assert_eq!(r["waiting_for"], "daemon", "{id}: {r}");
        assert!(r["fix_zh"].is_null(), "{id} has a fix of its own: {r}");
    }
    for id in ["daemon", "hosts", "card"] {
        let r = row(&report, id);
        assert_eq!(r["status"], "fail", "{id}: {r}");
        assert!(
            r["fix_zh"].as_str().is_some_and(|f| !f.is_empty()),
            "{id} has no fix"
        );
        assert!(
            r["fix_en"].as_str().is_some_and(|f| !f.is_empty()),
            "{id} has no fix"
        );
    }
    assert_eq!(row(&report, "pcsc")["status"], "ok");
    assert_eq!(row(&report, "port")["status"], "ok");
    // Schema: every check has the documented fields and a known status.
    for c in report["checks"].as_array().expect("checks") {
        assert!(
            c["id"].is_string() && c["message_zh"].is_string() && c["message_en"].is_string(),
            "{c}"
        );
        assert!(
            ["ok", "warn", "fail"].contains(&c["status"].as_str().unwrap_or("")),
            "{c}"
        );
    }
    assert!(report["version"].is_string() && report["log_file"].is_string());

    // A port held by another program is named.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let held = holder.local_addr().expect("addr").port();
    let (_, report) = w.check(held);
    let r = row(&report, "port");
    assert_eq!(r["status"], "fail");
    assert!(
        r["message_en"]
            .as_str()
            .unwrap_or("")
            .contains(&std::process::id().to_string()),
        "{r}"
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn card_checks_follow_the_card() {
    let _rig = rig();
    let w = World::new();
    let port = 1; // no daemon needed for the card checks
    let other = Sim::start(SLOT0, &["--sw", "A4=6A82"]);
    let (_, report) = w.check(port);
    assert_eq!(row(&report, "card")["status"], "ok");
    let nhi = row(&report, "card.nhi");
    assert_eq!(nhi["status"], "fail");
    assert!(
        nhi["message_en"].as_str().unwrap_or("").contains("7005"),
        "{nhi}"
    );
    other.remove();
    let (_, report) = w.check(port);
    assert_eq!(row(&report, "card")["status"], "fail");
    assert!(row(&report, "card")["fix_en"]
        .as_str()
        .unwrap_or("")
        .contains("Insert"));

    // pcscd stopped: the PC/SC row says so with the exact fix; the card rows point to it.
    let stopped = PcscdStopped::new();
    let (code, report) = w.check(port);
    assert_eq!(code, 51, "a failure");
    let pcsc = row(&report, "pcsc");
    assert_eq!(pcsc["status"], "fail");
    assert!(
        pcsc["fix_en"].as_str().unwrap_or("").contains("pcscd"),
        "{pcsc}"
    );
    // ... and the rows that depend on it wait for it instead of giving fixes of their own, as the
    // page's rows do (the same functions make both).
    for id in ["readers", "card"] {
        let r = row(&report, id);
        assert_eq!(r["waiting_for"], "pcsc", "{id}: {r}");
        assert!(r["fix_en"].is_null(), "{id}: {r}");
    }
    let cfg = empty_config(w.data.path());
    let human = w.run(&[
        "check",
        "--port",
        "1",
        "--config",
        cfg.to_str().expect("cfg"),
    ]);
    assert_eq!(human.status.code(), Some(51));
    assert!(text(&human.stdout).contains("systemctl enable --now pcscd.socket"));
    assert!(
        text(&human.stdout).contains("[WAIT]"),
        "{}",
        text(&human.stdout)
    );
    stopped.restart();
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn certificate_and_trust_failures() {
    let _rig = rig();
    let w = World::new();
    let paths = nhi_bridge::tls::Paths::new(w.data.path());
    // Near expiry: a warning.
    nhi_bridge::tls::issue_and_store(&paths, 10).expect("issue");
    let (_, report) = w.check(1);
    assert_eq!(row(&report, "tls.leaf")["status"], "warn");
    assert_eq!(row(&report, "tls.ca_key")["status"], "ok");
    // Expired: a failure.
    nhi_bridge::tls::issue_and_store(&paths, 0).expect("issue");
    std::fs::write(
        &paths.leaf,
        b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
    )
    .expect("corrupt");
    let (_, report) = w.check(1);
    assert_eq!(row(&report, "tls.leaf")["status"], "fail");
    // A CA missing from an existing NSS database fails; nhi-bridge's own cert install fixes it.
    nhi_bridge::tls::issue_and_store(&paths, 100).expect("issue");
    let db = w.home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&db).expect("db");
    let ok = std::process::Command::new("certutil")
        .args(["-N", "--empty-password", "-d"])
        .arg(format!("sql:{}", db.display()))
        .status()
        .expect("certutil");
    assert!(ok.success());
    let (_, report) = w.check(1);
    assert_eq!(row(&report, "trust.nss")["status"], "fail");
    assert!(row(&report, "trust.nss")["fix_en"]
        .as_str()
        .unwrap_or("")
        .contains("cert install"));
}

fn unpack(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(bundle).expect("bundle"));
    let mut ar = tar::Archive::new(gz);
    ar.entries()
        .expect("entries")
        .map(|e| {
            let mut e = e.expect("entry");
            let name = e.path().expect("path").display().to_string();
            let mut body = Vec::new();
            e.read_to_end(&mut body).expect("read");
            (name, body)
        })
        .collect()
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn diagnostics_bundle_has_the_facts_and_no_holder_data() {
    let _rig = rig();
    let w = World::new();
    let _sim = Sim::start(SLOT0, &[]);
    let d = w.daemon();
    // Read the card through the daemon and the CLI first, so logs have seen a read.
    assert_eq!(d.get("/v1/card", Some(NHI_ORIGIN)).status, 200);
    assert!(w.run(&["read", "-vvv"]).status.success());
    let out_path = w.data.path().join("bundle.tar.gz");
    let cfg = empty_config(w.data.path());
    let out = w.run(&[
        "diagnose",
        "--out",
        out_path.to_str().expect("path"),
        "--port",
        &d.port.to_string(),
        "--config",
        cfg.to_str().expect("cfg"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(out_path.to_str().expect("path")));
    assert!(
        text(&out.stdout).contains("nhi-bridge_rCURRENT.log"),
        "tells where the logs are"
    );
    let files = unpack(&out_path);
    let names: Vec<&str> = files
        .iter()
        .map(|(n, _)| n.rsplit('/').next().unwrap_or(""))
        .collect();
    for want in [
        "MANIFEST.txt",
        "version.txt",
        "system.txt",
        "check.json",
        "config.toml",
        "browsers.json",
        "readers.json",
        "certificate.json",
        "log-tail.txt",
    ] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    let get = |n: &str| {
        &files
            .iter()
            .find(|(name, _)| name.ends_with(n))
            .expect("file")
            .1
    };
    assert!(String::from_utf8_lossy(get("readers.json")).contains(SLOT0.reader));
    let browsers: serde_json::Value =
        serde_json::from_slice(get("browsers.json")).expect("browsers.json is JSON");
    assert!(
        browsers["policies"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{browsers}"
    );
    let log = String::from_utf8_lossy(get("log-tail.txt")).into_owned();
    assert!(
        log.contains("[nhi_bridge::daemon]"),
        "the daemon's log lines: {log}"
    );
    assert!(String::from_utf8_lossy(get("certificate.json")).contains("ca_key_present"));

    let p = sample();
    let (name_big5, _, _) = encoding_rs::BIG5.encode(&p.name);
    let (y, m, dd) = (
        &p.birth_date[0..3],
        &p.birth_date[3..5],
        &p.birth_date[5..7],
    );
    let iso_birth = format!("{}-{m}-{dd}", y.parse::<u32>().expect("year") + 1911);
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("name (UTF-8)", p.name.as_bytes().to_vec()),
        ("name (Big5)", name_big5.to_vec()),
        ("ID number", p.id_no.as_bytes().to_vec()),
        ("birth date (ROC)", p.birth_date.as_bytes().to_vec()),
        ("birth date (ISO)", iso_birth.into_bytes()),
        ("full card number", p.card_no.as_bytes().to_vec()),
    ];
    for (file, body) in &files {
        for (what, needle) in &secrets {
            assert!(
                !body.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{what} found in {file}"
            );
        }
    }
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn page_contact_is_recorded_and_shown_without_personal_data() {
    let _rig = rig();
    let w = World::new();
    let _sim = Sim::start(SLOT0, &[]);
    let d = w.daemon();
    // Nothing has reached it yet: status says so, and so do check and the page.
    assert_eq!(
        d.get("/v1/status", None).json()["last_page_contact"],
        serde_json::Value::Null
    );
    let (_, report) = w.check(d.port);
    assert!(row(&report, "pages")["message_en"]
        .as_str()
        .is_some_and(|m| m.contains("No page has reached")));
    assert!(d.get("/", None).text().contains("尚無網頁連線"));
    // A refused page does not count; an allowed one does, with its origin and the time.
    assert_eq!(d.get("/v1/card", Some("https://evil.example")).status, 403);
    assert_eq!(
        d.get("/v1/status", None).json()["last_page_contact"],
        serde_json::Value::Null
    );
    assert_eq!(d.get("/v1/card", Some(NHI_ORIGIN)).status, 200);
    let contact = d.get("/v1/status", None).json()["last_page_contact"].clone();
    assert_eq!(contact["origin"], NHI_ORIGIN);
    assert!(
        chrono_like(contact["at"].as_str().unwrap_or("")),
        "{contact}"
    );
    let (_, report) = w.check(d.port);
    let pages = row(&report, "pages");
    assert_eq!(pages["status"], "ok");
    assert!(
        pages["message_en"]
            .as_str()
            .is_some_and(|m| m.contains(NHI_ORIGIN)),
        "{pages}"
    );
    assert!(d.get("/", None).text().contains(NHI_ORIGIN));
    // The legacy WebSocket counts too.
    let other = "https://www.nhi.gov.tw";
    let mut ws = EchoSocket::open(&d.ca, d.port, &d.host(), other);
    assert!(ws.send("GetVersion").is_some());
    assert_eq!(
        d.get("/v1/status", None).json()["last_page_contact"]["origin"],
        other
    );
    // After a page contact, the diagnostics bundle's JSON files all parse and the contact line
    // (origin and time: not personal) is kept as it is.
    let out_dir = tempfile::tempdir().expect("tempdir");
    let bundle = out_dir.path().join("b.tar.gz");
    let cfg = empty_config(w.data.path());
    let out = w.run(&[
        "diagnose",
        "--port",
        &d.port.to_string(),
        "--config",
        cfg.to_str().expect("cfg"),
        "--out",
        bundle.to_str().expect("out"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = unpack(&bundle);
    for (name, body) in files.iter().filter(|(n, _)| n.ends_with(".json")) {
        assert!(
            serde_json::from_slice::<serde_json::Value>(body).is_ok(),
            "{name} is not JSON: {}",
            String::from_utf8_lossy(body)
        );
    }
    let check = &files
        .iter()
        .find(|(n, _)| n.ends_with("check.json"))
        .expect("check.json")
        .1;
    let check: serde_json::Value = serde_json::from_slice(check).expect("json");
    let pages = row(&check, "pages");
    assert!(
        pages["message_en"]
            .as_str()
            .is_some_and(|m| m.contains(other)),
        "{pages}"
    );
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn chrono_like(at: &str) -> bool {
    let b = at.as_bytes();
    b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z'
}

/// `check` gives the card as long as the daemon gives a page's read (`card_timeout_secs`), not a
/// fixed time of its own: a card slower than that is reported as the timeout it would be.
#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn the_card_check_waits_as_long_as_the_daemon_would() {
    let _rig = rig();
    let w = World::new();
    // Three APDUs at 1.5 s each: well within a fixed 10 s, beyond the configured 1 s.
    let _slow = Sim::start(SLOT0, &["--delay-ms", "1500"]);
    let cfg = w.data.path().join("slow.toml");
    std::fs::write(&cfg, "card_timeout_secs = 1\n").expect("config");
    let out = w.run(&[
        "check",
        "--json",
        "--port",
        "1",
        "--config",
        cfg.to_str().expect("cfg"),
    ]);
    let report = json(&out);
    let nhi = row(&report, "card.nhi");
    assert_eq!(nhi["status"], "fail", "{nhi}");
    assert!(
        nhi["message_en"].as_str().unwrap_or("").contains("8016"),
        "{nhi}"
    );
}
