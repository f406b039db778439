//! The card holder's basic profile (the 57 bytes of `00 CA 11`) and its typed fields.
//!
//! Every field here is personal data. Types print masked in `Debug`, never implement
//! `Display` for the full value, and wipe their memory on drop; the one way out in clear
//! text is an explicit accessor (`as_str`, `text`), used only where the user asked for the data.

use std::fmt;

use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of the basic profile record.
pub const PROFILE_LEN: usize = 57;

/// Why a profile record could not be used.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum ProfileError {
    /// The record is not 57 bytes long.
    #[error("profile record is {0} bytes, expected 57")]
    WrongLength(usize),
    /// The card number is not 12 digits.
    #[error("card number is not 12 ASCII digits")]
    CardNumber,
    /// The name is not Big5 text.
    #[error("holder name is empty")]
    Name,
    /// The ID number has the wrong shape.
    #[error("ID number is not 10 ASCII letters/digits starting with a letter")]
    IdNumber,
    /// The birth date is no real date.
    #[error("birth date is not a valid ROC date")]
    BirthDate,
    /// The sex byte is neither `M` nor `F`.
    #[error("sex is neither M nor F")]
    Sex,
    /// The issue date is no real date.
    #[error("issue date is not a valid ROC date")]
    IssueDate,
}

/// Reasons a ROC date text is refused.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RocDateError {
    /// Not 7 digits.
    #[error("ROC date must be 7 ASCII digits (yyyMMdd)")]
    Format,
    /// Year 000.
    #[error("ROC year 000 does not exist")]
    Year,
    /// No such month.
    #[error("month out of range")]
    Month,
    /// No such day in that month.
    #[error("day out of range for the month")]
    Day,
}

/// A calendar date written in the Republic of China (民國) calendar as `yyyMMdd`.
/// Gregorian year = ROC year + 1911.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Zeroize)]
pub struct RocDate {
    roc_year: u16,
    month: u8,
    day: u8,
}

impl RocDate {
    /// A date from its ROC year, month and day (checked against the calendar).
    pub fn new(roc_year: u16, month: u8, day: u8) -> Result<RocDate, RocDateError> {
        if roc_year == 0 || roc_year > 999 {
            return Err(RocDateError::Year);
        }
        if !(1..=12).contains(&month) {
            return Err(RocDateError::Month);
        }
        let year = i32::from(roc_year) + 1911;
        if chrono::NaiveDate::from_ymd_opt(year, month.into(), day.into()).is_none() {
            return Err(RocDateError::Day);
        }
        Ok(RocDate {
            roc_year,
            month,
            day,
        })
    }

    /// Parses ROC `yyyMMdd`.
    pub fn parse(text: &[u8]) -> Result<RocDate, RocDateError> {
        if text.len() != 7 || !text.iter().all(u8::is_ascii_digit) {
            return Err(RocDateError::Format);
        }
        let num = |r: std::ops::Range<usize>| {
            text[r]
                .iter()
                .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
        };
        // Month and day are two digits, so they fit a u8.
        RocDate::new(num(0..3), num(3..5) as u8, num(5..7) as u8)
    }

    /// The ROC (民國) year.
    pub fn roc_year(&self) -> u16 {
        self.roc_year
    }
    /// The Gregorian year (ROC + 1911).
    pub fn gregorian_year(&self) -> u32 {
        self.roc_year as u32 + 1911
    }
    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// `yyyMMdd`, as on the card and in the legacy protocol.
    pub fn roc_text(&self) -> String {
        format!("{:03}{:02}{:02}", self.roc_year, self.month, self.day)
    }

    /// ISO 8601 `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            self.gregorian_year(),
            self.month,
            self.day
        )
    }
}

impl fmt::Debug for RocDate {
    // Dates here are birth dates as often as not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RocDate(<redacted>)")
    }
}

/// The 12-digit NHI card number (卡號).
#[derive(Clone, PartialEq, Eq, Hash, Zeroize, ZeroizeOnDrop)]
pub struct CardNumber(String);

impl CardNumber {
    /// Twelve ASCII digits, or nothing.
    pub fn parse(bytes: &[u8]) -> Option<CardNumber> {
        (bytes.len() == 12 && bytes.iter().all(u8::is_ascii_digit))
            .then(|| CardNumber(bytes.iter().map(|&b| b as char).collect()))
    }

