//! The ordered self-check. Each check says what it found and, when something is wrong, the exact
//! fix, in zh-TW and English. Checks that depend on an earlier one (the card on PC/SC) still run,
//! but say which earlier check to fix first.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::probe::{self, Probe};
use super::texts::{self, Text};
use super::{Check, Report, Status};
use crate::config::Config;
use crate::reader::Pcsc;
use crate::tls::{self, trust};

/// What the checks look at.
pub struct Env {
    /// The data directory (certificates, logs).
    pub data_dir: PathBuf,
    /// The daemon's configuration.
    pub config: Config,
    /// The user's home (NSS databases); `None` skips the browser-store checks.
    pub home: Option<PathBuf>,
    /// The hosts file to inspect.
    pub hosts_file: PathBuf,
    /// Also contact the NHI cloud SAM.
    pub online: bool,
}

fn pair(zh: impl Into<String>, en: impl Into<String>) -> (String, String) {
    (zh.into(), en.into())
}

fn fix_start_daemon() -> (String, String) {
    if cfg!(windows) {
        pair(
            "從「開始」選單啟動「健保卡讀卡機元件」",
            "Start \"nhi-bridge\" from the Start menu",
        )
    } else if cfg!(target_os = "macos") {
        pair(
            "從「應用程式」啟動 nhi-bridge",
            "Start nhi-bridge from Applications",
        )
    } else {
        pair(
            "執行 systemctl --user start nhi-bridge，或在終端機執行 nhi-bridge run",
            "Run `systemctl --user start nhi-bridge`, or `nhi-bridge run` in a terminal",
        )
    }
}

fn text(t: Text) -> (String, String) {
    pair(t.zh, t.en)
}

fn needs(first: &str) -> (String, String) {
    pair(
        format!("請先修正「{first}」項目"),
        format!("Fix `{first}` first"),
    )
}

/// What the checks look at, gathered once: the daemon's answer, the certificate files, PC/SC.
struct Facts<'a> {
    env: &'a Env,
    port: u16,
    paths: tls::Paths,
    probe: Probe,
    status: Result<tls::Status, tls::TlsError>,
    leaf: Option<openssl::x509::X509>,
    ca: Option<openssl::x509::X509>,
    pcsc: Arc<Pcsc>,
    pcsc_up: bool,
    readers: Vec<crate::reader::ReaderInfo>,
}

impl Facts<'_> {
    fn gather(env: &Env) -> Facts<'_> {
        let port = env.config.port;
        let paths = tls::Paths::new(&env.data_dir);
        let probe = probe::status(port, &paths.ca, Duration::from_secs(3));
        let status = tls::status(&paths);
        let leaf = std::fs::read(&paths.leaf)
            .ok()
            .and_then(|b| openssl::x509::X509::stack_from_pem(&b).ok())
            .and_then(|s| s.into_iter().next());
        let ca = std::fs::read(&paths.ca)
            .ok()
            .and_then(|b| openssl::x509::X509::from_pem(&b).ok());
        let pcsc = Arc::new(Pcsc::new());
        let pcsc_up = pcsc.is_available();
        let readers = if pcsc_up {
            pcsc.readers().unwrap_or_default()
        } else {
            Vec::new()
        };
        Facts {
            env,
            port,
            paths,
            probe,
            status,
            leaf,
            ca,
            pcsc,
            pcsc_up,
            readers,
        }
    }

    fn daemon_up(&self) -> bool {
        matches!(self.probe, Probe::Status(_))
    }

    fn with_card(&self) -> Vec<&str> {
        self.readers
            .iter()
            .filter(|r| r.card_present)
            .map(|r| r.name.as_str())
            .collect()
    }
}

fn renew() -> (String, String) {
    pair(
        "執行 nhi-bridge cert renew 與 nhi-bridge cert install，然後重新啟動元件",
        "Run `nhi-bridge cert renew` and `nhi-bridge cert install`, then restart the component",
    )
}

