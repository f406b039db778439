//! The cloud SAM's server side (protocol/legacy-nhi.md §4.3–4.6), written from the notes: the
//! hello under the fixed key with a per-session RSA-1024 key, the plain-text `77` check, the
//! `01`→`02`→`03`→`04` exchange (verifying the card's MUTUAL AUTHENTICATE answer with the shared
//! test secret), and `90` (whitelist). Faults make each failure of §6 happen on request.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::Signer;
use openssl::symm::{Cipher, Crypter, Mode};

use crate::card::CardSim;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamFault {
    None,
    /// Accept, read the hello, never answer.
    Stall,
    /// Answer the hello with random bytes.
    Garbage,
    /// The `77` check answers `05…`.
    CheckFail,
    /// `02` of 43 bytes instead of 44.
    BadLength,
    /// `02` with opcode `12`.
    BadOpcode,
    /// Close the connection after `01` arrives.
    CloseMid,
    /// `04` with `NG`.
    NotOk,
    /// After the hello, one byte every 200 ms, never a whole record, until the client hangs up
    /// (then logs `hung-up`).
    Trickle,
}

impl SamFault {
    pub fn parse(s: &str) -> Option<SamFault> {
        Some(match s {
            "none" => SamFault::None,
            "stall" => SamFault::Stall,
            "garbage" => SamFault::Garbage,
            "check-fail" => SamFault::CheckFail,
            "bad-length" => SamFault::BadLength,
            "bad-opcode" => SamFault::BadOpcode,
            "close-mid" => SamFault::CloseMid,
            "not-ok" => SamFault::NotOk,
            "trickle" => SamFault::Trickle,
            _ => return None,
        })
    }
}

pub struct SamSim {
    pub secret: Vec<u8>,
    pub signing: PKey<Private>,
    pub fault: SamFault,
    pub whitelist: String,
    /// Time the SAM takes before each reply (models the network to the NHI cloud).
    pub delay: std::time::Duration,
}

const END: &[u8] = b"<E>";

fn hello_key() -> [u8; 24] {
    // "12345678123456780" × 10, picked by K_BOX (§4.2), then 8 zero bytes.
    let b = b"12345678123456780".repeat(10);
    let k_box = [
        0x56, 0x28, 0x34, 0x2E, 0x78, 0x05, 0x0F, 0x5A, 0x36, 0x44, 0x42, 0x19, 0x26, 0x95, 0x26,
        0x4D,
    ];
    let mut key = [0u8; 24];
    for (k, i) in key.iter_mut().zip(k_box) {
        *k = b[i];
    }
    key
}

fn des3(mode: Mode, key: &[u8], data: &[u8]) -> io::Result<Vec<u8>> {
    let bad = |e: openssl::error::ErrorStack| io::Error::other(e.to_string());
    let mut c = Crypter::new(Cipher::des_ede3(), mode, key, None).map_err(bad)?;
    c.pad(false);
    let mut out = vec![0u8; data.len() + 8];
    let mut n = c.update(data, &mut out).map_err(bad)?;
    n += c.finalize(&mut out[n..]).map_err(bad)?;
    out.truncate(n);
    Ok(out)
}

fn seal(key: &[u8], plain: &[u8]) -> io::Result<Vec<u8>> {
    let p = 8 - plain.len() % 8;
    let mut padded = plain.to_vec();
    padded.resize(plain.len() + p, p as u8);
    des3(Mode::Encrypt, key, &padded)
}

fn open(key: &[u8], record: &[u8]) -> io::Result<Vec<u8>> {
    if record.is_empty() || !record.len().is_multiple_of(8) {
        return Err(io::Error::other("record is not whole blocks"));
    }
    let mut plain = des3(Mode::Decrypt, key, record)?;
    let p = *plain.last().unwrap_or(&0) as usize;
    if !(1..=8).contains(&p) || plain[plain.len() - p..].iter().any(|&b| b as usize != p) {
        return Err(io::Error::other("bad padding"));
    }
    plain.truncate(plain.len() - p);
    Ok(plain)
}

/// A connection that keeps bytes read past the end of one message: the client sends its nonce
/// message and the next message back to back, so one read can hold both.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    delay: std::time::Duration,
}

impl Conn {
    fn fill(&mut self) -> io::Result<()> {
        let mut b = [0u8; 1024];
        let n = self.s.read(&mut b)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&b[..n]);
        Ok(())
    }

    /// Exactly `n` bytes, then `<E>`.
    fn recv_exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n + END.len() {
            self.fill()?;
        }
        if &self.buf[n..n + END.len()] != END {
            return Err(io::Error::other("message not followed by <E>"));
        }
        let msg = self.buf[..n].to_vec();
        self.buf.drain(..n + END.len());
        Ok(msg)
    }

    /// Up to the first `<E>` that ends a plain `77` or a whole number of cipher blocks.
    fn recv(&mut self) -> io::Result<Vec<u8>> {
        loop {
            let end = (0..self.buf.len().saturating_sub(END.len() - 1))
                .filter(|&i| &self.buf[i..i + END.len()] == END)
                .find(|&i| (i > 0 && i.is_multiple_of(8)) || &self.buf[..i] == b"77");
            if let Some(i) = end {
                let msg = self.buf[..i].to_vec();
                self.buf.drain(..i + END.len());
                return Ok(msg);
            }
            self.fill()?;
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        send(&mut self.s, bytes)
    }
}

fn send(s: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    s.write_all(&[bytes, END].concat())
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    let _ = openssl::rand::rand_bytes(&mut b);
    b
}

