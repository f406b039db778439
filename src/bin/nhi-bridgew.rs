//! `nhi-bridgew`: how Windows starts the component at login without a console window. A program
//! of the Windows subsystem gets no console, so it starts `nhi-bridge.exe run` (beside it) with
//! CREATE_NO_WINDOW — the daemon keeps its hidden console, and with it Ctrl-C, logoff and
//! shutdown events — and exits. The command line itself (`nhi-bridge.exe check` …) stays a
//! console program that prints where it was started. On other systems it does the same with no
//! flags, which is harmless.
#![cfg_attr(windows, windows_subsystem = "windows")]

use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    let name = if cfg!(windows) {
        "nhi-bridge.exe"
    } else {
        "nhi-bridge"
    };
    let Some(exe) = std::env::current_exe().ok().map(|p| p.with_file_name(name)) else {
        return ExitCode::from(69);
    };
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .args(std::env::args_os().skip(1))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        cmd.creation_flags(CREATE_NO_WINDOW);
    }
    // Started, not waited for: the component runs on, logging to its own file.
    match cmd.spawn() {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(69),
    }
}
