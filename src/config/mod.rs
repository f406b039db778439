//! Settings: where the program keeps its state, and the daemon's TOML configuration.
//!
//! A missing configuration file means defaults; a bad one is an error that names the line and the
//! key. The origin allowlist policy lives in [`origin`].

pub mod origin;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use origin::{Allowlist, Origin, OriginError};

/// The data directory: `--data-dir` when given, else the platform's per-user local data
/// directory (`~/.local/share/nhi-bridge` on Linux, `%LOCALAPPDATA%\nhi-bridge\nhi-bridge\data`
/// on Windows — local, not roaming: the TLS key belongs to this machine —,
/// `~/Library/Application Support/tw.nhi-bridge.nhi-bridge` on macOS).
pub fn data_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit.or_else(|| project_dirs().map(|d| d.data_local_dir().to_path_buf()))
}

/// The default configuration file (`~/.config/nhi-bridge/config.toml` on Linux).
pub fn default_config_file() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

/// Removes this user's state: the data directory (`explicit`, else the default: certificates,
/// logs) and, without `explicit`, the configuration directory; then the per-program folders left
/// empty above them (Windows keeps `%LOCALAPPDATA%\nhi-bridge\nhi-bridge\data`). Returns what
/// was removed. For uninstalling: the MSI runs it as the removing user, as the .deb's purge does
/// for every home.
pub fn remove_user_data(explicit: Option<PathBuf>) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    match explicit {
        Some(d) => dirs.push(d),
        None => {
            if let Some(p) = project_dirs() {
                dirs.push(p.data_local_dir().to_path_buf());
                dirs.push(p.config_dir().to_path_buf());
            }
        }
    }
    let mut removed = Vec::new();
    for dir in dirs {
        // Only what the program makes there: a --data-dir that names a directory holding
        // anything else keeps it (and the directory).
        for name in OUR_ENTRIES {
            let p = dir.join(name);
            let gone = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            match gone {
                Ok(()) => removed.push(p),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        // The directory itself and empty folders of ours above it (`nhi-bridge\nhi-bridge`)
        // when nothing else is left in them.
        if std::fs::remove_dir(&dir).is_ok() {
            removed.push(dir.clone());
            let mut up = dir.parent();
            while let Some(p) = up {
                let ours = p.file_name().is_some_and(|n| n == "nhi-bridge");
                if !ours || std::fs::remove_dir(p).is_err() {
                    break;
                }
                removed.push(p.to_path_buf());
                up = p.parent();
            }
        }
    }
    Ok(removed)
}

/// What the program makes in its data and configuration directories.
const OUR_ENTRIES: [&str; 5] = ["tls", "logs", "daemon.lock", "config.toml", "diagnostics"];

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("tw", "nhi-bridge", "nhi-bridge")
}

/// The TLS port the official component uses.
pub const DEFAULT_PORT: u16 = 7777;

/// The daemon's settings, as written in `config.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// TLS port on 127.0.0.1 and ::1.
    pub port: u16,
    /// Web origins allowed to use the card (see [`origin`]).
    pub allowed_origins: Vec<String>,
    /// Reader to use; empty = the first reader whose card answers the NHI SELECT.
    pub reader: Option<String>,
    /// off, error, warn, info, debug or trace.
    pub log_level: String,
    /// Longest a card operation may take.
    pub card_timeout_secs: u64,
    /// Concurrent connections served; more wait to be accepted.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers.
    pub header_timeout_secs: u64,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout_secs: u64,
    /// Plain-HTTP port of the legacy `/api/` variant on 127.0.0.1 (0 = off).
    pub legacy_http_port: u16,
    /// HTTPS port of the legacy `/api/` variant on 127.0.0.1 (0 = off).
    pub legacy_https_port: u16,
    /// The NHI cloud SAM, `host:port`, for H_Sign.
    pub sam_endpoint: String,
    /// Longest the cloud SAM's TCP connect may take.
    pub sam_connect_timeout_secs: u64,
    /// Longest the SAM's hello may take.
    pub sam_hello_timeout_secs: u64,
    /// Longest any later SAM reply may take.
    pub sam_reply_timeout_secs: u64,
    /// Longest a whole H_Sign may take.
    pub hsign_timeout_secs: u64,
    /// UTC offset of the date used by EnCrypt / SecureGetBasicWithParam (Taiwan: 480).
    pub legacy_date_utc_offset_minutes: i32,
    /// Read an NHI card's profile the moment it is inserted, so the page's first request is
    /// answered from memory (kept in memory only, dropped when the card leaves, never logged).
    pub prefetch: bool,
}

