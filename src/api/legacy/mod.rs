//! Drop-in compatibility with the official component (protocol/legacy-nhi.md): the WebSocket
//! text protocol on `/echo` ([`ws`]) and the `/api/*` HTTP variant with its BMP status images
//! ([`http`]). Both run the same operations, here, through the card service, and report failures
//! with the legacy codes pages know.
//!
//! Where the official component is insecure we follow §8 instead: the origin allowlist with
//! whole-label matching, no card I/O for refused pages, random values from the OS CSPRNG.

pub mod bmp;
pub mod command;
pub mod crypto;
pub mod http;
pub mod ws;

use std::sync::Arc;

use crate::error::ErrorCode;
use crate::service::hsign::HSignArgument;
use crate::service::{CardReadout, ServiceError};

use super::AppState;
use command::PROTOCOL_VERSION;

/// What the legacy protocols need beyond the card service.
#[derive(Debug, Clone)]
pub struct LegacySettings {
    /// Offset from UTC of the date EnCrypt and SecureGetBasicWithParam use (Taiwan by default).
    pub date_utc_offset_minutes: i32,
}

impl Default for LegacySettings {
    fn default() -> LegacySettings {
        LegacySettings {
            date_utc_offset_minutes: crypto::TAIPEI_UTC_OFFSET_MINUTES,
        }
    }
}

/// A legacy failure: the bare code the page looks up.
pub type Code = &'static str;

/// GetBasic, EnCrypt, SecureGetBasicWithParam: card/reader trouble collapses into 8013 (§1.6).
fn basic_code(e: &ServiceError) -> Code {
    match e.code {
        ErrorCode::ProfileReadFailed | ErrorCode::CardInvalidResponse => "8011",
        ErrorCode::CardDataReadFailed => "8010",
        _ => "8013",
    }
}

/// Codes the NHI pages know: anything else they show as "A001, a component installation
/// problem", which misleads (a card pulled out is not an installation problem).
pub const PAGE_KNOWN: [Code; 26] = [
    "0000", "4061", "7001", "7002", "7003", "7004", "8001", "8002", "8003", "8004", "8005", "8006",
    "8007", "8008", "8010", "8011", "8013", "8201", "8202", "8302", "8303", "8304", "8305", "8306",
    "9001", "9002",
];

/// Codes the official component itself sends although the pages have no text for them: we send
/// them in the same cases (a refused page, a bad password length, an unknown command, the two
/// handshake failures), as the official component does.
pub const OFFICIAL_UNKNOWN_TO_PAGES: [Code; 5] = ["4041", "8009", "8300", "8301", "9999"];

/// The service error pages show for a failure of ours that has no legacy code (服務異常).
const SERVICE_ERROR: Code = "8201";

/// H_Sign keeps the 700x codes apart (§1.5, §6); our own codes become the nearest code pages
/// know (docs/legacy.md has the table). The precise code stays in the log and in v1.
fn hsign_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::PcscUnavailable => "7001",
        ErrorCode::NoReader => "7002",
        // A card pulled out mid-signature: "no card" is what the person needs to hear.
        ErrorCode::NoCard
        | ErrorCode::NotNhiCard
        | ErrorCode::ReaderNotFound
        | ErrorCode::CardRemoved => "7004",
        // The card or reader cannot be used: the page's 8013 text says to check both.
        ErrorCode::CardUnavailable
        | ErrorCode::CardInvalidResponse
        | ErrorCode::CardTimeout
        | ErrorCode::CardBusy
        | ErrorCode::CardUnresponsive
        | ErrorCode::ProfileReadFailed
        | ErrorCode::CardDataReadFailed => "8013",
        other if PAGE_KNOWN.contains(&other.code()) => other.code(),
        other if OFFICIAL_UNKNOWN_TO_PAGES.contains(&other.code()) => other.code(),
        _ => SERVICE_ERROR,
    }
}

/// `GetVersion`'s payload.
pub fn version() -> &'static str {
    PROTOCOL_VERSION
}

/// 16 digits from the OS CSPRNG.
pub fn random() -> Result<String, Code> {
    let digits: [u8; 16] = crate::sam::random_digits().map_err(|_| SERVICE_ERROR)?;
    Ok(digits.iter().map(|&d| d as char).collect())
}

/// The card read GetBasic needs: profile and the card-data flag.
async fn basic(state: &AppState) -> Result<Arc<CardReadout>, Code> {
    let readout = state.service.profile(None).await.map_err(|e| {
        log::info!("legacy card read: {e}");
        basic_code(&e)
    })?;
    if readout.card_data.is_none() {
        return Err("8010");
    }
    Ok(readout)
}

/// The GetBasic fields: card_no, id_no, name, birth (ROC), sex, card-data flag.
pub struct BasicFields<'a> {
    /// 卡號.
    pub card_no: &'a str,
    /// 身分證號.
    pub id_no: &'a str,
    /// 姓名, Unicode.
    pub name: &'a str,
    /// 姓名 as the card holds it (Big5).
    pub name_big5: &'a [u8],
    /// 出生日期, ROC `yyyMMdd`.
    pub birthday: String,
    /// `M` or `F`.
    pub sex: char,
    /// The first character of `CA 24` (`card_termination`).
    pub flag: char,
}

