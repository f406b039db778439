//! NHI pages as they exist today, in real Chromium (issue #11): fixture pages written from the
//! facts about NHI's client library (tests/browser/fixture) are served over HTTPS as
//! `https://cloudicweb.nhi.gov.tw` (a test CA, `--host-resolver-rules`), the component runs on its
//! real ports (7777, 59001, 59002) and is trusted through the profile's NSS database — no
//! certificate-error flags anywhere. A page of another origin (`https://evil.example`) runs the
//! same code and must get nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Name, X509};
use serde_json::{json, Value};

use crate::browser::{driver_answer, home_trusting, node_driver};
use crate::https::*;
use crate::support::*;

const SITE: &str = "https://cloudicweb.nhi.gov.tw";
const EVIL: &str = "https://evil.example";

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("curve");
    PKey::from_ec_key(EcKey::generate(&group).expect("ec key")).expect("pkey")
}

fn cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    sans: &[&str],
) -> X509 {
    let mut name = X509Name::builder().expect("name");
    name.append_entry_by_nid(Nid::COMMONNAME, cn).expect("cn");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    let serial = BigNum::from_u32(rand_u32()).and_then(|n| n.to_asn1_integer());
    b.set_serial_number(&serial.expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_pubkey(key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(2).expect("time"))
        .expect("na");
    match issuer {
        None => {
            b.set_issuer_name(&name).expect("issuer");
            b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
                .expect("bc");
            b.sign(key, MessageDigest::sha256()).expect("sign");
        }
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).expect("issuer");
            let mut san = SubjectAlternativeName::new();
            for s in sans {
                san.dns(s);
            }
            let san = san.build(&b.x509v3_context(Some(ca), None)).expect("san");
            b.append_extension(san).expect("san");
            b.sign(ca_key, MessageDigest::sha256()).expect("sign");
        }
    }
    b.build()
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    openssl::rand::rand_bytes(&mut b).expect("rand");
    u32::from_be_bytes(b) >> 1
}

/// The fixture web server's CA, certificate and key (for the two page origins), written to `dir`.
fn fixture_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = key();
    let ca = cert("nhi-bridge test pages CA", &ca_key, None, &[]);
    let leaf_key = key();
    let leaf = cert(
        "cloudicweb.nhi.gov.tw",
        &leaf_key,
        Some((&ca, &ca_key)),
        &["cloudicweb.nhi.gov.tw", "evil.example"],
    );
    let paths = (
        dir.join("pages-ca.pem"),
        dir.join("pages.pem"),
        dir.join("pages.key"),
    );
    std::fs::write(&paths.0, ca.to_pem().expect("pem")).expect("write");
    std::fs::write(&paths.1, leaf.to_pem().expect("pem")).expect("write");
    std::fs::write(&paths.2, leaf_key.private_key_to_pem_pkcs8().expect("pem")).expect("write");
    paths
}

/// Chromium with the fixture server, driven one command at a time (tests/browser/pages.mjs).
struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
    _home: tempfile::TempDir,
}

impl Browser {
    /// `public`: Chromium treats the fixture server as a public address (Local Network Access).
    fn start(daemon_ca: &Path, public: bool) -> Browser {
        let dir = tempfile::tempdir().expect("tempdir");
        let (pages_ca, cert, key) = fixture_tls(dir.path());
        let home = home_trusting(&[daemon_ca, &pages_ca]);
        let mut args = vec![home.path().as_os_str(), cert.as_os_str(), key.as_os_str()];
        if public {
            args.push("public".as_ref());
        }
        let (child, stdin, lines) = node_driver("pages.mjs", &args);
        Browser {
            child,
            stdin,
            lines,
            _dir: dir,
            _home: home,
        }
    }

    fn send(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").expect("write command");
        driver_answer(&self.lines, &cmd.to_string())
    }

    fn open(&mut self, origin: &str, grant: bool) {
        self.send(json!({"cmd": "open", "origin": origin, "grant": grant}));
    }

    fn run(&mut self, expr: &str) -> Value {
        self.send(json!({"cmd": "run", "expr": expr}))
    }

    fn wait(&mut self, expr: &str, timeout_ms: u64) -> Value {
        self.send(json!({"cmd": "wait", "expr": expr, "timeout": timeout_ms}))
    }

