//! Making browsers trust the per-install CA, and checking that they do: the system store, the NSS
//! databases Chrome/Chromium (`~/.pki/nssdb`) and every Firefox profile read, and the hosts entry
//! that maps `iccert.nhi.gov.tw` to 127.0.0.1. External tools (`certutil`,
//! `update-ca-certificates`) run with a timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(not(windows))]
use openssl::stack::Stack;
#[cfg(not(windows))]
use openssl::x509::store::X509StoreBuilder;
#[cfg(not(windows))]
use openssl::x509::X509StoreContext;
use openssl::x509::X509;
use thiserror::Error;

use crate::os::{run_tool, ToolError};

/// The nickname our CA carries in NSS databases.
pub const NICKNAME: &str = "nhi-bridge local CA";
/// The hosts-file line the installer adds (the marker lets uninstall find it).
pub const HOSTS_LINE: &str = "127.0.0.1 iccert.nhi.gov.tw # nhi-bridge";
/// The host name the official pages use for the component.
pub const ICCERT: &str = "iccert.nhi.gov.tw";
/// Where the system store takes extra CAs on Debian/Ubuntu.
pub const SYSTEM_CA_FILE: &str = "/usr/local/share/ca-certificates/nhi-bridge-local-ca.crt";

const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a trust store or the hosts file could not be changed or read.
#[derive(Debug, Error)]
pub enum TrustError {
    /// A needed program is not installed.
    #[error("{tool} is not installed ({hint})")]
    ToolMissing {
        /// Its name.
        tool: &'static str,
        /// How to install it.
        hint: &'static str,
    },
    /// A program failed (with its own message).
    #[error("{tool} failed: {detail}")]
    ToolFailed {
        /// Its name.
        tool: &'static str,
        /// What it said.
        detail: String,
    },
    /// A program did not finish in time.
    #[error("{tool} did not finish within {secs} s")]
    ToolTimeout {
        /// Its name.
        tool: &'static str,
        /// The limit it ran into.
        secs: u64,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl From<ToolError> for TrustError {
    fn from(e: ToolError) -> TrustError {
        match e {
            ToolError::Missing { tool, hint } => TrustError::ToolMissing { tool, hint },
            ToolError::Failed { tool, detail, .. } => TrustError::ToolFailed { tool, detail },
            ToolError::Timeout { tool, secs } => TrustError::ToolTimeout { tool, secs },
        }
    }
}

/// Runs a tool with a deadline (through the one runner, [`crate::os::run_tool`]); its stdout.
fn run(
    tool: &'static str,
    hint: &'static str,
    args: &[&std::ffi::OsStr],
) -> Result<String, TrustError> {
    Ok(run_tool(tool, hint, args, TOOL_TIMEOUT)?)
}

const CERTUTIL_HINT: &str = "Debian/Ubuntu: apt install libnss3-tools";

fn sql(db: &Path) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from("sql:");
    s.push(db);
    s
}

/// An NSS database a browser reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NssDb {
    /// "Chrome/Chromium" or "Firefox <profile>".
    pub label: String,
    /// The database directory (`sql:` format).
    pub dir: PathBuf,
    /// Whether it belongs to a Firefox profile.
    pub firefox: bool,
}

/// The NSS databases of the user whose home is `home`: Chrome/Chromium's (whether or not it exists
/// yet) and each Firefox profile that has one (regular, snap and flatpak installs).
pub fn nss_dbs(home: &Path) -> Vec<NssDb> {
    // Windows: Chrome and Edge trust the Windows store (the system step), and a program called
    // `certutil` there is Windows' own tool, not NSS's — no NSS databases are managed.
    if cfg!(windows) {
        return Vec::new();
    }
    let mut out = vec![NssDb {
        label: "Chrome/Chromium".into(),
        dir: home.join(".pki/nssdb"),
        firefox: false,
    }];
    for root in [
        ".mozilla/firefox",
        "snap/firefox/common/.mozilla/firefox",
        ".var/app/org.mozilla.firefox/.mozilla/firefox",
        "Library/Application Support/Firefox/Profiles",
    ] {
        let Ok(entries) = std::fs::read_dir(home.join(root)) else {
            continue;
        };
        let mut profiles: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("cert9.db").exists())
            .collect();
        profiles.sort();
        for p in profiles {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(NssDb {
                label: format!("Firefox {name}"),
                dir: p,
                firefox: true,
            });
        }
    }
    out
}

