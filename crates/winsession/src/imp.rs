//! The Win32 side: one hidden top-level window of class [`CLASS`] per component, a
//! `GetMessageW` loop, and a handler called on the loop's thread for what the window is told.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{ERROR_CLASS_ALREADY_EXISTS, HWND, LPARAM, LRESULT, WPARAM};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, DispatchMessageW, FindWindowW, GetMessageW,
    IsWindow, PostMessageW, PostQuitMessage, RegisterClassExW, TranslateMessage, MSG, WM_APP,
    WM_CLOSE, WM_ENDSESSION, WM_QUERYENDSESSION, WNDCLASSEXW, WS_EX_TOOLWINDOW, WS_OVERLAPPED,
};

/// The window class `nhi-bridge stop` looks for (one window per running component; windows are
/// per desktop, so another user's component is never found).
pub const CLASS: &str = "nhi-bridge.session";

/// What the window was told, handed to the loop's handler on the loop's thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// [`Remote::wake`]: something for the loop's thread is waiting in a channel.
    Wake,
    /// `WM_CLOSE`: `nhi-bridge stop` (or the Restart Manager) asks the component to stop.
    Close,
    /// `WM_ENDSESSION`: the user logs off or Windows shuts down. When the handler returns, the
    /// process may be ended at any moment, so the handler returns once the component stopped.
    EndSession,
}

const WM_WAKE: u32 = WM_APP + 1;
const WM_LEAVE: u32 = WM_APP + 2;

/// What the loop calls for each [`Event`].
type Handler = Box<dyn FnMut(Event)>;

thread_local! {
    /// The handler of the loop running on this thread (set by [`Window::run`]).
    static HANDLER: RefCell<Option<Handler>> = RefCell::new(None);
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// The window, owned by the thread that made it (a window's messages go to its thread).
pub struct Window {
    hwnd: HWND,
}

/// Reaches the window's loop from any thread.
#[derive(Debug, Clone, Copy)]
pub struct Remote {
    hwnd: isize,
}

impl Remote {
    /// Has the loop's handler called with [`Event::Wake`]; false when the window is gone.
    pub fn wake(&self) -> bool {
        // SAFETY: PostMessageW takes any handle value; for a destroyed window it fails, no more.
        unsafe { PostMessageW(self.hwnd as HWND, WM_WAKE, 0, 0) != 0 }
    }

    /// Ends the loop (after the messages already posted); false when the window is gone.
    pub fn leave(&self) -> bool {
        // SAFETY: as in `wake`.
        unsafe { PostMessageW(self.hwnd as HWND, WM_LEAVE, 0, 0) != 0 }
    }
}

impl Window {
    /// Makes the hidden window on this thread. Top-level, not a message-only window: only
    /// top-level windows are told that the session ends. `WS_EX_TOOLWINDOW` keeps it off the
    /// taskbar and Alt-Tab.
    pub fn create() -> std::io::Result<Window> {
        let class = wide(CLASS);
        // SAFETY: a null module name asks for this program's own module handle.
        let instance = unsafe { GetModuleHandleW(std::ptr::null()) };
        let wc = WNDCLASSEXW {
            cbSize: std::mem::size_of::<WNDCLASSEXW>() as u32,
            style: 0,
            lpfnWndProc: Some(window_proc),
            cbClsExtra: 0,
            cbWndExtra: 0,
            hInstance: instance,
            hIcon: std::ptr::null_mut(),
            hCursor: std::ptr::null_mut(),
            hbrBackground: std::ptr::null_mut(),
            lpszMenuName: std::ptr::null(),
            lpszClassName: class.as_ptr(),
            hIconSm: std::ptr::null_mut(),
        };
        // SAFETY: `wc` and the class name it points to live across the call.
        if unsafe { RegisterClassExW(&wc) } == 0 {
            let e = std::io::Error::last_os_error();
            // Registered already (a second window in this process): CreateWindowExW uses it.
            if e.raw_os_error() != Some(ERROR_CLASS_ALREADY_EXISTS as i32) {
                return Err(e);
            }
        }
        let title = wide("nhi-bridge");
        // SAFETY: the class and title are NUL-terminated UTF-16 that outlive the call; no parent,
        // menu or creation data.
        let hwnd = unsafe {
            CreateWindowExW(
                WS_EX_TOOLWINDOW,
                class.as_ptr(),
                title.as_ptr(),
                WS_OVERLAPPED,
                0,
                0,
                0,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                instance,
                std::ptr::null(),
            )
        };
        if hwnd.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Window { hwnd })
    }

    /// The handle other threads use to wake or end the loop.
    pub fn remote(&self) -> Remote {
        Remote {
            hwnd: self.hwnd as isize,
        }
    }

    /// Runs this thread's message loop — which also serves every other window of the thread, the
    /// tray icon's among them — until [`Remote::leave`]; then the window is destroyed.
    pub fn run(self, handler: impl FnMut(Event) + 'static) {
        HANDLER.with(|h| *h.borrow_mut() = Some(Box::new(handler)));
        // SAFETY: MSG is plain data, all zeroes is a valid value.
        let mut msg: MSG = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: `msg` is a valid MSG to fill; a null window means every window of this
            // thread. 0 is WM_QUIT, -1 an error (an invalid argument, which this is not).
            let got = unsafe { GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) };
            if got <= 0 {
                break;
            }
            // SAFETY: `msg` was filled by GetMessageW.
            unsafe {
                TranslateMessage(&msg);
                DispatchMessageW(&msg);
            }
        }
        HANDLER.with(|h| h.borrow_mut().take());
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: the window belongs to this thread (Window is not Send); destroying a window
        // already gone fails harmlessly.
        unsafe { DestroyWindow(self.hwnd) };
    }
}