    fn popup(&mut self, expr: &str) -> Value {
        self.send(json!({"cmd": "popup", "expr": expr, "timeout": 10000}))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing stdin ends the driver's loop; it closes Chromium and the server itself.
        let _ = self.stdin.flush();
        terminate(&self.child);
        if wait_child(&mut self.child, Duration::from_secs(20)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A card in the first reader, the SAM simulator, the component on its real ports and Chromium.
struct Scene {
    // First, so a destructured scene releases the rig last.
    _rig: std::sync::MutexGuard<'static, ()>,
    card: Sim,
    sam: SamSim,
    d: Daemon,
    b: Browser,
}

impl Scene {
    fn new(public: bool) -> Scene {
        let rig = rig();
        let card = Sim::start(SLOT0, &[]);
        let sam = SamSim::start(&[]);
        let d = component(&sam, "");
        let b = Browser::start(&d.ca, public);
        Scene {
            _rig: rig,
            card,
            sam,
            d,
            b,
        }
    }
}

/// The component on its real ports with the cloud SAM simulator.
/// The daemon runs on without a legacy port it cannot bind (a warning): here that would only
/// show later as a failed probe, so it is asserted at once, with the daemon's words.
fn component(sam: &SamSim, extra: &str) -> Daemon {
    let d = Daemon::start(&format!(
        "port = 7777\nlegacy_http_port = 59001\nlegacy_https_port = 59002\nsam_endpoint = \"{}\"\n{extra}",
        sam.endpoint()
    ));
    let log = d.log();
    for url in [
        "http://127.0.0.1:59001/api/",
        "https://127.0.0.1:59002/api/",
    ] {
        assert!(
            log.contains(url),
            "the component does not serve {url}:\n{log}"
        );
    }
    d
}

fn expected_basic() -> String {
    let p = sample();
    format!(
        "{},{},{},{},{},{}",
        p.card_no,
        p.id_no,
        p.name,
        p.birth_date,
        p.sex,
        &p.card_data[..1]
    )
}

fn assert_signed(r: &Value) {
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(r["Basic"], expected_basic(), "{r}");
    let version = r["Version"].as_str().expect("Version");
    let random = r["Random"].as_str().expect("Random");
    let sign = r["Sign"].as_str().expect("Sign");
    assert_eq!(sign.len(), 256);
    assert!(crate::legacy::signature_valid(
        sign,
        &sample().card_no,
        &format!("{version}{random}")
    ));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn library_signs_over_http_and_https_with_form_posts_and_json_replies() {
    let Scene {
        _rig,
        card,
        sam,
        d: _d,
        mut b,
    } = Scene::new(false);
    b.open(SITE, true);
    // The probes the library makes on construction all find the component.
    assert_eq!(
        b.run("Fixture.probe()"),
        json!({"http": true, "https": true, "wss": true})
    );
    // H_Sign prefers HTTP; every reply was parsed as JSON because of its content type.
    let r = b.run("Fixture.hsign()");
    assert_eq!(r["transport"], "http", "{r}");
    assert_signed(&r);
    for t in r["types"].as_array().expect("types") {
        let t = t.as_str().unwrap_or("");
        assert!(
            t.contains(":object:application/json"),
            "reply not taken as JSON: {t}"
        );
    }
    let r = b.run("Fixture.hsignHttps()");
    assert_signed(&r);
    assert_eq!(
        sam.events().iter().filter(|e| *e == "03 card-ok").count(),
        2
    );
    drop(card);
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn status_images_decode_on_a_canvas_from_both_ports_for_allowed_pages_only() {
    let Scene {
        _rig,
        card: _card,
        sam: _sam,
        d: _d,
        mut b,
    } = Scene::new(false);
    b.open(SITE, true);
    for port in [59001, 59002] {
        for name in ["GetStatus.bmp", "GetCardStatus.bmp"] {
            assert_eq!(
                b.run(&format!("Fixture.bmp({port}, '{name}')")),
                json!({"result": "0000"}),
                "{name} on {port}"
            );
        }
    }
    b.open(EVIL, true);
    for port in [59001, 59002] {
        let r = b.run(&format!("Fixture.bmp({port}, 'GetCardStatus.bmp')"));
        assert!(
            r.get("error").is_some(),
            "another site read the card status: {r}"
        );
    }
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn auth_popup_answers_only_an_allowed_opener() {
    let Scene {
        _rig,
        card,
        sam,
        d,
        mut b,
    } = Scene::new(false);

    // The NHI page: ready → PIN → the merged AuthHC result, from exactly the popup's origin.
    b.open(SITE, true);
    let r = b.run("Fixture.popupAuth('123456')");
    if r.get("error").is_some() {
        let popup = b.popup("JSON.stringify(document.body.dataset)");
        panic!("{r} popup {popup} log {}", d.log());
    }
    assert_eq!(r["origin"], "http://localhost:59001", "{r}");
    let m = &r["result"];
    assert_eq!(m["action"], "recv_auth_pin_step1");
    assert_eq!(m["result"], "0000", "{m}");
    let p = sample();
    assert_eq!(m["card_no"], p.card_no);
    assert_eq!(m["as_id"], p.id_no);
    assert_eq!(m["version"], "0011");
    let random = m["random"].as_str().expect("random");
    let sign = m["sign"].as_str().expect("sign");
    assert_eq!(sign.len(), 256);
    // The chain sends GetRandom's value alone; the component signs it with its version in front.
    assert!(crate::legacy::signature_valid(
        sign,
        &p.card_no,
        &format!("0011{random}")
    ));
    for field in ["encrypt_pwd", "encrypt_basic"] {
        let hex = m[field].as_str().unwrap_or("");
        assert!(
            !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit()),
            "{field}: {m}"
        );
    }
    assert_eq!(
        sam.events().iter().filter(|e| *e == "03 card-ok").count(),
        1
    );
    assert_eq!(
        d.get("/v1/status", None).json()["last_page_contact"]["origin"],
        SITE
    );
    // Another site opens the same popup (the NHI page above made its origin known) and sends it
    // the PIN message anyway: it greets only that NHI origin, which the browser does not deliver
    // here, hears nothing from this site, and the card and the SAM are not contacted again.
    let apdus = card.apdus().len();
    let sam_events = sam.events().len();
    b.open(EVIL, true);
    assert_eq!(b.run("Fixture.popupOpen()"), json!({"opened": true}));
    assert_eq!(
        b.popup("document.body.dataset.state === 'ready'"),
        json!(true)
    );
    b.run("Fixture.popupPoke('123456')");
    assert_eq!(
        b.popup(
            "Number(document.body.dataset.ignored) >= 1 && document.body.dataset.state === 'ready'"
        ),
        json!(true)
    );
    assert_eq!(b.run("Fixture.received()"), json!([]));
    assert_eq!(card.apdus().len(), apdus);
    assert_eq!(sam.events().len(), sam_events);
    // The PIN never reached the log.
    assert!(!d.log().contains("123456"));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn v1_page_follows_the_card_out_and_back_in_without_reload() {
    let Scene {
        _rig,
        card,
        sam: _sam,
        d: _d,
        mut b,
    } = Scene::new(false);
    b.open(SITE, true);
    let r = b.run("Fixture.v1Start()");
    assert_eq!(r["present"], true, "{r}");
    assert_eq!(r["card"]["card_no"], sample().card_no, "{r}");
    // Pulled out: the page shows "no card" within 2 s of the removal itself.
    card.pull_now();
    assert_eq!(b.wait("Fixture.v1.present === false", 2000), json!(true));
    let _back = Sim::spawn(SLOT0, None, &[]);
    assert_eq!(
        b.wait(
            "Fixture.v1.present === true && Fixture.v1.card && Fixture.v1.card.card_no.length > 0",
            10000
        ),
        json!(true)
    );
    let events = b.run("Fixture.v1.events");
    assert!(events
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x == "card-removed")));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn local_network_access_denied_shows_the_error_path_and_no_contact_granted_completes() {
    let Scene {
        _rig,
        card: _card,
        sam: _sam,
        d,
        mut b,
    } = Scene::new(true);
    let pages_row = |d: &Daemon| -> Value {
        let cfg = empty_config(&d.data);
        let out = bridge(&[
            "--data-dir",
            d.data.to_str().expect("data"),
            "check",
            "--json",
            "--port",
            "7777",
            "--config",
            cfg.to_str().expect("cfg"),
        ]);
        let report = json(&out);
        report["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == "pages"))
            .cloned()
            .unwrap_or_else(|| panic!("no pages row: {report}"))
    };

    // A public page the user has not let reach the local network: every probe fails, the page
    // takes its "component not installed or not running" path, and no request reached us.
    b.open(SITE, false);
    let r = b.run("Fixture.hsign()");
    assert_eq!(r["transport"], "none", "{r}");
    assert_eq!(r["error"], "請檢查元件是否已正確安裝且啟動");
    let row = pages_row(&d);
    assert!(
        row["message_en"]
            .as_str()
            .is_some_and(|m| m.contains("No page has reached")),
        "{row}"
    );

    // Allowed: the same page completes, and check shows when and from where.
    b.open(SITE, true);
    let r = b.run("Fixture.hsign()");
    assert_signed(&r);
    let row = pages_row(&d);
    assert_eq!(row["status"], "ok", "{row}");
    assert!(
        row["message_en"].as_str().is_some_and(|m| m.contains(SITE)),
        "{row}"
    );
}

/// The `/echo` page flow on one daemon, forced onto WSS as the page uses it when the HTTP
/// variant is absent: the error message the page would show.
fn echo_error(b: &mut Browser) -> Value {
    b.open(SITE, true);
    b.run("Fixture.hsignEcho()")
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn echo_page_error_paths_show_codes_the_page_knows() {
    let _rig = rig();
    let known = |r: &Value, code: &str| {
        assert_eq!(r["code"], code, "{r}");
        assert_eq!(r["error"], format!("錯誤 {code}"), "shown as A001: {r}");
    };
    let sam = SamSim::start(&[]);
    // One data directory for the daemons below, so the browser trusts the same CA throughout.
    let data = tempfile::tempdir().expect("tempdir");
    let real_ports = "port = 7777\nlegacy_http_port = 59001\nlegacy_https_port = 59002\n";
    let d = Daemon::start_at(
        data.path(),
        &format!("{real_ports}sam_endpoint = \"{}\"\n", sam.endpoint()),
        &[],
    );
    let mut b = Browser::start(&d.ca, false);

    // No card in the reader: the page's first step (GetBasic) says 8013, as the official
    // component does.
    known(&echo_error(&mut b), "8013");
    // Pulled out in the middle of H_Sign: 7004, not "installation problem".
    let pulled = Sim::start(SLOT0, &["--remove-after", "4"]);
    known(&echo_error(&mut b), "7004");
    drop(pulled);
    // The cloud SAM unreachable: 4061.
    let _card = Sim::start(SLOT0, &[]);
    drop(d);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let d = Daemon::start_at(
        data.path(),
        &format!(
            "{real_ports}sam_endpoint = \"127.0.0.1:{closed}\"\nsam_connect_timeout_secs = 2\n"
        ),
        &[],
    );
    known(&echo_error(&mut b), "4061");
    drop(d);
    // No reader service at all (pcscd not reachable): GetBasic's 8013 again.
    let missing = data.path().join("no-pcscd.comm");
    let _d = Daemon::start_at(
        data.path(),
        &format!("{real_ports}sam_endpoint = \"{}\"\n", sam.endpoint()),
        &[("PCSCLITE_CSOCK_NAME", missing.to_str().expect("path"))],
    );
    known(&echo_error(&mut b), "8013");
}

/// Chromium on a persistent profile, as a citizen's starts: its Preferences and the machine's
/// managed policies apply, the harness grants nothing. Runs `exprs` on the NHI-style page.
fn profile_run(home: &Path, tls: &(PathBuf, PathBuf, PathBuf), exprs: &[&str]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/profile-flow.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(home.join(".config/chromium"))
        .arg(home)
        .arg(&tls.1)
        .arg(&tls.2)
        .arg(SITE)
        .args(exprs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node (run scripts/setup-rig.sh)");
    let status = wait_child(&mut child, Duration::from_secs(120)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("Chromium on the profile did not finish within 120 s")
    });
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
        .expect("read");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(status.success(), "{v}");
    v["results"].as_array().cloned().unwrap_or_default()
}

/// `check --json` as the user whose home is `home`: the browser row of its Chromium profile and
/// the exit status.
fn browser_row(d: &Daemon, home: &Path) -> (Value, Option<i32>) {
    let cfg = empty_config(&d.data);
    let out = bridge_env(
        &[
            "--data-dir",
            d.data.to_str().expect("data"),
            "check",
            "--json",
            "--port",
            "7777",
            "--config",
            cfg.to_str().expect("cfg"),
        ],
        &[("HOME", home.to_str().expect("home"))],
    );
    let report = json(&out);
    let row = report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "browser.chromium.Default"))
        .cloned()
        .unwrap_or_else(|| panic!("no browser.chromium.Default row: {report}"));
    (row, out.status.code())
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_blocked_profile_is_named_and_the_managed_policy_lets_nhi_pages_through_until_revoked() {
    // The policy directory is the private rig's /etc overlay, never the machine's.
    assert!(
        std::env::var_os("NHI_RIG_OVERLAY").is_some(),
        "needs the private /etc of private-rig.sh"
    );
    let _rig = rig();
    let _card = Sim::start(SLOT0, &[]);
    let sam = SamSim::start(&[]);
    let d = component(&sam, "");
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = fixture_tls(dir.path());
    let home = home_trusting(&[&d.ca, &tls.0]);
    let home = home.path();
    // The user once answered the prompt with 封鎖 (Block), as Chromium 156 records it.
    let profile = home.join(".config/chromium/Default");
    std::fs::create_dir_all(&profile).expect("profile");
    std::fs::write(
        profile.join("Preferences"),
        r#"{"profile":{"content_settings":{"exceptions":{"loopback_network":{"https://cloudicweb.nhi.gov.tw:443,*":{"last_modified":"13400000000000000","setting":2}}}}}}"#,
    )
    .expect("Preferences");
    let managed = Path::new("/etc/chromium/policies/managed");
    std::fs::create_dir_all(managed).expect("policy dir");
    let other = managed.join("other-product.json");
    let other_bytes = br#"{"HomepageLocation": "https://example.org", "LocalNetworkAllowedForUrls": ["http://printer.lan"]}"#;
    std::fs::write(&other, other_bytes).expect("other policy");
    let flows = ["Fixture.hsign()", "Fixture.hsignEcho()"];
    let refused = |r: &Value| {
        assert!(
            r["Sign"].as_str().unwrap_or("").is_empty(),
            "signed although blocked: {r}"
        );
        assert_eq!(r["error"], "請檢查元件是否已正確安裝且啟動", "{r}");
    };

    // Blocked: both flows take the page's "check the component" path; check names the setting.
    for r in profile_run(home, &tls, &flows) {
        refused(&r);
    }
    let (row, code) = browser_row(&d, home);
    assert_eq!(row["status"], "fail", "{row}");
    assert!(
        row["message_zh"]
            .as_str()
            .is_some_and(|m| m.contains("裝置上的應用程式")),
        "{row}"
    );
    assert!(
        row["fix_zh"]
            .as_str()
            .is_some_and(|m| m.contains("siteDetails?site=https%3A%2F%2Fcloudicweb.nhi.gov.tw")),
        "{row}"
    );
    assert_eq!(code, Some(51));

    // Allowed by our managed policy: both flows complete, nothing granted by the harness.
    let out = bridge(&["browser", "allow"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ours = std::fs::read_to_string(managed.join("nhi-bridge.json")).expect("our policy");
    assert!(
        ours.contains("https://[*.]nhi.gov.tw") && ours.contains("LoopbackNetworkAllowedForUrls"),
        "{ours}"
    );
    let again = bridge(&["browser", "allow"]);
    assert!(
        text(&again.stdout).contains("unchanged"),
        "not idempotent: {}",
        text(&again.stdout)
    );
    for r in profile_run(home, &tls, &flows) {
        assert_signed(&r);
    }
    let (row, _) = browser_row(&d, home);
    assert_eq!(row["status"], "ok", "{row}");
    assert!(
        row["message_en"]
            .as_str()
            .is_some_and(|m| m.contains("managed policy")),
        "{row}"
    );
    let status = bridge_env(
        &["browser", "status", "--json"],
        &[("HOME", home.to_str().expect("home"))],
    );
    let status = json(&status);
    let chromium = status["policies"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["browser"] == "chromium"))
        .cloned()
        .expect("chromium policy");
    assert_eq!(chromium["ours"], true, "{status}");

    // Revoked: blocked again; the other product's file is byte-identical, ours is gone.
    let out = bridge(&["browser", "revoke"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!managed.join("nhi-bridge.json").exists());
    assert_eq!(std::fs::read(&other).expect("other"), other_bytes);
    for r in profile_run(home, &tls, &flows) {
        refused(&r);
    }
    assert_eq!(browser_row(&d, home).0["status"], "fail");
    std::fs::remove_file(&other).expect("cleanup");
}
