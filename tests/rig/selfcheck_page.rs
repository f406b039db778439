//! The self-check page as a citizen sees it, in Chromium, while the world changes under it: a card
//! that is not an NHI card, the component stopping and coming back, pcscd going away. The page
//! paints the rows the component computes (`/selfcheck.json`), so these also check that `check`,
//! the page and the tray tell the same thing in the same words.

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::{driver_answer, home_trusting, node_driver};
use crate::https::*;
use crate::support::*;

/// Chromium with one page open (tests/browser/live-page.mjs).
struct LivePage {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl LivePage {
    fn open(url: &str, home: &Path) -> LivePage {
        let (child, stdin, lines) = node_driver("live-page.mjs", &[url.as_ref(), home.as_os_str()]);
        let page = LivePage {
            child,
            stdin,
            lines,
        };
        assert_eq!(driver_answer(&page.lines, "open"), "loaded");
        page
    }

    fn send(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").expect("write command");
        driver_answer(&self.lines, &cmd.to_string())
    }

    /// Waits until `expr` is truthy in the page, at most `ms`.
    fn wait(&mut self, expr: &str, ms: u64) -> Value {
        self.send(json!({"cmd": "wait", "expr": expr, "timeout": ms}))
    }

    fn run(&mut self, expr: &str) -> Value {
        self.send(json!({"cmd": "run", "expr": expr}))
    }

    /// With `NHI_BRIDGE_SCREENSHOT_DIR` set (scripts/screenshot.sh), saves the page as
    /// `self-check-<name>.png` there: the documentation's pictures of each state.
    fn shot(&mut self, name: &str) {
        if let Some(dir) = std::env::var_os("NHI_BRIDGE_SCREENSHOT_DIR") {
            let path = Path::new(&dir).join(format!("self-check-{name}.png"));
            self.send(json!({"cmd": "shot", "path": path}));
        }
    }

    fn loads(&mut self) -> Value {
        self.send(json!({"cmd": "loads"}))
    }