/// Where Firefox keeps its profiles on Windows, under the user's home (`%APPDATA%` is
/// `AppData\Roaming` there).
const WINDOWS_FIREFOX_PROFILES: &str = "AppData/Roaming/Mozilla/Firefox/Profiles";

/// The first Firefox that reads the roots users add to the operating system by default.
const FIREFOX_OS_ROOTS_SINCE: u32 = 120;

/// Windows: each Firefox profile under `home` and whether that Firefox trusts the roots the user
/// added to the Windows store, where the component's CA is (`security.enterprise_roots.enabled`:
/// on by default since Firefox 120, off before; a value in `user.js` or `prefs.js` wins). We only
/// read Firefox's files: changing its settings is the user's call (`check` says how).
pub fn firefox_reads_os_roots(home: &Path) -> Vec<(String, bool)> {
    let Ok(entries) = std::fs::read_dir(home.join(WINDOWS_FIREFOX_PROFILES)) else {
        return Vec::new();
    };
    let mut profiles: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("prefs.js").exists() || p.join("compatibility.ini").exists())
        .collect();
    profiles.sort();
    profiles
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let pref = ["user.js", "prefs.js"].iter().find_map(|f| {
                let text = std::fs::read_to_string(p.join(f)).ok()?;
                enterprise_roots_pref(&text)
            });
            let by_version = || {
                let ini = std::fs::read_to_string(p.join("compatibility.ini")).ok()?;
                firefox_major(&ini).map(|v| v >= FIREFOX_OS_ROOTS_SINCE)
            };
            // No version on record: a current Firefox.
            (
                format!("Firefox {name}"),
                pref.or_else(by_version).unwrap_or(true),
            )
        })
        .collect()
}

/// The last `security.enterprise_roots.enabled` value set in a prefs.js/user.js text.
fn enterprise_roots_pref(text: &str) -> Option<bool> {
    // The last one set wins, as when Firefox reads the file.
    text.lines().rev().find_map(|l| {
        let l = l.trim();
        let rest = l
            .strip_prefix("user_pref(")
            .or_else(|| l.strip_prefix("pref("))?;
        let rest = rest
            .trim_start()
            .strip_prefix("\"security.enterprise_roots.enabled\"")?;
        let value = rest.trim_start().strip_prefix(',')?.trim_start();
        if value.starts_with("true") {
            Some(true)
        } else if value.starts_with("false") {
            Some(false)
        } else {
            None
        }
    })
}

/// The major version in a profile's compatibility.ini (`LastVersion=115.0.2_2023…`).
fn firefox_major(ini: &str) -> Option<u32> {
    ini.lines()
        .find_map(|l| l.trim().strip_prefix("LastVersion="))
        .and_then(|v| v.split(['.', '_']).next())
        .and_then(|m| m.parse().ok())
}

/// Whether the database holds `ca` (compared by DER, whatever its nickname).
pub fn nss_has(db: &Path, ca: &X509) -> Result<bool, TrustError> {
    let list = run(
        "certutil",
        CERTUTIL_HINT,
        &["-L".as_ref(), "-d".as_ref(), &sql(db)],
    )?;
    let want = ca.to_der().unwrap_or_default();
    for line in list
        .lines()
        .skip_while(|l| !l.starts_with("Certificate Nickname"))
        .skip(1)
    {
        let line = line.trim_end();
        let Some((nick, trust)) = line.rsplit_once(char::is_whitespace) else {
            continue;
        };
        let nick = nick.trim();
        if nick.is_empty() || trust.contains("S/MIME") || !trust.contains(',') {
            continue;
        }
        let pem = run(
            "certutil",
            CERTUTIL_HINT,
            &[
                "-L".as_ref(),
                "-d".as_ref(),
                &sql(db),
                "-n".as_ref(),
                nick.as_ref(),
                "-a".as_ref(),
            ],
        )?;
        let certs = X509::stack_from_pem(pem.as_bytes()).unwrap_or_default();
        if certs.iter().any(|c| c.to_der().is_ok_and(|d| d == want)) {
            return Ok(trust.starts_with('C') || trust.starts_with("CT"));
        }
    }
    Ok(false)
}

