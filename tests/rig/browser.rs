//! The legacy flow in real Chromium: tests/browser/legacy-page.html, written only from
//! protocol/legacy-nhi.md §1.7, runs as a page of an NHI origin against the daemon over
//! `wss://iccert.nhi.gov.tw:PORT/echo`, with the daemon's CA trusted through the NSS database the
//! way the installer will trust it. A page of another origin gets nothing from the card.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::https::*;
use crate::support::*;

/// A HOME whose NSS database (what Chromium on Linux trusts) holds the daemon's CA.
fn home_trusting(ca: &Path) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    let db = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&db).expect("nssdb dir");
    let db_arg = format!("sql:{}", db.display());
    let ok = Command::new("certutil")
        .args(["-N", "--empty-password", "-d", &db_arg])
        .status()
        .expect("certutil (libnss3-tools; run scripts/setup-rig.sh)");
    assert!(ok.success());
    let ok = Command::new("certutil")
        .args([
            "-A",
            "-n",
            "nhi-bridge test CA",
            "-t",
            "C,,",
            "-d",
            &db_arg,
            "-i",
        ])
        .arg(ca)
        .status()
        .expect("certutil -A");
    assert!(ok.success());
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
fn page_written_from_the_spec_completes_the_flow_in_chromium() {
    let _rig = rig();
    let card = Sim::start(SLOT0, &[]);
    let sam = SamSim::start(&[]);
    let d = Daemon::start(&format!("sam_endpoint = \"{}\"\n", sam.endpoint()));
    let home = home_trusting(&d.ca);

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