    /// The card number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Only the last four digits, for places (self-check, support) that must not show the rest.
    pub fn masked(&self) -> String {
        format!("********{}", &self.0[self.0.len().saturating_sub(4)..])
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

/// The national ID or resident permit number (身分證號 / 居留證號), 10 characters.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct IdNumber(String);

impl IdNumber {
    /// Ten characters of an ID number's shape, or nothing.
    pub fn parse(bytes: &[u8]) -> Option<IdNumber> {
        let ok = bytes.len() == 10
            && bytes[0].is_ascii_uppercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        ok.then(|| IdNumber(bytes.iter().map(|&b| b as char).collect()))
    }

    /// The ID number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdNumber(<redacted>)")
    }
}

/// The holder's name: decoded text plus the card's Big5 bytes (NUL padding removed), which the
/// legacy SecureGetBasicWithParam needs unchanged.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct HolderName {
    text: String,
    big5: Vec<u8>,
}

impl HolderName {
    /// Decodes the 20-byte Big5 field: cut at the first NUL, trailing (full- or half-width)
    /// space padding dropped. Characters Big5 cannot map — the card may carry rare name
    /// characters from a private-use area — become U+FFFD rather than failing the read.
    pub fn from_big5(field: &[u8]) -> Option<HolderName> {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        let mut big5 = &field[..end];
        // Half-width spaces and the Big5 full-width space A1 40, in any mix.
        while let Some(rest) = big5
            .strip_suffix(b" ")
            .or_else(|| big5.strip_suffix(&[0xA1, 0x40]))
        {
            big5 = rest;
        }
        if big5.is_empty() {
            return None;
        }
        let (text, _had_errors) = encoding_rs::BIG5.decode_without_bom_handling(big5);
        Some(HolderName {
            text: text.into_owned(),
            big5: big5.to_vec(),
        })
    }

    /// The name in Unicode (rare characters outside Big5 as U+FFFD).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The name as the card holds it, in Big5.
    pub fn big5(&self) -> &[u8] {
        &self.big5
    }
}

impl fmt::Debug for HolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HolderName(<redacted>)")
    }
}

/// The holder's sex as the card records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// `M`.
    Male,
    /// `F`.
    Female,
}

impl Sex {
    /// `M` or `F`.
    pub fn as_char(self) -> char {
        match self {
            Sex::Male => 'M',
            Sex::Female => 'F',
        }
    }
}

/// The basic profile of an NHI card.
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    /// 卡號: the card's number.
    pub card_no: CardNumber,
    /// 姓名: the holder's name.
    pub name: HolderName,
    /// 身分證號: the holder's ID number.
    pub id_no: IdNumber,
    /// 出生日期: the holder's birth date.
    pub birth_date: RocDate,
    /// 性別: the holder's sex.
    pub sex: Sex,
    /// 發卡日期: the date the card was issued.
    pub issue_date: RocDate,
}

impl Profile {
    /// Parses the 57-byte record: card_no[12] name[20] id_no[10] birth[7] sex[1] issue[7].
    pub fn parse(bytes: &[u8]) -> Result<Profile, ProfileError> {
        if bytes.len() != PROFILE_LEN {
            return Err(ProfileError::WrongLength(bytes.len()));
        }
        Ok(Profile {
            card_no: CardNumber::parse(&bytes[0..12]).ok_or(ProfileError::CardNumber)?,
            name: HolderName::from_big5(&bytes[12..32]).ok_or(ProfileError::Name)?,
            id_no: IdNumber::parse(&bytes[32..42]).ok_or(ProfileError::IdNumber)?,
            birth_date: RocDate::parse(&bytes[42..49]).map_err(|_| ProfileError::BirthDate)?,
            sex: match bytes[49] {
                b'M' => Sex::Male,
                b'F' => Sex::Female,
                _ => return Err(ProfileError::Sex),
            },
            issue_date: RocDate::parse(&bytes[50..57]).map_err(|_| ProfileError::IssueDate)?,
        })
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Profile(card {}, <redacted>)", self.card_no.masked())
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        self.birth_date.zeroize();
    }
}

/// The 8 bytes of `00 CA 24` ("HC card data"). Byte 0 is the last field of the legacy
/// GetBasic (named `card_termination` by the HTTP variant); the rest is not interpreted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CardData(String);

impl CardData {
    /// The record's length.
    pub const LEN: usize = 8;

