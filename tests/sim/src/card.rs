//! The NHI card as seen over APDUs: HC application SELECT, GET DATA (`CA 11`/`CA 24`/`CA 00`),
//! GET CHALLENGE, MUTUAL AUTHENTICATE, and GET RESPONSE in T=0 mode. Reads need a prior SELECT,
//! as on a real card, and every power-on or reset forgets it.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::profile::SimProfile;

pub const HC_AID: [u8; 16] = [
    0xD1, 0x58, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00,
];

/// Injected misbehaviour that lives in the card itself.
#[derive(Debug, Clone, Default)]
pub struct CardFaults {
    /// Answer data through `61xx` + GET RESPONSE, and say T=0 in the ATR.
    pub t0: bool,
    /// Force this status word (no data) for an instruction byte.
    pub forced_sw: HashMap<u8, u16>,
    /// Answer every APDU with random bytes that are never a valid answer.
    pub garbage: bool,
}

pub struct CardSim {
    record: Vec<u8>,
    card_data: Vec<u8>,
    card_no: Vec<u8>,
    secret: Vec<u8>,
    faults: CardFaults,
    selected: bool,
    pending: Vec<u8>,
}

const SW_OK: [u8; 2] = [0x90, 0x00];

fn sw(v: u16) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

impl CardSim {
    pub fn new(profile: &SimProfile, faults: CardFaults) -> Result<CardSim, String> {
        Ok(CardSim {
            record: profile.record()?,
            card_data: profile.card_data.as_bytes().to_vec(),
            card_no: profile.card_no.as_bytes().to_vec(),
            secret: profile.secret()?,
            faults,
            selected: false,
            pending: Vec::new(),
        })
    }

    /// ATR: T=1 only by default (TD1 = 01, with TCK), T=0 only with `t0`; historical bytes "NHISIM".
    pub fn atr(&self) -> Vec<u8> {
        let hist = b"NHISIM";
        if self.faults.t0 {
            let mut atr = vec![0x3B, hist.len() as u8];
            atr.extend_from_slice(hist);
            atr
        } else {
            let mut atr = vec![0x3B, 0x80 | hist.len() as u8, 0x01];
            atr.extend_from_slice(hist);
            let tck = atr[1..].iter().fold(0u8, |a, b| a ^ b);
            atr.push(tck);
            atr
        }
    }

    /// Power-on or reset: the card forgets the selected application.
    pub fn reset(&mut self) {
        self.selected = false;
        self.pending.clear();
    }

    /// The MUTUAL AUTHENTICATE answer: HMAC-SHA256(auth_secret, the 32 SAM bytes), first 16.
    pub fn auth_answer(secret: &[u8], sam_data: &[u8]) -> Vec<u8> {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
            Ok(m) => m,
            Err(_) => return vec![0; 16],
        };
        mac.update(sam_data);
        mac.finalize().into_bytes()[..16].to_vec()
    }

    fn respond(&mut self, data: Vec<u8>, le: Option<usize>) -> Vec<u8> {
        if let Some(le) = le {
            if le != 256 && le < data.len() {
                return sw(0x6C00 | data.len() as u16);
            }
        }
        if self.faults.t0 && !data.is_empty() {
            let n = data.len();
            self.pending = data;
            return sw(0x6100 | (n & 0xFF) as u16);
        }
        let mut out = data;
        out.extend_from_slice(&SW_OK);
        out
    }

    pub fn apdu(&mut self, cmd: &[u8]) -> Vec<u8> {
        if self.faults.garbage {
            return garbage();
        }
        if cmd.len() < 4 {
            return sw(0x6700);
        }
        let (cla, ins, p1, p2) = (cmd[0], cmd[1], cmd[2], cmd[3]);
        if let Some(forced) = self.faults.forced_sw.get(&ins) {
            if ins == 0xA4 {
                self.selected = false;
            }
            return sw(*forced);
        }
        if cla != 0x00 {
            return sw(0x6E00);
        }
        let body = &cmd[4..];
        let (data, le): (&[u8], Option<usize>) = match body.len() {
            0 => (&[], None),
            1 => (&[], Some(if body[0] == 0 { 256 } else { body[0] as usize })),
            _ => {
                let lc = body[0] as usize;
                match body.len().checked_sub(1 + lc) {
                    Some(0) if lc > 0 => (&body[1..], None),
                    Some(1) if lc > 0 => {
                        let le = body[1 + lc];
                        (
                            &body[1..1 + lc],
                            Some(if le == 0 { 256 } else { le as usize }),
                        )
                    }
                    _ => return sw(0x6700),
                }
            }
        };
        match ins {
            0xA4 => {
                self.selected = p1 == 0x04 && p2 == 0x00 && data == HC_AID;
                if self.selected {
                    SW_OK.to_vec()
                } else {
                    sw(0x6A82)
                }
            }
            0xC0 if self.faults.t0 => {
                if self.pending.is_empty() {
                    return sw(0x6985);
                }
                let n = le.unwrap_or(256).min(self.pending.len());
                let mut out: Vec<u8> = self.pending.drain(..n).collect();
                if self.pending.is_empty() {
                    out.extend_from_slice(&SW_OK);
                } else {
                    out.extend_from_slice(&sw(0x6100 | (self.pending.len() & 0xFF) as u16));
                }
                out
            }
            _ if !self.selected => sw(0x6985),
            0xCA => {
                if data != [0, 0] || p2 != 0 {
                    return sw(0x6A86);
                }
                let answer = match p1 {
                    0x11 => self.record.clone(),
                    0x24 => self.card_data.clone(),
                    0x00 => self.card_no.clone(),
                    _ => return sw(0x6A88),
                };
                self.respond(answer, le)
            }
            0x84 => {
                if le != Some(8) || !data.is_empty() {
                    return sw(0x6700);
                }
                let mut challenge = [0u8; 8];
                if getrandom::fill(&mut challenge).is_err() {
                    return sw(0x6F00);
                }
                self.respond(challenge.to_vec(), le)
            }
            0x82 => {
                if p1 != 0x11 || p2 != 0x12 {
                    return sw(0x6A86);
                }
                if data.len() != 32 {
                    return sw(0x6700);
                }
                let answer = CardSim::auth_answer(&self.secret, data);
                self.respond(answer, le)
            }
            _ => sw(0x6D00),
        }
    }
}

