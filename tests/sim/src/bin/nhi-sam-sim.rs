//! nhi-sam-sim: a stand-in for the NHI cloud SAM (cloudicap.nhi.gov.tw:443) on loopback.
//!
//! Prints `listening on 127.0.0.1:PORT` once it accepts connections, serves each connection on
//! its own thread, and appends what happened to `--log` (one event per line).

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use clap::Parser;
use openssl::pkey::PKey;

use nhi_sim::profile::SimProfile;
use nhi_sim::sam::{SamFault, SamSim};

#[derive(Parser)]
#[command(name = "nhi-sam-sim", about = "NHI cloud SAM simulator (test double)")]
struct Args {
    /// Address to listen on (loopback; port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Card profile whose auth_secret the SAM shares (default: the built-in sample).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// none, stall, garbage, check-fail, bad-length, bad-opcode, close-mid, not-ok, trickle.
    #[arg(long, default_value = "none")]
    fault: String,
    /// Append one line per event: connect, 77, 01, 03 card-ok / card-bad, 90, faults.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Origins answered to `90` (whitelist download).
    #[arg(long, default_value = "*.nhi.gov.tw,localhost")]
    whitelist: String,
    /// Wait this many milliseconds before each reply.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nhi-sam-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    let profile = SimProfile::load(args.profile.as_deref()).map_err(|e| anyhow!("profile: {e}"))?;
    let signing =
        PKey::private_key_from_pem(include_bytes!("../../keys/sam-test-signing-key.pem"))?;
    let sim = Arc::new(SamSim {
        secret: profile.secret().map_err(|e| anyhow!("profile: {e}"))?,
        signing,
        fault: SamFault::parse(&args.fault)
            .ok_or_else(|| anyhow!("unknown --fault {}", args.fault))?,
        whitelist: args.whitelist.clone(),
        delay: std::time::Duration::from_millis(args.delay_ms),
    });
    let log = match &args.log {
        Some(p) => Some(OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    };
    let log = Arc::new(Mutex::new(log));
    let listener = TcpListener::bind(&args.listen)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let sim = sim.clone();
        let log = log.clone();
        std::thread::spawn(move || {
            let mut note = |event: &str| {
                if let Ok(mut guard) = log.lock() {
                    if let Some(f) = guard.as_mut() {
                        let _ = f.write_all(format!("{event}\n").as_bytes());
                        let _ = f.flush();
                    }
                }
            };
            if let Err(e) = sim.serve(stream, &mut note) {
                note(&format!("error {e}"));
            }
        });
    }
    Ok(())
}
