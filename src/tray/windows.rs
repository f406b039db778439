//! The component's window and tray on Windows. One thread ("window") owns the hidden session
//! window (`winsession`), the tray icon when shown, and the message loop both need; the daemon
//! reaches it through a channel and a wake-up message, so the thread sleeps in `GetMessageW`
//! until something happens (no polling).
//!
//! The window is there even with `--headless`: Windows tells a program that has user32 loaded
//! that the session ends through its top-level windows, and `nhi-bridge stop` (and the MSI's
//! removal) asks the component to stop by closing it.

use std::sync::mpsc;
use std::time::Duration;

use winsession::{Event, Remote, Window};

use super::{TrayConfig, TrayRequest, TrayState, Ui};

/// How long the window and tray may take to appear before the daemon goes on without them.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a session end waits for the daemon to stop (Windows gives a few seconds).
const END_SESSION_WAIT: Duration = Duration::from_secs(4);
/// How long closing waits for the window's thread (the icon leaving the tray).
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Feeds the tray the daemon's state; the window's loop wakes for each.
#[derive(Clone)]
pub struct TraySender {
    states: mpsc::Sender<TrayState>,
    remote: Remote,
}

impl TraySender {
    /// Queues `state` for the tray; `Err` once the window is gone.
    pub async fn send(&self, state: TrayState) -> Result<(), ()> {
        self.states.send(state).map_err(drop)?;
        if self.remote.wake() {
            Ok(())
        } else {
            Err(())
        }
    }
}

/// The window's thread, from the daemon's side.
pub struct Handle {
    remote: Remote,
    /// Dropped when the daemon has stopped (a session end waits for it).
    stopped: mpsc::Sender<()>,
    /// Closed when the window's thread ends (its icon has left the tray).
    ended: mpsc::Receiver<()>,
}

impl Handle {
    /// The daemon has stopped: let a waiting session end go on, leave the loop, wait for the
    /// thread (its icon leaves the tray) at most [`CLOSE_WAIT`].
    pub fn close(self) {
        drop(self.stopped);
        self.remote.leave();
        if let Err(mpsc::RecvTimeoutError::Timeout) = self.ended.recv_timeout(CLOSE_WAIT) {
            log::warn!("the window's thread did not end within {CLOSE_WAIT:?}");
        }
    }
}

/// Starts the window's thread; see [`super::spawn`].
pub fn spawn(
    config: Option<TrayConfig>,
    request: impl Fn(TrayRequest) + Send + Sync + 'static,
) -> Ui {
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(Remote, bool), String>>(1);
    let (state_tx, state_rx) = mpsc::channel::<TrayState>();
    let (stopped_tx, stopped_rx) = mpsc::channel::<()>();
    let (ended_tx, ended) = mpsc::channel::<()>();
    let started = std::thread::Builder::new()
        .name("window".into())
        .spawn(move || {
            // Dropped last, when everything this thread made (the icon) is gone.
            let _ended = ended_tx;
            let window = match Window::create() {
                Ok(w) => w,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("window: {e}")));
                    return;
                }
            };
            let remote = window.remote();
            let tray = icon::start(config, remote);
            let _ = ready_tx.send(Ok((remote, tray.is_some())));
            window.run(move |event| match event {
                Event::Wake => {
                    if let Some(t) = &tray {
                        t.wake(&state_rx, &request);
                    }
                }
                Event::Close => request(TrayRequest::Stop),
                Event::EndSession => {
                    request(TrayRequest::SessionEnding);
                    // Returning lets Windows end the process: not before the daemon stopped.
                    let _ = stopped_rx.recv_timeout(END_SESSION_WAIT);
                }
            });
            // The loop is left: the handler, and with it the icon, was dropped on this thread.
        });
    match started {
        Ok(_) => {}
        Err(e) => {
            log::warn!("no window (thread: {e}); running without it");
            return Ui {
                sender: None,
                window: None,
            };
        }
    }
    match ready_rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok((remote, shown))) => Ui {
            sender: shown.then(|| TraySender {
                states: state_tx,
                remote,
            }),
            window: Some(Handle {
                remote,
                stopped: stopped_tx,
                ended,
            }),
        },
        Ok(Err(e)) => {
            log::warn!("no window ({e}); running without it");
            Ui {
                sender: None,
                window: None,
            }
        }
        Err(_) => {
            log::warn!("the window did not start within {START_TIMEOUT:?}; running without it");
            Ui {
                sender: None,
                window: None,
            }
        }
    }
}

#[cfg(feature = "tray")]
mod icon {
    //! The tray icon on the window's thread: states and clicks arrive through channels drained
    //! when the loop is woken.

    use std::sync::mpsc;

    use tray_icon::menu::{MenuEvent, MenuId};
    use winsession::Remote;

    use super::super::menu::{Action, Tray};
    use super::super::{TrayConfig, TrayRequest, TrayState};

    /// The shown icon, its clicks, and what the menu needs to act.
    pub struct Shown {
        tray: Tray,
        clicks: mpsc::Receiver<MenuId>,
        config: TrayConfig,
    }

    /// Shows the icon (`None` with `--headless` or when it cannot be made, said once).
    pub fn start(config: Option<TrayConfig>, remote: Remote) -> Option<Shown> {
        let Some(config) = config else {
            log::info!("--headless: no tray icon");
            return None;
        };
        // Without Explorer's notification area (yet) the icon is still made: it registers
        // when the taskbar appears.
        match Tray::build(&config, None) {
            Ok(tray) => {
                let (click_tx, clicks) = mpsc::channel();
                // Called on this thread, inside the loop: queue the click and wake the loop.
                MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
                    let _ = click_tx.send(e.id);
                    remote.wake();
                }));
                log::info!("tray icon shown");
                Some(Shown {
                    tray,
                    clicks,
                    config,
                })
            }
            Err(e) => {
                log::info!("no tray icon ({e}); running without it");
                None
            }
        }
    }

    impl Shown {
        /// Shows the newest state and carries out the clicks queued since the last wake-up.
        pub fn wake(&self, states: &mpsc::Receiver<TrayState>, request: &dyn Fn(TrayRequest)) {
            if let Some(state) = states.try_iter().last() {
                self.tray.show(state);
            }
            for id in self.clicks.try_iter() {
                match self.tray.action(&id) {
                    Some(Action::Open) => {
                        let url = format!("https://127.0.0.1:{}/", self.config.port);
                        super::super::helper("explorer.exe", &[url.as_str()]);
                    }
                    Some(Action::Export) => {
                        super::super::export_diagnostics(&self.config, super::super::home(), |d| {
                            if let Some(d) = d.to_str() {
                                super::super::helper("explorer.exe", &[d]);
                            }
                        })
                    }
                    Some(Action::Quit) => request(TrayRequest::Quit),
                    Some(Action::Autostart(_)) | None => {}
                }
            }
        }
    }
}

#[cfg(not(feature = "tray"))]
mod icon {
    //! A build without the tray feature: the window only.

    use std::sync::mpsc;

    use winsession::Remote;

    use super::super::{TrayConfig, TrayRequest, TrayState};

    /// Never made.
    pub enum Shown {}

    /// Says once that this build has no icon.
    pub fn start(config: Option<TrayConfig>, _remote: Remote) -> Option<Shown> {
        if config.is_some() {
            log::info!("this build has no tray icon; running without it");
        } else {
            log::info!("--headless: no tray icon");
        }
        None
    }

    impl Shown {
        /// Never called.
        pub fn wake(&self, _states: &mpsc::Receiver<TrayState>, _request: &dyn Fn(TrayRequest)) {
            match *self {}
        }
    }
}
