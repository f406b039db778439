//! TLS for the loopback listener: the per-install certificate files, their renewal, their status,
//! and the OpenSSL acceptor (TLS 1.2+, Mozilla "intermediate" ciphers).
//!
//! Files in `<data dir>/tls/`: `ca.pem` (CA certificate only), `leaf.pem` (leaf + CA chain),
//! `leaf.key` (mode 0600). No CA private key is ever written.

pub mod ca;
pub mod trust;
pub mod winstore;

use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
use openssl::x509::X509;
use thiserror::Error;

/// A leaf expiring within this many days is replaced at start-up.
pub const RENEW_WITHIN_DAYS: i32 = 30;

/// Why the certificate material could not be made, read or used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// OpenSSL refused an operation.
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// No usable certificate in this directory.
    #[error("no usable certificate in {0}")]
    Missing(PathBuf),
    /// A file exists but cannot be read for a reason a new certificate would not cure
    /// (permissions, a disk error): nothing is replaced.
    #[error("cannot read {path}: {source}; nothing was changed")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where the certificate files live.
pub struct Paths {
    /// `<data dir>/tls`.
    pub dir: PathBuf,
    /// The CA certificate (no key).
    pub ca: PathBuf,
    /// The leaf certificate and the CA, the chain served.
    pub leaf: PathBuf,
    /// The leaf's private key (0600).
    pub key: PathBuf,
}

impl Paths {
    /// The paths under a data directory.
    pub fn new(data_dir: &Path) -> Paths {
        let dir = data_dir.join("tls");
        Paths {
            ca: dir.join("ca.pem"),
            leaf: dir.join("leaf.pem"),
            key: dir.join("leaf.key"),
            dir,
        }
    }
}

/// The certificate material the daemon serves with.
pub struct Material {
    /// The CA certificate.
    pub ca: X509,
    /// The leaf certificate.
    pub leaf: X509,
    /// The leaf's private key.
    pub key: PKey<Private>,
}

/// Why the leaf is (re)issued at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// There was none.
    Missing,
    /// This file of the three was missing (someone deleted it); the others were there.
    Incomplete(&'static str),
    /// A file is corrupt, or the key, leaf and CA do not belong together.
    Unreadable,
    /// The leaf expires within 30 days.
    ExpiresSoon,
    /// `cert renew` asked for it.
    Requested,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::Missing => "no certificate yet",
            Reason::Incomplete(file) => {
                return write!(
                    f,
                    "{file} was missing (the other certificate files were there): a new pair replaces them all, and the browsers' trust is renewed for it"
                )
            }
            Reason::Unreadable => "the stored certificate or key is unreadable or does not match",
            Reason::ExpiresSoon => "the certificate expires within 30 days",
            Reason::Requested => "renewal was requested",
        })
    }
}

/// Why the stored material cannot be served.
enum LoadFailure {
    /// Missing, corrupt, mismatched or expiring: a new pair cures it.
    Reissue(Reason),
    /// Anything else: stop and say so, touching nothing.
    Stop(TlsError),
}

