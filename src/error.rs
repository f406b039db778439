//! Stable error codes shown to users, pages and scripts.
//!
//! Codes reuse the legacy component's table (protocol/legacy-nhi.md §6) where one fits, so old
//! pages show a sensible message; codes the legacy table lacks are new. Each code is one line of
//! the table below — code, CLI exit status, HTTP status, zh-TW and English message — and
//! everything else (the enum, `ALL`, the lookups, and the check of `docs/error-codes.md`) comes
//! from that table.

use std::fmt;

/// Declares [`ErrorCode`] and its lookups from one table, one entry per code.
macro_rules! error_codes {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident = $code:literal, exit $exit:literal, http $http:literal,
            zh $zh:literal,
            en $en:literal;
    )*) => {
        /// A stable error code: what went wrong, in words a user, a page and a script can act on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $name,)*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            /// The four-digit code.
            pub fn code(self) -> &'static str {
                match self { $(ErrorCode::$name => $code,)* }
            }

            /// The user-facing message in Traditional Chinese (Taiwan).
            pub fn message_zh(self) -> &'static str {
                match self { $(ErrorCode::$name => $zh,)* }
            }

            /// The same message in English.
            pub fn message_en(self) -> &'static str {
                match self { $(ErrorCode::$name => $en,)* }
            }

            /// Exit status of the CLI for this error (see docs/error-codes.md for the scheme).
            pub fn exit_status(self) -> u8 {
                match self { $(ErrorCode::$name => $exit,)* }
            }

            /// The HTTP status a response with this code carries.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$name => $http,)* }
            }
        }
    };
}

