//! The self-check page's rows, made once from one snapshot of the daemon's own facts: the page
//! renders them on the server and its script, after every event, fetches them again
//! (`/selfcheck.json`) and paints them as they are — it computes nothing itself. The sentences are
//! `diag::texts`'s and the card's error words are the `ErrorCode`'s, the same `check` and the tray
//! use. A row whose cause is another failing row says it waits for that row instead of giving a
//! fix of its own.

use serde::Serialize;

use super::texts::{self, Text};
use super::{Check, Status};
use crate::browser::{self, Access};
use crate::service::card_service::CardCheck;

/// What the daemon knows when the page asks.
#[derive(Debug, Clone)]
pub struct PageFacts {
    /// The daemon's version.
    pub version: &'static str,
    /// The last allowed page that reached the component: origin and local time.
    pub contact: Option<(String, String)>,
    /// `iccert.nhi.gov.tw` points to this computer.
    pub hosts_ok: bool,
    /// pcscd answers.
    pub pcsc_up: bool,
    /// Connected readers.
    pub readers: Vec<String>,
    /// Readers with a card in.
    pub with_card: Vec<String>,
    /// How the inserted card's last read went.
    pub card: CardCheck,
    /// The browsers' verdicts, when they could be read in time.
    pub browsers: Option<browser::Report>,
    /// The NHI page a browser row names.
    pub page_site: String,
}

/// The page's rows and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct PageModel {
    /// Every row ok (warnings allowed) and the card read as an NHI card.
    pub ready: bool,
    /// The rows, in the page's order.
    pub checks: Vec<Check>,
    /// One line for support, no personal data.
    pub summary: String,
}

fn ok(id: &'static str, t: Text) -> Check {
    Check::ok(id, t.zh, t.en)
}

fn fail(id: &'static str, what: (String, String), fix: Text) -> Check {
    Check::bad(
        id,
        Status::Fail,
        what,
        (fix.zh.to_owned(), fix.en.to_owned()),
    )
}

fn wait(id: &'static str, on: &'static str) -> Check {
    let mut c = Check::ok(id, "", "");
    let (zh, en) = texts::waiting(on);
    c.status = Status::Fail;
    c.message_zh = zh;
    c.message_en = en;
    c.waiting_for = Some(on);
    c
}

fn pair(t: Text) -> (String, String) {
    (t.zh.to_owned(), t.en.to_owned())
}

/// `pcsc`: the smart-card service answers. (`check` and the page alike.)
pub fn pcsc_row(up: bool) -> Check {
    if up {
        ok("pcsc", texts::PCSC_UP)
    } else {
        fail("pcsc", pair(texts::PCSC_DOWN), texts::PCSC_FIX)
    }
}

/// `readers`: at least one reader is connected; waits for `pcsc`.
pub fn readers_row(pcsc_up: bool, readers: &[String]) -> Check {
    if !pcsc_up {
        wait("readers", "pcsc")
    } else if readers.is_empty() {
        fail("readers", pair(texts::NO_READER), texts::NO_READER_FIX)
    } else {
        Check::ok(
            "readers",
            format!("{}{}", texts::READERS.zh, readers.join("、")),
            format!("{}{}", texts::READERS.en, readers.join(", ")),
        )
    }
}

/// `card`: a card is in a reader; waits for `pcsc` and `readers`.
pub fn card_present_row(pcsc_up: bool, readers: &[String], with_card: &[String]) -> Check {
    if !pcsc_up {
        wait("card", "pcsc")
    } else if readers.is_empty() {
        wait("card", "readers")
    } else if with_card.is_empty() {
        fail("card", pair(texts::NO_CARD), texts::NO_CARD_FIX)
    } else {
        Check::ok(
            "card",
            format!("{}{}", texts::CARD_IN.zh, with_card.join("、")),
            format!("{}{}", texts::CARD_IN.en, with_card.join(", ")),
        )
    }
}

/// A card that could not be read, as `check`'s `card.nhi`, the page's `card` row and the tray
/// tell it: the code, its words, the fix for that code.
pub fn card_error_row(id: &'static str, code: crate::error::ErrorCode) -> Check {
    fail(
        id,
        (
            format!("[{code}] {}", code.message_zh()),
            format!("[{code}] {}", code.message_en()),
        ),
        texts::card_fix(code),
    )
}