/// Puts the CA in the database (creating an empty database where there is none), replacing
/// earlier nhi-bridge CAs.
pub fn nss_install(db: &Path, ca_pem: &Path) -> Result<(), TrustError> {
    if !db.join("cert9.db").exists() {
        std::fs::create_dir_all(db).map_err(|source| TrustError::Io {
            path: db.into(),
            source,
        })?;
        run(
            "certutil",
            CERTUTIL_HINT,
            &[
                "-N".as_ref(),
                "--empty-password".as_ref(),
                "-d".as_ref(),
                &sql(db),
            ],
        )?;
    }
    nss_remove(db)?;
    run(
        "certutil",
        CERTUTIL_HINT,
        &[
            "-A".as_ref(),
            "-d".as_ref(),
            &sql(db),
            "-n".as_ref(),
            NICKNAME.as_ref(),
            "-t".as_ref(),
            "C,,".as_ref(),
            "-i".as_ref(),
            ca_pem.as_os_str(),
        ],
    )?;
    Ok(())
}

/// Removes every certificate under our nickname.
pub fn nss_remove(db: &Path) -> Result<(), TrustError> {
    if !db.join("cert9.db").exists() {
        return Ok(());
    }
    // Each -D removes one certificate of that nickname; stop when none is left (bounded).
    for _ in 0..16 {
        let gone = run(
            "certutil",
            CERTUTIL_HINT,
            &[
                "-D".as_ref(),
                "-d".as_ref(),
                &sql(db),
                "-n".as_ref(),
                NICKNAME.as_ref(),
            ],
        );
        if gone.is_err() {
            break;
        }
    }
    Ok(())
}

/// Whether the system store accepts `leaf`: on Windows the user's or the machine's Root store
/// (what Chrome and Edge use), elsewhere OpenSSL's default store (what curl and most non-browser
/// clients use).
pub fn system_trusts(leaf: &X509) -> bool {
    #[cfg(windows)]
    {
        super::winstore::trusts(leaf)
    }
    #[cfg(not(windows))]
    {
        openssl_default_trusts(leaf)
    }
}

#[cfg(not(windows))]
fn openssl_default_trusts(leaf: &X509) -> bool {
    let Ok(mut b) = X509StoreBuilder::new() else {
        return false;
    };
    if b.set_default_paths().is_err() {
        return false;
    }
    let store = b.build();
    let (Ok(mut ctx), Ok(chain)) = (X509StoreContext::new(), Stack::new()) else {
        return false;
    };
    ctx.init(&store, leaf, &chain, |c| c.verify_cert())
        .unwrap_or(false)
}

/// Rebuilds Debian's system store from its CA directories.
#[cfg(target_os = "linux")]
fn refresh_system_store() -> Result<(), TrustError> {
    run(
        "update-ca-certificates",
        "apt install ca-certificates",
        &["--fresh".as_ref()],
    )
    .map(drop)
}

/// Adds the CA to the system store (Linux: ca-certificates; needs root).
pub fn system_install(ca_pem: &Path) -> Result<(), TrustError> {
    #[cfg(target_os = "linux")]
    {
        let dest = Path::new(SYSTEM_CA_FILE);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|source| TrustError::Io {
                path: dir.into(),
                source,
            })?;
        }
        // Written, not copied: a copy would take the source's mode, and this file must be
        // readable by everyone (OpenSSL looks CAs up by hash link in /etc/ssl/certs).
        let pem = std::fs::read(ca_pem).map_err(|source| TrustError::Io {
            path: ca_pem.into(),
            source,
        })?;
        crate::atomic_file::replace(dest, &pem, crate::atomic_file::Mode::Exact(0o644)).map_err(
            |source| TrustError::Io {
                path: dest.into(),
                source,
            },
        )?;
        refresh_system_store()
    }
    #[cfg(target_os = "macos")]
    {
        run(
            "security",
            "macOS security tool",
            &[
                "add-trusted-cert".as_ref(),
                "-d".as_ref(),
                "-r".as_ref(),
                "trustRoot".as_ref(),
                "-k".as_ref(),
                "/Library/Keychains/System.keychain".as_ref(),
                ca_pem.as_os_str(),
            ],
        )
        .map(drop)
    }
    #[cfg(windows)]
    {
        let pem = std::fs::read(ca_pem).map_err(|source| TrustError::Io {
            path: ca_pem.into(),
            source,
        })?;
        let ca = X509::from_pem(&pem).map_err(|e| TrustError::Io {
            path: ca_pem.into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        super::winstore::install(&ca)
    }
}

/// Removes the CA from the system store (Linux: ca-certificates; needs root).
pub fn system_remove() -> Result<(), TrustError> {
    #[cfg(target_os = "linux")]
    {
        let dest = Path::new(SYSTEM_CA_FILE);
        if dest.exists() {
            std::fs::remove_file(dest).map_err(|source| TrustError::Io {
                path: dest.into(),
                source,
            })?;
            refresh_system_store()?;
        }
        Ok(())
    }
    #[cfg(windows)]
    {
        super::winstore::remove()
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        Ok(())
    }
}

/// Where trust is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The system store (administrator).
    System,
    /// The user's browser NSS databases.
    Browser,
    /// The hosts line (administrator).
    Hosts,
}

