//! The rig: pcscd control, simulator processes, waits with deadlines, and running the CLI.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use pcsc::{Context, ReaderState, Scope, State};

#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub port: u16,
    pub reader: &'static str,
}

pub const SLOT0: Slot = Slot {
    port: 35963,
    reader: "Virtual PCD 00 00",
};
pub const SLOT1: Slot = Slot {
    port: 35964,
    reader: "Virtual PCD 00 01",
};

static RIG: Mutex<()> = Mutex::new(());

/// Serialises use of the machine's one pcscd and makes sure it runs.
pub fn rig() -> MutexGuard<'static, ()> {
    assert_private_rig();
    let guard = RIG.lock().unwrap_or_else(|p| p.into_inner());
    if Context::establish(Scope::User).is_err() {
        pcscd_start();
    }
    for slot in [SLOT0, SLOT1] {
        assert!(
            wait_card(slot.reader, false, Duration::from_secs(10)),
            "a card is still in {} from an earlier test",
            slot.reader
        );
    }
    guard
}

pub fn target_dir() -> PathBuf {
    // .../target/debug/deps/rig-HASH → .../target
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

/// The card simulator binary; the SAM simulator sits beside it. Both are built once per test
/// run (a no-op when they are fresh).
pub fn sim_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "nhi-sim", "--bins"])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir())
            .status()
            .expect("running cargo build for nhi-card-sim");
        assert!(status.success(), "building the simulators failed");
        let bin = target_dir().join("debug").join("nhi-card-sim");
        assert!(bin.exists(), "{} missing", bin.display());
        bin
    })
}

/// Waits until `reader` has (or has not) a card, up to `timeout`. Uses SCardGetStatusChange, so it
/// returns as soon as pcscd sees the change.
pub fn wait_card(reader: &str, present: bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let Ok(ctx) = Context::establish(Scope::User) else {
        return false;
    };
    let name = CString::new(reader).expect("reader name");
    let mut states = [ReaderState::new(name, State::UNAWARE)];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ctx.get_status_change(left, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return false,
            Err(_) => return false,
        }
        let state = states[0].event_state();
        if state.contains(State::PRESENT) == present && !state.contains(State::UNKNOWN) {
            return true;
        }
        if left.is_zero() {
            return false;
        }
        states[0].sync_current_state();
    }
}

/// A running card simulator on one vpcd slot. Dropping it pulls the card.
pub struct Sim {
    child: Option<Child>,
    /// Nothing to wait for on drop (the card was pulled with [`Sim::pull_now`]).
    settled: bool,
    slot: Slot,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sim {
    pub fn start(slot: Slot, args: &[&str]) -> Sim {
        Sim::start_with_profile(slot, None, args)
    }

    pub fn start_with_profile(slot: Slot, profile: Option<&str>, args: &[&str]) -> Sim {
        let sim = Sim::spawn(slot, profile, args);
        assert!(
            wait_card(slot.reader, true, Duration::from_secs(10)),
            "simulated card did not appear in {}",
            slot.reader
        );
        sim
    }

    /// Starts the simulator without waiting for pcscd to see the card.
    pub fn spawn(slot: Slot, profile: Option<&str>, args: &[&str]) -> Sim {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("apdu.log");
        let mut cmd = Command::new(sim_bin());
        cmd.arg("--port")
            .arg(slot.port.to_string())
            .arg("--apdu-log")
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(text) = profile {
            let path = dir.path().join("profile.toml");
            std::fs::write(&path, text).expect("write profile");
            cmd.arg("--profile").arg(path);
        }
        let child = cmd.spawn().expect("start nhi-card-sim");
        Sim {
            child: Some(child),
            settled: false,
            slot,
            log,
            _dir: dir,
        }
    }

    /// Command APDUs the card received, as uppercase hex.
    pub fn apdus(&self) -> Vec<String> {
        self.log_lines()
            .into_iter()
            .filter(|l| !l.starts_with('#'))
            .collect()
    }

    /// The whole log: APDUs and `# power-on` / `# power-off` / `# reset` events.
    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits for the simulator to exit on its own (after --remove-after).
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        match self.child.as_mut() {
            Some(child) => wait_child(child, timeout).is_some(),
            None => true,
        }
    }