error_codes! {
    /// 7001: the PC/SC service is not running.
    PcscUnavailable = "7001", exit 3, http 503,
        zh "讀卡機服務（Windows 的 Smart Card／SCardSvr，Linux 的 pcscd）未執行，請啟動該服務",
        en "The smart-card service (Smart Card/SCardSvr on Windows, pcscd on Linux) is not running";
    /// 7002: no card reader is connected.
    NoReader = "7002", exit 4, http 503,
        zh "找不到讀卡機，請確認讀卡機已接上電腦",
        en "No card reader found; check that the reader is plugged in";
    /// 7004: no card in any reader.
    NoCard = "7004", exit 5, http 503,
        zh "未置入健保卡，請將健保卡晶片朝上插入讀卡機",
        en "No NHI card inserted; insert the card chip side up";
    /// 7005: a card is inserted but refuses the NHI application.
    NotNhiCard = "7005", exit 6, http 503,
        zh "讀卡機中的卡片不是健保卡",
        en "The card in the reader is not an NHI card";
    /// 7006: the reader named by the user or the configuration is not connected.
    ReaderNotFound = "7006", exit 10, http 404,
        zh "找不到指定的讀卡機",
        en "The requested card reader is not connected";
    /// 8010: reading the card data (`CA 24`) was refused.
    CardDataReadFailed = "8010", exit 12, http 502,
        zh "讀取健保卡註記資料失敗",
        en "The card refused to give its card data";
    /// 8011: reading the basic profile (`CA 11`) was refused.
    ProfileReadFailed = "8011", exit 11, http 502,
        zh "讀取健保卡基本資料失敗",
        en "The card refused to give its basic profile";
    /// 8013: the card or reader cannot be used (generic, as the legacy component reports it).
    CardUnavailable = "8013", exit 14, http 503,
        zh "無法存取健保卡，請查明讀卡機是否已插好或是否已置入健保卡",
        en "The NHI card or the reader cannot be used";
    /// 8014: the card was removed during the operation.
    CardRemoved = "8014", exit 7, http 503,
        zh "讀取中健保卡被取出，請重新插入後再試一次",
        en "The card was removed while it was being read; insert it again";
    /// 8015: the card's answer is malformed.
    CardInvalidResponse = "8015", exit 8, http 502,
        zh "健保卡回應的資料格式不正確，請重新插入卡片",
        en "The card answered with malformed data; re-insert it";
    /// 8016: the card did not answer in time.
    CardTimeout = "8016", exit 9, http 504,
        zh "健保卡沒有及時回應，請重新插入卡片後再試一次",
        en "The card did not answer in time; re-insert it and retry";
    /// 8017: another application holds the card exclusively.
    CardBusy = "8017", exit 13, http 503,
        zh "健保卡正被其他程式使用，請關閉該程式後再試一次",
        en "Another program is using the card; close it and retry";
    /// 8018: the card does not answer to reset (inserted upside down, dirty contacts).
    CardUnresponsive = "8018", exit 15, http 503,
        zh "健保卡沒有回應，請確認卡片晶片朝上、方向正確",
        en "The card does not respond; check it is inserted chip side up";
    /// 9876: an internal error (a bug); the legacy re-implementation used this code too.
    Internal = "9876", exit 1, http 500,
        zh "元件內部錯誤，請執行 nhi-bridge diagnose 並聯絡客服",
        en "Internal error; run `nhi-bridge diagnose` and contact support";
    /// 4000: the request is malformed (bad query or body).
    BadRequest = "4000", exit 20, http 400,
        zh "請求格式錯誤",
        en "The request is malformed";
    /// 4040: no such endpoint.
    NotFound = "4040", exit 21, http 404,
        zh "沒有這個服務項目",
        en "No such endpoint";
    /// 4041: the page's origin is not allowed (legacy meaning: Host/Origin refused).
    OriginRefused = "4041", exit 22, http 403,
        zh "此網站未獲授權使用健保卡讀卡機元件",
        en "This web site is not allowed to use the card reader component";
    /// 4042: the Host header is not one of the daemon's names (DNS-rebinding guard).
    HostRefused = "4042", exit 23, http 421,
        zh "不接受此主機名稱的連線",
        en "Connections under this host name are not accepted";
    /// 4050: the endpoint exists but not for this method.
    MethodNotAllowed = "4050", exit 24, http 405,
        zh "此服務項目不支援這個請求方法",
        en "This endpoint does not support that method";
    /// 4130: the request body is larger than 16 KiB.
    PayloadTooLarge = "4130", exit 25, http 413,
        zh "請求內容過大（上限 16 KiB）",
        en "The request body is too large (limit 16 KiB)";
    /// 4150: the request body is not `application/json`.
    UnsupportedMediaType = "4150", exit 26, http 415,
        zh "請求內容必須是 JSON（application/json）",
        en "The request body must be JSON (application/json)";
    /// 4290: all places for WebSockets and event streams (or this page's share) are taken.
    TooManyConnections = "4290", exit 27, http 503,
        zh "同時開啟的連線過多，請關閉其他健保卡網頁後再試",
        en "Too many open connections; close other NHI card pages and try again";
    /// 4061: the cloud SAM cannot be reached (TCP connect failed).
    SamUnreachable = "4061", exit 30, http 502,
        zh "無法連接服務網站",
        en "The NHI card service (cloud SAM) cannot be reached";
    /// 8001: H_Sign: reading the card ID (CA 00) failed.
    CardIdFailed = "8001", exit 31, http 502,
        zh "讀卡異常（無法讀取卡片識別碼）",
        en "Reading the card ID failed";
    /// 8002: H_Sign: GET CHALLENGE failed.
    ChallengeFailed = "8002", exit 32, http 502,
        zh "讀卡異常（無法取得卡片亂數）",
        en "The card did not give a challenge";
    /// 8003: sending to the cloud SAM failed (01 or 77).
    SamSendFailed = "8003", exit 33, http 502,
        zh "認卡傳輸異常（傳送失敗）",
        en "Sending to the NHI card service failed";
    /// 8004: the cloud SAM's 02 reply had the wrong length (or none came).
    SamReplyLength = "8004", exit 34, http 502,
        zh "認卡傳輸異常（回應長度錯誤）",
        en "The NHI card service answered with a wrong length";
    /// 8005: the cloud SAM's reply had the wrong opcode (02, or the 77 check).
    SamReplyOpcode = "8005", exit 35, http 502,
        zh "認卡傳輸異常（回應內容錯誤）",
        en "The NHI card service answered with an unexpected reply";
    /// 8006: the card refused MUTUAL AUTHENTICATE.
    MutualAuthFailed = "8006", exit 36, http 502,
        zh "卡片回傳無法認卡",
        en "The card could not authenticate to the NHI card service";
    /// 8007: sending 03 to the cloud SAM failed.
    SamAuthSendFailed = "8007", exit 37, http 502,
        zh "認卡傳輸異常（傳送認證資料失敗）",
        en "Sending the card's answer to the NHI card service failed";
    /// 8008: the cloud SAM's 04 reply was not OK.
    SamNotOk = "8008", exit 38, http 502,
        zh "認卡傳輸異常（服務未核可）",
        en "The NHI card service did not accept the card";
    /// 8009: EnCrypt: password length not 6–12.
    PasswordLength = "8009", exit 39, http 400,
        zh "密碼長度需為 6 至 12 個字元",
        en "The password must be 6 to 12 characters";
    /// 8300: handshake: RSA key generation failed.
    SamKeyGen = "8300", exit 40, http 502,
        zh "建立安全連線失敗（產生金鑰）",
        en "Secure session: key generation failed";
    /// 8301: handshake: public key export failed.
    SamKeyExport = "8301", exit 41, http 502,
        zh "建立安全連線失敗（匯出金鑰）",
        en "Secure session: key export failed";
    /// 8302: handshake: the server nonce could not be decrypted.
    SamNonceDecrypt = "8302", exit 42, http 502,
        zh "PKCS#11異常",
        en "Secure session: the service's nonce could not be decrypted";
    /// 8303: handshake: the client nonce could not be encrypted.
    SamNonceEncrypt = "8303", exit 43, http 502,
        zh "PKCS#11異常",
        en "Secure session: the nonce could not be encrypted";
    /// 8304: handshake: sending the nonce message failed.
    SamNonceSend = "8304", exit 44, http 502,
        zh "Session 建立異常",
        en "Secure session: sending the nonce failed";
    /// 8305: handshake: no valid server hello.
    SamHello = "8305", exit 45, http 502,
        zh "Session 建立異常",
        en "Secure session: the service's hello was missing or invalid";
    /// 8306: handshake: sending the client hello failed.
    SamHelloSend = "8306", exit 46, http 502,
        zh "PKCS#11異常",
        en "Secure session: sending the hello failed";
    /// 9999: unknown legacy WebSocket command.
    UnknownCommand = "9999", exit 47, http 400,
        zh "不支援的指令",
        en "Unknown command";
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
        // 0, 1 is Internal's own, 2 usage, 50+ the verdicts and sysexits (docs/error-codes.md).
        assert!(exits.iter().all(|&e| (1..=47).contains(&e) && e != 2));
        for c in ErrorCode::ALL {
            assert_eq!(c.code().len(), 4);
            assert!(c.code().bytes().all(|b| b.is_ascii_digit()));
            assert!(!c.message_zh().is_empty() && c.message_zh().chars().any(|ch| ch > '\u{2E80}'));
            assert!(!c.message_en().is_empty() && c.message_en().is_ascii());
        }
    }

    #[test]
    fn the_documented_table_is_this_table() {
        let doc = include_str!("../docs/error-codes.md");
        let rows: Vec<Vec<&str>> = doc
            .lines()
            .filter(|l| l.starts_with("| ") && l.len() > 6 && l.as_bytes()[2].is_ascii_digit())
            .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
            .filter(|cells: &Vec<&str>| cells.len() == 6 && cells[0].len() == 4)
            .collect();
        let documented: HashSet<&str> = rows.iter().map(|r| r[0]).collect();
        let table: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(documented, table, "codes in docs/error-codes.md");
        for c in ErrorCode::ALL {
            let row = rows.iter().find(|r| r[0] == c.code()).expect("row");
            assert_eq!(row[2], c.message_zh(), "{c}: zh-TW message");
            assert_eq!(row[3], c.message_en(), "{c}: English message");
            assert_eq!(row[4], c.exit_status().to_string(), "{c}: exit status");
            assert_eq!(row[5], c.http_status().to_string(), "{c}: HTTP status");
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