/// One step of installing or removing the trust, for the person watching.
#[derive(Debug)]
pub struct Step {
    /// Where.
    pub place: Place,
    /// What the step does, in zh-TW.
    pub zh: String,
    /// The same in English.
    pub en: String,
    /// How it went.
    pub result: Result<(), TrustError>,
}

impl Step {
    fn new(
        place: Place,
        zh: impl Into<String>,
        en: impl Into<String>,
        result: Result<(), TrustError>,
    ) -> Step {
        Step {
            place,
            zh: zh.into(),
            en: en.into(),
            result,
        }
    }

    /// Whether the step failed for want of rights (run it as administrator).
    pub fn needs_admin(&self) -> bool {
        matches!(&self.result, Err(TrustError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied)
    }
}

/// `cert install`: the CA `ca_pem` into the system store and every NSS database under `home`,
/// and the hosts entry — or only the `only` place. Every step runs; each says how it went.
pub fn install_everywhere(
    ca_pem: &Path,
    home: Option<&Path>,
    hosts: &Path,
    only: Option<Place>,
) -> Vec<Step> {
    everywhere(Some(ca_pem), home, hosts, only)
}

/// `cert uninstall`: the undoing of [`install_everywhere`].
pub fn remove_everywhere(home: Option<&Path>, hosts: &Path, only: Option<Place>) -> Vec<Step> {
    everywhere(None, home, hosts, only)
}

/// Installs the CA `ca_pem`, or with `None` removes ours, place by place.
fn everywhere(
    ca_pem: Option<&Path>,
    home: Option<&Path>,
    hosts: &Path,
    only: Option<Place>,
) -> Vec<Step> {
    let wanted = |p: Place| only.is_none_or(|o| o == p);
    let mut steps = Vec::new();
    if wanted(Place::System) {
        let r = ca_pem.map_or_else(system_remove, system_install);
        steps.push(Step::new(Place::System, "系統憑證庫", "system store", r));
    }
    if wanted(Place::Browser) {
        for db in home.map(nss_dbs).unwrap_or_default() {
            let r = match ca_pem {
                Some(ca) => nss_install(&db.dir, ca),
                None => nss_remove(&db.dir),
            };
            steps.push(Step::new(Place::Browser, &db.label, &db.label, r));
        }
    }
    if wanted(Place::Hosts) {
        let r = match ca_pem {
            Some(_) => hosts_add(hosts),
            None => hosts_remove(hosts),
        };
        steps.push(Step::new(
            Place::Hosts,
            "hosts 檔（iccert.nhi.gov.tw → 127.0.0.1）",
            format!("hosts entry in {}", hosts.display()),
            r,
        ));
    }
    steps
}

/// Makes every browser database of the user whose home is `home` trust `ca` (Chrome/Chromium's
/// created when absent), leaving those that already do untouched; stale CAs of ours are
/// replaced. For the daemon's start-up: no administrator rights needed.
#[cfg(not(windows))]
pub fn trust_in_browsers(home: &Path, ca_pem: &Path, ca: &X509) -> Vec<Step> {
    nss_dbs(home)
        .into_iter()
        .map(|db| {
            let r = match nss_has(&db.dir, ca) {
                Ok(true) if db.dir.join("cert9.db").exists() => Ok(()),
                _ => nss_install(&db.dir, ca_pem),
            };
            Step::new(Place::Browser, &db.label, &db.label, r)
        })
        .collect()
}

/// Windows: Chrome and Edge read the user's Root store, so that is where this user's CA goes
/// (Windows asks the user to confirm a new root once); `home` and `ca_pem` are not needed.
#[cfg(windows)]
pub fn trust_in_browsers(_home: &Path, _ca_pem: &Path, ca: &X509) -> Vec<Step> {
    let r = if super::winstore::holds(ca) {
        Ok(())
    } else {
        super::winstore::install(ca)
    };
    vec![Step::new(
        Place::Browser,
        "Windows 憑證存放區（Chrome、Edge）",
        "Windows certificate store (Chrome, Edge)",
        r,
    )]
}

/// What the hosts file says of `iccert.nhi.gov.tw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostsEntry {
    /// It points to 127.0.0.1 or ::1.
    Loopback,
    /// It is not there.
    Missing,
    /// Mapped elsewhere (this address).
    Other(String),
    /// The hosts file could not be read (why).
    Unreadable(String),
}