    fn class(&mut self, id: &str) -> String {
        let v = self.run(&format!(
            "(document.getElementById('{id}') || {{}}).className || ''"
        ));
        v.as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for LivePage {
    fn drop(&mut self) {
        terminate(&self.child);
        if wait_child(&mut self.child, Duration::from_secs(20)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A data directory, a hosts file with our line, and the environment a user's daemon has.
struct World {
    data: tempfile::TempDir,
    hosts: std::path::PathBuf,
    _hosts_dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let hosts_dir = tempfile::tempdir().expect("tempdir");
        let hosts = hosts_dir.path().join("hosts");
        std::fs::write(
            &hosts,
            "127.0.0.1 localhost\n127.0.0.1 iccert.nhi.gov.tw # nhi-bridge\n",
        )
        .expect("hosts");
        World {
            data: tempfile::tempdir().expect("tempdir"),
            hosts,
            _hosts_dir: hosts_dir,
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("HOME", self.home.path().to_str().expect("home")),
            ("NHI_BRIDGE_HOSTS_FILE", self.hosts.to_str().expect("hosts")),
        ]
    }

    /// The component as users run it: it reads each card when it is inserted.
    fn daemon(&self, config: &str) -> Daemon {
        Daemon::start_at(
            self.data.path(),
            &format!("prefetch = true\n{config}"),
            &self.env(),
        )
    }

    fn check(&self, port: u16) -> Value {
        let cfg = empty_config(self.data.path());
        let mut args = vec!["--data-dir", self.data.path().to_str().expect("data")];
        let port = port.to_string();
        args.extend([
            "check",
            "--json",
            "--port",
            &port,
            "--config",
            cfg.to_str().expect("cfg"),
        ]);
        json(&bridge_env(&args, &self.env()))
    }
}

fn check_row(report: &Value, id: &str) -> Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no {id} row in {report}"))
}

const VERDICT_OK: &str = "document.getElementById('verdict').className === 'verdict ok'";

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_card_that_is_not_an_nhi_card_is_never_green_and_told_in_checks_words() {
    let _rig = rig();
    let w = World::new();
    let d = w.daemon("");
    let _other = Sim::start(SLOT0, &["--sw", "A4=6A82"]);
    let browser_home = home_trusting(&[&d.ca]);
    let mut page = LivePage::open(
        &format!("https://127.0.0.1:{}/", d.port),
        browser_home.path(),
    );
    page.wait(
        "document.getElementById('row-card').className === 'fail'",
        15000,
    );
    assert_eq!(page.class("verdict"), "verdict fail");
    let shown = page.run("document.querySelector('#row-card .msg .zh').textContent");
    let shown = shown.as_str().unwrap_or_default().to_owned();
    assert!(shown.starts_with("[7005]"), "{shown}");
    page.shot("foreign-card");
    // Reloaded, still not green.
    let again = d.get("/", None).text();
    assert!(again.contains(r#"id="row-card" class="fail""#), "{again}");
    assert!(again.contains(r#"class="verdict fail""#));
    // check says the same code in the same words (its card.nhi row).
    let report = w.check(d.port);
    let nhi = check_row(&report, "card.nhi");
    assert_eq!(nhi["message_zh"], shown.as_str(), "{nhi}");
    // And the tray's words are the same code's.
    let tray = nhi_bridge::tray::TrayState::Error(nhi_bridge::error::ErrorCode::NotNhiCard).text();
    assert!(tray.starts_with(&shown), "{tray} vs {shown}");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn the_page_says_the_component_stopped_and_recovers_by_itself_when_it_is_back() {
    let _rig = rig();
    let w = World::new();
    let _card = Sim::start(SLOT0, &[]);
    let d = w.daemon("");
    let port = d.port;
    let browser_home = home_trusting(&[&d.ca]);
    let mut page = LivePage::open(&format!("https://127.0.0.1:{port}/"), browser_home.path());
    page.wait(VERDICT_OK, 15000);
    assert_eq!(page.class("row-card"), "ok");

    d.stop();
    // Within 2 s of the stop, the page no longer says ready.
    page.wait(
        "document.body.dataset.live === 'down' && document.getElementById('verdict').className === 'verdict fail'",
        2000,
    );
    assert_eq!(page.class("row-daemon"), "fail");
    page.shot("stopped");

    // Back on the same port (a new page token): the open page recovers without a reload, and the
    // component does not take it for a foreign site.
    let d2 = w.daemon(&format!("port = {port}\n"));
    page.wait(VERDICT_OK, 15000);
    assert_eq!(page.class("row-card"), "ok");
    assert_eq!(page.loads(), 1, "the page was reloaded");
    let log = d2.log();
    assert!(!log.contains("refused"), "{log}");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn with_pcscd_down_only_its_row_fails_and_the_others_wait_for_it() {
    let _rig = rig();
    let w = World::new();
    let _card = Sim::start(SLOT0, &[]);
    let d = w.daemon("");
    let browser_home = home_trusting(&[&d.ca]);
    let mut page = LivePage::open(
        &format!("https://127.0.0.1:{}/", d.port),
        browser_home.path(),
    );
    page.wait(VERDICT_OK, 15000);

    let stopped = PcscdStopped::new();
    page.wait(
        "document.getElementById('row-pcsc').className === 'fail'",
        15000,
    );
    let failing = page.run(
        "Array.from(document.querySelectorAll('#rows tr.fail')).map(function (r) { return r.id; })",
    );
    assert_eq!(failing, json!(["row-pcsc"]));
    for id in ["row-readers", "row-card"] {
        assert_eq!(page.class(id), "wait", "{id}");
        let fix = page.run(&format!(
            "document.querySelector('#{id} .fix .zh').textContent"
        ));
        assert_eq!(fix, "", "{id} gives a fix of its own");
    }
    assert_eq!(page.class("verdict"), "verdict fail");
    page.shot("pcscd-down");

    stopped.restart();
    page.wait(VERDICT_OK, 20000);
}
