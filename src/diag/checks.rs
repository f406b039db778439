//! The ordered self-check. Each check says what it found and, when something is wrong, the exact
//! fix, in zh-TW and English. Checks that depend on an earlier one (the card on PC/SC) still run,
//! but say which earlier check to fix first.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::probe::{self, Probe};
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

fn fix_pcsc() -> (String, String) {
    if cfg!(windows) {
        pair(
            "在「服務」中啟動「Smart Card（智慧卡）」服務，並設為自動",
            "Start the \"Smart Card\" (SCardSvr) service in Services and set it to Automatic",
        )
    } else if cfg!(target_os = "macos") {
        pair(
            "重新插拔讀卡機；若仍失敗請重新開機",
            "Re-plug the reader; if that fails, restart the Mac",
        )
    } else {
        pair(
            "執行 sudo apt install pcscd 並 sudo systemctl enable --now pcscd.socket",
            "Run `sudo apt install pcscd` and `sudo systemctl enable --now pcscd.socket`",
        )
    }
}

fn fix_trust() -> (String, String) {
    pair(
        "以系統管理員身分執行 nhi-bridge cert install，然後重新開啟瀏覽器",
        "Run `nhi-bridge cert install` as administrator (sudo), then restart the browser",
    )
}

fn needs(first: &str) -> (String, String) {
    pair(
        format!("請先修正「{first}」項目"),
        format!("Fix `{first}` first"),
    )
}