/// Where the system keeps its hosts file.
pub fn default_hosts_file() -> PathBuf {
    if cfg!(windows) {
        windows_hosts_file(std::env::var_os("SystemRoot"))
    } else {
        PathBuf::from("/etc/hosts")
    }
}

/// Windows keeps hosts under `%SystemRoot%` (not always `C:\Windows`).
fn windows_hosts_file(system_root: Option<std::ffi::OsString>) -> PathBuf {
    let root = system_root
        .filter(|r| !r.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\Windows"));
    root.join("System32")
        .join("drivers")
        .join("etc")
        .join("hosts")
}

/// The hosts file in use: `NHI_BRIDGE_HOSTS_FILE` points elsewhere (tests, unusual systems).
pub fn hosts_file() -> PathBuf {
    std::env::var_os("NHI_BRIDGE_HOSTS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(default_hosts_file)
}

/// What `path` says of `iccert.nhi.gov.tw`.
pub fn hosts_entry(path: &Path) -> HostsEntry {
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return HostsEntry::Unreadable(e.to_string()),
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut parts = line.split_whitespace();
        let Some(ip) = parts.next() else { continue };
        if parts.any(|n| n.eq_ignore_ascii_case(ICCERT)) {
            return if ip == "127.0.0.1" || ip == "::1" {
                HostsEntry::Loopback
            } else {
                HostsEntry::Other(ip.to_owned())
            };
        }
    }
    HostsEntry::Missing
}

/// The marker that makes a hosts line ours.
const HOSTS_MARK: &[u8] = b"# nhi-bridge";

fn hosts_io(path: &Path) -> impl FnOnce(std::io::Error) -> TrustError + '_ {
    move |source| TrustError::Io {
        path: path.into(),
        source,
    }
}

/// Adds [`HOSTS_LINE`] unless the name already points to loopback. The file is replaced
/// atomically with its mode, owner and line endings (CRLF stays CRLF) kept.
pub fn hosts_add(path: &Path) -> Result<(), TrustError> {
    if hosts_entry(path) == HostsEntry::Loopback {
        return Ok(());
    }
    let mut bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(hosts_io(path)(e)),
    };
    let eol: &[u8] = if bytes.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        bytes.extend_from_slice(eol);
    }
    bytes.extend_from_slice(HOSTS_LINE.as_bytes());
    bytes.extend_from_slice(eol);
    crate::atomic_file::replace(path, &bytes, crate::atomic_file::Mode::KeepOr(0o644))
        .map_err(hosts_io(path))
}