impl SamSim {
    /// The H_Sign signature: RSA PKCS#1 v1.5 / SHA-256 over card ID ‖ the 20-byte argument, as
    /// 256 uppercase hex characters.
    pub fn sign(&self, card_id: &[u8], argument: &[u8]) -> io::Result<String> {
        let mut s = Signer::new(MessageDigest::sha256(), &self.signing)
            .map_err(|e| io::Error::other(e.to_string()))?;
        s.update(card_id)
            .and_then(|_| s.update(argument))
            .map_err(|e| io::Error::other(e.to_string()))?;
        let sig = s
            .sign_to_vec()
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(sig.iter().map(|b| format!("{b:02X}")).collect())
    }

    /// Serves one connection; `note` records what happened (for the tests' log).
    pub fn serve(&self, s: TcpStream, note: &mut dyn FnMut(&str)) -> io::Result<()> {
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut s = Conn {
            s,
            buf: Vec::new(),
            delay: self.delay,
        };
        note("connect");
        let hk = hello_key();
        let hello = open(&hk, &s.recv()?)?;
        let client_pem = hello
            .strip_prefix(b"Hello ")
            .ok_or_else(|| io::Error::other("no Hello"))?;
        let client =
            Rsa::public_key_from_pem(client_pem).map_err(|e| io::Error::other(e.to_string()))?;
        match self.fault {
            SamFault::Stall => {
                note("stall");
                while s.fill().is_ok() {}
                return Ok(());
            }
            SamFault::Garbage => {
                note("garbage");
                return s.send(&random::<64>());
            }
            SamFault::Trickle => {
                note("trickle");
                loop {
                    std::thread::sleep(Duration::from_millis(200));
                    if s.s.write_all(b"x").is_err() {
                        note("hung-up");
                        return Ok(());
                    }
                }
            }
            _ => {}
        }
        let server = Rsa::generate(1024).map_err(|e| io::Error::other(e.to_string()))?;
        let pem = server
            .public_key_to_pem()
            .map_err(|e| io::Error::other(e.to_string()))?;
        assert_eq!(pem.len(), 272, "RSA-1024 SPKI PEM is 272 bytes");
        let sn = random::<16>();
        let mut enc = vec![0u8; 128];
        client
            .public_encrypt(&sn, &mut enc, Padding::PKCS1)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let reply = [b"Hello ".as_slice(), &pem, b" 128 ", &enc].concat();
        s.send(&seal(&hk, &reply)?)?;

        let nonce = s.recv_exact(5 + 128)?;
        let enc_cn = nonce
            .strip_prefix(b" 128 ")
            .ok_or_else(|| io::Error::other("nonce message without ' 128 '"))?;
        let mut cn = vec![0u8; 128];
        let n = server
            .private_decrypt(enc_cn, &mut cn, Padding::PKCS1)
            .map_err(|e| io::Error::other(e.to_string()))?;
        if n != 16 {
            return Err(io::Error::other("client nonce is not 16 bytes"));
        }
        let key = [&cn[..16], &sn[..8]].concat();

        let msg = s.recv()?;
        if msg == b"77" {
            note("77");
            let answer: &[u8] = if self.fault == SamFault::CheckFail {
                b"05<rc=2>NG"
            } else {
                b"04<rc=2>OK"
            };
            return s.send(answer);
        }
        let plain = open(&key, &msg)?;
        if plain.starts_with(b"90") {
            note("90");
            let list = self.whitelist.as_bytes();
            let body = [format!("91<ls={}>", list.len()).as_bytes(), list, END].concat();
            return s.send(&seal(&key, &body)?);
        }
        // 01<id=12>CID<rn=8>RN<E>
        if plain.len() != 38 || !plain.starts_with(b"01<id=12>") || &plain[21..27] != b"<rn=8>" {
            note("bad-01");
            return Err(io::Error::other("malformed 01"));
        }
        let card_id = plain[9..21].to_vec();
        note("01");
        if self.fault == SamFault::CloseMid {
            note("close-mid");
            return Ok(());
        }
        let au = random::<32>();
        let reply = match self.fault {
            SamFault::BadLength => [b"02<au=31>".as_slice(), &au[..31], END].concat(),
            SamFault::BadOpcode => [b"12<au=32>".as_slice(), &au, END].concat(),
            _ => [b"02<au=32>".as_slice(), &au, END].concat(),
        };
        s.send(&seal(&key, &reply)?)?;
        if matches!(self.fault, SamFault::BadLength | SamFault::BadOpcode) {
            return Ok(());
        }

        let plain = open(&key, &s.recv()?)?;
        // 03<au=16>R<se=20>S<E>
        if plain.len() != 55 || !plain.starts_with(b"03<au=16>") || &plain[25..32] != b"<se=20>" {
            note("bad-03");
            return Err(io::Error::other("malformed 03"));
        }
        let answer = &plain[9..25];
        let argument = &plain[32..52];
        let genuine = answer == CardSim::auth_answer(&self.secret, &au).as_slice();
        note(if genuine { "03 card-ok" } else { "03 card-bad" });
        let reply = if genuine && self.fault != SamFault::NotOk {
            let sig = self.sign(&card_id, argument)?;
            [b"04<rc=2>OK<si=256>".as_slice(), sig.as_bytes(), END].concat()
        } else {
            [b"04<rc=2>NG".as_slice(), END].concat()
        };
        s.send(&seal(&key, &reply)?)
    }
}
