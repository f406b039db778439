//! nhi-card-sim: plays an NHI card to pcscd through vsmartcard's vpcd driver.
//!
//! It connects to vpcd (retrying, so it may start before or after pcscd), answers APDUs from a
//! TOML profile, logs every command APDU it receives, and injects faults on request. When pcscd
//! restarts it connects again (the card is "re-inserted"); after `--remove-after` it leaves.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;

use nhi_sim::card::{CardFaults, CardSim};
use nhi_sim::profile::SimProfile;
use nhi_sim::vpcd::{serve, Ended, LinkFaults};

#[derive(Parser)]
#[command(
    name = "nhi-card-sim",
    about = "NHI card simulator for vsmartcard vpcd"
)]
struct Args {
    /// vpcd host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// vpcd port: 35963 is reader "Virtual PCD 00 00", 35964 is "Virtual PCD 00 01".
    #[arg(long, default_value_t = 35963)]
    port: u16,
    /// Card holder profile (TOML); default: the built-in fictitious sample.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Append every command APDU received, as hex, one per line.
    #[arg(long, value_name = "FILE")]
    apdu_log: Option<PathBuf>,
    /// Wait this many milliseconds before each answer.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Speak T=0: data comes through 61xx + GET RESPONSE.
    #[arg(long)]
    t0: bool,
    /// Answer N APDUs, then pull the card when the next arrives.
    #[arg(long, value_name = "N")]
    remove_after: Option<u64>,
    /// Force a status word for one instruction, e.g. A4=6A82 (repeatable).
    #[arg(long, value_name = "INS=SW")]
    sw: Vec<String>,
    /// Answer every APDU with random bytes.
    #[arg(long)]
    garbage: bool,
    /// How long to keep trying to reach vpcd (at start and after pcscd restarts).
    #[arg(long, default_value_t = 10)]
    retry_secs: u64,
}

fn parse_sw(spec: &str) -> Result<(u8, u16)> {
    let (ins, sw) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("--sw takes INS=SW, e.g. A4=6A82"))?;
    let ins = u8::from_str_radix(ins.trim(), 16).context("INS must be one hex byte")?;
    let sw = u16::from_str_radix(sw.trim(), 16).context("SW must be four hex digits")?;
    Ok((ins, sw))
}

fn connect(addr: SocketAddr, window: Duration, stop: &AtomicBool) -> Option<TcpStream> {
    let deadline = Instant::now() + window;
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(s) => return Some(s),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return None,
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nhi-card-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    let profile = SimProfile::load(args.profile.as_deref()).map_err(|e| anyhow!("profile: {e}"))?;
    let forced_sw: HashMap<u8, u16> = args.sw.iter().map(|s| parse_sw(s)).collect::<Result<_>>()?;
    let faults = CardFaults {
        t0: args.t0,
        forced_sw,
        garbage: args.garbage,
    };
    let mut card = CardSim::new(&profile, faults).map_err(|e| anyhow!("profile: {e}"))?;
    let link = LinkFaults {
        delay: Duration::from_millis(args.delay_ms),
        remove_after: args.remove_after,
    };
    let mut log = match &args.apdu_log {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?,
        ),
        None => None,
    };
    let addr = (args.host.as_str(), args.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow!("cannot resolve {}", args.host))?;

    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;

    let window = Duration::from_secs(args.retry_secs);
    let mut apdus = 0u64;
    loop {
        let Some(stream) = connect(addr, window, &stop) else {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            bail!("vpcd at {addr} did not accept a connection within {window:?}");
        };
        eprintln!("nhi-card-sim: card inserted (vpcd {addr})");
        card.reset();
        match serve(stream, &mut card, &link, &mut apdus, log.as_mut(), &stop)? {
            Ended::Stopped => {
                eprintln!("nhi-card-sim: stopped");
                return Ok(());
            }
            Ended::Removed => {
                eprintln!("nhi-card-sim: card removed after {apdus} APDUs");
                return Ok(());
            }
            Ended::PeerClosed => {
                eprintln!("nhi-card-sim: vpcd closed the connection; reconnecting")
            }
        }
    }
}
