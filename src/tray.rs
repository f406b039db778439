//! The tray icon (feature `tray`): one icon per state of the component, its state in words at the
//! top of the menu, and the menu a citizen needs — open the self-check, export diagnostics, start
//! at login, about, quit. It follows the same picture as `/v1/events` and never blocks the daemon.
//!
//! Threads: the icon lives on a thread of its own with that desktop's loop (GTK's main loop on
//! Linux, `tray::linux`; a Win32 message loop on Windows, `tray::windows`, whose window also
//! carries logoff, shutdown and `nhi-bridge stop`); tokio keeps its own. The daemon sends
//! [`TrayState`]s over a channel and the loop wakes only when something changes (no polling, no
//! idle CPU). Menu clicks arrive on that thread too (`tray::menu` turns them into actions); the
//! slow ones (opening a browser, writing a bundle) run on short-lived threads with timeouts.
//! Without a display or the toolkit failing, the daemon runs without the tray and says so once.

use std::path::PathBuf;

use crate::error::ErrorCode;
use crate::service::card_service::{CardCheck, Snapshot};

/// What the icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    /// A card is in a reader and nothing failed: pages can read it.
    Ready,
    /// Readers, but no card.
    NoCard,
    /// No reader connected.
    NoReader,
    /// The PC/SC service is not running.
    PcscDown,
    /// A card is in, but it could not be read: why (7005 not an NHI card, …).
    Error(ErrorCode),
    /// A card is in but not yet confirmed as an NHI card (the read at insertion is under way).
    Checking,
    /// The card is ready, but a browser profile blocks NHI pages from reaching the component
    /// (Local Network Access): the page would say the component is missing.
    BrowserBlocked,
}

impl TrayState {
    /// The state of a snapshot; `card` says how the inserted card's read went (ready only once it
    /// read as an NHI card), `browser_blocked` that a browser profile blocks NHI pages.
    pub fn of(snap: &Snapshot, card: CardCheck, browser_blocked: bool) -> TrayState {
        if !snap.pcsc_up {
            TrayState::PcscDown
        } else if snap.readers.is_empty() {
            TrayState::NoReader
        } else if !snap.readers.values().any(Option::is_some) {
            TrayState::NoCard
        } else if let CardCheck::Failed(code) = card {
            TrayState::Error(code)
        } else if card == CardCheck::Unknown {
            TrayState::Checking
        } else if browser_blocked {
            TrayState::BrowserBlocked
        } else {
            TrayState::Ready
        }
    }

    /// The state in words, zh-TW then English (the tooltip and the menu's first line). A card
    /// that cannot be read is told with its code and the words `check` and the page use.
    pub fn text(self) -> std::borrow::Cow<'static, str> {
        if let TrayState::Error(code) = self {
            return format!("[{code}] {} — {}", code.message_zh(), code.message_en()).into();
        }
        match self {
            TrayState::Ready => "健保卡已就緒 — NHI card ready",
            TrayState::NoCard => "請插入健保卡 — insert the NHI card",
            TrayState::Checking => "正在確認卡片… — checking the card…",
            TrayState::NoReader => "找不到讀卡機 — no card reader",
            TrayState::PcscDown => "讀卡機服務未執行 — smart-card service not running",
            TrayState::Error(_) => "無法讀取卡片 — the card cannot be read",
            TrayState::BrowserBlocked => {
                "瀏覽器封鎖了健保署網頁，請開啟元件檢測 — a browser blocks NHI pages: open the self-check"
            }
        }
        .into()
    }

    /// The icon's colour: green, amber, grey, red, red-orange.
    fn colour(self) -> [u8; 3] {
        match self {
            TrayState::Ready => [0x2e, 0x7d, 0x32],
            TrayState::NoCard => [0xf9, 0xa8, 0x25],
            TrayState::Checking => [0x15, 0x65, 0xc0],
            TrayState::NoReader => [0x75, 0x75, 0x75],
            TrayState::PcscDown => [0xc6, 0x28, 0x28],
            TrayState::Error(_) => [0xe6, 0x4a, 0x19],
            TrayState::BrowserBlocked => [0x6a, 0x1b, 0x9a],
        }
    }

    /// A 32×32 RGBA icon: a card shape in the state's colour, with a mark (✓, –, ✕) in white.
    pub fn icon_rgba(self) -> Vec<u8> {
        const N: usize = 32;
        let [r, g, b] = self.colour();
        let mut px = vec![0u8; N * N * 4];
        for y in 0..N {
            for x in 0..N {
                let i = (y * N + x) * 4;
                // A rounded card, 28×20, centred.
                let (cx, cy) = (x as i32 - 16, y as i32 - 16);
                let inside = cx.abs() <= 14 && cy.abs() <= 10 && !(cx.abs() > 11 && cy.abs() > 7);
                if !inside {
                    continue;
                }
                let white = match self {
                    TrayState::Ready => {
                        (cy == cx / 2 + 2 && (-6..=0).contains(&cx))
                            || (cy == -cx + 2 && (0..=8).contains(&cx))
                    }
                    TrayState::NoCard | TrayState::NoReader | TrayState::Checking => {
                        cy.abs() <= 1 && cx.abs() <= 6
                    }
                    TrayState::PcscDown | TrayState::Error(_) | TrayState::BrowserBlocked => {
                        (cx - cy).abs() <= 1 && cx.abs() <= 6
                            || (cx + cy).abs() <= 1 && cx.abs() <= 6
                    }
                };
                let c = if white { [255, 255, 255] } else { [r, g, b] };
                px[i..i + 4].copy_from_slice(&[c[0], c[1], c[2], 255]);
            }
        }
        px
    }
}

