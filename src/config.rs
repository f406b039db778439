//! Where the program keeps its state. The daemon's TOML configuration grows here.

use std::path::PathBuf;

/// The data directory: `--data-dir` when given, else the platform's per-user data directory
/// (`~/.local/share/nhi-bridge` on Linux, `%APPDATA%\nhi-bridge\data` on Windows,
/// `~/Library/Application Support/tw.nhi-bridge.nhi-bridge` on macOS).
pub fn data_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit.or_else(|| {
        directories::ProjectDirs::from("tw", "nhi-bridge", "nhi-bridge")
            .map(|d| d.data_dir().to_path_buf())
    })
}