/// Runs every check in order (the order docs/self-check.md lists).
pub fn run(env: &Env) -> Report {
    let f = Facts::gather(env);
    let mut out = vec![
        daemon(&f),
        pages(&f),
        port(&f),
        tls_leaf(&f),
        tls_ca_key(&f),
        tls_key_mode(&f),
        trust_system(&f),
    ];
    out.extend(trust_browsers(&f));
    out.extend([hosts(&f), pcsc(&f), readers(&f), card(&f), card_nhi(&f)]);
    out.push(clock(f.leaf.as_ref()));
    if env.online {
        out.push(sam(&f));
    }
    Report::new(
        out,
        crate::logging::log_file(&env.data_dir)
            .display()
            .to_string(),
    )
}

/// `daemon`: does this installation's component answer on its port?
fn daemon(f: &Facts<'_>) -> Check {
    let port = f.port;
    match &f.probe {
        Probe::Status(v) => Check::ok(
            "daemon",
            format!("元件執行中（版本 {}）", v["daemon"]["version"].as_str().unwrap_or("?")),
            format!("The component is running (version {})", v["daemon"]["version"].as_str().unwrap_or("?")),
        ),
        Probe::Closed => Check::bad(
            "daemon",
            Status::Fail,
            pair(format!("元件未執行（127.0.0.1:{port} 無回應）"), format!("The component is not running (nothing on 127.0.0.1:{port})")),
            fix_start_daemon(),
        ),
        Probe::Untrusted(e) | Probe::Unexpected(e) => Check::bad(
            "daemon",
            Status::Fail,
            pair(
                format!("127.0.0.1:{port} 上的程式不是本元件，或憑證不符：{e}"),
                format!("What answers on 127.0.0.1:{port} is not this component, or its certificate differs: {e}"),
            ),
            pair("請見「port」項目；若是本元件，請重新啟動它", "See `port`; if it is this component, restart it"),
        ),
    }
}

/// `pages`: whether a web page has reached the component since it started. A page that says the
/// component is missing while none has reached it was stopped by the browser (Chrome's Local
/// Network Access permission), not by the component.
fn pages(f: &Facts<'_>) -> Check {
    let Probe::Status(v) = &f.probe else {
        return Check::bad(
            "pages",
            Status::Warn,
            pair(
                "無法得知網頁連線情形",
                "Cannot tell whether pages reach the component",
            ),
            needs("daemon"),
        );
    };
    let contact = &v["last_page_contact"];
    match (contact["origin"].as_str(), contact["at"].as_str()) {
        (Some(origin), Some(at)) => {
            let local = chrono::DateTime::parse_from_rfc3339(at)
                .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|_| at.to_owned());
            Check::ok(
                "pages",
                format!("最近一次網頁連線：{local}，來自 {origin}"),
                format!("Last page contact: {local}, from {origin}"),
            )
        }
        _ => Check::ok(
            "pages",
            "元件啟動後尚無網頁連線（若網頁顯示找不到元件，請在 Chrome/Edge 允許該網站存取「區域網路」，見 docs/self-check.md）",
            "No page has reached the component since it started (if the page says the component is missing, allow the site \"local network access\" in Chrome/Edge; see docs/self-check.md)",
        ),
    }
}

