//! The self-check (元件檢測) and the diagnostics bundle.
//!
//! [`checks`] runs the ordered checks a support agent needs — daemon, port, certificate and its
//! trust in every store a browser reads, hosts entry, PC/SC, reader, card, clock, cloud SAM — each
//! with a stable id, a verdict, and a sentence and a fix in zh-TW and English. [`bundle`] packs a
//! redacted `.tar.gz` for support. Nothing here ever outputs card-holder data: the card number
//! appears masked to its last four digits, nothing else of the holder appears at all.

pub mod bundle;
pub mod checks;
pub mod model;
pub mod probe;
pub mod redact;
pub mod texts;

use std::borrow::Cow;

use serde::Serialize;

/// A check's verdict; the order is severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All is well.
    Ok,
    /// Works, with a caveat.
    Warn,
    /// Broken: the fix says what to do.
    Fail,
}

/// One line of the self-check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier, documented in docs/self-check.md (`browser.<browser>.<profile>` rows
    /// carry the profile's directory name).
    pub id: Cow<'static, str>,
    /// How it went.
    pub status: Status,
    /// What the check is about when one id covers several (a Firefox profile, a reader).
    pub target: Option<String>,
    /// What was found, in zh-TW.
    pub message_zh: String,
    /// The same in English.
    pub message_en: String,
    /// What to do about it, in zh-TW (none when ok).
    pub fix_zh: Option<String>,
    /// The same in English.
    pub fix_en: Option<String>,
    /// The failing row this one waits for (its own fix would not help until that is fixed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<&'static str>,
}

impl Check {
    /// A check that passed.
    pub fn ok(
        id: impl Into<Cow<'static, str>>,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Check {
        Check {
            id: id.into(),
            status: Status::Ok,
            target: None,
            message_zh: zh.into(),
            message_en: en.into(),
            fix_zh: None,
            fix_en: None,
            waiting_for: None,
        }
    }

    /// A check that warns or fails, with its fix.
    pub fn bad(
        id: impl Into<Cow<'static, str>>,
        status: Status,
        (zh, en): (String, String),
        (fix_zh, fix_en): (String, String),
    ) -> Check {
        Check {
            id: id.into(),
            status,
            target: None,
            message_zh: zh,
            message_en: en,
            fix_zh: Some(fix_zh),
            fix_en: Some(fix_en),
            waiting_for: None,
        }
    }

    /// Names what the check was about (a reader, a browser profile).
    pub fn target(mut self, t: impl Into<String>) -> Check {
        self.target = Some(t.into());
        self
    }
}

/// The whole self-check, as `check --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of the `nhi-bridge` that ran the checks.
    pub version: &'static str,
    /// The worst status of all checks.
    pub verdict: Status,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Where the daemon writes its log.
    pub log_file: String,
}

/// `check`'s status when some check warns and none fails.
pub const EXIT_WARNINGS: u8 = 50;
/// `check`'s status when a check fails.
pub const EXIT_FAILED: u8 = 51;

impl Report {
    /// The report of `checks`, whose verdict is the worst of them.
    pub fn new(checks: Vec<Check>, log_file: String) -> Report {
        let verdict = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
        Report {
            version: env!("CARGO_PKG_VERSION"),
            verdict,
            checks,
            log_file,
        }
    }

    /// 0 = all ok, 50 = warnings, 51 = a failure (docs/error-codes.md: clear of the usage status
    /// 2 and of the error codes' own statuses).
    pub fn exit_status(&self) -> u8 {
        match self.verdict {
            Status::Ok => 0,
            Status::Warn => EXIT_WARNINGS,
            Status::Fail => EXIT_FAILED,
        }
    }

    /// The table a person reads: zh-TW first, English beside, the fix under each problem.
    pub fn render(&self, colour: bool) -> String {
        let paint = |s: Status, text: &str| {
            if !colour {
                return text.to_owned();
            }
            let code = match s {
                Status::Ok => "32",
                Status::Warn => "33",
                Status::Fail => "31",
            };
            format!("\x1b[{code}m{text}\x1b[0m")
        };
        let mut out = String::new();
        out.push_str(&format!(
            "nhi-bridge {} 元件檢測 self-check\n\n",
            self.version
        ));
        for c in &self.checks {
            let mark = match (c.waiting_for, c.status) {
                (Some(_), _) => "[WAIT]",
                (None, Status::Ok) => "[ OK ]",
                (None, Status::Warn) => "[WARN]",
                (None, Status::Fail) => "[FAIL]",
            };
            let target = c
                .target
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{} {:<14} {}{target}\n{:21} {}\n",
                paint(c.status, mark),
                c.id,
                c.message_zh,
                "",
                c.message_en
            ));
            if let (Some(zh), Some(en)) = (&c.fix_zh, &c.fix_en) {
                out.push_str(&format!("{:21} → {zh}\n{:21} → {en}\n", "", ""));
            }
        }
        let (zh, en) = match self.verdict {
            Status::Ok => ("可以開始使用", "All good: ready to use"),
            Status::Warn => (
                "可以使用，但請留意上面的警告",
                "Usable, but see the warnings above",
            ),
            Status::Fail => (
                "請依照上面的說明修正標示 FAIL 的項目",
                "Fix the items marked FAIL as described above",
            ),
        };
        out.push_str(&format!("\n{} {zh} — {en}\n", paint(self.verdict, "==>")));
        out.push_str(&format!("記錄檔 Log file: {}\n", self.log_file));
        out
    }
}
