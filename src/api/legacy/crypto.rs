//! EnCrypt and SecureGetBasicWithParam (protocol/legacy-nhi.md §5): the two encodings the NHI
//! back end decrypts. Both depend on the date, which the back end takes in Taiwan (UTC+8, no
//! daylight saving since 1979); the daemon uses the same zone by default whatever the machine's
//! own zone, so a PC set to another zone near midnight still produces what the back end expects.

use std::time::{SystemTime, UNIX_EPOCH};

use openssl::hash::{hash, MessageDigest};

use crate::apdu::hex;
use crate::error::ErrorCode;
use crate::sam::wire;

/// Taiwan's offset from UTC.
pub const TAIPEI_UTC_OFFSET_MINUTES: i32 = 8 * 60;

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ymd {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Ymd {
    /// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    pub fn from_days(days: i64) -> Ymd {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Ymd { year, month, day }
    }

    /// Today at the given offset from UTC.
    pub fn today(utc_offset_minutes: i32) -> Ymd {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Ymd::from_days((secs + i64::from(utc_offset_minutes) * 60).div_euclid(86_400))
    }
}

/// A random byte in 1..=98, the range of the official component's `rand() % 99` (never 0).
fn filler() -> u8 {
    let mut b = [0u8; 1];
    loop {
        if openssl::rand::rand_bytes(&mut b).is_err() {
            return 1;
        }
        if (1..=98 * 2).contains(&b[0]) {
            return b[0] % 98 + 1;
        }
    }
}

/// "AssignIV": 7-byte chunks (the last zero-filled), each followed by one filler byte.
pub fn assign_iv(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(7) * 8);
    for chunk in data.chunks(7) {
        let mut block = [0u8; 8];
        block[..chunk.len()].copy_from_slice(chunk);
        block[7] = filler();
        out.extend_from_slice(&block);
    }
    out
}

/// EnCrypt?Pwd=: the password under a key from the card number and the date, then under L_KEY1.
pub fn encrypt_password(card_no: &str, password: &str, date: Ymd) -> Result<String, ErrorCode> {
    let pwd = password.trim_end();
    if !(6..=12).contains(&pwd.len()) {
        return Err(ErrorCode::PasswordLength);
    }
    let d = format!("{:04}{:02}{:02}", date.year, date.month, date.day);
    let digest = hash(
        MessageDigest::sha1(),
        &[card_no.as_bytes(), d.as_bytes()].concat(),
    )
    .map_err(|_| ErrorCode::Internal)?;
    let mut key = [0u8; 24];
    key[..20].copy_from_slice(&digest);
    key[20..].copy_from_slice(&[0x27, 0x06, 0x58, 0x66]);
    let c1 = wire::seal(&key, pwd.as_bytes()).ok_or(ErrorCode::Internal)?;
    let c2 = wire::encrypt_raw(&wire::l_key1(), &assign_iv(&c1)).ok_or(ErrorCode::Internal)?;
    Ok(hex(&c2))
}

/// SecureGetBasicWithParam: the GetBasic CSV in Big5, AssignIV'd, under DES with key `MMDDYYYY`.
pub fn secure_basic(csv_big5: &[u8], date: Ymd) -> Result<String, ErrorCode> {
    let k = format!("{:02}{:02}{:04}", date.month, date.day, date.year);
    // 3DES with K1 = K2 = K3 is single DES, without needing OpenSSL's legacy provider.
    let key: [u8; 24] = k
        .repeat(3)
        .as_bytes()
        .try_into()
        .map_err(|_| ErrorCode::Internal)?;
    let c = wire::encrypt_raw(&key, &assign_iv(csv_big5)).ok_or(ErrorCode::Internal)?;
    Ok(hex(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(
            Ymd::from_days(0),
            Ymd {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            Ymd::from_days(11_016),
            Ymd {
                year: 2000,
                month: 2,
                day: 29
            }
        );
        assert_eq!(
            Ymd::from_days(20_819),
            Ymd {
                year: 2027,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            Ymd::from_days(-1),
            Ymd {
                year: 1969,
                month: 12,
                day: 31
            }
        );
    }

    #[test]
    fn assign_iv_lengths_and_filler() {
        assert_eq!(assign_iv(&[1; 8]).len(), 16);
        assert_eq!(assign_iv(&[1; 16]).len(), 24);
        let out = assign_iv(&[9; 10]);
        assert_eq!(&out[..7], &[9; 7]);
        assert!((1..=98).contains(&out[7]));
        assert_eq!(&out[8..11], &[9; 3]);
        assert_eq!(&out[11..15], &[0; 4]);
    }

    #[test]
    fn password_length_is_checked_after_trimming() {
        let d = Ymd {
            year: 2026,
            month: 11,
            day: 27,
        };
        assert_eq!(
            encrypt_password("000012345678", "12345", d),
            Err(ErrorCode::PasswordLength)
        );
        assert_eq!(
            encrypt_password("000012345678", "12345  ", d),
            Err(ErrorCode::PasswordLength)
        );
        assert_eq!(
            encrypt_password("000012345678", "1234567890123", d),
            Err(ErrorCode::PasswordLength)
        );
        assert_eq!(
            encrypt_password("000012345678", "1234567", d)
                .unwrap()
                .len(),
            32
        );
        assert_eq!(
            encrypt_password("000012345678", "12345678", d)
                .unwrap()
                .len(),
            48
        );
        assert_eq!(
            encrypt_password("000012345678", "123456789012", d)
                .unwrap()
                .len(),
            48
        );
    }
}
