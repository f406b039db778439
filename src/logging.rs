//! Logging through the `log` facade: to stderr in the foreground, and for the daemon also to
//! `<data dir>/logs/nhi-bridge.log`, rotated by size (flexi_logger). Each line has the time, the
//! level and the module. Nothing logged anywhere carries card-holder data (see docs/design.md).
//!
//! Our own code never formats card data or passwords, but other crates do at their debug/trace
//! levels (tungstenite logs every WebSocket frame, hyper and h2 log bodies). Whatever level the
//! user asks for — `-vvv`, `RUST_LOG`, `log_level` — applies to this crate only; every other crate
//! is capped at [`THIRD_PARTY_CAP`]. The log directory is the user's alone (0700, files 0600).

use std::path::{Path, PathBuf};

use flexi_logger::{
    Cleanup, Criterion, DeferredNow, Duplicate, FileSpec, LogSpecification, Logger, LoggerHandle,
    Naming, WriteMode,
};
use log::LevelFilter;

/// Rotate at 1 MiB; keep the 5 newest rotated files besides the current one.
pub const ROTATE_BYTES: u64 = 1024 * 1024;
/// Rotated files kept besides the current one.
pub const KEEP_FILES: usize = 5;

/// `<data dir>/logs`.
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

/// The most any other crate may log: at debug and trace they print payloads (frames, bodies).
pub const THIRD_PARTY_CAP: LevelFilter = LevelFilter::Warn;

/// The crate whose records may go below [`THIRD_PARTY_CAP`] (the library and the binary share it).
const OURS: &str = "nhi_bridge";

fn ours(module: &str) -> bool {
    module == OURS || module.starts_with("nhi_bridge::")
}

/// The effective specification: the user's levels for our modules, and for everything else the
/// lower of the user's level and [`THIRD_PARTY_CAP`]. Text filters are dropped.
pub fn effective_spec(requested: &LogSpecification) -> LogSpecification {
    let default = requested
        .module_filters()
        .iter()
        .find(|f| f.module_name.is_none())
        .map_or(LevelFilter::Off, |f| f.level_filter);
    let mut b = LogSpecification::builder();
    b.default(default.min(THIRD_PARTY_CAP));
    b.module(OURS, default);
    for f in requested.module_filters() {
        if let Some(m) = &f.module_name {
            let level = if ours(m) {
                f.level_filter
            } else {
                f.level_filter.min(THIRD_PARTY_CAP)
            };
            b.module(m, level);
        }
    }
    b.build()
}

/// The log directory with mode 0700 and every file in it 0600 (logs written before this rule, or
/// rotated with a wider umask, are narrowed too).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        for entry in std::fs::read_dir(dir)?.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

/// Starts logging at `spec` (a level such as `info`; `RUST_LOG` wins when set), capped for other
/// crates as [`effective_spec`] says. With `data_dir`, also to the rotated file there. Keep the
/// handle alive for as long as logs should be written.
pub fn init(spec: &str, data_dir: Option<&Path>) -> Option<LoggerHandle> {
    let requested = LogSpecification::env_or_parse(spec)
        .or_else(|_| LogSpecification::parse(spec))
        .unwrap_or_else(|_| LogSpecification::info());
    let logger = Logger::with(effective_spec(&requested)).format(line);
    let logger = match data_dir {
        Some(dir) => {
            if let Err(e) = private_dir(&log_dir(dir)) {
                eprintln!("logging unavailable: {}: {e}", log_dir(dir).display());
                return None;
            }
            logger
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
                .duplicate_to_stderr(Duplicate::All)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn level(spec: &LogSpecification, module: &str) -> LevelFilter {
        spec.level_for_module(Some(module))
            .or_else(|| spec.level_for_module(None))
            .unwrap_or(LevelFilter::Off)
    }

    #[test]
    fn other_crates_never_go_below_warn() {
        for requested in [
            "trace",
            "debug",
            "trace,tungstenite=trace,hyper=trace",
            "info,warp::filters::ws=trace,tokio_tungstenite=debug",
            "off,h2=trace",
        ] {
            let spec = effective_spec(&LogSpecification::parse(requested).unwrap());
            for crate_name in [
                "tungstenite::protocol",
                "tokio_tungstenite",
                "warp::filters::ws",
                "hyper::proto::h1::io",
                "h2::codec",
                "tokio_openssl",
                "flexi_logger",
            ] {
                assert!(
                    !spec.enabled(log::Level::Info, crate_name)
                        && !spec.enabled(log::Level::Debug, crate_name),
                    "{requested}: {crate_name} may log below warn"
                );
            }
            assert!(level(&spec, "tungstenite") <= THIRD_PARTY_CAP);
        }
    }

    #[test]
    fn our_crate_keeps_the_requested_level() {
        let spec = effective_spec(&LogSpecification::parse("trace").unwrap());
        assert!(spec.enabled(log::Level::Trace, "nhi_bridge::server"));
        assert!(spec.enabled(log::Level::Trace, "nhi_bridge"));
        assert!(spec.enabled(log::Level::Warn, "hyper"));
        let spec = effective_spec(&LogSpecification::parse("warn,nhi_bridge::api=debug").unwrap());
        assert!(spec.enabled(log::Level::Debug, "nhi_bridge::api::v1"));
        assert!(!spec.enabled(log::Level::Info, "nhi_bridge::service"));
    }

    #[cfg(unix)]
    #[test]
    fn log_directory_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let logs = log_dir(dir.path());
        std::fs::create_dir_all(&logs).unwrap();
        let old = logs.join("nhi-bridge_r00000.log");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_dir(&logs).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&logs), 0o700);
        assert_eq!(mode(&old), 0o600);
    }
}
