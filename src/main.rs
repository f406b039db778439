//! The `nhi-bridge` command line. Errors are shown as one line in zh-TW and English and turned
//! into the exit status of their [`ErrorCode`]; `anyhow` stops here.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde::Serialize;

use nhi_bridge::apdu::hex;
use nhi_bridge::api::v1::CardJson;
use nhi_bridge::card::Sex;
use nhi_bridge::config;
use nhi_bridge::error::ErrorCode;
use nhi_bridge::reader::{Pcsc, ReaderInfo};
use nhi_bridge::service::{self, CardReadout, ServiceError};
use nhi_bridge::tls;

mod daemon;

/// Exit status for a configuration file that cannot be used (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;
/// Exit status when the port is taken or the listener cannot start (sysexits EX_UNAVAILABLE).
const EXIT_UNAVAILABLE: u8 = 69;

#[derive(Parser)]
#[command(
    name = "nhi-bridge",
    version,
    about = "健保卡讀卡機元件 — NHI card reader component"
)]
struct Cli {
    /// Directory for the program's state (certificates, logs).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// 啟動元件（預設）— run the daemon: HTTPS/WSS on 127.0.0.1 and ::1 only.
    Run(RunArgs),
    /// 憑證 — the local TLS certificate.
    Cert {
        #[command(subcommand)]
        action: CertAction,
    },
    /// 元件檢測 — self-check; exit 0 all ok, 1 warnings, 2 a failure.
    Check {
        #[arg(long)]
        json: bool,
        /// Also contact the NHI cloud SAM.
        #[arg(long)]
        online: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// 診斷資料 — write a redacted diagnostics bundle (.tar.gz) for support staff.
    Diagnose {
        /// Where to write it (default: Downloads, else home).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[arg(long)]
        online: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// 列出讀卡機 — list card readers and whether a card is inserted.
    Readers {
        #[arg(long)]
        json: bool,
    },
    /// 讀取健保卡 — print the profile of the NHI card.
    Read {
        /// Use this reader (exact name, see `readers`) instead of the first with an NHI card.
        #[arg(long, value_name = "NAME")]
        reader: Option<String>,
        #[arg(long)]
        json: bool,
        /// Give up on the card after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
        timeout: f64,
    },
}

#[derive(clap::Args, Default)]
pub struct RunArgs {
    /// No tray icon (servers, CI, terminals).
    #[arg(long)]
    pub headless: bool,
    /// Port on 127.0.0.1/::1 (default from the config file, else 7777).
    #[arg(long)]
    pub port: Option<u16>,
    /// Configuration file (TOML). Default: the per-user config directory's config.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Which daemon configuration the self-check compares against.
#[derive(clap::Args)]
struct TargetArgs {
    /// The daemon's port (default: from the configuration, else 7777).
    #[arg(long)]
    port: Option<u16>,
    /// Configuration file (default: the per-user one).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CertAction {
    /// Trust the CA in the system store, Chrome/Chromium's and every Firefox profile's NSS
    /// database, and add `127.0.0.1 iccert.nhi.gov.tw` to the hosts file (needs administrator).
    Install,
    /// Undo `install`.
    Uninstall,
    /// Show the certificate: subject, names, fingerprints, validity, and that no CA key exists.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Make a new CA and leaf (the running daemon uses them after a restart).
    Renew,
}

/// Everything this program creates — logs, keys, diagnostics bundles — is its user's alone. Files
/// meant for others (the CA copy in the system store, the hosts file) get explicit modes.
fn private_files() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

fn main() -> ExitCode {
    private_files();
    let cli = Cli::parse();
    let Some(data_dir) = config::data_dir(cli.data_dir.clone()) else {
        eprintln!("錯誤 Error: 找不到使用者資料目錄，請以 --data-dir 指定 — no user data directory; pass --data-dir");
        return ExitCode::from(EXIT_CONFIG);
    };
    let command = cli.command.unwrap_or(Command::Run(RunArgs::default()));
    if let Command::Run(args) = command {
        return daemon::main(args, data_dir, cli.verbose);
    }
    let _log = init_logging(cli.verbose, "warn", None);
    log::debug!("data directory: {}", data_dir.display());
    match run(command, &data_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Service { err, json }) => {
            log::debug!("{}", err.detail);
            report(err.code, json);
            ExitCode::from(err.code.exit_status())
        }
        Err(Failure::Other(e)) => {
            eprintln!("錯誤 Error: {e:#}");
            ExitCode::from(ErrorCode::Internal.exit_status())
        }
        Err(Failure::Exit(code)) => ExitCode::from(code),
    }
}

/// Logs to stderr (and, with `data_dir`, to the rotated log file). `-v`… and RUST_LOG win over
/// `default`.
pub fn init_logging(
    verbose: u8,
    default: &str,
    data_dir: Option<&std::path::Path>,
) -> Option<flexi_logger::LoggerHandle> {
    let level = match verbose {
        0 => default,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    nhi_bridge::logging::init(level, data_dir)
}

enum Failure {
    Service {
        err: ServiceError,
        json: bool,
    },
    Other(anyhow::Error),
    /// Not an error: the command's verdict as exit status (the self-check).
    Exit(u8),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Other(e)
    }
}

#[derive(Serialize)]
struct ErrorJson {
    code: &'static str,
    message_zh: &'static str,
    message_en: &'static str,
}

fn report(code: ErrorCode, json: bool) {
    if json {
        let body = ErrorJson {
            code: code.code(),
            message_zh: code.message_zh(),
            message_en: code.message_en(),
        };
        if let Ok(text) = serde_json::to_string(&body) {
            println!("{text}");
        }
    }
    eprintln!(
        "錯誤 {code}：{} — Error {code}: {}",
        code.message_zh(),
        code.message_en()
    );
}

fn run(command: Command, data_dir: &std::path::Path) -> Result<(), Failure> {
    match command {
        Command::Run(_) => Ok(()),
        Command::Cert { action } => cert(action, data_dir).map_err(Failure::Other),
        Command::Check {
            json,
            online,
            target,
        } => {
            let report = nhi_bridge::diag::checks::run(&check_env(data_dir, &target, online)?);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
                );
            } else {
                use std::io::IsTerminal;
                let colour =
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                print!("{}", report.render(colour));
            }
            Err(Failure::Exit(report.exit_status()))
        }
        Command::Diagnose {
            out,
            online,
            target,
        } => {
            let env = check_env(data_dir, &target, online)?;
            let report = nhi_bridge::diag::checks::run(&env);
            let path = out.unwrap_or_else(nhi_bridge::diag::bundle::default_path);
            let files = nhi_bridge::diag::bundle::write(&path, &env, &report)
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            println!("已寫入診斷資料 Diagnostics written: {}", path.display());
            println!("內容 Contents: {}", files.join(", "));
            println!("記錄檔 Log file: {}", report.log_file);
            println!("請將此檔案寄給客服人員；其中不含個人資料。— Send this file to support; it holds no personal data.");
            Ok(())
        }
        Command::Readers { json } => {
            let readers = Pcsc::new().readers().map_err(|e| Failure::Service {
                err: e.into(),
                json,
            })?;
            if readers.is_empty() {
                let err = ServiceError::new(ErrorCode::NoReader, "no reader listed");
                return Err(Failure::Service { err, json });
            }
            print_readers(&readers, json)?;
            Ok(())
        }
        Command::Read {
            reader,
            json,
            timeout,
        } => {
            let timeout = Duration::try_from_secs_f64(timeout)
                .map_err(|_| anyhow::anyhow!("--timeout must be a positive number of seconds"))?;
            let readout = service::read_card_within(Arc::new(Pcsc::new()), reader, timeout)
                .map_err(|err| Failure::Service { err, json })?;
            print_readout(&readout, json)?;
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct ReaderJson<'a> {
    name: &'a str,
    card_present: bool,
    atr: Option<String>,
}

fn print_readers(readers: &[ReaderInfo], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let list: Vec<ReaderJson> = readers
            .iter()
            .map(|r| ReaderJson {
                name: &r.name,
                card_present: r.card_present,
                atr: r.card_present.then(|| hex(&r.atr)),
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(());
    }
    writeln!(out, "讀卡機 Readers ({}):", readers.len())?;
    for r in readers {
        if r.card_present {
            writeln!(
                out,
                "  {}  — 已插卡 card inserted (ATR {})",
                r.name,
                hex(&r.atr)
            )?;
        } else {
            writeln!(out, "  {}  — 無卡片 no card", r.name)?;
        }
    }
    Ok(())
}

fn print_readout(r: &CardReadout, json: bool) -> anyhow::Result<()> {
    let p = &r.profile;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&CardJson::new(r))?)?;
        return Ok(());
    }
    let roc = |d: &nhi_bridge::card::RocDate| {
        format!(
            "{}（民國 {} 年 {} 月 {} 日）",
            d.iso(),
            d.roc_year(),
            d.month(),
            d.day()
        )
    };
    let sex = match p.sex {
        Sex::Male => "男 M",
        Sex::Female => "女 F",
    };
    writeln!(out, "讀卡機   Reader      : {}", r.reader)?;
    writeln!(out, "卡號     Card number : {}", p.card_no.as_str())?;
    writeln!(out, "姓名     Name        : {}", p.name.text())?;
    writeln!(out, "身分證號 ID number   : {}", p.id_no.as_str())?;
    writeln!(out, "出生日期 Birth date  : {}", roc(&p.birth_date))?;
    writeln!(out, "性別     Sex         : {sex}")?;
    writeln!(out, "發卡日期 Issue date  : {}", roc(&p.issue_date))?;
    match &r.card_data {
        Some(d) => writeln!(out, "卡片註記 Card data   : {}", d.as_str())?,
        None => writeln!(out, "卡片註記 Card data   : （卡片未提供 not provided）")?,
    }
    Ok(())
}