fn load(paths: &Paths) -> Result<Material, LoadFailure> {
    let read = |p: &Path| match fs::read(p) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(LoadFailure::Reissue(Reason::Missing))
        }
        Err(source) => Err(LoadFailure::Stop(TlsError::Read {
            path: p.to_path_buf(),
            source,
        })),
    };
    let corrupt = |_| LoadFailure::Reissue(Reason::Unreadable);
    let files = [
        (&paths.leaf, "leaf.pem"),
        (&paths.ca, "ca.pem"),
        (&paths.key, "leaf.key"),
    ];
    let missing: Vec<&'static str> = files
        .iter()
        .filter(|(p, _)| !p.exists())
        .map(|(_, name)| *name)
        .collect();
    match missing.as_slice() {
        [] => {}
        [_, _, _] => return Err(LoadFailure::Reissue(Reason::Missing)),
        [first, ..] => return Err(LoadFailure::Reissue(Reason::Incomplete(first))),
    }
    let (leaf_pem, ca_pem, key_pem) = (read(&paths.leaf)?, read(&paths.ca)?, read(&paths.key)?);
    let chain = X509::stack_from_pem(&leaf_pem).map_err(corrupt)?;
    let leaf = chain
        .first()
        .cloned()
        .ok_or(LoadFailure::Reissue(Reason::Unreadable))?;
    let ca = X509::from_pem(&ca_pem).map_err(corrupt)?;
    let key = PKey::private_key_from_pem(&key_pem).map_err(corrupt)?;
    let matches = leaf.public_key().is_ok_and(|p| p.public_eq(&key));
    let signed = ca
        .public_key()
        .is_ok_and(|p| leaf.verify(&p).unwrap_or(false));
    if !matches || !signed {
        return Err(LoadFailure::Reissue(Reason::Unreadable));
    }
    if days_left(&leaf).is_none_or(|d| d < RENEW_WITHIN_DAYS) {
        return Err(LoadFailure::Reissue(Reason::ExpiresSoon));
    }
    Ok(Material { ca, leaf, key })
}

/// Makes the key file its owner's alone.
fn restrict_key(paths: &Paths) -> Result<(), TlsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&paths.key, fs::Permissions::from_mode(0o600)).map_err(|source| {
            TlsError::Write {
                path: paths.key.clone(),
                source,
            }
        })?;
    }
    #[cfg(not(unix))]
    let _ = paths;
    Ok(())
}

/// Whole days until the certificate expires (negative when expired).
pub fn days_left(cert: &X509) -> Option<i32> {
    let now = Asn1Time::days_from_now(0).ok()?;
    now.diff(cert.not_after()).ok().map(|d| d.days)
}

/// Each file through its own unique temporary file, created 0600 (so a key is never readable on
/// the way) and renamed over the old one, so a crash never leaves half a certificate.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), TlsError> {
    let mode = if private { 0o600 } else { 0o644 };
    crate::atomic_file::replace(path, bytes, crate::atomic_file::Mode::Exact(mode)).map_err(
        |source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        },
    )
}

/// Whether the private key file can be read by anyone but its owner (always false where file
/// modes do not apply).
pub fn key_exposed(paths: &Paths) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(&paths.key).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = paths;
        false
    }
}

/// Issues a new CA + leaf, writes them, and returns what to serve. `leaf_days` is normally
/// [`ca::LEAF_DAYS`].
pub fn issue_and_store(paths: &Paths, leaf_days: u32) -> Result<Material, TlsError> {
    fs::create_dir_all(&paths.dir).map_err(|source| TlsError::Write {
        path: paths.dir.clone(),
        source,
    })?;
    let issued = ca::issue(leaf_days)?;
    let mut chain = issued.leaf.to_pem()?;
    chain.extend(issued.ca.to_pem()?);
    write_file(
        &paths.key,
        &issued.leaf_key.private_key_to_pem_pkcs8()?,
        true,
    )?;
    write_file(&paths.leaf, &chain, false)?;
    write_file(&paths.ca, &issued.ca.to_pem()?, false)?;
    Ok(Material {
        ca: issued.ca,
        leaf: issued.leaf,
        key: issued.leaf_key,
    })
}

/// Loads the stored material, or issues a new pair when it is missing, unreadable or expiring.
/// Returns the reason when it issued.
pub fn ensure(paths: &Paths) -> Result<(Material, Option<Reason>), TlsError> {
    match load(paths) {
        Ok(m) => {
            // A key others can read (restored from a backup, copied by hand) is made private
            // again before it is served, and that is said.
            if key_exposed(paths) {
                restrict_key(paths)?;
                log::warn!(
                    "the private key {} was readable by other users; it is now readable by its owner only (0600)",
                    paths.key.display()
                );
            }
            Ok((m, None))
        }
        Err(LoadFailure::Reissue(reason)) => {
            Ok((issue_and_store(paths, ca::LEAF_DAYS)?, Some(reason)))
        }
        Err(LoadFailure::Stop(e)) => Err(e),
    }
}

