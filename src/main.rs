//! The `nhi-bridge` command line. Errors are shown as one line in zh-TW and English and turned
//! into one exit-status scheme for every subcommand (docs/error-codes.md); `anyhow` stops here.
//! Output goes through [`say!`], so a reader that stops reading (`| head -1`) ends the output,
//! not the program.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde::Serialize;

use nhi_bridge::apdu::hex;
use nhi_bridge::api::v1::{CardJson, ReaderJson, ReadersJson};
use nhi_bridge::card::Sex;
use nhi_bridge::config;
use nhi_bridge::error::ErrorCode;
use nhi_bridge::reader::{Pcsc, ReaderInfo};
use nhi_bridge::service::{self, CardReadout, ServiceError};
use nhi_bridge::tls;

mod daemon;

/// sysexits: the listener cannot start (port taken, TLS material unusable).
const EXIT_UNAVAILABLE: u8 = 69;
/// sysexits: the diagnostics bundle cannot be written.
const EXIT_CANTCREAT: u8 = 73;
/// sysexits: a certificate file cannot be read or written.
const EXIT_IOERR: u8 = 74;
/// sysexits: a step needs administrator rights.
const EXIT_NOPERM: u8 = 77;
/// sysexits: the configuration file cannot be used.
const EXIT_CONFIG: u8 = 78;

/// Set once standard output is closed (the reader went away); later output is dropped.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// `-q`: nothing on standard output.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Writes one line of `format!` text to standard output, unless quiet or closed.
fn say_line(text: std::fmt::Arguments<'_>) {
    if QUIET.load(Ordering::Relaxed) || STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        // Broken pipe or a full disk: nobody is reading; finish the work quietly.
        STDOUT_GONE.store(true, Ordering::Relaxed);
    }
}

macro_rules! say {
    ($($arg:tt)*) => { say_line(format_args!($($arg)*)) };
}

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

    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides. Other
    /// libraries stay at warnings whatever is asked: they would print card data.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Print nothing on standard output; the exit status tells (errors still go to stderr).
    #[arg(short, long, global = true)]
    quiet: bool,

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
    /// 開啟檢測頁 — open the self-check page in the default browser.
    Open {
        /// The daemon's port (default: from the configuration, else 7777).
        #[arg(long)]
        port: Option<u16>,
    },
    /// 元件檢測 — self-check; exit 0 all ok, 50 warnings, 51 a failure.
    Check {
        /// Print the report as JSON (the format is in docs/self-check.md).
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
        /// Also contact the NHI cloud SAM.
        #[arg(long)]
        online: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// 瀏覽器權限 — whether NHI pages may reach the component from each browser profile (Local
    /// Network Access), and the managed policy that lets them without a prompt.
    Browser {
        #[command(subcommand)]
        action: BrowserAction,
    },
    /// 清除資料 — remove this user's nhi-bridge data (certificates, logs, configuration); the
    /// uninstallers run it. Stop the component first.
    Purge,
    /// 停止元件 — stop the running component (as 結束 in the tray); exit 0 when it stopped or was
    /// not running.
    Stop {
        /// Give up waiting after this many seconds (exit 69).
        #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
        timeout: Duration,
    },
    /// 列出讀卡機 — list card readers and whether a card is inserted.
    Readers {
        /// Print JSON, the same shape as `GET /v1/readers`.
        #[arg(long)]
        json: bool,
    },
    /// 讀取健保卡 — print the profile of the NHI card.
    Read {
        /// Use this reader (exact name, see `readers`) instead of the first with an NHI card.
        #[arg(long, value_name = "NAME")]
        reader: Option<String>,
        /// Print JSON, the same fields as `GET /v1/card`.
        #[arg(long)]
        json: bool,
        /// Give up on the card after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
        timeout: Duration,
    },
}

