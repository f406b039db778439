//! The seam between the program and the operating system, after tray-icon's `platform_impl`: what
//! differs per system lives in `linux`, `windows` or `macos`, selected once here, behind one set
//! of functions. Today it owns running other programs ([`run_tool`]), where each Chromium-family
//! browser keeps its profiles, and the browsers' managed policies (read, and our own entries
//! written and removed). The trust stores, the hosts path, the instance lock and stop are still
//! in their modules (issue #24 moves them here, one at a time).

mod policy_dir;
mod process;
mod registry;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as imp;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

pub use process::{run_command, run_tool, ToolError};
pub use registry::{parse_reg_query, RegList};

/// The list policies that let a public page reach loopback without asking, newest first. Chrome
/// 142+ knows the first; 146+ also the second (loopback only) and third (the local network, which
/// we never need and never write).
pub const ALLOW_POLICIES: [&str; 3] = [
    "LocalNetworkAccessAllowedForUrls",
    "LoopbackNetworkAllowedForUrls",
    "LocalNetworkAllowedForUrls",
];
/// The ones we write: reaching the component needs loopback only.
pub const WRITTEN_POLICIES: [&str; 2] = [ALLOW_POLICIES[0], ALLOW_POLICIES[1]];
/// The list policies that block instead.
pub const BLOCK_POLICIES: [&str; 3] = [
    "LocalNetworkAccessBlockedForUrls",
    "LoopbackNetworkBlockedForUrls",
    "LocalNetworkBlockedForUrls",
];

/// A Chromium-family browser whose profiles and policies we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Browser {
    /// Google Chrome.
    Chrome,
    /// Chromium.
    Chromium,
    /// Microsoft Edge.
    Edge,
    /// Brave.
    Brave,
}

impl Browser {
    /// Every one, in the order reports list them.
    pub const ALL: [Browser; 4] = [
        Browser::Chrome,
        Browser::Edge,
        Browser::Chromium,
        Browser::Brave,
    ];

    /// The id used in check ids (`browser.<id>.<profile>`).
    pub fn id(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Edge => "edge",
            Browser::Brave => "brave",
        }
    }

    /// The name people know it by.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chrome => "Chrome",
            Browser::Chromium => "Chromium",
            Browser::Edge => "Edge",
            Browser::Brave => "Brave",
        }
    }
}

/// One effective list policy: the entries the browser uses and where they come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyList {
    /// The policy's name.
    pub policy: String,
    /// Its entries (URL patterns), in order.
    pub entries: Vec<String>,
    /// The file or registry key it comes from.
    pub source: String,
}

/// What a browser's managed policies say about reaching loopback.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyState {
    /// Where the policies live (a directory, a registry key).
    pub location: String,
    /// The allow lists in force (see [`ALLOW_POLICIES`]).
    pub allow: Vec<PolicyList>,
    /// The block lists in force (see [`BLOCK_POLICIES`]).
    pub block: Vec<PolicyList>,
    /// Our own entries or file are there.
    pub ours: bool,
    /// Our entries are shadowed: another source's list is the one in force.
    pub ours_shadowed_by: Option<String>,
    /// What could not be read, or is read differently by the browser than it looks.
    pub problems: Vec<String>,
}

/// What `allow` or `revoke` did for one browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "location")]
pub enum PolicyChange {
    /// Our policy was written.
    Written(String),
    /// Our policy was already there, exactly so.
    Unchanged(String),
    /// Our policy was removed.
    Removed(String),
    /// There was nothing of ours to remove.
    Absent(String),
}

/// Why a policy could not be read or changed.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file that must be kept as it is could not be parsed, so it is not rewritten.
    #[error("{path}: not a policy file we can read ({detail}); left as it is")]
    Unparsable {
        /// Which.
        path: PathBuf,
        /// The parser's words.
        detail: String,
    },
    /// The registry tool failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// This system has no writable policy store we support.
    #[error("{0}")]
    Unsupported(&'static str),
}

impl PolicyError {
    /// Whether it failed for want of administrator rights.
    pub fn needs_admin(&self) -> bool {
        match self {
            PolicyError::Io { source, .. } => source.kind() == std::io::ErrorKind::PermissionDenied,
            PolicyError::Tool(ToolError::Failed { detail, .. }) => {
                let d = detail.to_ascii_lowercase();
                d.contains("access is denied") || d.contains("access denied")
            }
            _ => false,
        }
    }
}

/// The user-data directories `browser` may keep under `home` (each holds `Default`,
/// `Profile 1`, …); those that do not exist are left out.
pub fn user_data_dirs(browser: Browser, home: &Path) -> Vec<PathBuf> {
    imp::user_data_dirs(browser, home)
        .into_iter()
        .filter(|d| d.is_dir())
        .collect()
}

/// The managed policies `browser` applies on this machine.
pub fn read_policy(browser: Browser) -> PolicyState {
    imp::read_policy(browser)
}

/// Writes our allow lists for `browser` (`patterns` in every policy of [`WRITTEN_POLICIES`]),
/// touching nothing of anyone else's. Administrator.
pub fn write_policy(browser: Browser, patterns: &[String]) -> Result<PolicyChange, PolicyError> {
    imp::write_policy(browser, patterns)
}

/// Removes every entry of ours for `browser`; nothing else changes. Administrator.
pub fn remove_policy(browser: Browser) -> Result<PolicyChange, PolicyError> {
    imp::remove_policy(browser)
}