fn check_env(
    data_dir: &std::path::Path,
    target: &TargetArgs,
    online: bool,
) -> Result<nhi_bridge::diag::checks::Env, Failure> {
    let path = target.config.clone().or_else(config::default_config_file);
    let mut cfg = match &path {
        Some(p) => config::Config::load(p).map_err(|e| Failure::Other(e.into()))?,
        None => config::Config::default(),
    };
    if let Some(p) = target.port {
        cfg.port = p;
    }
    Ok(nhi_bridge::diag::checks::Env {
        data_dir: data_dir.to_path_buf(),
        config: cfg,
        home: directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()),
        hosts_file: tls::trust::hosts_file(),
        online,
    })
}

fn step(zh: &str, en: &str, r: Result<(), tls::trust::TrustError>, failed: &mut bool) {
    match r {
        Ok(()) => println!("[ OK ] {zh} — {en}"),
        Err(e) => {
            *failed = true;
            println!("[FAIL] {zh} — {en}: {e}");
        }
    }
}

fn cert(action: CertAction, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let paths = tls::Paths::new(data_dir);
    match action {
        CertAction::Install => {
            let (_, issued) = tls::ensure(&paths)?;
            if let Some(reason) = issued {
                println!("已產生新的憑證 New certificate issued ({reason})");
            }
            let mut failed = false;
            step(
                "系統憑證庫",
                "system store",
                tls::trust::system_install(&paths.ca),
                &mut failed,
            );
            if let Some(home) = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()) {
                for db in tls::trust::nss_dbs(&home) {
                    let r = tls::trust::nss_install(&db.dir, &paths.ca);
                    step(&db.label, &db.label, r, &mut failed);
                }
            }
            let hosts = tls::trust::hosts_file();
            step(
                "hosts 檔（iccert.nhi.gov.tw → 127.0.0.1）",
                &format!("hosts entry in {}", hosts.display()),
                tls::trust::hosts_add(&hosts),
                &mut failed,
            );
            if failed {
                anyhow::bail!("部分步驟失敗（需要系統管理員權限？）— some steps failed (administrator rights needed?)");
            }
            println!("請重新開啟瀏覽器 — restart the browser");
            Ok(())
        }
        CertAction::Uninstall => {
            let mut failed = false;
            step(
                "系統憑證庫",
                "system store",
                tls::trust::system_remove(),
                &mut failed,
            );
            if let Some(home) = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()) {
                for db in tls::trust::nss_dbs(&home) {
                    step(
                        &db.label,
                        &db.label,
                        tls::trust::nss_remove(&db.dir),
                        &mut failed,
                    );
                }
            }
            let hosts = tls::trust::hosts_file();
            step(
                "hosts 檔",
                &format!("hosts entry in {}", hosts.display()),
                tls::trust::hosts_remove(&hosts),
                &mut failed,
            );
            if failed {
                anyhow::bail!("部分步驟失敗 — some steps failed");
            }
            Ok(())
        }
        CertAction::Renew => {
            tls::issue_and_store(&paths, tls::ca::LEAF_DAYS)?;
            println!(
                "已產生新的憑證 New certificate issued in {}",
                paths.dir.display()
            );
            println!(
                "請重新啟動元件並重新信任新的 CA — restart the daemon and trust the new CA ({})",
                paths.ca.display()
            );
            Ok(())
        }
        CertAction::Status { json } => {
            let st = tls::status(&paths)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
                return Ok(());
            }
            println!("目錄 Directory   : {}", st.dir);
            println!("主體 Subject     : {}", st.subject);
            println!("簽發者 Issuer    : {}", st.issuer);
            println!("名稱 Names       : {}", st.sans.join(", "));
            println!("生效 Not before  : {}", st.not_before);
            println!(
                "到期 Not after   : {}（剩 {} 天 days left）",
                st.not_after,
                st.days_left.map_or("?".into(), |d| d.to_string())
            );
            println!("憑證指紋 Leaf SHA-256 : {}", st.leaf_sha256);
            println!("CA 指紋  CA SHA-256   : {}", st.ca_sha256);
            println!(
                "CA 私鑰 CA private key: {}",
                if st.ca_key_present {
                    "存在（不應存在！）PRESENT — must not be"
                } else {
                    "不存在 absent (as it must be)"
                }
            );
            Ok(())
        }
    }
}
