//! The tray on Linux: GTK 3 on a thread of its own, libayatana-appindicator through `tray-icon`
//! (a StatusNotifierItem where the desktop has a host, else an XEmbed icon).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use gtk::glib;
use tray_icon::menu::{MenuEvent, MenuId};

use super::menu::{Action, Tray};
use super::{TrayConfig, TrayRequest, TraySender, TrayState};

/// How long the tray may take to appear before the daemon goes on without it.
const START_TIMEOUT: Duration = Duration::from_secs(10);

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
            match Tray::build(&config, Some(autostart_enabled(&super::home()))) {
                Ok(tray) => {
                    let _ = ready_tx.send(Ok(()));
                    run(tray, config, state_rx, request);
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

/// The GTK main loop until the daemon closes the state channel.
fn run(
    tray: Tray,
    config: TrayConfig,
    states: async_channel::Receiver<TrayState>,
    request: impl Fn(TrayRequest) + 'static,
) {
    let (click_tx, click_rx) = async_channel::unbounded::<MenuId>();
    MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
        let _ = click_tx.try_send(e.id);
    }));
    let ctx = glib::MainContext::default();
    let tray = std::rc::Rc::new(tray);
    let shown = tray.clone();
    ctx.spawn_local(async move {
        while let Ok(state) = states.recv().await {
            shown.show(state);
        }
        // The daemon is gone: so is its icon.
        drop(shown);
        gtk::main_quit();
    });
    let url = format!("https://127.0.0.1:{}/", config.port);
    ctx.spawn_local(async move {
        while let Ok(id) = click_rx.recv().await {
            match tray.action(&id) {
                Some(Action::Open) => super::helper("xdg-open", &[url.as_str()]),
                Some(Action::Export) => super::export_diagnostics(&config, super::home(), |dir| {
                    if let Some(dir) = dir.to_str() {
                        super::helper("xdg-open", &[dir]);
                    }
                }),
                Some(Action::Autostart(on)) => set_autostart(&super::home(), on),
                Some(Action::Quit) => request(TrayRequest::Quit),
                None => {}
            }
        }
    });
    gtk::main();
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
    super::helper(
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