/// What the tray needs from the daemon.
pub struct TrayConfig {
    /// The daemon's port (the self-check page's address).
    pub port: u16,
    /// The data directory (for the diagnostics bundle).
    pub data_dir: PathBuf,
    /// The daemon's configuration (for the diagnostics bundle's self-check).
    pub config: crate::config::Config,
}

/// What the tray (and on Windows the component's window) asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayRequest {
    /// The user chose 結束 (quit).
    Quit,
    /// `nhi-bridge stop` (or Windows' Restart Manager, for an upgrade) asked the window to close.
    Stop,
    /// The user logs off or Windows shuts down: stop now, the session will not wait long.
    SessionEnding,
}

#[cfg(all(feature = "tray", any(target_os = "linux", windows)))]
mod menu;

#[cfg(all(feature = "tray", target_os = "linux"))]
mod linux;

#[cfg(windows)]
mod windows;

/// Feeds the tray the daemon's state; dropping it closes the tray.
#[cfg(all(feature = "tray", target_os = "linux"))]
pub type TraySender = async_channel::Sender<TrayState>;

/// Feeds the tray the daemon's state.
#[cfg(windows)]
pub type TraySender = windows::TraySender;

/// Feeds the tray the daemon's state (no tray in this build).
#[cfg(not(any(all(feature = "tray", target_os = "linux"), windows)))]
pub type TraySender = NoTray;

/// The sender of a build without a tray.
#[cfg(not(any(all(feature = "tray", target_os = "linux"), windows)))]
#[derive(Clone)]
pub struct NoTray;

#[cfg(not(any(all(feature = "tray", target_os = "linux"), windows)))]
impl NoTray {
    /// Does nothing.
    pub async fn send(&self, _state: TrayState) -> Result<(), ()> {
        Ok(())
    }
}

/// What [`spawn`] started: the tray, when shown, and on Windows the component's window.
pub struct Ui {
    sender: Option<TraySender>,
    #[cfg(windows)]
    window: Option<windows::Handle>,
}

impl Ui {
    /// The tray's state channel, once (`None` without a tray).
    pub fn take_sender(&mut self) -> Option<TraySender> {
        self.sender.take()
    }

    /// The daemon has stopped: the icon leaves the tray, the window closes (bounded wait).
    pub fn close(self) {
        #[cfg(windows)]
        if let Some(w) = self.window {
            w.close();
        }
    }
}

/// Starts the tray (`config`; `None` for `--headless`) and, on Windows, the component's window,
/// which is there even headless: it is how Windows tells the component that the session ends and
/// how `nhi-bridge stop` reaches it. `request` is called when the user or the system asks the
/// daemon for something; it must not block.
pub fn spawn(
    config: Option<TrayConfig>,
    request: impl Fn(TrayRequest) + Send + Sync + 'static,
) -> Ui {
    #[cfg(windows)]
    {
        windows::spawn(config, request)
    }
    #[cfg(not(windows))]
    {
        let Some(config) = config else {
            log::info!("--headless: no tray icon");
            return Ui { sender: None };
        };
        #[cfg(all(feature = "tray", target_os = "linux"))]
        let sender = linux::spawn(config, request);
        #[cfg(not(all(feature = "tray", target_os = "linux")))]
        let sender = {
            let _ = (config, request);
            log::info!("this build has no tray icon; running without it");
            None
        };
        Ui { sender }
    }
}

