//! The tray icon (feature `tray`): one icon per state of the component, its state in words at the
//! top of the menu, and the menu a citizen needs — open the self-check, export diagnostics, start
//! at login, about, quit. It follows the same picture as `/v1/events` and never blocks the daemon.
//!
//! Threads: GTK wants its own thread with its main loop; tokio keeps its own. The daemon sends
//! [`TrayState`]s over an async channel that a future on the GTK main context awaits, so the tray
//! wakes only when something changes (no polling, no idle CPU). Menu clicks arrive on the GTK
//! thread too; the slow ones (opening a browser, writing a bundle) run on short-lived threads
//! with timeouts. Without a display or `gtk::init` failing, the daemon runs without the tray and
//! says so once.

use std::path::PathBuf;

use crate::service::card_service::Snapshot;

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
    /// A card is in, but it could not be read (upside down, not an NHI card, …).
    Error,
}

impl TrayState {
    /// The state of a snapshot; `failed` says the inserted card could not be read.
    pub fn of(snap: &Snapshot, failed: bool) -> TrayState {
        if !snap.pcsc_up {
            TrayState::PcscDown
        } else if snap.readers.is_empty() {
            TrayState::NoReader
        } else if !snap.readers.values().any(Option::is_some) {
            TrayState::NoCard
        } else if failed {
            TrayState::Error
        } else {
            TrayState::Ready
        }
    }

    /// The state in words, zh-TW then English (the tooltip and the menu's first line).
    pub fn text(self) -> &'static str {
        match self {
            TrayState::Ready => "健保卡已就緒 — NHI card ready",
            TrayState::NoCard => "請插入健保卡 — insert the NHI card",
            TrayState::NoReader => "找不到讀卡機 — no card reader",
            TrayState::PcscDown => "讀卡機服務未執行 — smart-card service not running",
            TrayState::Error => "無法讀取卡片 — the card cannot be read",
        }
    }

    /// The icon's colour: green, amber, grey, red, red-orange.
    fn colour(self) -> [u8; 3] {
        match self {
            TrayState::Ready => [0x2e, 0x7d, 0x32],
            TrayState::NoCard => [0xf9, 0xa8, 0x25],
            TrayState::NoReader => [0x75, 0x75, 0x75],
            TrayState::PcscDown => [0xc6, 0x28, 0x28],
            TrayState::Error => [0xe6, 0x4a, 0x19],
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
                    TrayState::NoCard | TrayState::NoReader => cy.abs() <= 1 && cx.abs() <= 6,
                    TrayState::PcscDown | TrayState::Error => {
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

/// What the tray tells the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayRequest {
    /// The user chose 結束 (quit).
    Quit,
}

#[cfg(all(feature = "tray", target_os = "linux"))]
mod linux;
#[cfg(all(feature = "tray", target_os = "linux"))]
pub use linux::spawn;

/// Without the tray (the feature off, or a platform it does not cover yet): nothing to start.
#[cfg(not(all(feature = "tray", target_os = "linux")))]
pub fn spawn(
    _config: TrayConfig,
    _quit: impl Fn(TrayRequest) + Send + Sync + 'static,
) -> Option<TraySender> {
    log::info!("this build has no tray icon; running without it");
    None
}

/// Feeds the tray the daemon's state; dropping it closes the tray.
#[cfg(all(feature = "tray", target_os = "linux"))]
pub type TraySender = async_channel::Sender<TrayState>;

/// Feeds the tray the daemon's state (no tray in this build).
#[cfg(not(all(feature = "tray", target_os = "linux")))]
pub type TraySender = NoTray;

/// The sender of a build without a tray.
#[cfg(not(all(feature = "tray", target_os = "linux")))]
#[derive(Clone)]
pub struct NoTray;

#[cfg(not(all(feature = "tray", target_os = "linux")))]
impl NoTray {
    /// Does nothing.
    pub async fn send(&self, _state: TrayState) -> Result<(), ()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Insertion;

    #[test]
    fn states_follow_the_snapshot() {
        let mut snap = Snapshot::default();
        assert_eq!(TrayState::of(&snap, false), TrayState::PcscDown);
        snap.pcsc_up = true;
        assert_eq!(TrayState::of(&snap, false), TrayState::NoReader);
        snap.readers.insert("R".into(), None);
        assert_eq!(TrayState::of(&snap, false), TrayState::NoCard);
        snap.readers.insert(
            "R".into(),
            Some(Insertion {
                atr: vec![0x3B],
                event_count: 1,
            }),
        );
        assert_eq!(TrayState::of(&snap, false), TrayState::Ready);
        assert_eq!(TrayState::of(&snap, true), TrayState::Error);
    }

    #[test]
    fn every_state_has_its_own_icon_and_words() {
        let all = [
            TrayState::Ready,
            TrayState::NoCard,
            TrayState::NoReader,
            TrayState::PcscDown,
            TrayState::Error,
        ];
        let icons: std::collections::HashSet<Vec<u8>> = all.iter().map(|s| s.icon_rgba()).collect();
        assert_eq!(icons.len(), all.len());
        for s in all {
            assert_eq!(s.icon_rgba().len(), 32 * 32 * 4);
            assert!(s.text().contains(" — "), "zh-TW and English: {}", s.text());
        }
    }
}