/// An acceptor for the loopback listener.
pub fn acceptor(m: &Material) -> Result<SslAcceptor, TlsError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_private_key(&m.key)?;
    b.set_certificate(&m.leaf)?;
    b.add_extra_chain_cert(m.ca.clone())?;
    b.check_private_key()?;
    // One recv per TLS record instead of two (the 5-byte header, then the body) plus the EAGAIN:
    // OpenSSL keeps what it read ahead, and tokio-openssl reads until OpenSSL wants more.
    b.set_read_ahead(true);
    Ok(b.build())
}

/// `cert status`: public facts only.
#[derive(Debug, serde::Serialize)]
pub struct Status {
    /// The TLS directory.
    pub dir: String,
    /// The leaf's subject.
    pub subject: String,
    /// The leaf's issuer (the CA).
    pub issuer: String,
    /// The leaf's names (`DNS:`/`IP:`).
    pub sans: Vec<String>,
    /// Valid from.
    pub not_before: String,
    /// Valid until.
    pub not_after: String,
    /// Days until it expires (negative when expired).
    pub days_left: Option<i32>,
    /// The leaf's SHA-256 fingerprint.
    pub leaf_sha256: String,
    /// The CA's SHA-256 fingerprint.
    pub ca_sha256: String,
    /// Must always be false: a CA private key anywhere in the directory.
    pub ca_key_present: bool,
}