impl Default for Config {
    fn default() -> Config {
        let sam = crate::sam::SamConfig::default();
        Config {
            port: DEFAULT_PORT,
            allowed_origins: origin::DEFAULT_ORIGINS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            reader: None,
            log_level: "info".into(),
            card_timeout_secs: 10,
            max_connections: 256,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            legacy_http_port: 59001,
            legacy_https_port: 59002,
            sam_endpoint: sam.endpoint,
            sam_connect_timeout_secs: sam.connect_timeout.as_secs(),
            sam_hello_timeout_secs: sam.hello_timeout.as_secs(),
            sam_reply_timeout_secs: sam.reply_timeout.as_secs(),
            hsign_timeout_secs: 120,
            legacy_date_utc_offset_minutes: 480,
            prefetch: true,
        }
    }
}

/// Why a configuration file cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A file named explicitly (`--config`) does not exist.
    #[error("{path}: no such file (named with --config)")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// It cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax or a wrong key/type; the message carries line, column and key.
    /// It is not valid TOML for these keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's words, with line, column and key.
        message: String,
    },
    /// A value is out of range.
    #[error("{path}: line {line}: key `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line the key is on.
        line: usize,
        /// The key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The most connections the configuration may ask for: each holds a file descriptor, and far
/// more than any browser opens to one local component.
pub const MAX_CONNECTIONS: usize = 4096;

const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

impl Config {
    /// Reads a file the user named (`--config`): unlike [`Config::load`], a missing file is an
    /// error, not the defaults.
    pub fn load_named(path: &Path) -> Result<Config, ConfigError> {
        if !path.exists() {
            return Err(ConfigError::Missing {
                path: path.to_path_buf(),
            });
        }
        Config::load(path)
    }

    /// Reads `path`; a file that does not exist gives the defaults (the per-user default file).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses and checks a configuration text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " | "),
        })?;
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of_key(text, key),
            key,
            message,
        };
        if config.port == 0 {
            return Err(invalid("port", "must be 1–65535".into()));
        }
        Allowlist::parse(&config.allowed_origins)
            .map_err(|e| invalid("allowed_origins", e.to_string()))?;
        if config.allowed_origins.is_empty() {
            return Err(invalid(
                "allowed_origins",
                "is empty, which would refuse every page; remove the key to allow NHI's sites"
                    .into(),
            ));
        }
        if !LOG_LEVELS.contains(&config.log_level.as_str()) {
            return Err(invalid(
                "log_level",
                format!("must be one of {}", LOG_LEVELS.join(", ")),
            ));
        }
        if config.card_timeout_secs == 0 || config.card_timeout_secs > 300 {
            return Err(invalid("card_timeout_secs", "must be 1–300".into()));
        }
        if config.max_connections == 0 || config.max_connections > MAX_CONNECTIONS {
            return Err(invalid(
                "max_connections",
                format!("must be 1–{MAX_CONNECTIONS} (each needs a file descriptor)"),
            ));
        }
        if config.header_timeout_secs == 0 {
            return Err(invalid("header_timeout_secs", "must be at least 1".into()));
        }
        if config.idle_timeout_secs == 0 {
            return Err(invalid("idle_timeout_secs", "must be at least 1".into()));
        }
        let ports = [
            config.port,
            config.legacy_http_port,
            config.legacy_https_port,
        ];
        for (i, key) in [(1, "legacy_http_port"), (2, "legacy_https_port")] {
            if ports[i] != 0 && ports.iter().filter(|p| **p == ports[i]).count() > 1 {
                return Err(invalid(key, "must differ from the other ports".into()));
            }
        }
        let endpoint_ok = config
            .sam_endpoint
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !endpoint_ok {
            return Err(invalid("sam_endpoint", "must be host:port".into()));
        }
        for (key, v) in [
            ("sam_connect_timeout_secs", config.sam_connect_timeout_secs),
            ("sam_hello_timeout_secs", config.sam_hello_timeout_secs),
            ("sam_reply_timeout_secs", config.sam_reply_timeout_secs),
            ("hsign_timeout_secs", config.hsign_timeout_secs),
        ] {
            if !(1..=600).contains(&v) {
                return Err(invalid(key, "must be 1–600".into()));
            }
        }
        if !(-720..=840).contains(&config.legacy_date_utc_offset_minutes) {
            return Err(invalid(
                "legacy_date_utc_offset_minutes",
                "must be between -720 and 840".into(),
            ));
        }
        Ok(config)
    }

    /// The origin allowlist.
    pub fn allowlist(&self) -> Allowlist {
        // Validated in `parse`; a Config built in code falls back to the default list.
        Allowlist::parse(&self.allowed_origins).unwrap_or_else(|_| Allowlist::default_list())
    }

    /// The card timeout as a duration.
    pub fn card_timeout(&self) -> Duration {
        Duration::from_secs(self.card_timeout_secs)
    }

    /// The cloud SAM's settings.
    pub fn sam(&self) -> crate::sam::SamConfig {
        crate::sam::SamConfig {
            endpoint: self.sam_endpoint.clone(),
            connect_timeout: Duration::from_secs(self.sam_connect_timeout_secs),
            hello_timeout: Duration::from_secs(self.sam_hello_timeout_secs),
            reply_timeout: Duration::from_secs(self.sam_reply_timeout_secs),
        }
    }
}

