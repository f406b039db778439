//! nhi-bridge's own window on Windows and the message loop of the thread that owns it.
//!
//! Why a window: a program with a tray icon (user32 loaded) is not sent the console's logoff and
//! shutdown events; Windows asks its top-level windows instead (`WM_QUERYENDSESSION`,
//! `WM_ENDSESSION`), and so do the Restart Manager and `nhi-bridge stop` (`WM_CLOSE`). The tray
//! icon (`tray-icon`) needs a message loop on the thread that made it; this is that loop.
//!
//! This is the only crate of nhi-bridge with `unsafe` code (the library forbids it): a few Win32
//! calls, each with its reason. On other systems the crate is empty.

#[cfg(windows)]
mod imp;
#[cfg(windows)]
pub use imp::{close_running, Closed, Event, Remote, Window, CLASS};