/// Removes our lines (those ending in the marker) and nothing else: every other byte, line ending
/// and the file's mode and owner stay as they were. A file without our line is not rewritten.
pub fn hosts_remove(path: &Path) -> Result<(), TrustError> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    let ours = |line: &[u8]| {
        let trimmed = line
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(&line[..0], |end| &line[..=end]);
        trimmed.ends_with(HOSTS_MARK)
    };
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    if !lines.iter().any(|l| ours(l)) {
        return Ok(());
    }
    let kept: Vec<u8> = lines
        .into_iter()
        .filter(|l| !ours(l))
        .flatten()
        .copied()
        .collect();
    crate::atomic_file::replace(path, &kept, crate::atomic_file::Mode::KeepOr(0o644))
        .map_err(hosts_io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_hosts_file_follows_system_root() {
        let p = windows_hosts_file(Some(r"D:\WINNT".into()));
        assert!(p.starts_with(r"D:\WINNT"), "{}", p.display());
        assert!(p.ends_with(
            Path::new("System32")
                .join("drivers")
                .join("etc")
                .join("hosts")
        ));
        assert!(windows_hosts_file(None).starts_with(r"C:\Windows"));
        assert!(windows_hosts_file(Some("".into())).starts_with(r"C:\Windows"));
    }

    #[test]
    fn hosts_entries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hosts");
        std::fs::write(&p, "127.0.0.1 localhost\n# 127.0.0.1 iccert.nhi.gov.tw\n").unwrap();
        assert_eq!(hosts_entry(&p), HostsEntry::Missing);
        hosts_add(&p).unwrap();
        assert_eq!(hosts_entry(&p), HostsEntry::Loopback);
        hosts_add(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p)
                .unwrap()
                .matches("iccert")
                .count(),
            2
        );
        hosts_remove(&p).unwrap();
        assert_eq!(hosts_entry(&p), HostsEntry::Missing);
        assert!(std::fs::read_to_string(&p).unwrap().contains("localhost"));
        std::fs::write(&p, "10.0.0.1\ticcert.nhi.gov.tw other\n").unwrap();
        assert_eq!(hosts_entry(&p), HostsEntry::Other("10.0.0.1".into()));
        assert!(matches!(
            hosts_entry(&dir.path().join("none")),
            HostsEntry::Unreadable(_)
        ));
    }

    #[test]
    fn hosts_edits_keep_every_other_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hosts");
        let original = b"127.0.0.1 localhost\r\n# comment \xE4\xB8\xAD\r\n::1 localhost\r\n";
        std::fs::write(&p, original).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        hosts_add(&p).unwrap();
        let added = std::fs::read(&p).unwrap();
        assert!(added.starts_with(original));
        assert!(added.ends_with(b"# nhi-bridge\r\n"), "CRLF kept: {added:?}");
        hosts_remove(&p).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), original);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        // Nothing of ours: the file is not even rewritten.
        let before = std::fs::metadata(&p).unwrap().modified().unwrap();
        hosts_remove(&p).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), before);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }

    #[test]
    #[cfg(windows)]
    fn no_nss_databases_are_managed_on_windows() {
        // A `certutil` on Windows is Windows' own tool; Chrome and Edge read the Windows store.
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".pki/nssdb")).unwrap();
        assert!(nss_dbs(home.path()).is_empty());
    }

    #[test]
    fn firefox_on_windows_reads_the_os_roots_by_version_and_by_pref() {
        let home = tempfile::tempdir().unwrap();
        assert!(firefox_reads_os_roots(home.path()).is_empty());
        let root = home.path().join(WINDOWS_FIREFOX_PROFILES);
        let profile = |name: &str, version: Option<&str>, prefs: &str, user: Option<&str>| {
            let p = root.join(name);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("prefs.js"), prefs).unwrap();
            if let Some(v) = version {
                std::fs::write(
                    p.join("compatibility.ini"),
                    format!("[Compatibility]\r\nLastVersion={v}_20231116134553/20231116134553\r\n"),
                )
                .unwrap();
            }
            if let Some(u) = user {
                std::fs::write(p.join("user.js"), u).unwrap();
            }
        };
        let off = "user_pref(\"security.enterprise_roots.enabled\", false);\n";
        let on = "user_pref(\"security.enterprise_roots.enabled\", true);\n";
        profile("a.current", Some("133.0"), "", None);
        profile("b.old", Some("115.9.1"), "", None);
        profile("c.old-but-on", Some("115.9.1"), on, None);
        profile("d.turned-off", Some("133.0"), off, None);
        profile("e.user-js-wins", Some("133.0"), off, Some(on));
        profile("f.no-version", None, "", None);
        assert_eq!(
            firefox_reads_os_roots(home.path()),
            vec![
                ("Firefox a.current".to_owned(), true),
                ("Firefox b.old".to_owned(), false),
                ("Firefox c.old-but-on".to_owned(), true),
                ("Firefox d.turned-off".to_owned(), false),
                ("Firefox e.user-js-wins".to_owned(), true),
                ("Firefox f.no-version".to_owned(), true),
            ]
        );
    }

    #[test]
    #[cfg(not(windows))]
    fn firefox_profiles_are_found() {
        let home = tempfile::tempdir().unwrap();
        let prof = home.path().join(".mozilla/firefox/abcd.default-release");
        std::fs::create_dir_all(&prof).unwrap();
        std::fs::write(prof.join("cert9.db"), b"").unwrap();
        std::fs::create_dir_all(home.path().join(".mozilla/firefox/no-db")).unwrap();
        let dbs = nss_dbs(home.path());
        assert_eq!(dbs.len(), 2);
        assert_eq!(dbs[1].label, "Firefox abcd.default-release");
        assert!(dbs[1].firefox && !dbs[0].firefox);
    }
}
