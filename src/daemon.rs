//! `nhi-bridge run`: configuration, certificate, listener, card service, and the shutdown path,
//! put together. Every start-up failure is one clear line and a distinct exit status.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use nhi_bridge::api::{self, legacy::LegacySettings, AppState};
use nhi_bridge::config::{self, Config};
use nhi_bridge::reader::Pcsc;
use nhi_bridge::server::{self, BindError, Binding, Limits};
use nhi_bridge::service::card_service::{CardService, Settings};
use nhi_bridge::tls;
use nhi_bridge::tray;

use crate::{init_logging, RunArgs, EXIT_CONFIG, EXIT_UNAVAILABLE};

pub fn main(args: RunArgs, data_dir: PathBuf, verbose: u8) -> ExitCode {
    let config_path = args.config.clone().or_else(config::default_config_file);
    let load = |p: &std::path::Path| {
        if args.config.is_some() {
            Config::load_named(p)
        } else {
            Config::load(p)
        }
    };
    let mut cfg = match &config_path {
        Some(path) => match load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("錯誤 Error: 設定檔有誤 configuration error: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => Config::default(),
    };
    if let Some(port) = args.port {
        cfg.port = port;
    }
    let _log = init_logging(verbose, &cfg.log_level, Some(&data_dir));
    log::info!(
        "logs: {}",
        nhi_bridge::logging::log_file(&data_dir).display()
    );
    if let Some(p) = &config_path {
        log::info!(
            "configuration: {}{}",
            p.display(),
            if p.exists() {
                ""
            } else {
                " (absent: defaults)"
            }
        );
    }

    // One daemon per user (per data directory): the systemd user unit and the XDG autostart
    // entry may both start one; the second leaves quietly.
    let _instance = match single_instance(&data_dir) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            eprintln!(
                "nhi-bridge 已在執行 is already running for this user ({})",
                data_dir.display()
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("錯誤 Error: {}: {e}", data_dir.display());
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };

    let paths = tls::Paths::new(&data_dir);
    let material = match tls::ensure(&paths) {
        Ok((m, None)) => m,
        Ok((m, Some(reason))) => {
            log::warn!(
                "issued a new TLS certificate ({reason}); browsers must trust the new CA {}",
                paths.ca.display()
            );
            m
        }
        Err(e) => {
            eprintln!("錯誤 Error: 無法建立 TLS 憑證 cannot prepare the TLS certificate: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    if args.trust_browsers {
        trust_browsers(&paths, &material.ca);
    }
    let acceptor = match tls::acceptor(&material) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("錯誤 Error: TLS: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("錯誤 Error: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    let tray = (!args.headless).then(|| data_dir.clone());
    runtime.block_on(serve(cfg, acceptor, paths.ca, tray))
}

/// `tray`: the data directory, when the tray icon is wanted (not `--headless`).
async fn serve(
    cfg: Config,
    acceptor: openssl::ssl::SslAcceptor,
    ca_path: PathBuf,
    tray: Option<PathBuf>,
) -> ExitCode {
    let listeners = match server::bind(cfg.port).await {
        Ok(l) => l,
        Err(BindError::InUse { port, holder }) => {
            eprintln!(
                "錯誤 Error: 連接埠 {port} 已被 {holder} 使用（可能是舊版健保卡元件，請先關閉它） — port {port} is already in use by {holder} (perhaps the old NHI component: stop it first)"
            );
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
        Err(e) => {
            eprintln!("錯誤 Error: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(cfg.port, |a| a.port());
    let settings = Settings {
        preferred: cfg.reader.clone(),
        card_timeout: cfg.card_timeout(),
        hsign_timeout: Duration::from_secs(cfg.hsign_timeout_secs),
        sam: cfg.sam(),
        prefetch: cfg.prefetch,
    };
    let (service, monitor) = match CardService::start(Arc::new(Pcsc::new()), settings) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("錯誤 Error: cannot start the reader monitor: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let state = Arc::new(AppState {
        service,
        allowlist: cfg.allowlist(),
        legacy: LegacySettings {
            date_utc_offset_minutes: cfg.legacy_date_utc_offset_minutes,
        },
        shutdown: stop_rx.clone(),
        page_token: api::PageToken::random(),
        contact: api::PageContact::default(),
    });
    let acceptor = Arc::new(acceptor);
    let mut bindings = Binding::all(
        listeners,
        Some(acceptor.clone()),
        api::routes(state.clone(), port, true),
    );
    let mut legacy_lines = Vec::new();
    for (want, tls) in [(cfg.legacy_http_port, false), (cfg.legacy_https_port, true)] {
        if want == 0 {
            continue;
        }
        match server::bind(want).await {
            Ok(listeners) => {
                let p = listeners
                    .first()
                    .and_then(|l| l.local_addr().ok())
                    .map_or(want, |a| a.port());
                let scheme = if tls { "https" } else { "http" };
                legacy_lines.push(format!("legacy API on {scheme}://127.0.0.1:{p}/api/"));
                bindings.extend(Binding::all(
                    listeners,
                    tls.then(|| acceptor.clone()),
                    api::routes(state.clone(), p, tls),
                ));
            }
            // The legacy HTTP variant is a convenience for old pages: the daemon runs without it.
            Err(e) => log::warn!("legacy API not available: {e}"),
        }
    }
    let limits = Limits {
        max_connections: cfg.max_connections,
        header_timeout: Duration::from_secs(cfg.header_timeout_secs),
        idle_timeout: Duration::from_secs(cfg.idle_timeout_secs),
        drain_timeout: Duration::from_secs(5),
    };
    let stop_tx = Arc::new(stop_tx);
    let stopper = stop_tx.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        log::info!("shutting down");
        let _ = stopper.send(true);
    });
    let stopper = stop_tx.clone();
    let request = move |req: tray::TrayRequest| {
        match req {
            tray::TrayRequest::Quit => log::info!("quit from the tray"),
            tray::TrayRequest::Stop => log::info!("asked to stop (nhi-bridge stop)"),
            tray::TrayRequest::SessionEnding => log::info!("the session is ending: stopping"),
        }
        let _ = stopper.send(true);
    };
    let config = tray.map(|data_dir| tray::TrayConfig {
        port,
        data_dir,
        config: cfg.clone(),
    });
    let mut ui = tray::spawn(config, request);
    if let Some(tx) = ui.take_sender() {
        tokio::spawn(feed_tray(
            state.service.clone(),
            tx,
            stop_rx.clone(),
            state.allowlist.clone(),
        ));
    }
    for line in legacy_lines {
        eprintln!("nhi-bridge {line}");
    }
    // The one line scripts wait for, printed last: every listener accepts connections from here on.
    eprintln!(
        "nhi-bridge {} listening on https://127.0.0.1:{port}/ (self-check page; CA {})",
        env!("CARGO_PKG_VERSION"),
        ca_path.display()
    );
    server::serve(bindings, limits, stop_rx).await;
    if !monitor.stop(Duration::from_secs(2)) {
        log::warn!("reader monitor did not stop in time");
    }
    log::info!("stopped");
    ui.close();
    ExitCode::SUCCESS
}

/// Holds `<data dir>/daemon.lock` for the life of the daemon; `None` when another holds it.
fn single_instance(data_dir: &std::path::Path) -> std::io::Result<Option<std::fs::File>> {
    std::fs::create_dir_all(data_dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join("daemon.lock"))?;
    match file.try_lock() {
        Ok(()) => {
            // The holder's process id, for `nhi-bridge stop` on Unix (Windows stops the component
            // through its window; a locked file cannot be read there anyway).
            #[cfg(unix)]
            {
                use std::io::Write;
                file.set_len(0)?;
                (&file).write_all(std::process::id().to_string().as_bytes())?;
            }
            Ok(Some(file))
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Whether process `pid` holds the lock on `file` (Linux: `/proc/locks`; elsewhere on Unix the
/// recorded id is taken as it is).
#[cfg(unix)]
fn holds_lock(pid: i32, file: &std::fs::File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = file.metadata() else {
            return false;
        };
        let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
            return true;
        };
        // "1: FLOCK  ADVISORY  WRITE 15745 fe:00:10518789 0 EOF": pid, then major:minor:inode.
        locks.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 5
                && f[1] == "FLOCK"
                && f[4].parse::<i32>() == Ok(pid)
                && f[5].rsplit(':').next().and_then(|i| i.parse::<u64>().ok()) == Some(meta.ino())
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, file);
        true
    }
}

/// What `nhi-bridge stop` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// No component was running (for this data directory on Unix, on this desktop on Windows).
    NotRunning,
    /// It was asked to stop and it did.
    Stopped,
    /// It was asked to stop and was still running when the time was up.
    StillRunning,
}

/// Asks the running component to stop as 結束 in the tray would, and waits at most `timeout`.
/// Unix: SIGTERM to the process named in `daemon.lock`, done when the lock is free. Windows:
/// `WM_CLOSE` to the component's window on this desktop, done when the window is gone.
pub fn stop(data_dir: &std::path::Path, timeout: Duration) -> std::io::Result<StopOutcome> {
    #[cfg(windows)]
    {
        let _ = data_dir;
        Ok(match winsession::close_running(timeout) {
            winsession::Closed::NotRunning => StopOutcome::NotRunning,
            winsession::Closed::Stopped => StopOutcome::Stopped,
            winsession::Closed::StillRunning => StopOutcome::StillRunning,
        })
    }
    #[cfg(unix)]
    {
        use std::fs::TryLockError;
        use std::io::{Error, ErrorKind, Read, Seek};
        let mut file = match std::fs::File::open(data_dir.join("daemon.lock")) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(StopOutcome::NotRunning),
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => return Ok(StopOutcome::NotRunning),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(e),
        }
        // A daemon that has just taken the lock may not have written its id yet (the file may
        // still name an earlier, finished process): read until the id is the lock's holder.
        let deadline = std::time::Instant::now() + timeout;
        let pid = loop {
            let mut text = String::new();
            file.seek(std::io::SeekFrom::Start(0))?;
            file.read_to_string(&mut text)?;
            let pid = text.trim().parse::<i32>().ok();
            if let Some(pid) = pid.filter(|p| holds_lock(*p, &file)) {
                break pid;
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    "daemon.lock does not name the process holding it",
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let pid = rustix::process::Pid::from_raw(pid)
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, "no process id in daemon.lock"))?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(Error::from)?;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(StopOutcome::Stopped),
                Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(TryLockError::WouldBlock) => return Ok(StopOutcome::StillRunning),
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (data_dir, timeout);
        Err(std::io::Error::other(
            "stop is not available on this system",
        ))
    }
}

/// This user's browsers trust the current CA (no administrator rights needed); each database's
/// outcome is logged, and a failure does not stop the daemon.
fn trust_browsers(paths: &tls::Paths, ca: &openssl::x509::X509) {
    let Some(home) = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()) else {
        log::warn!("no home directory: browsers were not set up to trust the component");
        return;
    };
    for step in tls::trust::trust_in_browsers(&home, &paths.ca, ca) {
        match step.result {
            Ok(()) => log::info!("{} trusts the component's CA", step.en),
            Err(e) => log::warn!("{} could not be set up: {e}", step.en),
        }
    }
}

/// Sends the tray each new state of the component until shutdown (then the tray closes).
async fn feed_tray(
    service: Arc<CardService>,
    tray: tray::TraySender,
    mut stop: tokio::sync::watch::Receiver<bool>,
    allow: nhi_bridge::config::Allowlist,
) {
    let mut events = service.subscribe();
    let mut failures = service.card_checks();
    let mut shown = None;
    loop {
        let failed = *failures.borrow_and_update();
        let snap = service.snapshot();
        // Only when all else is ready: the browsers' files are read at each change (a card put
        // in is when a citizen turns to the NHI page), never on a timer.
        let blocked = tray::TrayState::of(&snap, failed, false) == tray::TrayState::Ready
            && nhi_bridge::browser::report_for_user(&allow)
                .await
                .is_some_and(|r| r.any_blocked());
        let now = tray::TrayState::of(&snap, failed, blocked);
        if shown != Some(now) {
            if tray.send(now).await.is_err() {
                return;
            }
            shown = Some(now);
        }
        tokio::select! {
            _ = stop.changed() => return,
            r = events.recv() => if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r {
                return;
            },
            r = failures.changed() => if r.is_err() {
                return;
            },
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    // Ctrl-C, Ctrl-Break and closing the console; logoff and shutdown reach a program with a
    // window through the window (tray::windows), these only a console program without one.
    #[cfg(windows)]
    {
        use tokio::signal::windows as w;
        match (
            w::ctrl_c(),
            w::ctrl_break(),
            w::ctrl_close(),
            w::ctrl_logoff(),
            w::ctrl_shutdown(),
        ) {
            (Ok(mut c), Ok(mut b), Ok(mut cl), Ok(mut l), Ok(mut sh)) => {
                tokio::select! {
                    _ = c.recv() => {}
                    _ = b.recv() => {}
                    _ = cl.recv() => {}
                    _ = l.recv() => {}
                    _ = sh.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
