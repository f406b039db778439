//! The Windows certificate store: the current user's `Root` store holds each user's own
//! nhi-bridge CA (the component and its CA are per user, as on Linux), which is what Chrome and
//! Edge trust, and Firefox too when it reads the Windows store. Through the `schannel` crate —
//! never by running a program called `certutil`, which on Windows is not NSS's tool.
//!
//! Which certificates are ours is decided by [`is_ours`], plain logic that runs (and is tested)
//! on every platform; only the store calls are Windows-only.

use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509};

use super::ca::CA_COMMON_NAME;

/// The store our CA goes into: `CurrentUser\Root` (no administrator rights; Windows asks the user
/// once to confirm a new root).
pub const STORE: &str = "Root";

fn entry(name: &X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid)
        .next()
        .and_then(|e| String::from_utf8(e.data().as_slice().to_vec()).ok())
}

/// Whether the DER certificate `der` is an nhi-bridge CA (any installation's): self-issued with
/// our organisation and common name. Nothing else in a store is ever touched.
pub fn is_ours(der: &[u8]) -> bool {
    let Ok(cert) = X509::from_der(der) else {
        return false;
    };
    let subject = cert.subject_name();
    entry(subject, Nid::ORGANIZATIONNAME).as_deref() == Some("nhi-bridge")
        && entry(subject, Nid::COMMONNAME).as_deref() == Some(CA_COMMON_NAME)
        && cert.issued(&cert) == openssl::x509::X509VerifyResult::OK
}

/// Whether the DER certificate `der` is the CA that issued `leaf` (its key signed it).
pub fn issued(der: &[u8], leaf: &X509) -> bool {
    X509::from_der(der).is_ok_and(|ca| {
        ca.issued(leaf) == openssl::x509::X509VerifyResult::OK
            && ca
                .public_key()
                .is_ok_and(|k| leaf.verify(&k).unwrap_or(false))
    })
}

#[cfg(windows)]
pub use imp::{holds, install, remove, trusts};

#[cfg(windows)]
mod imp {
    use schannel::cert_context::CertContext;
    use schannel::cert_store::{CertAdd, CertStore};

    use super::{is_ours, issued, STORE};
    use crate::tls::trust::TrustError;
    use openssl::x509::X509;

    fn store_error(e: std::io::Error) -> TrustError {
        TrustError::Io {
            path: format!(r"Cert:\CurrentUser\{STORE}").into(),
            source: e,
        }
    }

    /// Puts `ca` into `CurrentUser\Root`, replacing any other nhi-bridge CA there.
    pub fn install(ca: &X509) -> Result<(), TrustError> {
        let der = ca
            .to_der()
            .map_err(|e| store_error(std::io::Error::other(e)))?;
        delete_where(|d| is_ours(d) && d != der.as_slice())?;
        let mut store = CertStore::open_current_user(STORE).map_err(store_error)?;
        let cert = CertContext::new(&der).map_err(store_error)?;
        store
            .add_cert(&cert, CertAdd::ReplaceExisting)
            .map(drop)
            .map_err(store_error)
    }

    /// Removes every nhi-bridge CA from `CurrentUser\Root`.
    pub fn remove() -> Result<(), TrustError> {
        delete_where(is_ours)
    }

    /// Deletes the certificates of `CurrentUser\Root` whose DER `doomed` picks. Deleting frees
    /// the context an enumeration stands on, so each deletion finds its certificate in a fresh
    /// enumeration (a root store holds a few dozen certificates).
    fn delete_where(doomed: impl Fn(&[u8]) -> bool) -> Result<(), TrustError> {
        let store = CertStore::open_current_user(STORE).map_err(store_error)?;
        let targets: Vec<Vec<u8>> = store
            .certs()
            .map(|c| c.to_der().to_vec())
            .filter(|d| doomed(d))
            .collect();
        for der in targets {
            if let Some(cert) = store.certs().find(|c| c.to_der() == der.as_slice()) {
                cert.delete().map_err(store_error)?;
            }
        }
        // Say so if a certificate is still there rather than report a removal that did not
        // happen.
        if store.certs().any(|c| doomed(c.to_der())) {
            return Err(store_error(std::io::Error::other(
                "the certificate is still in the store after deleting it",
            )));
        }
        Ok(())
    }

    /// Whether the user's Root store holds exactly `ca`.
    pub fn holds(ca: &X509) -> bool {
        let Ok(der) = ca.to_der() else {
            return false;
        };
        CertStore::open_current_user(STORE)
            .is_ok_and(|s| s.certs().any(|c| c.to_der() == der.as_slice()))
    }

    /// Whether the user's or the machine's Root store holds the CA that issued `leaf`.
    pub fn trusts(leaf: &X509) -> bool {
        [
            CertStore::open_current_user(STORE),
            CertStore::open_local_machine(STORE),
        ]
        .into_iter()
        .flatten()
        .any(|s| s.certs().any(|c| issued(c.to_der(), leaf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_self_issued_ca_counts_as_ours() {
        let dir = tempfile::tempdir().unwrap();
        let paths = crate::tls::Paths::new(dir.path());
        let (m, _) = crate::tls::ensure(&paths).unwrap();
        let ca = m.ca.to_der().unwrap();
        assert!(is_ours(&ca));
        assert!(issued(&ca, &m.leaf));
        // The leaf is not a CA of ours, and another installation's CA did not issue our leaf.
        assert!(!is_ours(&m.leaf.to_der().unwrap()));
        let other = tempfile::tempdir().unwrap();
        let (m2, _) = crate::tls::ensure(&crate::tls::Paths::new(other.path())).unwrap();
        let ca2 = m2.ca.to_der().unwrap();
        assert!(is_ours(&ca2));
        assert!(!issued(&ca2, &m.leaf));
        assert!(!is_ours(b"not a certificate"));
    }
}
