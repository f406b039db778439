//! The tray on Linux: GTK 3 on a thread of its own, libayatana-appindicator through `tray-icon`
//! (a StatusNotifierItem where the desktop has a host, else an XEmbed icon).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gtk::glib;
use tray_icon::menu::{CheckMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::{TrayConfig, TrayRequest, TraySender, TrayState};

/// How long the tray may take to appear before the daemon goes on without it.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a helper program (xdg-open, systemctl) may run.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts the tray on its own thread; `None` (said once, at info level) when there is no display
/// or GTK cannot start. `request` is called when the user asks the daemon for something (quit).
pub fn spawn(
    config: TrayConfig,
    request: impl Fn(TrayRequest) + Send + Sync + 'static,
) -> Option<TraySender> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        log::info!("no display: running without the tray icon");
        return None;
    }
    let (state_tx, state_rx) = async_channel::bounded::<TrayState>(16);
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), String>>(1);
    let started = std::thread::Builder::new()
        .name("tray".into())
        .spawn(move || {
            if let Err(e) = gtk::init() {
                let _ = ready_tx.send(Err(format!("GTK: {e}")));
                return;
            }
            match Tray::build(&config) {
                Ok(tray) => {
                    let _ = ready_tx.send(Ok(()));
                    tray.run(config, state_rx, request);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        });
    if let Err(e) = started {
        log::info!("no tray icon (thread: {e}); running without it");
        return None;
    }
    match ready_rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(())) => {
            log::info!("tray icon shown");
            Some(state_tx)
        }
        Ok(Err(e)) => {
            log::info!("no tray icon ({e}); running without it");
            None
        }
        Err(_) => {
            log::warn!("the tray did not start within {START_TIMEOUT:?}; running without it");
            None
        }
    }
}

fn state_icon(state: TrayState) -> Option<Icon> {
    Icon::from_rgba(state.icon_rgba(), 32, 32).ok()
}

/// The icon and its menu, owned by the GTK thread.
struct Tray {
    icon: TrayIcon,
    status: MenuItem,
    open: MenuItem,
    export: MenuItem,
    autostart: CheckMenuItem,
    quit: MenuItem,
}

impl Tray {
    fn build(config: &TrayConfig) -> Result<Tray, String> {
        let menu = Menu::new();
        let status = MenuItem::new(TrayState::NoCard.text(), false, None);
        let open = MenuItem::new("開啟元件檢測 Open the self-check", true, None);
        let export = MenuItem::new("匯出診斷資料 Export diagnostics", true, None);
        let autostart = CheckMenuItem::new(
            "開機時自動啟動 Start at login",
            true,
            autostart_enabled(&home()),
            None,
        );
        let about = MenuItem::new(
            format!(
                "關於 About: nhi-bridge {}（埠 port {}）",
                env!("CARGO_PKG_VERSION"),
                config.port
            ),
            false,
            None,
        );
        let quit = MenuItem::new("結束 Quit", true, None);
        menu.append_items(&[
            &status,
            &PredefinedMenuItem::separator(),
            &open,
            &export,
            &autostart,
            &PredefinedMenuItem::separator(),
            &about,
            &quit,
        ])
        .map_err(|e| e.to_string())?;
        let icon = TrayIconBuilder::new()
            .with_id("nhi-bridge")
            .with_menu(Box::new(menu))
            .with_title("nhi-bridge")
            .with_tooltip(TrayState::NoCard.text())
            .with_icon(state_icon(TrayState::NoCard).ok_or("icon")?)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Tray {
            icon,
            status,
            open,
            export,
            autostart,
            quit,
        })
    }

    /// The GTK main loop until the daemon closes the state channel.
    fn run(
        self,
        config: TrayConfig,
        states: async_channel::Receiver<TrayState>,
        request: impl Fn(TrayRequest) + 'static,
    ) {
        let (click_tx, click_rx) = async_channel::unbounded::<MenuId>();
        MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
            let _ = click_tx.try_send(e.id);
        }));
        let ctx = glib::MainContext::default();
        let Tray {
            icon,
            status,
            open,
            export,
            autostart,
            quit,
        } = self;
        ctx.spawn_local(async move {
            while let Ok(state) = states.recv().await {
                let _ = icon.set_icon(state_icon(state));
                let _ = icon.set_tooltip(Some(state.text()));
                status.set_text(state.text());
            }
            // The daemon is gone: so is its icon.
            drop(icon);
            gtk::main_quit();
        });
        let url = format!("https://127.0.0.1:{}/", config.port);
        ctx.spawn_local(async move {
            while let Ok(id) = click_rx.recv().await {
                if id == *open.id() {
                    helper("xdg-open", &[url.as_str()]);
                } else if id == *export.id() {
                    export_diagnostics(&config);
                } else if id == *autostart.id() {
                    set_autostart(&home(), autostart.is_checked());
                } else if id == *quit.id() {
                    request(TrayRequest::Quit);
                }
            }
        });
        gtk::main();
    }
}

