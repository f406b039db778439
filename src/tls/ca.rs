//! Issuing the per-install CA and its one leaf certificate.
//!
//! The CA may sign only for the daemon's own names (name constraints; path length 0), and its
//! private key lives only inside [`issue`]: it signs the leaf and is dropped (OpenSSL clears EC
//! private keys on free). Nothing that could sign another certificate survives the call.

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Extension, X509Name, X509};

/// The names the leaf serves and the CA is constrained to.
pub const DNS_NAMES: [&str; 2] = ["localhost", "iccert.nhi.gov.tw"];
/// 127.0.0.1, a name of the leaf.
pub const IP_V4: [u8; 4] = [127, 0, 0, 1];
/// ::1, a name of the leaf.
pub const IP_V6: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Leaf validity: under the 825 days browsers accept for locally trusted CAs.
pub const LEAF_DAYS: u32 = 820;

/// The CA's subject common name.
pub const CA_COMMON_NAME: &str = "nhi-bridge local CA";

/// What an installation keeps: the CA certificate (to trust), the leaf and its key (to serve).
pub struct Issued {
    /// The new CA certificate.
    pub ca: X509,
    /// The leaf it issued.
    pub leaf: X509,
    /// The leaf's key (the CA's key is gone).
    pub leaf_key: PKey<Private>,
}

fn random_serial() -> Result<Asn1Integer, ErrorStack> {
    let mut bn = BigNum::new()?;
    // 128 random bits with the top bit set: a positive 16-byte serial.
    bn.rand(128, MsbOption::ONE, false)?;
    bn.to_asn1_integer()
}

fn new_key() -> Result<PKey<Private>, ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

fn name(cn: &str) -> Result<X509Name, ErrorStack> {
    let mut n = X509Name::builder()?;
    n.append_entry_by_nid(Nid::ORGANIZATIONNAME, "nhi-bridge")?;
    n.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    Ok(n.build())
}

/// DER of NameConstraints { permittedSubtrees [0] } for our DNS names and the two loopback hosts.
fn name_constraints_der() -> Vec<u8> {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = body.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len <= 0xFF {
            out.extend_from_slice(&[0x81, len as u8]);
        } else {
            out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(body);
        out
    }
    let mut subtrees = Vec::new();
    for dns in DNS_NAMES {
        // GeneralSubtree ::= SEQUENCE { base GeneralName } ; dNSName is [2] IMPLICIT IA5String.
        subtrees.extend(tlv(0x30, &tlv(0x82, dns.as_bytes())));
    }
    // iPAddress [7] IMPLICIT OCTET STRING: address followed by mask.
    let v4 = [IP_V4.as_slice(), &[0xFF; 4]].concat();
    subtrees.extend(tlv(0x30, &tlv(0x87, &v4)));
    let v6 = [IP_V6.as_slice(), &[0xFF; 16]].concat();
    subtrees.extend(tlv(0x30, &tlv(0x87, &v6)));
    tlv(0x30, &tlv(0xA0, &subtrees))
}