fn fields(r: &CardReadout) -> BasicFields<'_> {
    let p = &r.profile;
    BasicFields {
        card_no: p.card_no.as_str(),
        id_no: p.id_no.as_str(),
        name: p.name.text(),
        name_big5: p.name.big5(),
        birthday: p.birth_date.roc_text(),
        sex: p.sex.as_char(),
        flag: r.card_data.as_ref().map_or(' ', |d| d.flag()),
    }
}

/// GetBasic's payload: the six fields joined with commas, name in UTF-8.
pub async fn get_basic(state: &AppState) -> Result<String, Code> {
    let r = basic(state).await?;
    let f = fields(&r);
    Ok(format!(
        "{},{},{},{},{},{}",
        f.card_no, f.id_no, f.name, f.birthday, f.sex, f.flag
    ))
}

/// Reads the card and hands its GetBasic fields to `build` (for the HTTP variant's JSON).
pub async fn get_basic_fields<T>(
    state: &AppState,
    build: impl FnOnce(BasicFields<'_>) -> T,
) -> Result<T, Code> {
    let r = basic(state).await?;
    Ok(build(fields(&r)))
}

/// `H_Sign?Random=…`: the 256-character signature, or the legacy code.
pub async fn h_sign(state: &AppState, argument: &str) -> Result<String, Code> {
    let Some(arg) = HSignArgument::parse(argument) else {
        log::info!("H_Sign: the argument is not 20 printable characters (4000)");
        return Err(SERVICE_ERROR);
    };
    state.service.hsign(arg).await.map_err(|e| {
        log::info!("H_Sign: {e}");
        hsign_code(e.code)
    })
}

/// `EnCrypt?Pwd=…`: the encrypted password, or the legacy code.
pub async fn encrypt(state: &AppState, password: &str) -> Result<String, Code> {
    // The length is checked before the card is touched, as in the official component.
    let trimmed = password.trim_end();
    if !(6..=12).contains(&trimmed.len()) {
        return Err(ErrorCode::PasswordLength.code());
    }
    let r = state
        .service
        .profile(None)
        .await
        .map_err(|e| basic_code(&e))?;
    let date = crypto::Ymd::today(state.legacy.date_utc_offset_minutes);
    crypto::encrypt_password(r.profile.card_no.as_str(), trimmed, date).map_err(|c| c.code())
}

/// `SecureGetBasicWithParam`: the encrypted profile, or the legacy code.
pub async fn secure_basic(state: &AppState) -> Result<String, Code> {
    let r = basic(state).await?;
    let f = fields(&r);
    let mut csv = Vec::new();
    for (i, part) in [
        f.card_no.as_bytes(),
        f.id_no.as_bytes(),
        f.name_big5,
        f.birthday.as_bytes(),
        &[f.sex as u8],
        &[f.flag as u8],
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            csv.push(b',');
        }
        csv.extend_from_slice(part);
    }
    let date = crypto::Ymd::today(state.legacy.date_utc_offset_minutes);
    let out = crypto::secure_basic(&csv, date).map_err(|c| c.code());
    zeroize::Zeroize::zeroize(&mut csv);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_collapse_as_the_official_component_does() {
        let e = |code| ServiceError::new(code, "");
        assert_eq!(basic_code(&e(ErrorCode::NoCard)), "8013");
        assert_eq!(basic_code(&e(ErrorCode::PcscUnavailable)), "8013");
        assert_eq!(basic_code(&e(ErrorCode::ProfileReadFailed)), "8011");
        assert_eq!(basic_code(&e(ErrorCode::CardDataReadFailed)), "8010");
        assert_eq!(hsign_code(ErrorCode::PcscUnavailable), "7001");
        assert_eq!(hsign_code(ErrorCode::NoReader), "7002");
        assert_eq!(hsign_code(ErrorCode::NotNhiCard), "7004");
        assert_eq!(hsign_code(ErrorCode::SamNotOk), "8008");
        assert_eq!(hsign_code(ErrorCode::SamUnreachable), "4061");
        assert_eq!(hsign_code(ErrorCode::CardRemoved), "7004");
        assert_eq!(hsign_code(ErrorCode::CardTimeout), "8013");
        assert_eq!(hsign_code(ErrorCode::Internal), "8201");
    }

    #[test]
    fn legacy_surfaces_send_only_codes_pages_know_or_the_official_component_sends() {
        let allowed = |c: Code| PAGE_KNOWN.contains(&c) || OFFICIAL_UNKNOWN_TO_PAGES.contains(&c);
        for &code in ErrorCode::ALL {
            let h = hsign_code(code);
            assert!(allowed(h), "H_Sign answers {h} for {code}");
            let b = basic_code(&ServiceError::new(code, ""));
            assert!(allowed(b), "GetBasic answers {b} for {code}");
        }
    }

    #[test]
    fn random_is_sixteen_digits() {
        let r = random().unwrap();
        assert_eq!(r.len(), 16);
        assert!(r.bytes().all(|b| b.is_ascii_digit()));
    }
}
