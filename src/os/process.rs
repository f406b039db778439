//! The one way the program runs another program and waits for it: bounded in time, both output
//! streams read to the end on their own threads (so a chatty child never blocks on a full pipe),
//! killed and reaped at the deadline.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Why a program could not be run to a good end.
#[derive(Debug, Error)]
pub enum ToolError {
    /// It is not installed.
    #[error("{tool} is not installed ({hint})")]
    Missing {
        /// Its name.
        tool: &'static str,
        /// How to install it.
        hint: &'static str,
    },
    /// It ran and failed, or could not be started.
    #[error("{tool} failed: {detail}")]
    Failed {
        /// Its name.
        tool: &'static str,
        /// What it said on stderr (or why it could not start).
        detail: String,
        /// Its exit status, when it ran.
        code: Option<i32>,
    },
    /// It did not finish in time (it was killed).
    #[error("{tool} did not finish within {secs} s")]
    Timeout {
        /// Its name.
        tool: &'static str,
        /// The limit it ran into.
        secs: u64,
    },
}

/// Runs `tool` with `args`, no standard input, for at most `limit`; its stdout when it exits 0.
pub fn run_tool(
    tool: &'static str,
    hint: &'static str,
    args: &[&OsStr],
    limit: Duration,
) -> Result<String, ToolError> {
    let mut cmd = Command::new(tool);
    cmd.args(args);
    run_command(cmd, tool, hint, limit)
}

/// [`run_tool`] for a prepared command (environment, working directory already set).
pub fn run_command(
    mut cmd: Command,
    tool: &'static str,
    hint: &'static str,
    limit: Duration,
) -> Result<String, ToolError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ToolError::Missing { tool, hint },
            _ => ToolError::Failed {
                tool,
                detail: e.to_string(),
                code: None,
            },
        })?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out_t = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_t = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolError::Timeout {
                    tool,
                    secs: limit.as_secs(),
                });
            }
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        Err(ToolError::Failed {
            tool,
            detail: stderr.trim().to_owned(),
            code: status.code(),
        })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn output_failure_missing_and_timeout_are_told_apart() {
        let sec = Duration::from_secs(5);
        let out = run_tool("sh", "", &[OsStr::new("-c"), OsStr::new("echo hi")], sec);
        assert_eq!(out.ok().as_deref(), Some("hi\n"));
        let failed = run_tool(
            "sh",
            "",
            &[OsStr::new("-c"), OsStr::new("echo no >&2; exit 3")],
            sec,
        );
        assert!(
            matches!(&failed, Err(ToolError::Failed { detail, code: Some(3), .. }) if detail == "no"),
            "{failed:?}"
        );
        let missing = run_tool("nhi-bridge-no-such-tool", "hint", &[], sec);
        assert!(
            matches!(missing, Err(ToolError::Missing { .. })),
            "{missing:?}"
        );
        let slow = run_tool(
            "sh",
            "",
            &[OsStr::new("-c"), OsStr::new("sleep 5")],
            Duration::from_millis(200),
        );
        assert!(matches!(slow, Err(ToolError::Timeout { .. })), "{slow:?}");
    }
}
