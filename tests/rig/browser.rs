//! The legacy flow in real Chromium: tests/browser/legacy-page.html, written only from
//! protocol/legacy-nhi.md §1.7, runs as a page of an NHI origin against the daemon over
//! `wss://iccert.nhi.gov.tw:PORT/echo`, with the daemon's CA trusted through the NSS database the
//! way the installer will trust it. A page of another origin gets nothing from the card.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::https::*;
use crate::support::*;

/// A driver (tests/browser/`script`) run by node with `args`, answering one JSON line per
/// command: its process, its stdin and its stdout lines as they come.
pub fn node_driver(
    script: &str,
    args: &[&std::ffi::OsStr],
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::sync::mpsc::Receiver<String>,
) {
    use std::io::{BufRead, BufReader};
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(script);
    let mut child = Command::new("node")
        .arg(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node (run scripts/setup-rig.sh)");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, stdin, lines)
}

/// The driver's next answer: its `ok` value (a failed command fails the test with its words).
pub fn driver_answer(lines: &std::sync::mpsc::Receiver<String>, what: &str) -> serde_json::Value {
    let line = lines
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no answer to {what} within 60 s"));
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    match v.get("ok") {
        Some(ok) => ok.clone(),
        None => panic!("{what} failed: {v}"),
    }
}

/// A HOME whose NSS database (what Chromium on Linux trusts) holds each CA in `cas`, as the
/// installer makes the daemon's trusted.
pub fn home_trusting(cas: &[&Path]) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    let db = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&db).expect("nssdb dir");
    let db_arg = format!("sql:{}", db.display());
    let ok = Command::new("certutil")
        .args(["-N", "--empty-password", "-d", &db_arg])
        .status()
        .expect("certutil (libnss3-tools; run scripts/setup-rig.sh)");
    assert!(ok.success());
    for (i, ca) in cas.iter().enumerate() {
        let nick = format!("nhi-bridge test CA {i}");
        let ok = Command::new("certutil")
            .args(["-A", "-n", &nick, "-t", "C,,", "-d", &db_arg, "-i"])
            .arg(ca)
            .status()
            .expect("certutil -A");
        assert!(ok.success());
    }
    home
}

fn run_page(d: &Daemon, home: &Path, origin: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/legacy-flow.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(d.port.to_string())
        .arg(home)
        .arg(origin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (run scripts/setup-rig.sh)");
    let status = wait_child(&mut child, Duration::from_secs(90)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the browser run did not finish within 90 s");
    });
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    child.stdout.take().map(|mut s| s.read_to_string(&mut out));
    child.stderr.take().map(|mut s| s.read_to_string(&mut err));
    assert!(status.success(), "browser run failed: {err}");
    serde_json::from_str(out.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {out} {err}"))
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn page_written_from_the_spec_completes_the_flow_in_chromium() {
    let _rig = rig();
    let card = Sim::start(SLOT0, &[]);
    let sam = SamSim::start(&[]);
    let d = Daemon::start(&format!("sam_endpoint = \"{}\"\n", sam.endpoint()));
    let home = home_trusting(&[&d.ca]);

    let page = run_page(&d, home.path(), "https://www.nhi.gov.tw");
    assert_eq!(page["state"], "ok", "{page}");
    let p = sample();
    let flag = &p.card_data[..1];
    assert_eq!(
        page["basic"],
        format!(
            "{},{},{},{},{},{flag}",
            p.card_no, p.id_no, p.name, p.birth_date, p.sex
        )
    );
    assert_eq!(page["version"], "0011");
    let random = page["random"].as_str().expect("random");
    assert_eq!(random.len(), 16);
    let sign = page["sign"].as_str().expect("sign");
    assert_eq!(sign.len(), 256);
    assert!(crate::legacy::signature_valid(
        sign,
        &p.card_no,
        &format!("0011{random}")
    ));
    assert_eq!(
        sam.events().iter().filter(|e| *e == "03 card-ok").count(),
        1
    );
    assert!(!card.apdus().is_empty());

    // The same page from another site: the component answers 4041 and never touches the card.
    let before = card.apdus().len();
    let evil = run_page(&d, home.path(), "https://evil.example");
    assert_eq!(evil["state"], "error", "{evil}");
    assert_eq!(evil["basic"], "");
    assert_eq!(card.apdus().len(), before);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn self_check_page_turns_green_live_with_no_external_requests() {
    use std::io::{BufRead, BufReader, Write};
    let _rig = rig();
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n127.0.0.1 iccert.nhi.gov.tw\n").expect("hosts");
    let d = Daemon::start_in(
        tempfile::tempdir().expect("tempdir"),
        "prefetch = true\n",
        &[("NHI_BRIDGE_HOSTS_FILE", hosts.to_str().expect("path"))],
    );
    let home = home_trusting(&[&d.ca]);
    let shot = dir.path().join("self-check.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/self-check.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(d.port.to_string())
        .arg(home.path())
        .arg(&shot)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let loaded: serde_json::Value =
        serde_json::from_str(&lines.next().expect("loaded line").expect("read")).expect("json");
    assert_eq!(loaded["stage"], "loaded");
    assert_eq!(loaded["card"], "fail", "{loaded}");
    assert_eq!(loaded["verdict"], "verdict fail");
    assert_eq!(loaded["english_hidden"], true, "zh-TW first");
    assert_eq!(
        loaded["errors"],
        serde_json::json!([]),
        "console/CSP errors: {loaded}"
    );

    let _sim = Sim::start(SLOT0, &[]);
    child
        .stdin
        .as_mut()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("go");
    let after: serde_json::Value =
        serde_json::from_str(&lines.next().expect("after line").expect("read")).expect("json");
    assert_eq!(after["card"], "ok", "{after}");
    assert_eq!(after["verdict"], "verdict ok", "{after}");
    assert_eq!(after["zh_hidden_in_english"], true);
    assert_eq!(
        after["errors"],
        serde_json::json!([]),
        "console/CSP errors: {after}"
    );
    let summary = after["summary"].as_str().expect("summary");
    let p = sample();
    assert!(
        summary.contains("card inserted")
            && !summary.contains(&p.card_no[8..])
            && !summary.contains(&p.name)
    );
    // Every request the page made went to the daemon itself.
    for url in after["requests"].as_array().expect("requests") {
        let url = url.as_str().unwrap_or("");
        assert!(
            url.starts_with(&format!("https://127.0.0.1:{}/", d.port)),
            "external request {url}"
        );
    }
    assert!(wait_child(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot"
    );
    if let Ok(dest) = std::env::var("NHI_BRIDGE_SCREENSHOT") {
        let _ = std::fs::copy(&shot, dest);
    }
}
