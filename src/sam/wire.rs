//! The cloud SAM's wire format (protocol/legacy-nhi.md §4.1–4.2): 3DES-EDE3-ECB records with
//! PKCS#5 padding, each followed by the three bytes `<E>`, and the fixed hello keys.

use std::io::{self, Read, Write};

use openssl::symm::{Cipher, Crypter, Mode};

/// Every message on the wire ends with these bytes.
pub const TERMINATOR: &[u8] = b"<E>";

/// Longest record accepted from the server; real ones are under 1 KiB.
pub const MAX_RECORD: usize = 64 * 1024;

const K_BOX: [u8; 16] = [
    0x56, 0x28, 0x34, 0x2E, 0x78, 0x05, 0x0F, 0x5A, 0x36, 0x44, 0x42, 0x19, 0x26, 0x95, 0x26, 0x4D,
];
const K_BOX1_TAIL: [u8; 8] = [0x2D, 0x41, 0x4D, 0x1F, 0x41, 0x62, 0x15, 0x2F];

fn b_key() -> Vec<u8> {
    b"12345678123456780".repeat(10)
}

/// L_KEY: 16 bytes picked from bKEY by K_BOX (= ASCII `2725268641815652`).
pub fn l_key() -> [u8; 16] {
    let b = b_key();
    K_BOX.map(|i| b[i as usize])
}

/// L_KEY1: 24 bytes picked by K_BOX then K_BOX1's tail (= ASCII `272526864181565247277656`).
pub fn l_key1() -> [u8; 24] {
    let b = b_key();
    let mut out = [0u8; 24];
    for (o, i) in out.iter_mut().zip(K_BOX.iter().chain(K_BOX1_TAIL.iter())) {
        *o = b[*i as usize];
    }
    out
}

/// The hello records' key: L_KEY followed by eight zero bytes.
pub fn hello_key() -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(&l_key());
    k
}

fn ecb(mode: Mode, key: &[u8; 24], data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let cipher = Cipher::des_ede3();
    let mut c = Crypter::new(cipher, mode, key, None)?;
    c.pad(false);
    let mut out = vec![0u8; data.len() + cipher.block_size()];
    let mut n = c.update(data, &mut out)?;
    n += c.finalize(&mut out[n..])?;
    out.truncate(n);
    Ok(out)
}

/// 3DES-EDE3-ECB without padding (`data` must be a multiple of 8 bytes).
pub fn encrypt_raw(key: &[u8; 24], data: &[u8]) -> Option<Vec<u8>> {
    data.len()
        .is_multiple_of(8)
        .then(|| ecb(Mode::Encrypt, key, data).ok())?
}

/// 3DES-EDE3-ECB decryption without padding (`data` must be whole blocks).
pub fn decrypt_raw(key: &[u8; 24], data: &[u8]) -> Option<Vec<u8>> {
    data.len()
        .is_multiple_of(8)
        .then(|| ecb(Mode::Decrypt, key, data).ok())?
}

/// PKCS#5: 1 to 8 bytes of value n.
pub fn pad(data: &[u8]) -> Vec<u8> {
    let n = 8 - data.len() % 8;
    let mut out = data.to_vec();
    out.extend(std::iter::repeat_n(n as u8, n));
    out
}

/// Removes PKCS#5 padding. Like the official component, only the last byte is checked.
pub fn unpad(data: &[u8]) -> Option<&[u8]> {
    let n = *data.last()? as usize;
    (1..=8)
        .contains(&n)
        .then(|| data.get(..data.len().checked_sub(n)?))?
}

/// An encrypted record (without the trailing `<E>`).
pub fn seal(key: &[u8; 24], plain: &[u8]) -> Option<Vec<u8>> {
    encrypt_raw(key, &pad(plain))
}

/// Decrypts a record (without the trailing `<E>`).
pub fn open(key: &[u8; 24], record: &[u8]) -> Option<Vec<u8>> {
    let plain = decrypt_raw(key, record)?;
    unpad(&plain).map(|p| p.to_vec())
}

/// Writes `bytes` followed by `<E>` in one write.
pub fn send(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let mut msg = Vec::with_capacity(bytes.len() + 3);
    msg.extend_from_slice(bytes);
    msg.extend_from_slice(TERMINATOR);
    w.write_all(&msg)?;
    w.flush()
}

/// Reads until the received bytes end with `<E>`; returns them without it.
pub fn receive(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let n = r.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.ends_with(TERMINATOR) {
            buf.truncate(buf.len() - TERMINATOR.len());
            return Ok(buf);
        }
        if buf.len() > MAX_RECORD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "record too long",
            ));
        }
    }
}

/// `<xx=N>` followed by the bytes.
pub fn tag(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = format!("<{name}={}>", value.len()).into_bytes();
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_documented_strings() {
        assert_eq!(&l_key(), b"2725268641815652");
        assert_eq!(&l_key1(), b"272526864181565247277656");
        assert_eq!(&hello_key()[16..], &[0u8; 8]);
    }

    #[test]
    fn records_round_trip_and_pad_one_to_eight() {
        let key = hello_key();
        for len in 0..40 {
            let plain: Vec<u8> = (0..len as u8).collect();
            let sealed = seal(&key, &plain).unwrap();
            assert_eq!(sealed.len(), (len / 8 + 1) * 8);
            assert_eq!(open(&key, &sealed).unwrap(), plain);
        }
        assert_eq!(unpad(&[1, 2, 3, 0]), None);
        assert_eq!(unpad(&[1, 2, 3, 9]), None);
        assert_eq!(unpad(&[]), None);
        assert!(open(&key, &[0u8; 7]).is_none());
    }

    #[test]
    fn known_3des_vector() {
        // NIST SP 800-67 style check: EDE3 with K1=K2=K3 equals single DES.
        // DES(K=0123456789ABCDEF, P=4E6F772069732074) = 3FA40E8A984D4815 (FIPS 81 example).
        let k1 = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
        let key: [u8; 24] = [k1, k1, k1].concat().try_into().unwrap();
        let c = encrypt_raw(&key, b"Now is t").unwrap();
        assert_eq!(c, [0x3F, 0xA4, 0x0E, 0x8A, 0x98, 0x4D, 0x48, 0x15]);
    }

    #[test]
    fn framing() {
        let mut out = Vec::new();
        send(&mut out, b"abc").unwrap();
        assert_eq!(out, b"abc<E>");
        let mut r = &b"xyz<E>"[..];
        assert_eq!(receive(&mut r).unwrap(), b"xyz");
        let mut r = &b"xyz"[..];
        assert!(receive(&mut r).is_err());
        assert_eq!(tag("id", b"12"), b"<id=2>12");
    }
}
