//! Stable error codes shown to users, pages and scripts.
//!
//! Codes reuse the legacy component's table (protocol/legacy-nhi.md §6) where one fits, so old
//! pages show a sensible message; codes the legacy table lacks are new and listed in
//! `docs/error-codes.md`. Each has a zh-TW and an English message and a distinct CLI exit status.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 7001: the PC/SC service is not running.
    PcscUnavailable,
    /// 7002: no card reader is connected.
    NoReader,
    /// 7004: no card in any reader.
    NoCard,
    /// 7005: a card is inserted but refuses the NHI application.
    NotNhiCard,
    /// 7006: the reader named by the user or the configuration is not connected.
    ReaderNotFound,
    /// 8010: reading the card data (`CA 24`) was refused.
    CardDataReadFailed,
    /// 8011: reading the basic profile (`CA 11`) was refused.
    ProfileReadFailed,
    /// 8013: the card or reader cannot be used (generic, as the legacy component reports it).
    CardUnavailable,
    /// 8014: the card was removed during the operation.
    CardRemoved,
    /// 8015: the card's answer is malformed.
    CardInvalidResponse,
    /// 8016: the card did not answer in time.
    CardTimeout,
    /// 8017: another application holds the card exclusively.
    CardBusy,
    /// 8018: the card does not answer to reset (inserted upside down, dirty contacts).
    CardUnresponsive,
    /// 9876: an internal error (a bug); the legacy re-implementation used this code too.
    Internal,
    /// 4000: the request is malformed (bad query or body).
    BadRequest,
    /// 4040: no such endpoint.
    NotFound,
    /// 4041: the page's origin is not allowed (legacy meaning: Host/Origin refused).
    OriginRefused,
    /// 4042: the Host header is not one of the daemon's names (DNS-rebinding guard).
    HostRefused,
    /// 4050: the endpoint exists but not for this method.
    MethodNotAllowed,
    /// 4130: the request body is larger than 16 KiB.
    PayloadTooLarge,
    /// 4150: the request body is not `application/json`.
    UnsupportedMediaType,
    /// 4290: all places for WebSockets and event streams (or this page's share) are taken.
    TooManyConnections,
    /// 4061: the cloud SAM cannot be reached (TCP connect failed).
    SamUnreachable,
    /// 8001: H_Sign: reading the card ID (CA 00) failed.
    CardIdFailed,
    /// 8002: H_Sign: GET CHALLENGE failed.
    ChallengeFailed,
    /// 8003: sending to the cloud SAM failed (01 or 77).
    SamSendFailed,
    /// 8004: the cloud SAM's 02 reply had the wrong length (or none came).
    SamReplyLength,
    /// 8005: the cloud SAM's reply had the wrong opcode (02, or the 77 check).
    SamReplyOpcode,
    /// 8006: the card refused MUTUAL AUTHENTICATE.
    MutualAuthFailed,
    /// 8007: sending 03 to the cloud SAM failed.
    SamAuthSendFailed,
    /// 8008: the cloud SAM's 04 reply was not OK.
    SamNotOk,
    /// 8009: EnCrypt: password length not 6–12.
    PasswordLength,
    /// 8300: handshake: RSA key generation failed.
    SamKeyGen,
    /// 8301: handshake: public key export failed.
    SamKeyExport,
    /// 8302: handshake: the server nonce could not be decrypted.
    SamNonceDecrypt,
    /// 8303: handshake: the client nonce could not be encrypted.
    SamNonceEncrypt,
    /// 8304: handshake: sending the nonce message failed.
    SamNonceSend,
    /// 8305: handshake: no valid server hello.
    SamHello,
    /// 8306: handshake: sending the client hello failed.
    SamHelloSend,
    /// 9999: unknown legacy WebSocket command.
    UnknownCommand,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 40] = [
        ErrorCode::PcscUnavailable,
        ErrorCode::NoReader,
        ErrorCode::NoCard,
        ErrorCode::NotNhiCard,
        ErrorCode::ReaderNotFound,
        ErrorCode::CardDataReadFailed,
        ErrorCode::ProfileReadFailed,
        ErrorCode::CardUnavailable,
        ErrorCode::CardRemoved,
        ErrorCode::CardInvalidResponse,
        ErrorCode::CardTimeout,
        ErrorCode::CardBusy,
        ErrorCode::CardUnresponsive,
        ErrorCode::Internal,
        ErrorCode::BadRequest,
        ErrorCode::NotFound,
        ErrorCode::OriginRefused,
        ErrorCode::HostRefused,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::TooManyConnections,
        ErrorCode::SamUnreachable,
        ErrorCode::CardIdFailed,
        ErrorCode::ChallengeFailed,
        ErrorCode::SamSendFailed,
        ErrorCode::SamReplyLength,
        ErrorCode::SamReplyOpcode,
        ErrorCode::MutualAuthFailed,
        ErrorCode::SamAuthSendFailed,
        ErrorCode::SamNotOk,
        ErrorCode::PasswordLength,
        ErrorCode::SamKeyGen,
        ErrorCode::SamKeyExport,
        ErrorCode::SamNonceDecrypt,
        ErrorCode::SamNonceEncrypt,
        ErrorCode::SamNonceSend,
        ErrorCode::SamHello,
        ErrorCode::SamHelloSend,
        ErrorCode::UnknownCommand,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::PcscUnavailable => "7001",
            ErrorCode::NoReader => "7002",
            ErrorCode::NoCard => "7004",
            ErrorCode::NotNhiCard => "7005",
            ErrorCode::ReaderNotFound => "7006",
            ErrorCode::CardDataReadFailed => "8010",
            ErrorCode::ProfileReadFailed => "8011",
            ErrorCode::CardUnavailable => "8013",
            ErrorCode::CardRemoved => "8014",
            ErrorCode::CardInvalidResponse => "8015",
            ErrorCode::CardTimeout => "8016",
            ErrorCode::CardBusy => "8017",
            ErrorCode::CardUnresponsive => "8018",
            ErrorCode::Internal => "9876",
            ErrorCode::BadRequest => "4000",
            ErrorCode::NotFound => "4040",
            ErrorCode::OriginRefused => "4041",
            ErrorCode::HostRefused => "4042",
            ErrorCode::MethodNotAllowed => "4050",
            ErrorCode::PayloadTooLarge => "4130",
            ErrorCode::UnsupportedMediaType => "4150",
            ErrorCode::TooManyConnections => "4290",
            ErrorCode::SamUnreachable => "4061",
            ErrorCode::CardIdFailed => "8001",
            ErrorCode::ChallengeFailed => "8002",
            ErrorCode::SamSendFailed => "8003",
            ErrorCode::SamReplyLength => "8004",
            ErrorCode::SamReplyOpcode => "8005",
            ErrorCode::MutualAuthFailed => "8006",
            ErrorCode::SamAuthSendFailed => "8007",
            ErrorCode::SamNotOk => "8008",
            ErrorCode::PasswordLength => "8009",
            ErrorCode::SamKeyGen => "8300",
            ErrorCode::SamKeyExport => "8301",
            ErrorCode::SamNonceDecrypt => "8302",
            ErrorCode::SamNonceEncrypt => "8303",
            ErrorCode::SamNonceSend => "8304",
            ErrorCode::SamHello => "8305",
            ErrorCode::SamHelloSend => "8306",
            ErrorCode::UnknownCommand => "9999",
        }
    }

    pub fn message_zh(self) -> &'static str {
        match self {
            ErrorCode::PcscUnavailable => "讀卡機服務（PC/SC，pcscd）未執行，請啟動該服務",
            ErrorCode::NoReader => "找不到讀卡機，請確認讀卡機已接上電腦",
            ErrorCode::NoCard => "未置入健保卡，請將健保卡晶片朝上插入讀卡機",
            ErrorCode::NotNhiCard => "讀卡機中的卡片不是健保卡",
            ErrorCode::ReaderNotFound => "找不到指定的讀卡機",
            ErrorCode::CardDataReadFailed => "讀取健保卡註記資料失敗",
            ErrorCode::ProfileReadFailed => "讀取健保卡基本資料失敗",
            ErrorCode::CardUnavailable => {
                "無法存取健保卡，請查明讀卡機是否已插好或是否已置入健保卡"
            }
            ErrorCode::CardRemoved => "讀取中健保卡被取出，請重新插入後再試一次",
            ErrorCode::CardInvalidResponse => "健保卡回應的資料格式不正確，請重新插入卡片",
            ErrorCode::CardTimeout => "健保卡沒有及時回應，請重新插入卡片後再試一次",
            ErrorCode::CardBusy => "健保卡正被其他程式使用，請關閉該程式後再試一次",
            ErrorCode::CardUnresponsive => "健保卡沒有回應，請確認卡片晶片朝上、方向正確",
            ErrorCode::Internal => "元件內部錯誤，請執行 nhi-bridge diagnose 並聯絡客服",
            ErrorCode::BadRequest => "請求格式錯誤",
            ErrorCode::NotFound => "沒有這個服務項目",
            ErrorCode::OriginRefused => "此網站未獲授權使用健保卡讀卡機元件",
            ErrorCode::HostRefused => "不接受此主機名稱的連線",
            ErrorCode::MethodNotAllowed => "此服務項目不支援這個請求方法",
            ErrorCode::PayloadTooLarge => "請求內容過大（上限 16 KiB）",
            ErrorCode::UnsupportedMediaType => "請求內容必須是 JSON（application/json）",
            ErrorCode::TooManyConnections => "同時開啟的連線過多，請關閉其他健保卡網頁後再試",
            ErrorCode::SamUnreachable => "無法連接服務網站",
            ErrorCode::CardIdFailed => "讀卡異常（無法讀取卡片識別碼）",
            ErrorCode::ChallengeFailed => "讀卡異常（無法取得卡片亂數）",
            ErrorCode::SamSendFailed => "認卡傳輸異常（傳送失敗）",
            ErrorCode::SamReplyLength => "認卡傳輸異常（回應長度錯誤）",
            ErrorCode::SamReplyOpcode => "認卡傳輸異常（回應內容錯誤）",
            ErrorCode::MutualAuthFailed => "卡片回傳無法認卡",
            ErrorCode::SamAuthSendFailed => "認卡傳輸異常（傳送認證資料失敗）",
            ErrorCode::SamNotOk => "認卡傳輸異常（服務未核可）",
            ErrorCode::PasswordLength => "密碼長度需為 6 至 12 個字元",
            ErrorCode::SamKeyGen => "建立安全連線失敗（產生金鑰）",
            ErrorCode::SamKeyExport => "建立安全連線失敗（匯出金鑰）",
            ErrorCode::SamNonceDecrypt => "PKCS#11異常",
            ErrorCode::SamNonceEncrypt => "PKCS#11異常",
            ErrorCode::SamNonceSend => "Session 建立異常",
            ErrorCode::SamHello => "Session 建立異常",
            ErrorCode::SamHelloSend => "PKCS#11異常",
            ErrorCode::UnknownCommand => "不支援的指令",
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            ErrorCode::PcscUnavailable => "The PC/SC smart-card service (pcscd) is not running",
            ErrorCode::NoReader => "No card reader found; check that the reader is plugged in",
            ErrorCode::NoCard => "No NHI card inserted; insert the card chip side up",
            ErrorCode::NotNhiCard => "The card in the reader is not an NHI card",
            ErrorCode::ReaderNotFound => "The requested card reader is not connected",
            ErrorCode::CardDataReadFailed => "The card refused to give its card data",
            ErrorCode::ProfileReadFailed => "The card refused to give its basic profile",
            ErrorCode::CardUnavailable => "The NHI card or the reader cannot be used",
            ErrorCode::CardRemoved => {
                "The card was removed while it was being read; insert it again"
            }
            ErrorCode::CardInvalidResponse => "The card answered with malformed data; re-insert it",
            ErrorCode::CardTimeout => "The card did not answer in time; re-insert it and retry",
            ErrorCode::CardBusy => "Another program is using the card; close it and retry",
            ErrorCode::CardUnresponsive => {
                "The card does not respond; check it is inserted chip side up"
            }
            ErrorCode::Internal => "Internal error; run `nhi-bridge diagnose` and contact support",
            ErrorCode::BadRequest => "The request is malformed",
            ErrorCode::NotFound => "No such endpoint",
            ErrorCode::OriginRefused => {
                "This web site is not allowed to use the card reader component"
            }
            ErrorCode::HostRefused => "Connections under this host name are not accepted",
            ErrorCode::MethodNotAllowed => "This endpoint does not support that method",
            ErrorCode::PayloadTooLarge => "The request body is too large (limit 16 KiB)",
            ErrorCode::UnsupportedMediaType => "The request body must be JSON (application/json)",
            ErrorCode::TooManyConnections => {
                "Too many open connections; close other NHI card pages and try again"
            }
            ErrorCode::SamUnreachable => "The NHI card service (cloud SAM) cannot be reached",
            ErrorCode::CardIdFailed => "Reading the card ID failed",
            ErrorCode::ChallengeFailed => "The card did not give a challenge",
            ErrorCode::SamSendFailed => "Sending to the NHI card service failed",
            ErrorCode::SamReplyLength => "The NHI card service answered with a wrong length",
            ErrorCode::SamReplyOpcode => "The NHI card service answered with an unexpected reply",
            ErrorCode::MutualAuthFailed => {
                "The card could not authenticate to the NHI card service"
            }
            ErrorCode::SamAuthSendFailed => {
                "Sending the card's answer to the NHI card service failed"
            }
            ErrorCode::SamNotOk => "The NHI card service did not accept the card",
            ErrorCode::PasswordLength => "The password must be 6 to 12 characters",
            ErrorCode::SamKeyGen => "Secure session: key generation failed",
            ErrorCode::SamKeyExport => "Secure session: key export failed",
            ErrorCode::SamNonceDecrypt => {
                "Secure session: the service's nonce could not be decrypted"
            }
            ErrorCode::SamNonceEncrypt => "Secure session: the nonce could not be encrypted",
            ErrorCode::SamNonceSend => "Secure session: sending the nonce failed",
            ErrorCode::SamHello => "Secure session: the service's hello was missing or invalid",
            ErrorCode::SamHelloSend => "Secure session: sending the hello failed",
            ErrorCode::UnknownCommand => "Unknown command",
        }
    }

    /// Exit status of the CLI for this error: distinct per code, 2 stays clap's usage error.
    pub fn exit_status(self) -> u8 {
        match self {
            ErrorCode::Internal => 1,
            ErrorCode::PcscUnavailable => 3,
            ErrorCode::NoReader => 4,
            ErrorCode::NoCard => 5,
            ErrorCode::NotNhiCard => 6,
            ErrorCode::CardRemoved => 7,
            ErrorCode::CardInvalidResponse => 8,
            ErrorCode::CardTimeout => 9,
            ErrorCode::ReaderNotFound => 10,
            ErrorCode::ProfileReadFailed => 11,
            ErrorCode::CardDataReadFailed => 12,
            ErrorCode::CardBusy => 13,
            ErrorCode::CardUnavailable => 14,
            ErrorCode::CardUnresponsive => 15,
            ErrorCode::BadRequest => 20,
            ErrorCode::NotFound => 21,
            ErrorCode::OriginRefused => 22,
            ErrorCode::HostRefused => 23,
            ErrorCode::MethodNotAllowed => 24,
            ErrorCode::PayloadTooLarge => 25,
            ErrorCode::UnsupportedMediaType => 26,
            ErrorCode::TooManyConnections => 27,
            ErrorCode::SamUnreachable => 30,
            ErrorCode::CardIdFailed => 31,
            ErrorCode::ChallengeFailed => 32,
            ErrorCode::SamSendFailed => 33,
            ErrorCode::SamReplyLength => 34,
            ErrorCode::SamReplyOpcode => 35,
            ErrorCode::MutualAuthFailed => 36,
            ErrorCode::SamAuthSendFailed => 37,
            ErrorCode::SamNotOk => 38,
            ErrorCode::PasswordLength => 39,
            ErrorCode::SamKeyGen => 40,
            ErrorCode::SamKeyExport => 41,
            ErrorCode::SamNonceDecrypt => 42,
            ErrorCode::SamNonceEncrypt => 43,
            ErrorCode::SamNonceSend => 44,
            ErrorCode::SamHello => 45,
            ErrorCode::SamHelloSend => 46,
            ErrorCode::UnknownCommand => 47,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_exit_statuses_are_distinct() {
        let codes: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        let exits: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.exit_status()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert_eq!(exits.len(), ErrorCode::ALL.len());
        assert!(!exits.contains(&0) && !exits.contains(&2));
        for c in ErrorCode::ALL {
            assert_eq!(c.code().len(), 4);
            assert!(c.code().bytes().all(|b| b.is_ascii_digit()));
            assert!(!c.message_zh().is_empty() && c.message_zh().chars().any(|ch| ch > '\u{2E80}'));
            assert!(!c.message_en().is_empty() && c.message_en().is_ascii());
        }
    }

    #[test]
    fn legacy_codes_keep_their_meaning() {
        assert_eq!(ErrorCode::PcscUnavailable.code(), "7001");
        assert_eq!(ErrorCode::NoReader.code(), "7002");
        assert_eq!(ErrorCode::NoCard.code(), "7004");
        assert_eq!(ErrorCode::CardDataReadFailed.code(), "8010");
        assert_eq!(ErrorCode::ProfileReadFailed.code(), "8011");
        assert_eq!(ErrorCode::CardUnavailable.code(), "8013");
    }
}
