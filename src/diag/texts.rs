//! The sentences the self-check says in more than one place — `nhi-bridge check` and the page at
//! `/` — written once, zh-TW and English side by side. Platform-specific fixes are chosen here.

/// One sentence in both languages.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Text {
    /// Traditional Chinese (Taiwan).
    pub zh: &'static str,
    /// English.
    pub en: &'static str,
}

const fn t(zh: &'static str, en: &'static str) -> Text {
    Text { zh, en }
}

/// The smart-card service answers.
pub const PCSC_UP: Text = t(
    "讀卡機服務（PC/SC）運作中",
    "The PC/SC smart-card service is running",
);
/// The smart-card service does not answer.
pub const PCSC_DOWN: Text = t(
    "讀卡機服務（PC/SC）未執行",
    "The PC/SC smart-card service is not running",
);
/// How to start the smart-card service, on this platform.
pub const PCSC_FIX: Text = if cfg!(windows) {
    t(
        "在「服務」中啟動「Smart Card（智慧卡）」服務並設為自動，或以系統管理員執行 sc start SCardSvr",
        "Start the \"Smart Card\" (SCardSvr) service in Services and set it to Automatic, or run `sc start SCardSvr` as administrator",
    )
} else if cfg!(target_os = "macos") {
    t(
        "重新插拔讀卡機；若仍失敗請重新開機",
        "Re-plug the reader; if that fails, restart the Mac",
    )
} else {
    t(
        "執行 sudo apt install pcscd 並 sudo systemctl enable --now pcscd.socket",
        "Run `sudo apt install pcscd` and `sudo systemctl enable --now pcscd.socket`",
    )
};
/// No reader is connected.
pub const NO_READER: Text = t("找不到讀卡機", "No card reader found");
/// How to connect one.
pub const NO_READER_FIX: Text = t(
    "請將讀卡機接上電腦（換一個 USB 孔試試）",
    "Plug the card reader in (try another USB port)",
);
/// Before the reader names.
pub const READERS: Text = t("讀卡機：", "Readers: ");
/// No card is in any reader.
pub const NO_CARD: Text = t("讀卡機中沒有卡片", "No card in the reader");
/// How to insert it.
pub const NO_CARD_FIX: Text = t(
    "請將健保卡晶片朝上、朝讀卡機方向插入",
    "Insert the NHI card chip side up, chip first",
);
/// Before the names of readers that hold a card.
pub const CARD_IN: Text = t("已插卡：", "A card is inserted: ");
/// The hosts entry is there.
pub const HOSTS_OK: Text = t(
    "iccert.nhi.gov.tw 指向本機 127.0.0.1",
    "iccert.nhi.gov.tw points to this computer (127.0.0.1)",
);
/// The hosts entry is not there.
pub const HOSTS_MISSING: Text = t(
    "hosts 檔中沒有 iccert.nhi.gov.tw",
    "iccert.nhi.gov.tw is missing from the hosts file",
);
/// How to trust the CA and add the hosts entry.
pub const TRUST_FIX: Text = t(
    "以系統管理員身分執行 nhi-bridge cert install，然後重新開啟瀏覽器",
    "Run `nhi-bridge cert install` as administrator (sudo), then restart the browser",
);

/// The card is in but is being read for the first time.
pub const CARD_CHECKING: Text = t(
    "已插卡，尚未確認是否為健保卡（元件在插卡時讀取；請稍候，或重新插卡）",
    "A card is in, not yet confirmed as the NHI card (the component reads it when inserted: wait, or re-insert it)",
);

/// What to do about a card that could not be read, by why.
pub fn card_fix(code: crate::error::ErrorCode) -> Text {
    match code {
        crate::error::ErrorCode::NotNhiCard => t(
            "插入的卡片不是健保卡：請換成健保卡（不是金融卡或自然人憑證），晶片朝上",
            "This is not the NHI card: insert the NHI card (not a bank or citizen certificate card), chip side up",
        ),
        _ => t(
            "確認插入的是健保卡、晶片朝上；重新插入後再試",
            "Make sure it is the NHI card, chip side up; re-insert it and retry",
        ),
    }
}

/// A row that waits for another, failing row.
pub fn waiting(id: &str) -> (String, String) {
    (format!("等待「{id}」項目"), format!("Waiting for `{id}`"))
}