fn home() -> PathBuf {
    directories::BaseDirs::new()
        .map(|d| d.home_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a helper program in the background, bounded by [`HELPER_TIMEOUT`].
fn helper(program: &str, args: &[&str]) {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            log::warn!("tray: cannot run {program}: {e}");
            return;
        }
    };
    let program = program.to_owned();
    std::thread::spawn(move || {
        let deadline = Instant::now() + HELPER_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => {
                    log::warn!("tray: {program} did not finish; stopping it");
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
            }
        }
    });
}

/// 匯出診斷資料: the self-check and the bundle, written to Downloads, then the folder shown.
fn export_diagnostics(config: &TrayConfig) {
    let env = crate::diag::checks::Env {
        data_dir: config.data_dir.clone(),
        config: config.config.clone(),
        home: Some(home()),
        hosts_file: crate::tls::trust::hosts_file(),
        online: false,
    };
    std::thread::spawn(move || {
        let report = crate::diag::checks::run(&env);
        let path = crate::diag::bundle::default_path();
        match crate::diag::bundle::write(&path, &env, &report) {
            Ok(_) => {
                log::info!("diagnostics written to {}", path.display());
                if let Some(dir) = path.parent().and_then(Path::to_str) {
                    helper("xdg-open", &[dir]);
                }
            }
            Err(e) => log::warn!("diagnostics could not be written: {e}"),
        }
    });
}

/// The per-user override of the system-wide autostart entry.
fn autostart_override(home: &Path) -> PathBuf {
    home.join(".config/autostart/nhi-bridge.desktop")
}

/// `~/.config/systemd/user/nhi-bridge.service` → /dev/null: the user masked the global unit.
fn unit_mask(home: &Path) -> PathBuf {
    home.join(".config/systemd/user/nhi-bridge.service")
}

/// Whether the component starts at this user's login.
pub fn autostart_enabled(home: &Path) -> bool {
    let hidden = std::fs::read_to_string(autostart_override(home))
        .is_ok_and(|t| t.lines().any(|l| l.trim() == "Hidden=true"));
    let masked = std::fs::read_link(unit_mask(home)).is_ok_and(|t| t == Path::new("/dev/null"));
    !hidden && !masked
}

/// Turns this user's autostart on or off, for both ways the package starts the component (the
/// systemd user unit, masked per user; the XDG entry, hidden per user).
pub fn set_autostart(home: &Path, on: bool) {
    helper(
        "systemctl",
        &[
            "--user",
            if on { "unmask" } else { "mask" },
            "nhi-bridge.service",
        ],
    );
    set_autostart_entry(home, on);
}

/// The XDG half of [`set_autostart`]: this user's override of the system-wide entry.
fn set_autostart_entry(home: &Path, on: bool) {
    let entry = autostart_override(home);
    let result = if on {
        match std::fs::remove_file(&entry) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    } else {
        entry
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::write(
                    &entry,
                    "[Desktop Entry]\nType=Application\nName=nhi-bridge\nHidden=true\n",
                )
            })
    };
    match result {
        Ok(()) => log::info!("autostart {}", if on { "on" } else { "off" }),
        Err(e) => log::warn!("autostart could not be changed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autostart_follows_the_per_user_override() {
        let home = tempfile::tempdir().unwrap();
        assert!(autostart_enabled(home.path()));
        set_autostart_entry(home.path(), false);
        assert!(!autostart_enabled(home.path()));
        set_autostart_entry(home.path(), true);
        assert!(autostart_enabled(home.path()));
        // A unit masked per user (what `systemctl --user mask` leaves) is off too.
        let mask = unit_mask(home.path());
        std::fs::create_dir_all(mask.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/dev/null", &mask).unwrap();
        assert!(!autostart_enabled(home.path()));
    }
}
