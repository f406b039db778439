//! EnCrypt and SecureGetBasicWithParam (protocol/legacy-nhi.md §5): the two encodings the NHI
//! back end decrypts. Both depend on the date, which the back end takes in Taiwan (UTC+8, no
//! daylight saving since 1979); the daemon uses the same zone by default whatever the machine's
//! own zone, so a PC set to another zone near midnight still produces what the back end expects.

use chrono::{Datelike, FixedOffset, TimeZone, Utc};
use openssl::hash::{hash, MessageDigest};

use crate::apdu::hex;
use crate::error::ErrorCode;
use crate::sam::wire;

/// Taiwan's offset from UTC.
pub const TAIPEI_UTC_OFFSET_MINUTES: i32 = 8 * 60;

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ymd {
    /// The year (Gregorian).
    pub year: i32,
    /// The month, 1–12.
    pub month: u32,
    /// The day of the month.
    pub day: u32,
}

impl Ymd {
    /// The date at `when` (Unix seconds) at the given offset from UTC.
    pub fn at(unix_secs: i64, utc_offset_minutes: i32) -> Option<Ymd> {
        let zone = FixedOffset::east_opt(utc_offset_minutes.checked_mul(60)?)?;
        let date = zone.timestamp_opt(unix_secs, 0).single()?.date_naive();
        Some(Ymd {
            year: date.year(),
            month: date.month(),
            day: date.day(),
        })
    }

    /// Today at the given offset from UTC (Taiwan when the offset is out of range).
    pub fn today(utc_offset_minutes: i32) -> Ymd {
        let now = Utc::now().timestamp();
        Ymd::at(now, utc_offset_minutes)
            .or_else(|| Ymd::at(now, TAIPEI_UTC_OFFSET_MINUTES))
            .unwrap_or(Ymd {
                year: 1970,
                month: 1,
                day: 1,
            })
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
    fn dates_at_an_offset() {
        let ymd = |year, month, day| Some(Ymd { year, month, day });
        assert_eq!(Ymd::at(0, 0), ymd(1970, 1, 1));
        assert_eq!(Ymd::at(11_016 * 86_400, 0), ymd(2000, 2, 29));
        assert_eq!(Ymd::at(-1, 0), ymd(1969, 12, 31));
        // 2026-12-31 16:30 UTC is already 2027-01-01 in Taipei.
        let new_year_eve = 20_818 * 86_400 + 16 * 3600 + 30 * 60;
        assert_eq!(Ymd::at(new_year_eve, 0), ymd(2026, 12, 31));
        assert_eq!(
            Ymd::at(new_year_eve, TAIPEI_UTC_OFFSET_MINUTES),
            ymd(2027, 1, 1)
        );
        assert_eq!(Ymd::at(0, 100_000), None);
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
