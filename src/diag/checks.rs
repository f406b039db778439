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
            "從「開始」選單開啟「啟動健保卡元件 Start nhi-bridge」",
            "Open \"啟動健保卡元件 Start nhi-bridge\" from the Start menu",
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

fn fix_first_start() -> (String, String) {
    if cfg!(windows) || cfg!(target_os = "macos") {
        fix_start_daemon()
    } else {
        pair(
            "登出後再登入，或現在從應用程式選單開啟「啟動健保卡讀卡機元件」（或執行 systemctl --user start nhi-bridge）",
            "Log out and in again, or open \"Start nhi-bridge\" from the applications menu now (or run `systemctl --user start nhi-bridge`)",
        )
    }
}

/// A row that cannot be judged until the component's first start made the certificate.
fn not_created_yet(id: &'static str) -> Check {
    let mut c = Check::bad(
        id,
        Status::Fail,
        pair(
            "尚未建立（元件第一次啟動時產生）",
            "Not created yet (made at the component's first start)",
        ),
        needs("daemon"),
    );
    c.fix_zh = None;
    c.fix_en = None;
    c.waiting_for = Some("daemon");
    c
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

    /// Nothing answers and no certificate was ever made: the component has not started yet
    /// (it makes its certificate at its first start).
    fn never_started(&self) -> bool {
        !self.daemon_up() && !self.paths.leaf.exists() && !self.paths.ca.exists()
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
    let browsers_trust = trust_browsers(&f);
    let mut out = vec![
        daemon(&f),
        pages(&f),
        port(&f),
        tls_leaf(&f),
        tls_ca_key(&f),
        tls_key_mode(&f),
        trust_system(&f, &browsers_trust),
    ];
    out.extend(browsers_trust);
    out.push(hosts(&f));
    out.extend(browsers(&f));
    out.extend([pcsc(&f), readers(&f), card(&f), card_nhi(&f)]);
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
        Probe::Closed if f.never_started() => Check::bad(
            "daemon",
            Status::Fail,
            pair(
                "元件尚未啟動過（第一次啟動時會自動建立憑證並讓瀏覽器信任它）",
                "The component has not started yet (its first start makes its certificate and has the browsers trust it)",
            ),
            fix_first_start(),
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
            "元件啟動後尚無網頁連線（若網頁顯示找不到元件，多半是瀏覽器擋下：請看下方 browser 項目，在瀏覽器允許該網站使用「裝置上的應用程式」）",
            "No page has reached the component since it started (if the page says the component is missing, the browser most likely stopped it: see the browser rows below; allow the site \"Apps on device\")",
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
    if f.never_started() {
        return not_created_yet("tls.leaf");
    }
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
    if f.never_started() {
        return not_created_yet("tls.ca_key");
    }
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
    if f.never_started() {
        return not_created_yet("tls.key_mode");
    }
    if !f.paths.key.exists() {
        let mut c = Check::bad(
            "tls.key_mode",
            Status::Fail,
            pair("沒有私鑰可檢查", "No private key to check"),
            needs("tls.leaf"),
        );
        c.waiting_for = Some("tls.leaf");
        return c;
    }
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

/// `trust.system`: the system store accepts the leaf. On Linux the browsers trust through their
/// own stores (`browsers`, the rows after this one), so when every one of them does, the system
/// store is a fact to know, not something to fix.
fn trust_system(f: &Facts<'_>, browsers: &[Check]) -> Check {
    if f.never_started() {
        return not_created_yet("trust.system");
    }
    let browsers_trust = !browsers.is_empty() && browsers.iter().all(|c| c.status == Status::Ok);
    match &f.leaf {
        Some(l) if trust::system_trusts(l) => Check::ok(
            "trust.system",
            "系統憑證庫信任本元件的 CA",
            "The system store trusts the component's CA",
        ),
        Some(_) if cfg!(target_os = "linux") && browsers_trust => Check::ok(
            "trust.system",
            "系統憑證庫未加入本元件的 CA（不需要：瀏覽器使用下列各自的憑證庫，皆已信任）",
            "The system store does not hold the component's CA (not needed: the browsers use their own stores, below, and all trust it)",
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

fn admin_command(cmd: &str) -> (String, String) {
    if cfg!(windows) {
        pair(
            format!("以系統管理員身分執行 nhi-bridge {cmd}"),
            format!("run `nhi-bridge {cmd}` as administrator"),
        )
    } else {
        pair(
            format!("執行 sudo nhi-bridge {cmd}"),
            format!("run `sudo nhi-bridge {cmd}`"),
        )
    }
}

/// `browser.<browser>.<profile>`: may NHI pages reach the component from this profile (Local
/// Network Access)? One row per profile; `browser.policy.<browser>` when a policy cannot be read
/// as it looks.
fn browsers(f: &Facts<'_>) -> Vec<Check> {
    let Some(home) = &f.env.home else {
        return Vec::new();
    };
    let allow = f.env.config.allowlist();
    let report = crate::browser::report(home, &allow);
    let page = crate::browser::page_site(&allow);
    let mut out: Vec<Check> = report
        .profiles
        .iter()
        .map(|p| browser_row(p, &page))
        .collect();
    for bp in &report.policies {
        let st = &bp.state;
        let mut problems = st.problems.clone();
        if let Some(by) = &st.ours_shadowed_by {
            problems.push(format!(
                "{by} sets the same policy and is read after ours, so ours is not in force"
            ));
        }
        if problems.is_empty() {
            continue;
        }
        let text = problems.join("; ");
        out.push(Check::bad(
            format!("browser.policy.{}", bp.browser.id()),
            Status::Warn,
            pair(
                format!("{} 的管理原則有無法照字面讀取之處：{text}", bp.browser.name()),
                format!("{}'s managed policies are not read as they look: {text}", bp.browser.name()),
            ),
            pair(
                format!("請 IT 人員修正上述檔案或登錄值；NHI 網站應列在 {} 的 LocalNetworkAccessAllowedForUrls", st.location),
                format!("Have IT fix the file or registry value above; NHI sites belong in LocalNetworkAccessAllowedForUrls at {}", st.location),
            ),
        ));
    }
    out
}

pub(super) fn browser_row(p: &crate::browser::ProfileAccess, page: &str) -> Check {
    use crate::browser::{setting_name, settings_url, Access};
    let id = format!("browser.{}.{}", p.browser, p.profile);
    let who = format!("{}（{}）", p.browser_name, p.profile);
    let who_en = format!("{} ({})", p.browser_name, p.profile);
    let (zh_name, en_name) = setting_name(p.version.as_deref());
    let site = p.site.clone().unwrap_or_else(|| page.to_owned());
    let url = settings_url(p.browser, &site);
    let (admin_zh, admin_en) = admin_command("browser allow");
    let row = match p.access {
        Access::AllowedByPolicy => Check::ok(
            id,
            format!("{who}：NHI 網頁可直接使用本元件（管理原則允許，不會詢問）"),
            format!("{who_en}: NHI pages may reach the component (allowed by managed policy; no prompt)"),
        ),
        Access::AllowedByUser => Check::ok(
            id,
            format!("{who}：已允許 {site} 使用「{zh_name}」"),
            format!("{who_en}: {site} is allowed \"{en_name}\""),
        ),
        Access::NotGated => Check::ok(
            id,
            format!("{who}：瀏覽器未限制網頁連到本機"),
            format!("{who_en}: the browser does not restrict pages from reaching this computer"),
        ),
        Access::WillAsk => Check::bad(
            id,
            Status::Warn,
            pair(
                format!("{who}：NHI 網頁第一次使用元件時，瀏覽器會詢問「存取這部裝置上的其他應用程式和服務」（「{zh_name}」）"),
                format!("{who_en}: the first time an NHI page uses the component, the browser asks to \"access other apps and services on this device\" (\"{en_name}\")"),
            ),
            pair(
                format!("出現詢問時請按「允許」；或{admin_zh}，讓 NHI 網頁不必詢問"),
                format!("Choose \"Allow\" when asked; or {admin_en} so NHI pages are not asked about"),
            ),
        ),
        Access::BlockedByUser => Check::bad(
            id,
            Status::Fail,
            pair(
                format!("{who}：已封鎖 {site} 的「{zh_name}」權限，NHI 網頁會顯示「請檢查元件是否已正確安裝且啟動…請確認是否要下載安裝程式?」（不必重新安裝）"),
                format!("{who_en}: {site} is blocked from \"{en_name}\"; the NHI page then says the component is not installed or not running (no need to reinstall)"),
            ),
            pair(
                format!("在 {} 開啟 {url}（或按網址列左側的圖示 →「網站設定」），將「{zh_name}」改為「允許」，再重新載入 NHI 網頁；或{admin_zh}", p.browser_name),
                format!("In {}, open {url} (or click the icon left of the address → \"Site settings\"), set \"{en_name}\" to \"Allow\" and reload the NHI page; or {admin_en}", p.browser_name),
            ),
        ),
        Access::BlockedByPolicy => Check::bad(
            id,
            Status::Fail,
            pair(
                format!("{who}：貴單位的管理原則封鎖 NHI 網頁連到本機（{site}）"),
                format!("{who_en}: your organisation's managed policy blocks NHI pages from reaching this computer ({site})"),
            ),
            pair(
                "請 IT 人員將 NHI 網站自 LocalNetworkAccessBlockedForUrls 移除，或加入 LocalNetworkAccessAllowedForUrls",
                "Have IT take NHI sites out of LocalNetworkAccessBlockedForUrls, or add them to LocalNetworkAccessAllowedForUrls",
            ),
        ),
        Access::Unknown if p.browser == "firefox" => Check::ok(
            id,
            format!("{who}：無法得知 Firefox 是否允許 NHI 網頁連到本機（網站的選擇存在 permissions.sqlite，不讀取）；若網頁顯示找不到元件，請按網址列左側的權限圖示允許「裝置上的應用程式與服務」"),
            format!("{who_en}: cannot tell whether Firefox lets NHI pages reach this computer (site choices live in permissions.sqlite, not read); if the page says the component is missing, allow \"apps and services on this device\" from the permissions icon left of the address"),
        ),
        Access::Unknown => Check::bad(
            id,
            Status::Warn,
            pair(
                format!("{who}：無法讀取設定（{}）", p.detail.as_deref().unwrap_or("?")),
                format!("{who_en}: could not read its settings ({})", p.detail.as_deref().unwrap_or("?")),
            ),
            pair(
                format!("關閉 {} 後再檢測一次；或{admin_zh}，讓 NHI 網頁不必詢問", p.browser_name),
                format!("Close {} and check again; or {admin_en} so NHI pages are not asked about", p.browser_name),
            ),
        ),
    };
    row
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
    super::model::pcsc_row(f.pcsc_up)
}

fn reader_names(f: &Facts<'_>) -> Vec<String> {
    f.readers.iter().map(|r| r.name.clone()).collect()
}

/// `readers`: at least one reader is connected (the page's row, from the same function).
fn readers(f: &Facts<'_>) -> Check {
    super::model::readers_row(f.pcsc_up, &reader_names(f))
}

/// `card`: a card is in a reader (the page's row, from the same function).
fn card(f: &Facts<'_>) -> Check {
    let with: Vec<String> = f.with_card().into_iter().map(str::to_owned).collect();
    super::model::card_present_row(f.pcsc_up, &reader_names(f), &with)
}

/// `card.nhi`: the card is an NHI card and reads (number shown masked).
fn card_nhi(f: &Facts<'_>) -> Check {
    if f.with_card().is_empty() {
        let mut c = Check::bad(
            "card.nhi",
            Status::Fail,
            pair("無法檢查健保卡", "Cannot check the NHI card"),
            needs("card"),
        );
        c.waiting_for = Some("card");
        c
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
            Err(e) => super::model::card_error_row("card.nhi", e.code),
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