fn fingerprint(cert: &X509) -> String {
    cert.digest(MessageDigest::sha256())
        .map(|d| {
            d.iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default()
}

fn name_text(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let val = String::from_utf8_lossy(e.data().as_slice());
            format!("{key}={val}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether any file in the TLS directory holds a private key that belongs to the CA.
fn ca_key_present(paths: &Paths, ca: &X509) -> bool {
    let Ok(ca_pub) = ca.public_key() else {
        return false;
    };
    let Ok(entries) = fs::read_dir(&paths.dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let Ok(bytes) = fs::read(e.path()) else {
            return false;
        };
        PKey::private_key_from_pem(&bytes).is_ok_and(|k| k.public_eq(&ca_pub))
    })
}

/// The certificate's public facts (no key is read but to look for a CA key).
pub fn status(paths: &Paths) -> Result<Status, TlsError> {
    let missing = || TlsError::Missing(paths.dir.clone());
    let chain = X509::stack_from_pem(&fs::read(&paths.leaf).map_err(|_| missing())?)?;
    let leaf = chain.first().cloned().ok_or_else(missing)?;
    let ca = X509::from_pem(&fs::read(&paths.ca).map_err(|_| missing())?)?;
    let sans = leaf
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| {
                    n.dnsname().map(|d| format!("DNS:{d}")).or_else(|| {
                        n.ipaddress().and_then(|ip| match ip.len() {
                            4 => <[u8; 4]>::try_from(ip)
                                .ok()
                                .map(|a| format!("IP:{}", std::net::Ipv4Addr::from(a))),
                            16 => <[u8; 16]>::try_from(ip)
                                .ok()
                                .map(|a| format!("IP:{}", std::net::Ipv6Addr::from(a))),
                            _ => None,
                        })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Status {
        dir: paths.dir.display().to_string(),
        subject: name_text(leaf.subject_name()),
        issuer: name_text(leaf.issuer_name()),
        sans,
        not_before: leaf.not_before().to_string(),
        not_after: leaf.not_after().to_string(),
        days_left: days_left(&leaf),
        leaf_sha256: fingerprint(&leaf),
        ca_sha256: fingerprint(&ca),
        ca_key_present: ca_key_present(paths, &ca),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_issues_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let (m1, why) = ensure(&paths).unwrap();
        assert_eq!(why, Some(Reason::Missing));
        let (m2, why) = ensure(&paths).unwrap();
        assert_eq!(why, None);
        assert_eq!(m1.leaf.to_der().unwrap(), m2.leaf.to_der().unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&paths.key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let s = status(&paths).unwrap();
        assert!(!s.ca_key_present);
        assert_eq!(s.sans.len(), 4, "{:?}", s.sans);
        assert!(s.days_left.unwrap() > 800);
        assert!(acceptor(&m2).is_ok());
    }

    #[test]
    fn near_expiry_and_corrupt_leaves_are_reissued() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let old = issue_and_store(&paths, 10).unwrap();
        let (new, why) = ensure(&paths).unwrap();
        assert_eq!(why, Some(Reason::ExpiresSoon));
        assert_ne!(old.ca.to_der().unwrap(), new.ca.to_der().unwrap());

        fs::write(&paths.leaf, b"-----BEGIN CERTIFICATE-----\ngarbage\n").unwrap();
        let (_, why) = ensure(&paths).unwrap();
        assert_eq!(why, Some(Reason::Unreadable));

        // A key that does not belong to the leaf is as bad as no key.
        let other = ca::issue(100).unwrap();
        fs::write(
            &paths.key,
            other.leaf_key.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap();
        let (_, why) = ensure(&paths).unwrap();
        assert_eq!(why, Some(Reason::Unreadable));
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_file_stops_without_touching_anything() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        issue_and_store(&paths, ca::LEAF_DAYS).unwrap();
        let before = fs::read(&paths.ca).unwrap();
        // A directory where the key should be: reading it fails with an error that is neither
        // "not found" nor bad content (as a permission or disk error would, even for root).
        fs::remove_file(&paths.key).unwrap();
        fs::create_dir(&paths.key).unwrap();
        assert!(matches!(ensure(&paths), Err(TlsError::Read { .. })));
        assert_eq!(
            fs::read(&paths.ca).unwrap(),
            before,
            "the CA was not replaced"
        );
        fs::remove_dir(&paths.key).unwrap();

        // A stale world-readable temporary file does not make the key world-readable.
        fs::write(dir.path().join("tls/leaf.tmp"), b"old").unwrap();
        fs::set_permissions(
            dir.path().join("tls/leaf.tmp"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let (_, why) = ensure(&paths).unwrap();
        assert_eq!(why, Some(Reason::Incomplete("leaf.key")));
        assert_eq!(
            fs::metadata(&paths.key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!key_exposed(&paths));
        fs::set_permissions(&paths.key, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(key_exposed(&paths));
        // Served again: the same pair, with the key made private.
        let (_, why) = ensure(&paths).unwrap();
        assert_eq!(why, None);
        assert!(!key_exposed(&paths));
    }

    #[test]
    fn a_deleted_ca_is_named_and_everything_is_reissued() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let old = issue_and_store(&paths, ca::LEAF_DAYS).unwrap();
        fs::remove_file(&paths.ca).unwrap();
        let (new, why) = ensure(&paths).unwrap();
        assert_eq!(why, Some(Reason::Incomplete("ca.pem")));
        let said = why.unwrap().to_string();
        assert!(
            said.contains("ca.pem") && said.contains("trust is renewed"),
            "{said}"
        );
        assert_ne!(old.leaf.to_der().unwrap(), new.leaf.to_der().unwrap());
    }

    #[test]
    fn no_file_holds_the_ca_key() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let m = issue_and_store(&paths, ca::LEAF_DAYS).unwrap();
        let ca_pub = m.ca.public_key().unwrap();
        for e in fs::read_dir(&paths.dir).unwrap() {
            let bytes = fs::read(e.unwrap().path()).unwrap();
            if let Ok(k) = PKey::private_key_from_pem(&bytes) {
                assert!(!k.public_eq(&ca_pub));
            }
        }
    }
}