/// `port`: who holds the port when the component does not answer.
fn port(f: &Facts<'_>) -> Check {
    let port = f.port;
    match (f.daemon_up(), crate::server::port::holder(port)) {
        (true, _) => Check::ok(
            "port",
            format!("連接埠 {port} 由本元件使用"),
            format!("Port {port} is this component's"),
        ),
        (false, None) => Check::ok(
            "port",
            format!("連接埠 {port} 沒有被其他程式占用"),
            format!("Port {port} is not held by another program"),
        ),
        (false, Some((pid, cmd))) if is_nhi_bridge(&cmd) => Check::bad(
            "port",
            Status::Warn,
            pair(
                format!("連接埠 {port} 由本元件（程序 {pid}）使用，但它用的不是目前的憑證"),
                format!("Port {port} is held by this component (process {pid}), but with another certificate"),
            ),
            pair("請重新啟動元件，讓它使用目前的憑證", "Restart the component so it serves the current certificate"),
        ),
        (false, Some((pid, cmd))) => {
            let old = cmd.contains("NHIICC") || cmd.contains("mLNHIICC");
            let (zh, en) = if old {
                (
                    format!("連接埠 {port} 被舊版健保卡元件占用（{pid} {cmd}）"),
                    format!("Port {port} is held by the old NHI card component ({pid} {cmd})"),
                )
            } else {
                (
                    format!("連接埠 {port} 被其他程式占用（{pid} {cmd}）"),
                    format!("Port {port} is held by another program ({pid} {cmd})"),
                )
            };
            Check::bad(
                "port",
                Status::Fail,
                (zh, en),
                if old {
                    pair(
                        "請移除舊版健保卡元件（mLNHIICC）後重新啟動本元件",
                        "Uninstall the old NHI component (mLNHIICC), then restart this one",
                    )
                } else {
                    pair(
                        format!("結束程序 {pid}，或在設定檔中改用其他 port"),
                        format!("Stop process {pid}, or set another `port` in the configuration"),
                    )
                },
            )
        }
    }
}

/// `tls.leaf`: the certificate exists, fits together and is not about to expire.
fn tls_leaf(f: &Facts<'_>) -> Check {
    match &f.status {
        Ok(s) => match s.days_left {
            Some(d) if d >= tls::RENEW_WITHIN_DAYS => Check::ok(
                "tls.leaf",
                format!("憑證有效，尚餘 {d} 天"),
                format!("The certificate is valid for {d} more days"),
            ),
            Some(d) if d >= 0 => Check::bad(
                "tls.leaf",
                Status::Warn,
                pair(
                    format!("憑證將於 {d} 天後到期"),
                    format!("The certificate expires in {d} days"),
                ),
                renew(),
            ),
            _ => Check::bad(
                "tls.leaf",
                Status::Fail,
                pair("憑證已過期", "The certificate has expired"),
                renew(),
            ),
        },
        Err(e) => Check::bad(
            "tls.leaf",
            Status::Fail,
            pair(
                format!("找不到可用的憑證（{e}）"),
                format!("No usable certificate ({e})"),
            ),
            renew(),
        ),
    }
}

/// `tls.ca_key`: no CA private key exists.
fn tls_ca_key(f: &Facts<'_>) -> Check {
    match &f.status {
        Ok(s) if !s.ca_key_present => Check::ok(
            "tls.ca_key",
            "CA 私鑰已銷毀（正確）",
            "The CA private key does not exist (as it must not)",
        ),
        Ok(_) => Check::bad(
            "tls.ca_key",
            Status::Fail,
            pair("資料目錄中存在 CA 私鑰，任何人取得即可偽造網站", "A CA private key exists in the data directory: anyone holding it can impersonate web sites"),
            renew(),
        ),
        Err(_) => Check::bad("tls.ca_key", Status::Fail, pair("沒有憑證可檢查", "No certificate to check"), needs("tls.leaf")),
    }
}

/// `tls.key_mode`: the leaf key is its owner's alone.
fn tls_key_mode(f: &Facts<'_>) -> Check {
    if tls::key_exposed(&f.paths) {
        Check::bad(
            "tls.key_mode",
            Status::Fail,
            pair(
                format!("私鑰檔 {} 其他使用者可讀取", f.paths.key.display()),
                format!(
                    "The private key {} is readable by other users",
                    f.paths.key.display()
                ),
            ),
            pair(
                format!(
                    "執行 chmod 600 {}（或 nhi-bridge cert renew）",
                    f.paths.key.display()
                ),
                format!(
                    "Run `chmod 600 {}` (or `nhi-bridge cert renew`)",
                    f.paths.key.display()
                ),
            ),
        )
    } else {
        Check::ok(
            "tls.key_mode",
            "私鑰檔只有本人可讀取",
            "The private key is readable by its owner only",
        )
    }
}