/// Runs every check in order.
pub fn run(env: &Env) -> Report {
    let port = env.config.port;
    let paths = tls::Paths::new(&env.data_dir);
    let mut out = Vec::new();

    // Daemon and port.
    let probe = probe::status(port, &paths.ca, Duration::from_secs(3));
    let daemon_up = matches!(probe, Probe::Status(_));
    out.push(match &probe {
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
    });
    out.push(match (daemon_up, crate::server::port::holder(port)) {
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
    });

    // Certificate.
    let status = tls::status(&paths);
    let leaf = std::fs::read(&paths.leaf)
        .ok()
        .and_then(|b| openssl::x509::X509::stack_from_pem(&b).ok())
        .and_then(|s| s.into_iter().next());
    let ca = std::fs::read(&paths.ca)
        .ok()
        .and_then(|b| openssl::x509::X509::from_pem(&b).ok());
    let renew = pair(
        "執行 nhi-bridge cert renew 與 nhi-bridge cert install，然後重新啟動元件",
        "Run `nhi-bridge cert renew` and `nhi-bridge cert install`, then restart the component",
    );
    out.push(match &status {
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
                renew.clone(),
            ),
            _ => Check::bad(
                "tls.leaf",
                Status::Fail,
                pair("憑證已過期", "The certificate has expired"),
                renew.clone(),
            ),
        },
        Err(e) => Check::bad(
            "tls.leaf",
            Status::Fail,
            pair(
                format!("找不到可用的憑證（{e}）"),
                format!("No usable certificate ({e})"),
            ),
            renew.clone(),
        ),
    });
    out.push(match &status {
        Ok(s) if !s.ca_key_present => Check::ok(
            "tls.ca_key",
            "CA 私鑰已銷毀（正確）",
            "The CA private key does not exist (as it must not)",
        ),
        Ok(_) => Check::bad(
            "tls.ca_key",
            Status::Fail,
            pair("資料目錄中存在 CA 私鑰，任何人取得即可偽造網站", "A CA private key exists in the data directory: anyone holding it can impersonate web sites"),
            renew.clone(),
        ),
        Err(_) => Check::bad("tls.ca_key", Status::Fail, pair("沒有憑證可檢查", "No certificate to check"), needs("tls.leaf")),
    });
    out.push(if tls::key_exposed(&paths) {
        Check::bad(
            "tls.key_mode",
            Status::Fail,
            pair(
                format!("私鑰檔 {} 其他使用者可讀取", paths.key.display()),
                format!(
                    "The private key {} is readable by other users",
                    paths.key.display()
                ),
            ),
            pair(
                format!(
                    "執行 chmod 600 {}（或 nhi-bridge cert renew）",
                    paths.key.display()
                ),
                format!(
                    "Run `chmod 600 {}` (or `nhi-bridge cert renew`)",
                    paths.key.display()
                ),
            ),
        )
    } else {
        Check::ok(
            "tls.key_mode",
            "私鑰檔只有本人可讀取",
            "The private key is readable by its owner only",
        )
    });

    // Trust.
    out.push(match &leaf {
        Some(l) if trust::system_trusts(l) => Check::ok(
            "trust.system",
            "系統憑證庫信任本元件的 CA",
            "The system store trusts the component's CA",
        ),
        Some(_) => Check::bad(
            "trust.system",
            Status::Fail,
            pair(
                "系統憑證庫尚未信任本元件的 CA",
                "The system store does not trust the component's CA",
            ),
            fix_trust(),
        ),
        None => Check::bad(
            "trust.system",
            Status::Fail,
            pair("沒有憑證可檢查", "No certificate to check"),
            needs("tls.leaf"),
        ),
    });
    if let (Some(home), Some(ca)) = (&env.home, &ca) {
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
                        fix_trust(),
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
                    fix_trust(),
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

    // Hosts entry.
    out.push(match trust::hosts_entry(&env.hosts_file) {
        trust::HostsEntry::Loopback => Check::ok("hosts", "iccert.nhi.gov.tw 指向本機 127.0.0.1", "iccert.nhi.gov.tw points to this computer (127.0.0.1)"),
        other => {
            let (zh, en) = match other {
                trust::HostsEntry::Other(ip) => (format!("iccert.nhi.gov.tw 指向 {ip}，不是本機"), format!("iccert.nhi.gov.tw points to {ip}, not this computer")),
                trust::HostsEntry::Unreadable(e) => (format!("無法讀取 hosts 檔：{e}"), format!("The hosts file cannot be read: {e}")),
                _ => ("hosts 檔中沒有 iccert.nhi.gov.tw".to_owned(), "iccert.nhi.gov.tw is missing from the hosts file".to_owned()),
            };
            Check::bad(
                "hosts",
                Status::Fail,
                (zh, en),
                pair(
                    format!("以系統管理員身分執行 nhi-bridge cert install（會在 {} 加入「127.0.0.1 iccert.nhi.gov.tw」）", env.hosts_file.display()),
                    format!("Run `nhi-bridge cert install` as administrator (adds `127.0.0.1 iccert.nhi.gov.tw` to {})", env.hosts_file.display()),
                ),
            )
        }
    });

    // PC/SC, reader, card.
    let pcsc = Arc::new(Pcsc::new());
    let pcsc_up = pcsc.is_available();
    out.push(if pcsc_up {
        Check::ok(
            "pcsc",
            "讀卡機服務（PC/SC）運作中",
            "The PC/SC smart-card service is running",
        )
    } else {
        Check::bad(
            "pcsc",
            Status::Fail,
            pair(
                "讀卡機服務（PC/SC）未執行",
                "The PC/SC smart-card service is not running",
            ),
            fix_pcsc(),
        )
    });
    let readers = if pcsc_up {
        pcsc.readers().unwrap_or_default()
    } else {
        Vec::new()
    };
    out.push(if !pcsc_up {
        Check::bad(
            "readers",
            Status::Fail,
            pair("無法列出讀卡機", "Cannot list readers"),
            needs("pcsc"),
        )
    } else if readers.is_empty() {
        Check::bad(
            "readers",
            Status::Fail,
            pair("找不到讀卡機", "No card reader found"),
            pair(
                "請將讀卡機接上電腦（換一個 USB 孔試試）",
                "Plug the card reader in (try another USB port)",
            ),
        )
    } else {
        let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
        Check::ok(
            "readers",
            format!("讀卡機：{}", names.join("、")),
            format!("Readers: {}", names.join(", ")),
        )
    });
    let with_card: Vec<&str> = readers
        .iter()
        .filter(|r| r.card_present)
        .map(|r| r.name.as_str())
        .collect();
    out.push(if readers.is_empty() {
        Check::bad(
            "card",
            Status::Fail,
            pair("無法檢查卡片", "Cannot check for a card"),
            needs(if pcsc_up { "readers" } else { "pcsc" }),
        )
    } else if with_card.is_empty() {
        Check::bad(
            "card",
            Status::Fail,
            pair("讀卡機中沒有卡片", "No card in the reader"),
            pair(
                "請將健保卡晶片朝上、朝讀卡機方向插入",
                "Insert the NHI card chip side up, chip first",
            ),
        )
    } else {
        Check::ok(
            "card",
            format!("已插卡（{}）", with_card.join("、")),
            format!("A card is inserted ({})", with_card.join(", ")),
        )
    });
    out.push(if with_card.is_empty() {
        Check::bad(
            "card.nhi",
            Status::Fail,
            pair("無法檢查健保卡", "Cannot check the NHI card"),
            needs("card"),
        )
    } else {
        let preferred = env.config.reader.clone();
        let p = pcsc.clone();
        let read = crate::service::run_with_timeout(
            Duration::from_secs(10),
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
    });

    // Clock and time zone.
    out.push(clock(leaf.as_ref()));

    // Cloud SAM.
    if env.online {
        out.push(
            match crate::sam::check_service(
                &env.config.sam(),
                std::time::Instant::now() + Duration::from_secs(env.config.hsign_timeout_secs),
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
                            env.config.sam_endpoint
                        ),
                        format!(
                            "Make sure {} is reachable (is a firewall or proxy blocking TCP 443?)",
                            env.config.sam_endpoint
                        ),
                    ),
                ),
            },
        );
    }

    Report::new(
        out,
        crate::logging::log_file(&env.data_dir)
            .display()
            .to_string(),
    )
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