    /// Pulls the card (SIGTERM) and waits until pcscd sees it gone.
    pub fn remove(mut self) {
        self.stop();
    }

    /// Pulls the card at once (SIGKILL) without waiting for pcscd to notice: for a swap, where
    /// another card takes the slot straight away.
    pub fn pull_now(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.settled = true;
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::support::terminate(&child);
            if wait_child(&mut child, Duration::from_secs(5)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if Context::establish(Scope::User).is_ok() {
            assert!(
                wait_card(self.slot.reader, false, Duration::from_secs(10)),
                "card did not leave {}",
                self.slot.reader
            );
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if std::thread::panicking() {
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            return;
        }
        self.stop();
    }
}

/// Sends SIGTERM to a child (a card pulled out, a daemon asked to stop).
pub fn terminate(child: &Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

/// Waits for a child process with a deadline (polling its status; there is no blocking wait with a
/// timeout in std).
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}

/// Runs `nhi-bridge ARGS` with a deadline and returns its output.
pub fn bridge(args: &[&str]) -> Output {
    bridge_env(args, &[])
}

pub fn bridge_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nhi-bridge"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nhi-bridge");
    // Read the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let status = match wait_child(&mut child, Duration::from_secs(60)) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            panic!("nhi-bridge {args:?} did not finish within 60 s");
        }
    };
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// Whether a live (not zombie) pcscd process exists.
pub fn pcscd_running() -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // "PID (comm) STATE ..."
        match (stat.find(" ("), stat.rfind(") ")) {
            (Some(a), Some(b)) if a < b => {
                &stat[a + 2..b] == "pcscd" && !stat[b + 2..].starts_with('Z')
            }
            _ => false,
        }
    })
}

/// Refuses to go on outside `scripts/private-rig.sh`: these tests stop and restart pcscd and
/// install trust as administrator, which they may only do to a pcscd and an /etc of their own.
pub fn assert_private_rig() {
    assert!(
        std::env::var_os("NHI_PRIVATE_RIG").is_some_and(|v| v == "1"),
        "the rig tests run only inside their private namespaces: \
         bash scripts/private-rig.sh cargo test --workspace -- --include-ignored"
    );
}

/// Stops pcscd (the private rig's: see [`assert_private_rig`]) and waits for it to be gone.
pub fn pcscd_stop() {
    assert_private_rig();
    let _ = Command::new("pkill")
        .args(["-TERM", "-x", "pcscd"])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pcscd_running() {
        assert!(Instant::now() < deadline, "pcscd did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts pcscd (detached) and waits until it accepts a context.
pub fn pcscd_start() {
    std::fs::create_dir_all("/run/pcscd").expect("/run/pcscd");
    // Through a shell that exits at once, so pcscd is not this process's child (no zombie when a
    // later test stops it) and outlives the test run as the rig script's pcscd would.
    let status = Command::new("sh")
        .args(["-c", "pcscd -f </dev/null >/dev/null 2>&1 &"])
        .status()
        .expect("start pcscd (run scripts/setup-rig.sh first)");
    assert!(status.success(), "could not start pcscd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Context::establish(Scope::User).is_err() {
        assert!(Instant::now() < deadline, "pcscd did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops pcscd for the life of the guard; restarts it on drop, also when the test fails.
pub struct PcscdStopped;

impl PcscdStopped {
    pub fn new() -> PcscdStopped {
        pcscd_stop();
        PcscdStopped
    }

    pub fn restart(self) {
        drop(self);
    }
}

impl Drop for PcscdStopped {
    fn drop(&mut self) {
        if !pcscd_running() {
            pcscd_start();
        }
    }
}

/// The sample profile the simulator plays by default.
pub fn sample() -> nhi_sim::profile::SimProfile {
    nhi_sim::profile::SimProfile::from_toml(nhi_sim::profile::SAMPLE).expect("sample profile")
}

pub const SELECT_HC: &str = "00A4040010D1580000010000000000000000001100";

/// Waits (bounded) until `f` holds; fails the test with `what` otherwise.
pub fn eventually(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An empty configuration file in `dir` (all defaults), for commands given `--config`: a named
/// file that does not exist is an error.
pub fn empty_config(dir: &Path) -> PathBuf {
    let p = dir.join("empty.toml");
    std::fs::write(&p, "").expect("write empty config");
    p
}