/// `trust.system`: the system store accepts the leaf.
fn trust_system(f: &Facts<'_>) -> Check {
    match &f.leaf {
        Some(l) if trust::system_trusts(l) => Check::ok(
            "trust.system",
            "系統憑證庫信任本元件的 CA",
            "The system store trusts the component's CA",
        ),
        // Browsers on Linux trust through their NSS databases (the rows below), which each
        // user's component sets up itself; only non-browser programs (curl) read this store.
        Some(_) if cfg!(target_os = "linux") => Check::bad(
            "trust.system",
            Status::Warn,
            pair(
                "系統憑證庫尚未信任本元件的 CA（瀏覽器不受影響：它們使用下列各自的憑證庫）",
                "The system store does not trust the component's CA (browsers are not affected: they use their own stores, below)",
            ),
            pair(
                "只有 curl 等非瀏覽器程式需要：sudo nhi-bridge --data-dir ~/.local/share/nhi-bridge cert install --only system",
                "Only non-browser programs such as curl need it: `sudo nhi-bridge --data-dir ~/.local/share/nhi-bridge cert install --only system`",
            ),
        ),
        Some(_) => Check::bad(
            "trust.system",
            Status::Fail,
            pair(
                "系統憑證庫尚未信任本元件的 CA",
                "The system store does not trust the component's CA",
            ),
            text(texts::TRUST_FIX),
        ),
        None => Check::bad(
            "trust.system",
            Status::Fail,
            pair("沒有憑證可檢查", "No certificate to check"),
            needs("tls.leaf"),
        ),
    }
}

/// `trust.nss` and `trust.firefox`: each browser database trusts the CA. On Windows, where
/// browsers read the Windows store: whether each Firefox profile reads it too.
fn trust_browsers(f: &Facts<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    if cfg!(windows) {
        if let Some(home) = &f.env.home {
            out.extend(trust::firefox_reads_os_roots(home).into_iter().map(
                |(label, reads)| {
                    if reads {
                        Check::ok(
                            "trust.firefox",
                            format!("{label} 使用 Windows 憑證庫"),
                            format!("{label} uses the Windows certificate store"),
                        )
                    } else {
                        Check::bad(
                            "trust.firefox",
                            Status::Warn,
                            pair(
                                format!("{label} 不信任 Windows 憑證庫中的憑證"),
                                format!("{label} does not trust the Windows certificate store"),
                            ),
                            pair(
                                "更新 Firefox，或在 about:preferences#privacy 的「憑證」勾選「允許 Firefox 自動信任您安裝的第三方根憑證」",
                                "Update Firefox, or in about:preferences#privacy under Certificates tick \"Allow Firefox to automatically trust third-party root certificates you install\"",
                            ),
                        )
                    }
                    .target(label)
                },
            ));
        }
    }
    if let (Some(home), Some(ca)) = (&f.env.home, &f.ca) {
        for db in trust::nss_dbs(home) {
            let id = if db.firefox {
                "trust.firefox"
            } else {
                "trust.nss"
            };
            if !db.dir.join("cert9.db").exists() {
                out.push(
                    Check::bad(
                        id,
                        Status::Warn,
                        pair(
                            "尚無 Chrome/Chromium 憑證資料庫（未使用過 Chrome？）",
                            "No Chrome/Chromium certificate database yet (Chrome never used?)",
                        ),
                        text(texts::TRUST_FIX),
                    )
                    .target(db.label),
                );
                continue;
            }
            out.push(match trust::nss_has(&db.dir, ca) {
                Ok(true) => Check::ok(
                    id,
                    format!("{} 信任本元件的 CA", db.label),
                    format!("{} trusts the component's CA", db.label),
                )
                .target(db.label),
                Ok(false) => Check::bad(
                    id,
                    Status::Fail,
                    pair(
                        format!("{} 尚未信任本元件的 CA", db.label),
                        format!("{} does not trust the component's CA", db.label),
                    ),
                    text(texts::TRUST_FIX),
                )
                .target(db.label),
                Err(e) => Check::bad(
                    id,
                    Status::Warn,
                    pair(
                        format!("無法檢查 {}：{e}", db.label),
                        format!("Cannot check {}: {e}", db.label),
                    ),
                    pair(
                        "安裝 certutil（Debian/Ubuntu：apt install libnss3-tools）",
                        "Install certutil (Debian/Ubuntu: apt install libnss3-tools)",
                    ),
                )
                .target(db.label),
            });
        }
    }
    out
}

