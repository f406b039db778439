//! The command line's conventions, subcommand by subcommand: one exit-status scheme
//! (docs/error-codes.md), usage errors are 2, a bad configuration is 78 everywhere, `-q` prints
//! nothing, and a closed standard output is not a crash.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

/// Runs `nhi-bridge ARGS` with its standard output closed after the first line (`| head -1`).
fn first_line_only(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nhi-bridge"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nhi-bridge");
    let mut out = child.stdout.take().expect("stdout");
    let mut first = Vec::new();
    let mut b = [0u8; 1];
    while out.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
        first.push(b[0]);
    }
    drop(out);
    let mut err = child.stderr.take().expect("stderr");
    let status = wait_child(&mut child, Duration::from_secs(30)).expect("exits");
    let mut stderr = String::new();
    let _ = err.read_to_string(&mut stderr);
    (
        status.code(),
        String::from_utf8_lossy(&first).into_owned(),
        stderr,
    )
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_closed_stdout_is_not_a_crash() {
    let _rig = rig();
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().to_str().expect("path");
    assert!(bridge(&["--data-dir", dir, "cert", "renew"])
        .status
        .success());
    let (code, first, stderr) = first_line_only(&["--data-dir", dir, "cert", "status"]);
    assert!(first.contains("Directory"), "{first}");
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _sim = Sim::start(SLOT0, &[]);
    let (code, _, stderr) = first_line_only(&["read"]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn usage_errors_are_2_and_a_bad_configuration_is_78_everywhere() {
    let _rig = rig();
    for bad in ["0", "-1", "abc", "inf", "NaN"] {
        let out = bridge(&["read", "--timeout", bad]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--timeout {bad}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(bridge(&["no-such-command"]).status.code(), Some(2));
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "port = \"seven\"\n").expect("write");
    let cfg = cfg.to_str().expect("path");
    let data = dir.path().to_str().expect("path");
    for args in [
        vec!["--data-dir", data, "check", "--config", cfg],
        vec!["--data-dir", data, "diagnose", "--config", cfg],
        vec!["--data-dir", data, "run", "--headless", "--config", cfg],
    ] {
        let out = bridge(&args);
        assert_eq!(
            out.status.code(),
            Some(78),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("port"),
            "names the key: {}",
            text(&out.stderr)
        );
    }
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn quiet_prints_nothing_and_keeps_the_status() {
    let _rig = rig();
    let out = bridge(&["-q", "read"]);
    assert_eq!(out.status.code(), Some(5), "no card");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("7004"),
        "the error still says why"
    );
    let _sim = Sim::start(SLOT0, &[]);
    let out = bridge(&["read", "--quiet"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let out = bridge(&["readers", "-q"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn diagnose_that_cannot_write_is_73_and_cert_install_without_rights_is_77() {
    let _rig = rig();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("path");
    // A directory where the bundle file should go.
    let out = bridge(&["--data-dir", data, "diagnose", "--port", "1", "--out", data]);
    assert_eq!(out.status.code(), Some(73), "{}", text(&out.stderr));

    // As a user without rights (its own data directory and home, as a real user has), the
    // system store and /etc/hosts are out of reach: 77, and the message says to use sudo.
    let user = tempfile::tempdir().expect("tempdir");
    let home = user.path().to_str().expect("path");
    let chown = Command::new("chown")
        .args(["-R", "65534:65534", home])
        .status()
        .expect("chown");
    assert!(chown.success());
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_nhi-bridge"))
        .args(["--data-dir", home, "cert", "install"])
        .env("HOME", home)
        .env_remove("NHI_BRIDGE_HOSTS_FILE")
        .output()
        .expect("setpriv");
    assert_eq!(
        out.status.code(),
        Some(77),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("sudo"), "{}", text(&out.stderr));
}

/// `nhi-bridge stop` stops the daemon of its data directory as 結束 in the tray does (a clean
/// shutdown, exit 0), says so, and waits for it; with nothing running it says that and is 0 too.
/// A process the lock file names is signalled only while it holds the lock (a file left behind,
/// or one not yet rewritten by a daemon that has just started, may name someone else).
#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn stop_stops_the_running_daemon_and_never_signals_a_stale_pid() {
    let _rig = rig();
    let mut d = crate::https::Daemon::start("");
    let data = d.data.to_str().expect("utf-8 path").to_owned();
    let pid = d.pid().to_string();
    let lock = std::fs::read_to_string(d.data.join("daemon.lock")).expect("daemon.lock");
    assert_eq!(lock.trim(), pid, "the lock names the daemon");

    // `nhi-bridge stop [extra]`: its exit status and what it said.
    let stop = |extra: &[&str]| {
        let mut args = vec!["--data-dir", data.as_str(), "stop"];
        args.extend_from_slice(extra);
        let out = bridge(&args);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    // The file names another process (this test's) while the daemon holds the lock, as when a
    // daemon has just taken it: that process is not signalled; stop gives up with 69.
    let lock_path = d.data.join("daemon.lock");
    std::fs::write(&lock_path, std::process::id().to_string()).expect("write lock");
    let (code, _, err) = stop(&["--timeout", "0.5"]);
    assert_eq!(code, Some(69), "{err}");
    std::fs::write(&lock_path, &pid).expect("write lock");

    let (code, out, err) = stop(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("已停止元件"), "{out}");
    // stop returned once the lock was free: the process has ended, cleanly.
    let status = d.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "a clean stop exits 0: {status:?}");
    eventually(
        "the clean shutdown is logged",
        Duration::from_secs(5),
        || d.log().contains("] stopped"),
    );
    assert!(d.log().contains("shutting down"), "{}", d.log());
    let (code, out, _) = stop(&[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("元件未在執行"), "{out}");

    // A stale lock naming a live process that is not the daemon (this test's own): not signalled.
    std::fs::write(&lock_path, std::process::id().to_string()).expect("write lock");
    let (code, out, _) = stop(&[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("元件未在執行"), "{out}");
}