    /// The 8 characters of `CA 24`, or nothing.
    pub fn parse(bytes: &[u8]) -> Option<CardData> {
        (bytes.len() == Self::LEN && bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' '))
            .then(|| CardData(bytes.iter().map(|&b| b as char).collect()))
    }

    /// The card data as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The single character GetBasic reports.
    pub fn flag(&self) -> char {
        self.0.chars().next().unwrap_or(' ')
    }
}

/// The 12 bytes of `00 CA 00` (card ID), sent as-is to the cloud SAM.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct CardId([u8; 12]);

impl CardId {
    /// The 12 bytes of `CA 00`, or nothing.
    pub fn parse(bytes: &[u8]) -> Option<CardId> {
        bytes.try_into().ok().map(CardId)
    }

    /// The card ID as the SAM wants it.
    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }
}

impl fmt::Debug for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardId(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(
        card_no: &str,
        name_big5: &[u8],
        id: &str,
        birth: &str,
        sex: u8,
        issue: &str,
    ) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(card_no.as_bytes());
        let mut name = name_big5.to_vec();
        name.resize(20, 0);
        r.extend_from_slice(&name);
        r.extend_from_slice(id.as_bytes());
        r.extend_from_slice(birth.as_bytes());
        r.push(sex);
        r.extend_from_slice(issue.as_bytes());
        r
    }

    fn big5(s: &str) -> Vec<u8> {
        let (b, _, bad) = encoding_rs::BIG5.encode(s);
        assert!(!bad);
        b.into_owned()
    }

    #[test]
    fn parses_a_profile() {
        let rec = record(
            "000012345678",
            &big5("王小明"),
            "A123456789",
            "0700315",
            b'M',
            "1100101",
        );
        let p = Profile::parse(&rec).unwrap();
        assert_eq!(p.card_no.as_str(), "000012345678");
        assert_eq!(p.name.text(), "王小明");
        assert_eq!(p.name.big5(), big5("王小明").as_slice());
        assert_eq!(p.id_no.as_str(), "A123456789");
        assert_eq!(p.birth_date.iso(), "1981-03-15");
        assert_eq!(p.birth_date.roc_text(), "0700315");
        assert_eq!(p.sex, Sex::Male);
        assert_eq!(p.issue_date.iso(), "2021-01-01");
    }

    #[test]
    fn name_padding_is_trimmed() {
        let mut field = big5("陳怡君");
        field.extend_from_slice(b"  ");
        field.extend_from_slice(&[0xA1, 0x40]);
        let rec = record(
            "000012345678",
            &field,
            "B223456789",
            "0890229",
            b'F',
            "1130101",
        );
        let p = Profile::parse(&rec).unwrap();
        assert_eq!(p.name.text(), "陳怡君");
        assert_eq!(p.birth_date.iso(), "2000-02-29");

        // A full 20-byte name (10 characters, no NUL) is kept whole.
        let ten = big5("一二三四五六七八九十");
        assert_eq!(ten.len(), 20);
        let rec = record(
            "000012345678",
            &ten,
            "B223456789",
            "0890229",
            b'F',
            "1130101",
        );
        assert_eq!(
            Profile::parse(&rec).unwrap().name.text(),
            "一二三四五六七八九十"
        );
    }

    #[test]
    fn unmappable_big5_becomes_replacement_not_failure() {
        // 0x8140 lies in Big5's user-defined area, where rare name characters live: no mapping.
        let rec = record(
            "000012345678",
            &[0xA4, 0xFD, 0x81, 0x40],
            "A123456789",
            "0700315",
            b'M',
            "1100101",
        );
        let p = Profile::parse(&rec).unwrap();
        assert!(p.name.text().starts_with("王\u{FFFD}"), "{}", p.name.text());
        assert_eq!(p.name.big5(), &[0xA4, 0xFD, 0x81, 0x40]);
    }

    #[test]
    fn each_bad_field_has_its_error() {
        let ok = || {
            record(
                "000012345678",
                &big5("王小明"),
                "A123456789",
                "0700315",
                b'M',
                "1100101",
            )
        };
        assert_eq!(
            Profile::parse(&ok()[..56]),
            Err(ProfileError::WrongLength(56))
        );
        let mut long = ok();
        long.push(0);
        assert_eq!(Profile::parse(&long), Err(ProfileError::WrongLength(58)));
        assert_eq!(Profile::parse(&[]), Err(ProfileError::WrongLength(0)));

        let cases: Vec<(usize, &[u8], ProfileError)> = vec![
            (0, b"X", ProfileError::CardNumber),
            (12, &[0; 20], ProfileError::Name),
            (12, b"                    ", ProfileError::Name),
            (32, b"a", ProfileError::IdNumber),
            (32, b"1", ProfileError::IdNumber),
            (41, b"?", ProfileError::IdNumber),
            (42, b"0701315", ProfileError::BirthDate),
            (42, b"0000101", ProfileError::BirthDate),
            (42, b"07003-1", ProfileError::BirthDate),
            (49, b"X", ProfileError::Sex),
            (50, b"1120229", ProfileError::IssueDate),
        ];
        for (at, bytes, err) in cases {
            let mut rec = ok();
            rec[at..at + bytes.len()].copy_from_slice(bytes);
            assert_eq!(Profile::parse(&rec), Err(err), "patch at {at}");
        }
    }

    #[test]
    fn roc_dates_are_validated() {
        assert_eq!(RocDate::parse(b"0700315").unwrap().iso(), "1981-03-15");
        assert_eq!(RocDate::parse(b"0010101").unwrap().gregorian_year(), 1912);
        // 2000 (ROC 89) is a leap year, 1900 would not be, 2100 (ROC 189) is not.
        assert!(RocDate::parse(b"0890229").is_ok());
        assert_eq!(RocDate::parse(b"1890229"), Err(RocDateError::Day));
        assert_eq!(RocDate::parse(b"1120229"), Err(RocDateError::Day));
        assert!(RocDate::parse(b"1130229").is_ok());
        assert_eq!(RocDate::parse(b"0701301"), Err(RocDateError::Month));
        assert_eq!(RocDate::parse(b"0700001"), Err(RocDateError::Month));
        assert_eq!(RocDate::parse(b"0700230"), Err(RocDateError::Day));
        assert_eq!(RocDate::parse(b"0700431"), Err(RocDateError::Day));
        assert_eq!(RocDate::parse(b"0700100"), Err(RocDateError::Day));
        assert_eq!(RocDate::parse(b"0000101"), Err(RocDateError::Year));
        assert_eq!(RocDate::parse(b"070031"), Err(RocDateError::Format));
        assert_eq!(RocDate::parse(b"07003150"), Err(RocDateError::Format));
        assert_eq!(RocDate::parse(b"+700315"), Err(RocDateError::Format));
        assert_eq!(RocDate::parse(b"0700315").unwrap().roc_text(), "0700315");
    }

    #[test]
    fn debug_output_is_redacted() {
        let rec = record(
            "000012345678",
            &big5("王小明"),
            "A123456789",
            "0700315",
            b'M',
            "1100101",
        );
        let p = Profile::parse(&rec).unwrap();
        let shown = format!(
            "{p:?} {:?} {:?} {:?} {:?}",
            p.card_no, p.name, p.id_no, p.birth_date
        );
        for secret in ["王小明", "A123456789", "000012345678", "0700315", "1981"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("5678"));
    }

    #[test]
    fn card_data_and_card_id() {
        assert_eq!(CardData::parse(b"N0000000").unwrap().flag(), 'N');
        assert!(CardData::parse(b"N000000").is_none());
        assert!(CardData::parse(b"N000000\x01").is_none());
        assert!(CardId::parse(b"000012345678").is_some());
        assert!(CardId::parse(b"00001234567").is_none());
    }

    #[test]
    fn random_records_never_panic() {
        // xorshift64*: deterministic, so a failure is reproducible.
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let template = record(
            "000012345678",
            &big5("王小明"),
            "A123456789",
            "0700315",
            b'M',
            "1100101",
        );
        let mut accepted = 0;
        for i in 0..100_000 {
            let len = if i % 2 == 0 {
                PROFILE_LEN
            } else {
                (next() % 80) as usize
            };
            let mut rec: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if i % 4 == 0 && len == PROFILE_LEN {
                // Mutate a valid record in a few places so the field checks, not just the
                // length check, see the bytes.
                rec = template.clone();
                for _ in 0..(next() % 4) {
                    let at = (next() % PROFILE_LEN as u64) as usize;
                    rec[at] = next() as u8;
                }
            }
            if let Ok(p) = Profile::parse(&rec) {
                accepted += 1;
                assert_eq!(p.card_no.as_str().len(), 12);
                assert_eq!(p.birth_date.roc_text().len(), 7);
            }
        }
        assert!(
            accepted > 0,
            "mutated valid records should sometimes still parse"
        );
    }
}
