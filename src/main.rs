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
use nhi_bridge::card::Sex;
use nhi_bridge::error::ErrorCode;
use nhi_bridge::reader::{Pcsc, ReaderInfo};
use nhi_bridge::service::{self, CardReadout, ServiceError};

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
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let data_dir = nhi_bridge::config::data_dir(cli.data_dir.clone());
    log::debug!("data directory: {data_dir:?}");
    match run(cli.command) {
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
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();
}

enum Failure {
    Service { err: ServiceError, json: bool },
    Other(anyhow::Error),
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

fn run(command: Command) -> Result<(), Failure> {
    match command {
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

#[derive(Serialize)]
struct ProfileJson<'a> {
    reader: &'a str,
    card_no: &'a str,
    name: &'a str,
    id_no: &'a str,
    birth_date: String,
    birth_date_roc: String,
    sex: String,
    issue_date: String,
    issue_date_roc: String,
    card_data: Option<&'a str>,
}

fn print_readout(r: &CardReadout, json: bool) -> anyhow::Result<()> {
    let p = &r.profile;
    let mut out = std::io::stdout().lock();
    if json {
        let body = ProfileJson {
            reader: &r.reader,
            card_no: p.card_no.as_str(),
            name: p.name.text(),
            id_no: p.id_no.as_str(),
            birth_date: p.birth_date.iso(),
            birth_date_roc: p.birth_date.roc_text(),
            sex: p.sex.as_char().to_string(),
            issue_date: p.issue_date.iso(),
            issue_date_roc: p.issue_date.roc_text(),
            card_data: r.card_data.as_ref().map(|d| d.as_str()),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
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