/// `nhi-bridge run`'s options.
#[derive(clap::Args, Default)]
pub struct RunArgs {
    /// No tray icon (servers, CI, terminals); the daemon itself is the same.
    #[arg(long)]
    pub headless: bool,
    /// Port on 127.0.0.1/::1 (default from the config file, else 7777).
    #[arg(long)]
    pub port: Option<u16>,
    /// Make this user's browsers (Chrome/Chromium's NSS database, created when absent, and
    /// every Firefox profile) trust the current CA, and no older CA of ours, before serving. The
    /// installed autostart entries pass it; no administrator rights are needed.
    #[arg(long)]
    pub trust_browsers: bool,
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
enum BrowserAction {
    /// Per browser profile: allowed by policy, allowed by the user, blocked, or will ask; and
    /// which managed policies are ours.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Configuration file whose allowlist is judged (default: the per-user one).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Write a managed policy letting only the allowlist's origins reach this computer without a
    /// prompt, for Chrome, Edge, Chromium and Brave (needs administrator; the installers run it).
    Allow {
        /// Configuration file whose allowlist is written (default: the per-user one, else NHI's
        /// origins).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Remove our managed policy; every other policy stays as it is (needs administrator).
    Revoke,
}

/// What `cert install|uninstall` touches.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The system store (administrator).
    System,
    /// This user's Chrome/Chromium and Firefox NSS databases.
    Browsers,
    /// The `iccert.nhi.gov.tw` line of the hosts file (administrator).
    Hosts,
}

#[derive(Subcommand)]
enum CertAction {
    /// Trust the CA in the system store, Chrome/Chromium's and every Firefox profile's NSS
    /// database, and add `127.0.0.1 iccert.nhi.gov.tw` to the hosts file (needs administrator).
    Install {
        /// Only this place (the package's scripts use `--only hosts`).
        #[arg(long, value_enum)]
        only: Option<Place>,
    },
    /// Undo `install`.
    Uninstall {
        /// Only this place.
        #[arg(long, value_enum)]
        only: Option<Place>,
    },
    /// Show the certificate: subject, names, fingerprints, validity, and that no CA key exists.
    Status {
        /// Print JSON.
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

/// Opens `url` in the user's default browser (xdg-open, `start`, `open`); the opener is started,
/// not waited for.
fn open_in_browser(url: &str) -> std::io::Result<()> {
    let mut cmd = if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", "", url]);
        c
    } else if cfg!(target_os = "macos") {
        let mut c = std::process::Command::new("open");
        c.arg(url);
        c
    } else {
        let mut c = std::process::Command::new("xdg-open");
        c.arg(url);
        c
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

/// Whether something accepts connections on 127.0.0.1:`port`.
fn answering(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Starts the component as the login does (trusting the browsers), detached: on Windows through
/// nhi-bridgew.exe beside this program (no console window), elsewhere `run`.
fn start_component(data_dir: &std::path::Path) {
    let Ok(me) = std::env::current_exe() else {
        return;
    };
    let gui = me.with_file_name("nhi-bridgew.exe");
    let mut cmd = if cfg!(windows) && gui.exists() {
        let mut c = std::process::Command::new(gui);
        c.arg("--trust-browsers");
        c
    } else {
        let mut c = std::process::Command::new(me);
        c.arg("--data-dir")
            .arg(data_dir)
            .args(["run", "--trust-browsers"]);
        c
    };
    let started = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = started {
        eprintln!("無法啟動元件 cannot start the component: {e}");
    }
}

/// A positive, finite number of seconds (a usage error otherwise).
fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{text:?} is not a positive number of seconds"))
}

fn main() -> ExitCode {
    private_files();
    let cli = Cli::parse();
    QUIET.store(cli.quiet, Ordering::Relaxed);
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
    if let Command::Purge = command {
        return finish(purge(cli.data_dir.clone(), &data_dir));
    }
    finish(run(command, &data_dir))
}

fn purge(explicit: Option<PathBuf>, data_dir: &std::path::Path) -> Result<(), Failure> {
    let removed = config::remove_user_data(explicit).map_err(|e| Failure::Status {
        message: format!("無法刪除 cannot remove {}: {e}", data_dir.display()),
        status: EXIT_IOERR,
    })?;
    if removed.is_empty() {
        say!("沒有要刪除的資料 — nothing to remove");
    }
    for p in removed {
        say!("已刪除 removed {}", p.display());
    }
    Ok(())
}

/// The exit status of a command's result (errors told on stderr).
fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
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
        Err(Failure::Status { message, status }) => {
            eprintln!("錯誤 Error: {message}");
            ExitCode::from(status)
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
    /// A failure with its own exit status (configuration, files, rights).
    Status {
        message: String,
        status: u8,
    },
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
            say!("{text}");
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
        Command::Cert { action } => cert(action, data_dir),
        Command::Open { port } => {
            let port = match port {
                Some(p) => p,
                None => load_config(None)?.port,
            };
            let url = format!("https://127.0.0.1:{port}/");
            // The menu's self-check after 結束 or before the first start: start the component
            // first, so the page opens on something rather than "connection refused".
            if !answering(port) {
                say!("正在啟動元件 — starting the component");
                start_component(data_dir);
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                while !answering(port) && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            open_in_browser(&url).map_err(|e| Failure::Status {
                message: format!("無法開啟瀏覽器 cannot open a browser ({e}); open {url} yourself"),
                status: EXIT_UNAVAILABLE,
            })?;
            say!("{url}");
            Ok(())
        }
        Command::Check {
            json,
            online,
            target,
        } => {
            let report = nhi_bridge::diag::checks::run(&check_env(data_dir, &target, online)?);
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
                );
            } else {
                use std::io::IsTerminal;
                let colour =
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                say!("{}", report.render(colour).trim_end_matches('\n'));
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
            let files = nhi_bridge::diag::bundle::write(&path, &env, &report).map_err(|e| {
                Failure::Status {
                    message: format!("無法寫入 cannot write {}: {e}", path.display()),
                    status: EXIT_CANTCREAT,
                }
            })?;
            say!("已寫入診斷資料 Diagnostics written: {}", path.display());
            say!("內容 Contents: {}", files.join(", "));
            say!("記錄檔 Log file: {}", report.log_file);
            say!("請將此檔案寄給客服人員；其中不含個人資料。— Send this file to support; it holds no personal data.");
            Ok(())
        }
        Command::Browser { action } => browser(action),
        // Handled in `main` (it needs to know whether --data-dir was given).
        Command::Purge => Ok(()),
        Command::Stop { timeout } => match daemon::stop(data_dir, timeout) {
            Ok(daemon::StopOutcome::Stopped) => {
                say!("已停止元件 — the component stopped");
                Ok(())
            }
            Ok(daemon::StopOutcome::NotRunning) => {
                say!("元件未在執行 — the component is not running");
                Ok(())
            }
            Ok(daemon::StopOutcome::StillRunning) => Err(Failure::Status {
                message: format!(
                    "元件未在 {} 秒內停止 — the component did not stop within {} s",
                    timeout.as_secs_f64(),
                    timeout.as_secs_f64()
                ),
                status: EXIT_UNAVAILABLE,
            }),
            Err(e) => Err(Failure::Status {
                message: format!("無法停止元件 cannot stop the component: {e}"),
                status: EXIT_UNAVAILABLE,
            }),
        },
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
            let readout = service::read_card_within(Arc::new(Pcsc::new()), reader, timeout)
                .map_err(|err| Failure::Service { err, json })?;
            print_readout(&readout, json)?;
            Ok(())
        }
    }
}

fn print_readers(readers: &[ReaderInfo], json: bool) -> anyhow::Result<()> {
    if json {
        let body = ReadersJson {
            readers: readers
                .iter()
                .map(|r| ReaderJson {
                    name: r.name.clone(),
                    card_present: r.card_present,
                    atr: r.card_present.then(|| hex(&r.atr)),
                })
                .collect(),
        };
        say!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    say!("讀卡機 Readers ({}):", readers.len());
    for r in readers {
        if r.card_present {
            say!("  {}  — 已插卡 card inserted (ATR {})", r.name, hex(&r.atr));
        } else {
            say!("  {}  — 無卡片 no card", r.name);
        }
    }
    Ok(())
}

fn print_readout(r: &CardReadout, json: bool) -> anyhow::Result<()> {
    let p = &r.profile;
    if json {
        say!("{}", serde_json::to_string_pretty(&CardJson::new(r))?);
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
    say!("讀卡機   Reader      : {}", r.reader);
    say!("卡號     Card number : {}", p.card_no.as_str());
    say!("姓名     Name        : {}", p.name.text());
    say!("身分證號 ID number   : {}", p.id_no.as_str());
    say!("出生日期 Birth date  : {}", roc(&p.birth_date));
    say!("性別     Sex         : {sex}");
    say!("發卡日期 Issue date  : {}", roc(&p.issue_date));
    match &r.card_data {
        Some(d) => say!("卡片註記 Card data   : {}", d.as_str()),
        None => say!("卡片註記 Card data   : （卡片未提供 not provided）"),
    }
    Ok(())
}

fn check_env(
    data_dir: &std::path::Path,
    target: &TargetArgs,
    online: bool,
) -> Result<nhi_bridge::diag::checks::Env, Failure> {
    let mut cfg = load_config(target.config.clone())?;
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

/// The configuration: the file named with `--config` (which must exist), else the per-user one
/// (the defaults when there is none).
fn load_config(named: Option<PathBuf>) -> Result<config::Config, Failure> {
    let loaded = match named {
        Some(p) => config::Config::load_named(&p),
        None => match config::default_config_file() {
            Some(p) => config::Config::load(&p),
            None => Ok(config::Config::default()),
        },
    };
    loaded.map_err(|e| Failure::Status {
        message: format!("設定檔有誤 configuration error: {e}"),
        status: EXIT_CONFIG,
    })
}

fn access_words(a: nhi_bridge::browser::Access) -> (&'static str, &'static str) {
    use nhi_bridge::browser::Access;
    match a {
        Access::AllowedByPolicy => ("管理原則允許", "allowed by policy"),
        Access::AllowedByUser => ("使用者已允許", "allowed by the user"),
        Access::BlockedByPolicy => ("管理原則封鎖", "blocked by policy"),
        Access::BlockedByUser => ("使用者已封鎖", "blocked by the user"),
        Access::WillAsk => ("會詢問", "will ask"),
        Access::NotGated => ("不限制", "not restricted"),
        Access::Unknown => ("無法得知", "unknown"),
    }
}

fn browser(action: BrowserAction) -> Result<(), Failure> {
    use nhi_bridge::browser;
    use nhi_bridge::os::PolicyChange;
    let steps = match action {
        BrowserAction::Status { json, config } => {
            let cfg = load_config(config)?;
            let home = directories::BaseDirs::new()
                .map(|d| d.home_dir().to_path_buf())
                .unwrap_or_default();
            let report = browser::report(&home, &cfg.allowlist());
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
                );
                return Ok(());
            }
            if report.profiles.is_empty() {
                say!("沒有找到瀏覽器設定檔 — no browser profile found");
            }
            for p in &report.profiles {
                let (zh, en) = access_words(p.access);
                let (szh, sen) = browser::setting_name(p.version.as_deref());
                let site = p
                    .site
                    .as_deref()
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default();
                say!(
                    "{} ({}){}: {zh} {en}{site} — 「{szh}」 \"{sen}\"{}",
                    p.browser_name,
                    p.profile,
                    p.version
                        .as_deref()
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default(),
                    p.detail
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                );
            }
            for bp in &report.policies {
                let st = &bp.state;
                let lists: Vec<String> = st
                    .allow
                    .iter()
                    .map(|l| format!("{}={:?} [{}]", l.policy, l.entries, l.source))
                    .collect();
                say!(
                    "管理原則 Policy {} {}: {}{}{}",
                    bp.browser.name(),
                    st.location,
                    if st.ours { "本元件的 ours; " } else { "" },
                    if lists.is_empty() {
                        "—".to_owned()
                    } else {
                        lists.join("; ")
                    },
                    if st.problems.is_empty() {
                        String::new()
                    } else {
                        format!(" ⚠ {}", st.problems.join("; "))
                    }
                );
            }
            return Ok(());
        }
        BrowserAction::Allow { config } => browser::allow(&load_config(config)?.allowlist()),
        BrowserAction::Revoke => browser::revoke(),
    };
    let mut admin = false;
    let mut failed = false;
    for st in &steps {
        match &st.result {
            Ok(PolicyChange::Written(at)) => {
                say!("[ OK ] {}: 已寫入 written {at}", st.browser.name())
            }
            Ok(PolicyChange::Unchanged(at)) => {
                say!("[ OK ] {}: 已是最新 unchanged {at}", st.browser.name())
            }
            Ok(PolicyChange::Removed(at)) => {
                say!("[ OK ] {}: 已移除 removed {at}", st.browser.name())
            }
            Ok(PolicyChange::Absent(at)) => say!(
                "[ OK ] {}: 沒有本元件的原則 none of ours {at}",
                st.browser.name()
            ),
            Err(e) => {
                failed = true;
                admin |= e.needs_admin();
                say!("[FAIL] {}: {e}", st.browser.name());
            }
        }
    }
    if !failed {
        say!("請重新啟動瀏覽器 — restart the browsers (Chrome shows \"managed by your organization\": only NHI's sites are affected)");
        return Ok(());
    }
    Err(Failure::Status {
        message: if admin {
            "需要系統管理員權限 — needs administrator rights (sudo / Run as administrator)".into()
        } else {
            "部分瀏覽器的原則無法變更 — some browsers' policies could not be changed".into()
        },
        status: if admin { EXIT_NOPERM } else { EXIT_IOERR },
    })
}

/// Prints each step; a failed one makes the command fail with 77 (needs administrator) or 74.
fn report_steps(steps: &[tls::trust::Step]) -> Result<(), Failure> {
    for st in steps {
        match &st.result {
            Ok(()) => say!("[ OK ] {} — {}", st.zh, st.en),
            Err(e) => say!("[FAIL] {} — {}: {e}", st.zh, st.en),
        }
    }
    let failed: Vec<&tls::trust::Step> = steps.iter().filter(|s| s.result.is_err()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let admin = failed.iter().any(|s| s.needs_admin());
    Err(Failure::Status {
        message: if admin && cfg!(windows) {
            "部分步驟需要系統管理員權限（請在「命令提示字元」按右鍵選「以系統管理員身分執行」後再執行一次）— some steps need administrator rights (run it again from a Command Prompt opened with \"Run as administrator\")".into()
        } else if admin {
            "部分步驟需要系統管理員權限（請以 sudo 執行）— some steps need administrator rights (run with sudo)".into()
        } else {
            "部分步驟失敗 — some steps failed".into()
        },
        status: if admin { EXIT_NOPERM } else { EXIT_IOERR },
    })
}

impl From<Place> for tls::trust::Place {
    fn from(p: Place) -> tls::trust::Place {
        match p {
            Place::System => tls::trust::Place::System,
            Place::Browsers => tls::trust::Place::Browser,
            Place::Hosts => tls::trust::Place::Hosts,
        }
    }
}

fn cert_io(e: impl std::fmt::Display) -> Failure {
    Failure::Status {
        message: e.to_string(),
        status: EXIT_IOERR,
    }
}

fn cert(action: CertAction, data_dir: &std::path::Path) -> Result<(), Failure> {
    let paths = tls::Paths::new(data_dir);
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    match action {
        CertAction::Install { only } => {
            // The hosts line needs no certificate: the package's postinst makes none for root.
            if only != Some(Place::Hosts) {
                let (_, issued) = tls::ensure(&paths).map_err(cert_io)?;
                if let Some(reason) = issued {
                    say!("已產生新的憑證 New certificate issued ({reason})");
                }
            }
            let steps = tls::trust::install_everywhere(
                &paths.ca,
                home.as_deref(),
                &tls::trust::hosts_file(),
                only.map(Place::into),
            );
            report_steps(&steps)?;
            if only != Some(Place::Hosts) {
                say!("請重新開啟瀏覽器 — restart the browser");
            }
            Ok(())
        }
        CertAction::Uninstall { only } => report_steps(&tls::trust::remove_everywhere(
            home.as_deref(),
            &tls::trust::hosts_file(),
            only.map(Place::into),
        )),
        CertAction::Renew => {
            tls::issue_and_store(&paths, tls::ca::LEAF_DAYS).map_err(cert_io)?;
            say!(
                "已產生新的憑證 New certificate issued in {}",
                paths.dir.display()
            );
            say!(
                "請重新啟動元件並重新信任新的 CA — restart the daemon and trust the new CA ({})",
                paths.ca.display()
            );
            Ok(())
        }
        CertAction::Status { json } => {
            let st = tls::status(&paths).map_err(cert_io)?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&st).map_err(anyhow::Error::from)?
                );
                return Ok(());
            }
            say!("目錄 Directory   : {}", st.dir);
            say!("主體 Subject     : {}", st.subject);
            say!("簽發者 Issuer    : {}", st.issuer);
            say!("名稱 Names       : {}", st.sans.join(", "));
            say!("生效 Not before  : {}", st.not_before);
            say!(
                "到期 Not after   : {}（剩 {} 天 days left）",
                st.not_after,
                st.days_left.map_or("?".into(), |d| d.to_string())
            );
            say!("憑證指紋 Leaf SHA-256 : {}", st.leaf_sha256);
            say!("CA 指紋  CA SHA-256   : {}", st.ca_sha256);
            say!(
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