/// How long a helper program (a browser opener, systemctl) may run.
#[cfg(all(feature = "tray", any(target_os = "linux", windows)))]
const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a helper program in the background (no console window on Windows), bounded by
/// [`HELPER_TIMEOUT`].
#[cfg(all(feature = "tray", any(target_os = "linux", windows)))]
fn helper(program: &str, args: &[&str]) {
    use std::process::{Command, Stdio};
    use std::time::Instant;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        cmd.creation_flags(CREATE_NO_WINDOW);
    }
    let mut child = match cmd.spawn() {
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
                    std::thread::sleep(std::time::Duration::from_millis(100))
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

/// This user's home directory (the diagnostics bundle's self-check, the autostart entries).
#[cfg(all(feature = "tray", any(target_os = "linux", windows)))]
fn home() -> PathBuf {
    directories::BaseDirs::new()
        .map(|d| d.home_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// 匯出診斷資料: the self-check and the bundle written to Downloads on a thread of their own,
/// then `show` called with the folder.
#[cfg(all(feature = "tray", any(target_os = "linux", windows)))]
fn export_diagnostics(
    config: &TrayConfig,
    home: PathBuf,
    show: impl FnOnce(&std::path::Path) + Send + 'static,
) {
    let env = crate::diag::checks::Env {
        data_dir: config.data_dir.clone(),
        config: config.config.clone(),
        home: Some(home),
        hosts_file: crate::tls::trust::hosts_file(),
        online: false,
    };
    std::thread::spawn(move || {
        let report = crate::diag::checks::run(&env);
        let path = crate::diag::bundle::default_path();
        match crate::diag::bundle::write(&path, &env, &report) {
            Ok(_) => {
                log::info!("diagnostics written to {}", path.display());
                if let Some(dir) = path.parent() {
                    show(dir);
                }
            }
            Err(e) => log::warn!("diagnostics could not be written: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Insertion;

    #[test]
    fn states_follow_the_snapshot() {
        let mut snap = Snapshot::default();
        assert_eq!(
            TrayState::of(&snap, CardCheck::Readable, false),
            TrayState::PcscDown
        );
        snap.pcsc_up = true;
        assert_eq!(
            TrayState::of(&snap, CardCheck::Readable, false),
            TrayState::NoReader
        );
        snap.readers.insert("R".into(), None);
        assert_eq!(
            TrayState::of(&snap, CardCheck::Readable, false),
            TrayState::NoCard
        );
        snap.readers.insert(
            "R".into(),
            Some(Insertion {
                atr: vec![0x3B],
                event_count: 1,
            }),
        );
        assert_eq!(
            TrayState::of(&snap, CardCheck::Readable, false),
            TrayState::Ready
        );
        assert_eq!(
            TrayState::of(&snap, CardCheck::Failed(ErrorCode::NotNhiCard), false),
            TrayState::Error(ErrorCode::NotNhiCard)
        );
        assert_eq!(
            TrayState::of(&snap, CardCheck::Readable, true),
            TrayState::BrowserBlocked
        );
        // Not read yet: not ready.
        assert_eq!(
            TrayState::of(&snap, CardCheck::Unknown, false),
            TrayState::Checking
        );
    }

    #[test]
    fn every_state_has_its_own_icon_and_words() {
        let all = [
            TrayState::Ready,
            TrayState::NoCard,
            TrayState::NoReader,
            TrayState::PcscDown,
            TrayState::Error(ErrorCode::NotNhiCard),
            TrayState::Checking,
            TrayState::BrowserBlocked,
        ];
        let icons: std::collections::HashSet<Vec<u8>> = all.iter().map(|s| s.icon_rgba()).collect();
        assert_eq!(icons.len(), all.len());
        for s in all {
            assert_eq!(s.icon_rgba().len(), 32 * 32 * 4);
            assert!(s.text().contains(" — "), "zh-TW and English: {}", s.text());
        }
    }
}