/// Random bytes that no reader could take for a valid answer: either shorter than a status word,
/// or data followed by an error status (which ISO 7816-4 never pairs with data).
fn garbage() -> Vec<u8> {
    let mut seed = [0u8; 1];
    let _ = getrandom::fill(&mut seed);
    let len = match seed[0] % 8 {
        0 => 1,
        _ => 3 + (seed[0] as usize % 40),
    };
    let mut out = vec![0u8; len];
    let _ = getrandom::fill(&mut out);
    if len >= 2 {
        // Never `90 00` or `61 xx`, which would make the bytes before it look like data.
        if matches!(out[len - 2], 0x90 | 0x61 | 0x6C) {
            out[len - 2] = 0x6F;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SimProfile {
        SimProfile::from_toml(crate::profile::SAMPLE).unwrap()
    }

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const SELECT: &str = "00A4040010 D1580000010000000000000000001100";

    #[test]
    fn reads_need_select_and_reset_forgets_it() {
        let mut c = CardSim::new(&sample(), CardFaults::default()).unwrap();
        assert_eq!(c.apdu(&h("00CA110002000000")), h("6985"));
        assert_eq!(c.apdu(&h(SELECT)), h("9000"));
        let r = c.apdu(&h("00CA110002000000"));
        assert_eq!(r.len(), 59);
        assert_eq!(&r[57..], &SW_OK);
        assert_eq!(&r[..12], b"000012345678");
        c.reset();
        assert_eq!(c.apdu(&h("00CA240002000000")), h("6985"));
    }

    #[test]
    fn t0_mode_chains() {
        let faults = CardFaults {
            t0: true,
            ..Default::default()
        };
        let mut c = CardSim::new(&sample(), faults).unwrap();
        assert_eq!(c.atr()[1] & 0x80, 0, "T=0 ATR has no TD1");
        assert_eq!(c.apdu(&h(SELECT)), h("9000"));
        assert_eq!(c.apdu(&h("00CA1100020000")), h("6139"));
        let r = c.apdu(&h("00C0000039"));
        assert_eq!(r.len(), 59);
        assert_eq!(&r[57..], &SW_OK);
    }

    #[test]
    fn t1_atr_checksum() {
        let c = CardSim::new(&sample(), CardFaults::default()).unwrap();
        let atr = c.atr();
        assert_eq!(atr[1..].iter().fold(0u8, |a, b| a ^ b), 0);
    }

    #[test]
    fn forced_status_and_garbage() {
        let mut forced = HashMap::new();
        forced.insert(0xA4, 0x6A82);
        let mut c = CardSim::new(
            &sample(),
            CardFaults {
                forced_sw: forced,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.apdu(&h(SELECT)), h("6A82"));
        let mut g = CardSim::new(
            &sample(),
            CardFaults {
                garbage: true,
                ..Default::default()
            },
        )
        .unwrap();
        for _ in 0..200 {
            let r = g.apdu(&h(SELECT));
            assert!(r.len() != 2, "garbage never looks like a bare status word");
            if r.len() > 2 {
                assert!(!matches!(r[r.len() - 2], 0x90 | 0x61 | 0x6C));
            }
        }
    }

    #[test]
    fn mutual_auth_is_keyed() {
        let mut c = CardSim::new(&sample(), CardFaults::default()).unwrap();
        c.apdu(&h(SELECT));
        let mut cmd = h("0082111220");
        cmd.extend_from_slice(&[7; 32]);
        cmd.push(0x10);
        let r = c.apdu(&cmd);
        assert_eq!(r.len(), 18);
        assert_eq!(
            &r[..16],
            CardSim::auth_answer(&sample().secret().unwrap(), &[7; 32]).as_slice()
        );
    }
}