fn dispatch(event: Event) {
    HANDLER.with(|h| {
        // A handler that pumps messages itself could re-enter here: the inner event is dropped
        // rather than the loop borrowing the handler twice.
        if let Ok(mut h) = h.try_borrow_mut() {
            if let Some(f) = h.as_mut() {
                f(event);
            }
        }
    });
}

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match msg {
        WM_WAKE => {
            dispatch(Event::Wake);
            0
        }
        WM_LEAVE => {
            // SAFETY: called on the loop's thread, as PostQuitMessage requires.
            unsafe { PostQuitMessage(0) };
            0
        }
        // Not DefWindowProc's default (destroying the window at once): the component stops first,
        // and the loop's owner destroys the window when it leaves.
        WM_CLOSE => {
            dispatch(Event::Close);
            0
        }
        // Yes, the session may end: the component has nothing a user must save.
        WM_QUERYENDSESSION => 1,
        WM_ENDSESSION => {
            if wparam != 0 {
                dispatch(Event::EndSession);
            }
            0
        }
        // SAFETY: the arguments are the ones Windows passed in.
        _ => unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) },
    }
}

/// What [`close_running`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// No component window on this desktop.
    NotRunning,
    /// Every component window asked to close is gone.
    Stopped,
    /// A component did not stop within the time given.
    StillRunning,
}

/// Asks every running component on this desktop to stop (`WM_CLOSE` to its window) and waits
/// until its window is gone, at most `timeout` in all.
pub fn close_running(timeout: Duration) -> Closed {
    let class = wide(CLASS);
    let deadline = Instant::now() + timeout;
    let mut asked = false;
    loop {
        // SAFETY: the class name is NUL-terminated UTF-16 alive across the call; no title.
        let hwnd = unsafe { FindWindowW(class.as_ptr(), std::ptr::null()) };
        if hwnd.is_null() {
            return if asked {
                Closed::Stopped
            } else {
                Closed::NotRunning
            };
        }
        asked = true;
        // SAFETY: a handle just found; if it went away meanwhile the post fails harmlessly.
        unsafe { PostMessageW(hwnd, WM_CLOSE, 0, 0) };
        loop {
            // SAFETY: IsWindow accepts any handle value.
            if unsafe { IsWindow(hwnd) } == 0 {
                break;
            }
            if Instant::now() >= deadline {
                return Closed::StillRunning;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// The window is made, a wake-up from another thread reaches the handler on the loop's
    /// thread, WM_CLOSE is handed to the handler (not obeyed by default), and `leave` ends the
    /// loop; `close_running` then finds nothing.
    #[test]
    fn the_loop_hands_over_wake_close_and_leaves() {
        let (tx, rx) = mpsc::channel();
        let (remote_tx, remote_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let window = Window::create().map_err(|e| e.to_string())?;
            remote_tx.send(window.remote()).map_err(|e| e.to_string())?;
            window.run(move |e| {
                let _ = tx.send(e);
            });
            Ok::<(), String>(())
        });
        let Ok(remote) = remote_rx.recv_timeout(Duration::from_secs(10)) else {
            panic!("no window: {:?}", thread.join());
        };
        assert!(remote.wake());
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(Event::Wake));
        // SAFETY (test): posting to our own live window.
        unsafe { PostMessageW(remote.hwnd as HWND, WM_CLOSE, 0, 0) };
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(Event::Close));
        assert!(remote.leave());
        thread.join().unwrap().unwrap();
        assert_eq!(close_running(Duration::from_secs(1)), Closed::NotRunning);
    }
}
