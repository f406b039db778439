//! Logging through the `log` facade: to stderr in the foreground, and for the daemon also to
//! `<data dir>/logs/nhi-bridge.log`, rotated by size (flexi_logger). Each line has the time, the
//! level and the module. Nothing logged anywhere carries card-holder data (see docs/design.md).

use std::path::{Path, PathBuf};

use flexi_logger::{
    Cleanup, Criterion, DeferredNow, Duplicate, FileSpec, Logger, LoggerHandle, Naming, WriteMode,
};

/// Rotate at 1 MiB; keep the 5 newest rotated files besides the current one.
pub const ROTATE_BYTES: u64 = 1024 * 1024;
pub const KEEP_FILES: usize = 5;

pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The current log file (with rotation, flexi_logger writes to `<base>_rCURRENT.log` and renames
/// full files to `<base>_r00000.log`, `_r00001`, …).
pub fn log_file(data_dir: &Path) -> PathBuf {
    log_dir(data_dir).join("nhi-bridge_rCURRENT.log")
}

fn line(
    w: &mut dyn std::io::Write,
    now: &mut DeferredNow,
    record: &log::Record,
) -> std::io::Result<()> {
    write!(
        w,
        "[{}] {:<5} [{}] {}",
        now.format("%Y-%m-%d %H:%M:%S%.3f %:z"),
        record.level(),
        record.module_path().unwrap_or("?"),
        record.args()
    )
}

/// Starts logging at `spec` (a level such as `info`; `RUST_LOG` wins when set). With `data_dir`,
/// also to the rotated file there. Keep the handle alive for as long as logs should be written.
pub fn init(spec: &str, data_dir: Option<&Path>) -> Option<LoggerHandle> {
    let logger = Logger::try_with_env_or_str(spec)
        .or_else(|_| Logger::try_with_str("info"))
        .ok()?
        .format(line);
    let logger = match data_dir {
        Some(dir) => logger
            .log_to_file(
                FileSpec::default()
                    .directory(log_dir(dir))
                    .basename("nhi-bridge")
                    .suppress_timestamp(),
            )
            .rotate(
                Criterion::Size(ROTATE_BYTES),
                Naming::Numbers,
                Cleanup::KeepLogFiles(KEEP_FILES),
            )
            .append()
            .write_mode(WriteMode::Direct)
            .duplicate_to_stderr(Duplicate::All),
        None => logger.log_to_stderr(),
    };
    match logger.start() {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("logging unavailable: {e}");
            None
        }
    }
}

/// The last `n` lines of the current log file (for the diagnostics bundle).
pub fn tail(data_dir: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(log_file(data_dir)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}