/// The page's model of `f`.
pub fn page(f: &PageFacts) -> PageModel {
    let mut checks = vec![
        Check::ok(
            "daemon",
            format!("元件執行中，版本 {}", f.version),
            format!("The component is running, version {}", f.version),
        ),
        match &f.contact {
            Some((origin, at)) => Check::ok(
                "pages",
                format!("最近一次網頁連線：{at}，來自 {origin}"),
                format!("Last page contact: {at}, from {origin}"),
            ),
            None => Check::ok(
                "pages",
                "元件啟動後尚無網頁連線（若健保署網頁顯示找不到元件，請在瀏覽器允許該網站使用「裝置上的應用程式」）",
                "No page has reached the component since it started (if the NHI page says the component is missing, allow the site \"Apps on device\" in the browser)",
            ),
        },
        Check::ok(
            "tls",
            "此頁以安全連線（HTTPS）開啟，瀏覽器信任元件的憑證",
            "This page opened over HTTPS: the browser trusts the component's certificate",
        ),
        if f.hosts_ok {
            ok("hosts", texts::HOSTS_OK)
        } else {
            fail("hosts", pair(texts::HOSTS_MISSING), texts::TRUST_FIX)
        },
        pcsc_row(f.pcsc_up),
    ];
    checks.push(readers_row(f.pcsc_up, &f.readers));
    let present = card_present_row(f.pcsc_up, &f.readers, &f.with_card);
    checks.push(if present.status != Status::Ok {
        present
    } else {
        match f.card {
            CardCheck::Readable => present,
            CardCheck::Failed(code) => card_error_row("card", code),
            CardCheck::Unknown => {
                let mut c = ok("card", texts::CARD_CHECKING);
                c.status = Status::Warn;
                c
            }
        }
    });
    // Profiles that block NHI pages or will ask: the same rows `check` shows (the setting named
    // as that browser version names it, the right fix for a user's or a policy's block).
    let mut blocked = false;
    if let Some(report) = &f.browsers {
        blocked = report.any_blocked();
        checks.extend(
            report
                .profiles
                .iter()
                .filter(|p| {
                    matches!(
                        p.access,
                        Access::BlockedByUser | Access::BlockedByPolicy | Access::WillAsk
                    )
                })
                .map(|p| super::checks::browser_row(p, &f.page_site)),
        );
    }
    let ready = checks
        .iter()
        .all(|c| c.status != Status::Fail && c.waiting_for.is_none())
        && f.card == CardCheck::Readable;
    let card = match f.card {
        _ if f.with_card.is_empty() => "none".to_owned(),
        CardCheck::Readable => "inserted".to_owned(),
        CardCheck::Failed(code) => format!("error {code}"),
        CardCheck::Unknown => "checking".to_owned(),
    };
    let summary = format!(
        "nhi-bridge {} | PC/SC {} | readers {} | card {card} | hosts {} | browser {}",
        f.version,
        if f.pcsc_up { "up" } else { "down" },
        f.readers.len(),
        if f.hosts_ok { "ok" } else { "missing" },
        if blocked { "blocked" } else { "ok" },
    );
    PageModel {
        ready,
        checks,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn facts() -> PageFacts {
        PageFacts {
            version: "0.1.0",
            contact: None,
            hosts_ok: true,
            pcsc_up: true,
            readers: vec!["R 0".into()],
            with_card: vec!["R 0".into()],
            card: CardCheck::Readable,
            browsers: None,
            page_site: "https://cloudicweb.nhi.gov.tw".into(),
        }
    }

    fn row<'a>(m: &'a PageModel, id: &str) -> &'a Check {
        m.checks.iter().find(|c| c.id == id).expect("row")
    }

    #[test]
    fn ready_only_with_a_card_read_as_an_nhi_card() {
        assert!(page(&facts()).ready);
        let mut f = facts();
        f.card = CardCheck::Failed(ErrorCode::NotNhiCard);
        let m = page(&f);
        assert!(!m.ready);
        let card = row(&m, "card");
        assert_eq!(card.status, Status::Fail);
        assert!(
            card.message_zh.contains("7005")
                && card.message_zh.contains(ErrorCode::NotNhiCard.message_zh())
        );
        assert!(m.summary.contains("card error 7005"));
        f.card = CardCheck::Unknown;
        assert!(!page(&f).ready, "a card not read yet is not ready");
    }

    #[test]
    fn pcscd_down_fails_one_row_the_others_wait_for_it() {
        let mut f = facts();
        f.pcsc_up = false;
        let m = page(&f);
        let failing: Vec<&str> = m
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail && c.waiting_for.is_none())
            .map(|c| c.id.as_ref())
            .collect();
        assert_eq!(failing, ["pcsc"]);
        for id in ["readers", "card"] {
            let c = row(&m, id);
            assert_eq!(c.waiting_for, Some("pcsc"), "{c:?}");
            assert!(
                c.fix_zh.is_none(),
                "a waiting row has no fix of its own: {c:?}"
            );
        }
        assert!(!m.ready);
    }
}