/// The 1-based line where `key = …` is written, for messages about a value that parsed but is
/// not acceptable (0 when the key is absent and a default is at fault).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("config.toml"))
    }

    #[test]
    fn empty_file_and_missing_file_give_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Config::load(&dir.path().join("none.toml")).unwrap(),
            Config::default()
        );
        // Named explicitly, a missing file is an error that names it.
        let e = Config::load_named(&dir.path().join("none.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Missing { .. }));
        assert!(e.to_string().contains("none.toml"));
    }

    #[test]
    fn an_empty_allowlist_and_a_huge_connection_cap_are_refused() {
        let e = parse("allowed_origins = []\n").unwrap_err().to_string();
        assert!(e.contains("allowed_origins") && e.contains("line 1"), "{e}");
        let e = parse("max_connections = 100000000\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_connections") && e.contains("4096"), "{e}");
        assert!(parse("max_connections = 4096\n").is_ok());
    }

    #[test]
    fn purge_removes_only_what_the_program_made() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nhi-bridge");
        std::fs::create_dir_all(data.join("tls")).unwrap();
        std::fs::write(data.join("tls/ca.pem"), "x").unwrap();
        std::fs::write(data.join("daemon.lock"), "1").unwrap();
        std::fs::write(data.join("notes.txt"), "someone else's").unwrap();
        remove_user_data(Some(data.clone())).unwrap();
        assert!(!data.join("tls").exists() && !data.join("daemon.lock").exists());
        assert_eq!(
            std::fs::read(data.join("notes.txt")).unwrap(),
            b"someone else's"
        );
        std::fs::remove_file(data.join("notes.txt")).unwrap();
        remove_user_data(Some(data.clone())).unwrap();
        assert!(!data.exists(), "an emptied directory of ours goes too");
        assert!(dir.path().exists());
    }

    #[test]
    fn values_are_read() {
        let c = parse(
            "port = 8443\nallowed_origins = [\"https://*.example.org\"]\nreader = \"R 1\"\ncard_timeout_secs = 3\n",
        )
        .unwrap();
        assert_eq!(c.port, 8443);
        assert_eq!(c.reader.as_deref(), Some("R 1"));
        assert!(c.allowlist().allows("https://a.example.org"));
        assert!(!c.allowlist().allows("https://a.nhi.gov.tw"));
        assert_eq!(c.card_timeout(), Duration::from_secs(3));
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = parse("port = 7777\nprot = 1\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("prot"), "{e}");
        let e = parse("\nport = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("port"), "{e}");
        let e = parse("log_level = \"info\"\n\nallowed_origins = [\"null\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("allowed_origins") && e.contains("null"),
            "{e}"
        );
        let e = parse("port = 0\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("`port`"), "{e}");
        let e = parse("log_level = \"loud\"\n").unwrap_err().to_string();
        assert!(e.contains("log_level"), "{e}");
    }
}