/// `hosts`: `iccert.nhi.gov.tw` points to this computer.
fn hosts(f: &Facts<'_>) -> Check {
    match trust::hosts_entry(&f.env.hosts_file) {
        trust::HostsEntry::Loopback => Check::ok("hosts", texts::HOSTS_OK.zh, texts::HOSTS_OK.en),
        other => {
            let (zh, en) = match other {
                trust::HostsEntry::Other(ip) => (
                    format!("iccert.nhi.gov.tw 指向 {ip}，不是本機"),
                    format!("iccert.nhi.gov.tw points to {ip}, not this computer"),
                ),
                trust::HostsEntry::Unreadable(e) => (
                    format!("無法讀取 hosts 檔：{e}"),
                    format!("The hosts file cannot be read: {e}"),
                ),
                _ => text(texts::HOSTS_MISSING),
            };
            Check::bad(
                "hosts",
                Status::Fail,
                (zh, en),
                pair(
                    format!("以系統管理員身分執行 nhi-bridge cert install（會在 {} 加入「127.0.0.1 iccert.nhi.gov.tw」）", f.env.hosts_file.display()),
                    format!("Run `nhi-bridge cert install` as administrator (adds `127.0.0.1 iccert.nhi.gov.tw` to {})", f.env.hosts_file.display()),
                ),
            )
        }
    }
}

/// `pcsc`: the smart-card service answers.
fn pcsc(f: &Facts<'_>) -> Check {
    if f.pcsc_up {
        Check::ok("pcsc", texts::PCSC_UP.zh, texts::PCSC_UP.en)
    } else {
        Check::bad(
            "pcsc",
            Status::Fail,
            text(texts::PCSC_DOWN),
            text(texts::PCSC_FIX),
        )
    }
}

/// `readers`: at least one reader is connected.
fn readers(f: &Facts<'_>) -> Check {
    if !f.pcsc_up {
        Check::bad(
            "readers",
            Status::Fail,
            pair("無法列出讀卡機", "Cannot list readers"),
            needs("pcsc"),
        )
    } else if f.readers.is_empty() {
        Check::bad(
            "readers",
            Status::Fail,
            text(texts::NO_READER),
            text(texts::NO_READER_FIX),
        )
    } else {
        let names: Vec<&str> = f.readers.iter().map(|r| r.name.as_str()).collect();
        Check::ok(
            "readers",
            format!("{}{}", texts::READERS.zh, names.join("、")),
            format!("{}{}", texts::READERS.en, names.join(", ")),
        )
    }
}

/// `card`: a card is in a reader.
fn card(f: &Facts<'_>) -> Check {
    let with_card = f.with_card();
    if f.readers.is_empty() {
        Check::bad(
            "card",
            Status::Fail,
            pair("無法檢查卡片", "Cannot check for a card"),
            needs(if f.pcsc_up { "readers" } else { "pcsc" }),
        )
    } else if with_card.is_empty() {
        Check::bad(
            "card",
            Status::Fail,
            text(texts::NO_CARD),
            text(texts::NO_CARD_FIX),
        )
    } else {
        Check::ok(
            "card",
            format!("{}{}", texts::CARD_IN.zh, with_card.join("、")),
            format!("{}{}", texts::CARD_IN.en, with_card.join(", ")),
        )
    }
}