/// Makes a new CA and leaf. `leaf_days` is the leaf's validity (tests use short ones).
pub fn issue(leaf_days: u32) -> Result<Issued, ErrorStack> {
    let ca_key = new_key()?;
    let ca = {
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        b.set_serial_number(&*random_serial()?)?;
        let subject = name(CA_COMMON_NAME)?;
        b.set_subject_name(&subject)?;
        b.set_issuer_name(&subject)?;
        b.set_pubkey(&ca_key)?;
        b.set_not_before(&*Asn1Time::days_from_now(0)?)?;
        b.set_not_after(&*Asn1Time::days_from_now(leaf_days + 1)?)?;
        b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        b.append_extension(X509Extension::new_from_der(
            &*Asn1Object::from_str("2.5.29.30")?,
            true,
            &*Asn1OctetString::new_from_bytes(&name_constraints_der())?,
        )?)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(&ca_key, MessageDigest::sha256())?;
        b.build()
    };

    let leaf_key = new_key()?;
    let leaf = {
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        b.set_serial_number(&*random_serial()?)?;
        b.set_subject_name(&*name("localhost")?)?;
        b.set_issuer_name(ca.subject_name())?;
        b.set_pubkey(&leaf_key)?;
        b.set_not_before(&*Asn1Time::days_from_now(0)?)?;
        b.set_not_after(&*Asn1Time::days_from_now(leaf_days)?)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_agreement()
                .build()?,
        )?;
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        let mut san = SubjectAlternativeName::new();
        for dns in DNS_NAMES {
            san.dns(dns);
        }
        san.ip("127.0.0.1").ip("::1");
        let san = san.build(&b.x509v3_context(Some(&ca), None))?;
        b.append_extension(san)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&ca), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&ca), None))?;
        b.append_extension(aki)?;
        b.sign(&ca_key, MessageDigest::sha256())?;
        b.build()
    };
    drop(ca_key);
    Ok(Issued { ca, leaf, leaf_key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::stack::Stack;
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::verify::X509CheckFlags;
    use openssl::x509::X509StoreContext;

    fn verify(ca: &X509, leaf: &X509) -> bool {
        let mut store = X509StoreBuilder::new().unwrap();
        store.add_cert(ca.clone()).unwrap();
        let store = store.build();
        let mut ctx = X509StoreContext::new().unwrap();
        ctx.init(&store, leaf, &Stack::new().unwrap(), |c| c.verify_cert())
            .unwrap()
    }

    #[test]
    fn leaf_verifies_under_ca_with_our_names() {
        let i = issue(LEAF_DAYS).unwrap();
        assert!(verify(&i.ca, &i.leaf));
        assert!(i.leaf.public_key().unwrap().public_eq(&i.leaf_key));
        let sans: Vec<String> = i
            .leaf
            .subject_alt_names()
            .unwrap()
            .iter()
            .map(|n| match (n.dnsname(), n.ipaddress()) {
                (Some(d), _) => d.to_string(),
                (_, Some(ip)) => format!("{ip:?}"),
                _ => String::new(),
            })
            .collect();
        assert_eq!(sans.len(), 4, "{sans:?}");
        assert!(
            sans.contains(&"localhost".to_string())
                && sans.contains(&"iccert.nhi.gov.tw".to_string())
        );
        let mut flags = X509CheckFlags::empty();
        flags.insert(X509CheckFlags::NO_PARTIAL_WILDCARDS);
        let _ = flags;
        // Two issues never share a CA or serial.
        let j = issue(LEAF_DAYS).unwrap();
        assert_ne!(
            i.ca.serial_number().to_bn().unwrap(),
            j.ca.serial_number().to_bn().unwrap()
        );
        assert!(!verify(&j.ca, &i.leaf));
    }

    #[test]
    fn name_constraints_stop_the_ca_signing_other_names() {
        // Build a rogue leaf signed by a CA with the same constraints, for another name; since the
        // real CA key is gone, the test makes its own constrained CA the same way.
        let der = name_constraints_der();
        let key = new_key().unwrap();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&random_serial().unwrap()).unwrap();
        let subject = name("test CA").unwrap();
        b.set_subject_name(&subject).unwrap();
        b.set_issuer_name(&subject).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
            .unwrap();
        b.append_extension(
            BasicConstraints::new()
                .critical()
                .ca()
                .pathlen(0)
                .build()
                .unwrap(),
        )
        .unwrap();
        b.append_extension(KeyUsage::new().critical().key_cert_sign().build().unwrap())
            .unwrap();
        b.append_extension(
            X509Extension::new_from_der(
                &Asn1Object::from_str("2.5.29.30").unwrap(),
                true,
                &Asn1OctetString::new_from_bytes(&der).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let ca = b.build();

        let leaf_for = |dns: &str| {
            let lk = new_key().unwrap();
            let mut b = X509Builder::new().unwrap();
            b.set_version(2).unwrap();
            b.set_serial_number(&random_serial().unwrap()).unwrap();
            b.set_subject_name(&name(dns).unwrap()).unwrap();
            b.set_issuer_name(ca.subject_name()).unwrap();
            b.set_pubkey(&lk).unwrap();
            b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
                .unwrap();
            b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
                .unwrap();
            let san = SubjectAlternativeName::new()
                .dns(dns)
                .build(&b.x509v3_context(Some(&ca), None))
                .unwrap();
            b.append_extension(san).unwrap();
            b.sign(&key, MessageDigest::sha256()).unwrap();
            b.build()
        };
        assert!(verify(&ca, &leaf_for("localhost")));
        assert!(
            !verify(&ca, &leaf_for("www.google.com")),
            "name constraints not enforced"
        );
        assert!(!verify(&ca, &leaf_for("evil.nhi.gov.tw")));
    }
}