/// `card.nhi`: the card is an NHI card and reads (number shown masked).
fn card_nhi(f: &Facts<'_>) -> Check {
    if f.with_card().is_empty() {
        Check::bad(
            "card.nhi",
            Status::Fail,
            pair("無法檢查健保卡", "Cannot check the NHI card"),
            needs("card"),
        )
    } else {
        let preferred = f.env.config.reader.clone();
        let p = f.pcsc.clone();
        // The same bound the daemon gives a page's read (`card_timeout_secs`).
        let read = crate::service::run_with_timeout(
            Duration::from_secs(f.env.config.card_timeout_secs),
            move |abandoned: &AtomicBool| {
                crate::service::read_card(&p, preferred.as_deref(), abandoned)
                    .map(|f| (f.reader, f.value.profile.card_no.masked()))
            },
        );
        match read {
            Ok((reader, masked)) => Check::ok(
                "card.nhi",
                format!("健保卡可正常讀取（卡號 {masked}）"),
                format!("The NHI card reads correctly (card number {masked})"),
            )
            .target(reader),
            Err(e) => Check::bad(
                "card.nhi",
                Status::Fail,
                pair(
                    format!("[{}] {}", e.code, e.code.message_zh()),
                    format!("[{}] {}", e.code, e.code.message_en()),
                ),
                pair(
                    "確認插入的是健保卡、晶片朝上；重新插入後再試",
                    "Make sure it is the NHI card, chip side up; re-insert it and retry",
                ),
            ),
        }
    }
}

/// `sam` (with `--online`): the NHI cloud SAM answers its service check.
fn sam(f: &Facts<'_>) -> Check {
    match crate::sam::check_service(
        &f.env.config.sam(),
        std::time::Instant::now() + Duration::from_secs(f.env.config.hsign_timeout_secs),
    ) {
        Ok(()) => Check::ok(
            "sam",
            "健保署雲端安全模組連線正常",
            "The NHI cloud SAM answers",
        ),
        Err(code) => Check::bad(
            "sam",
            Status::Fail,
            pair(
                format!("[{code}] {}", code.message_zh()),
                format!("[{code}] {}", code.message_en()),
            ),
            pair(
                format!(
                    "確認網路可連到 {}（防火牆或 proxy 是否阻擋 TCP 443）",
                    f.env.config.sam_endpoint
                ),
                format!(
                    "Make sure {} is reachable (is a firewall or proxy blocking TCP 443?)",
                    f.env.config.sam_endpoint
                ),
            ),
        ),
    }
}

/// Whether a command line runs the nhi-bridge executable itself.
fn is_nhi_bridge(cmd: &str) -> bool {
    cmd.split_whitespace()
        .next()
        .and_then(|exe| std::path::Path::new(exe).file_stem())
        .is_some_and(|stem| stem == "nhi-bridge")
}

/// The local UTC offset in minutes, as the platform's time zone says.
fn local_offset_minutes() -> Option<i32> {
    use chrono::Offset;
    Some(chrono::Local::now().offset().fix().local_minus_utc() / 60)
}

fn clock(leaf: Option<&openssl::x509::X509>) -> Check {
    let year = chrono::Datelike::year(&chrono::Utc::now());
    let before_leaf = leaf.is_some_and(|l| {
        openssl::asn1::Asn1Time::days_from_now(0)
            .ok()
            .and_then(|t| t.compare(l.not_before()).ok())
            .is_some_and(|o| o == std::cmp::Ordering::Less)
    });
    if !(2025..2100).contains(&year) || before_leaf {
        return Check::bad(
            "clock",
            Status::Fail,
            pair(
                "電腦的日期時間不正確",
                "The computer's date and time are wrong",
            ),
            pair(
                "請將電腦時間設為自動同步（網際網路時間）",
                "Set the clock to synchronise automatically (internet time)",
            ),
        );
    }
    let zone = match local_offset_minutes() {
        Some(m) => format!(
            "UTC{}{:02}:{:02}",
            if m < 0 { '-' } else { '+' },
            m.abs() / 60,
            m.abs() % 60
        ),
        None => "?".into(),
    };
    Check::ok(
        "clock",
        format!("時鐘正常；時區 {zone}（加密使用臺灣時間 UTC+08:00）"),
        format!("The clock is sane; time zone {zone} (encryption uses Taiwan time, UTC+08:00)"),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn recognises_its_own_executable_only() {
        assert!(super::is_nhi_bridge("/usr/bin/nhi-bridge run --headless"));
        assert!(!super::is_nhi_bridge(
            "/home/u/nhi-bridge/target/debug/deps/rig-123 selfcheck"
        ));
        assert!(!super::is_nhi_bridge("/opt/NHIICC/mLNHIICC"));
    }
}
