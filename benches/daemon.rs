//! `cargo bench --bench daemon`: the daemon's own pieces (TLS listener, guard, CardService) run
//! in-process against the simulated NHI card through the real pcscd + vpcd, measured from a TLS
//! client as a page would see them. Writes `target/bench/daemon.json` and prints a table.
//!
//! Needs the rig (`bash scripts/setup-rig.sh`) and the simulator (`cargo build -p nhi-sim
//! --release`, done here if missing). Card latency is modelled explicitly with the simulator's
//! `--delay-ms` (the simulator itself adds none), so each figure says at which card latency it was
//! taken.

// Test and bench code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nhi_bridge::api::{self, legacy::LegacySettings, AppState};
use nhi_bridge::reader::Pcsc;
use nhi_bridge::server::{self, Binding, Limits};
use nhi_bridge::service::card_service::{CardService, Settings};
use nhi_bridge::tls;
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};

/// The vpcd slot the bench uses: `NHI_BENCH_SLOT=1` takes the second one (reader
/// `Virtual PCD 00 01`, TCP 35964), so the bench can run beside something using slot 0 — or
/// inside `scripts/private-rig.sh`, beside anything at all.
fn slot() -> (String, u16) {
    match std::env::var("NHI_BENCH_SLOT").as_deref() {
        Ok("1") => ("Virtual PCD 00 01".into(), 35964),
        _ => ("Virtual PCD 00 00".into(), 35963),
    }
}
const ORIGIN: &str = "https://cloudicweb.nhi.gov.tw";

fn sim_bin() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/nhi-card-sim");
    let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "nhi-sim",
            "--bin",
            "nhi-card-sim",
        ])
        .current_dir(root)
        .status()
        .expect("cargo build nhi-sim");
    assert!(status.success());
    bin
}

fn wait_card(present: bool) {
    let ctx =
        pcsc::Context::establish(pcsc::Scope::User).expect("pcscd running (scripts/setup-rig.sh)");
    let name = CString::new(slot().0).expect("name");
    let mut st = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "card did not {}",
            if present { "appear" } else { "leave" }
        );
        let _ = ctx.get_status_change(left, &mut st);
        if st[0].event_state().contains(pcsc::State::PRESENT) == present {
            return;
        }
        st[0].sync_current_state();
    }
}

struct Card(Child);

impl Card {
    fn insert(bin: &Path, delay_ms: u64) -> Card {
        let child = Command::new(bin)
            .args([
                "--port",
                &slot().1.to_string(),
                "--delay-ms",
                &delay_ms.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nhi-card-sim");
        wait_card(true);
        Card(child)
    }
}

impl Drop for Card {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        wait_card(false);
    }
}

fn connector(ca: &Path) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).expect("connector");
    b.set_ca_file(ca).expect("ca");
    b.set_verify(SslVerifyMode::PEER);
    b.build()
}

fn connect(ca: &Path, port: u16) -> SslStream<TcpStream> {
    connect_with(&connector(ca), port)
}

fn connect_with(c: &SslConnector, port: u16) -> SslStream<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_nodelay(true).ok();
    c.connect("127.0.0.1", tcp).expect("tls")
}

/// Client mode (`NHI_BENCH_HOLD=PORT:N:CA`): open N idle TLS connections, say "ready", and keep
/// them until stdin closes — so the daemon's memory is measured without the clients' own.
fn hold_connections(spec: &str) {
    let mut parts = spec.splitn(3, ':');
    let port: u16 = parts.next().and_then(|p| p.parse().ok()).expect("port");
    let n: usize = parts.next().and_then(|p| p.parse().ok()).expect("count");
    let ca = PathBuf::from(parts.next().expect("ca"));
    let c = connector(&ca);
    let held: Vec<_> = (0..n).map(|_| connect_with(&c, port)).collect();
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut sink = String::new();
    let _ = std::io::stdin().read_to_string(&mut sink);
    drop(held);
}

/// GET on a kept-alive connection; returns the status code.
fn get(r: &mut BufReader<SslStream<TcpStream>>, port: u16, path: &str) -> u16 {
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {ORIGIN}\r\n\r\n");
    r.get_mut().write_all(req.as_bytes()).expect("send");
    let mut line = String::new();
    r.read_line(&mut line).expect("status");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).expect("body");
    status
}

/// Waits until the reader monitor has reported the inserted card to the service.
fn wait_monitor(state: &AppState) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while state
        .service
        .snapshot()
        .readers
        .get(&slot().0)
        .is_none_or(|c| c.is_none())
    {
        assert!(
            Instant::now() < deadline,
            "the monitor did not report the card"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    if let Ok(spec) = std::env::var("NHI_BENCH_HOLD") {
        return hold_connections(&spec);
    }
    // `cargo bench` passes `--bench`; nothing else to parse.
    let sim = sim_bin();
    let data = tempfile::tempdir().expect("tempdir");
    let paths = tls::Paths::new(data.path());
    let (material, _) = tls::ensure(&paths).expect("certificate");
    let acceptor = Arc::new(tls::acceptor(&material).expect("acceptor"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (service, monitor) = CardService::start(
        Arc::new(Pcsc::new()),
        Settings {
            preferred: None,
            card_timeout: Duration::from_secs(10),
            hsign_timeout: Duration::from_secs(30),
            sam: nhi_bridge::sam::SamConfig::default(),
            prefetch: false,
        },
    )
    .expect("service");
    let state = Arc::new(AppState {
        service,
        allowlist: nhi_bridge::config::Allowlist::default_list(),
        legacy: LegacySettings::default(),
        shutdown: stop_rx.clone(),
        page_token: nhi_bridge::api::PageToken::random(),
        contact: nhi_bridge::api::PageContact::default(),
    });
    let listeners = rt.block_on(server::bind(0)).expect("bind");
    let port = listeners[0].local_addr().expect("addr").port();
    let bindings = Binding::all(
        listeners,
        Some(acceptor),
        api::routes(state.clone(), port, true),
    );
    let limits = Limits {
        max_connections: 512,
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        drain_timeout: Duration::from_secs(2),
    };
    let server = rt.spawn(server::serve(bindings, limits, stop_rx));
    let ca = paths.ca.clone();

    let mut results = serde_json::Map::new();
    let mut table = Vec::new();

    // Cold reads: the first /v1/card after each insertion (SELECT + CA 11 + CA 24 through pcscd).
    for delay in [0u64, 20] {
        let mut ms = Vec::new();
        for _ in 0..8 {
            let _card = Card::insert(&sim, delay);
            wait_monitor(&state);
            let mut r = BufReader::new(connect(&ca, port));
            let t = Instant::now();
            assert_eq!(get(&mut r, port, "/v1/card"), 200);
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        let key = format!("cold_card_read_ms_at_{delay}ms_per_apdu");
        table.push(format!(
            "{key:<40} p50 {:7.2}  max {:7.2}",
            percentile(&ms, 0.5),
            percentile(&ms, 1.0)
        ));
        results.insert(key, serde_json::json!({ "p50": percentile(&ms, 0.5), "max": percentile(&ms, 1.0), "n": ms.len() }));
    }

    // Cached reads: same inserted card, kept-alive connection; no APDU reaches the card.
    let _card = Card::insert(&sim, 20);
    wait_monitor(&state);
    let mut r = BufReader::new(connect(&ca, port));
    assert_eq!(get(&mut r, port, "/v1/card"), 200);
    let mut ms = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        assert_eq!(get(&mut r, port, "/v1/card"), 200);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    table.push(format!(
        "{:<40} p50 {:7.3}  p99 {:7.3}",
        "cached_card_read_ms (card at 20ms/APDU)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99)
    ));
    results.insert(
        "cached_card_read_ms".into(),
        serde_json::json!({ "p50": percentile(&ms, 0.5), "p99": percentile(&ms, 0.99), "n": ms.len() }),
    );

    // Throughput: 8 clients, kept-alive, cached profile.
    let start = Instant::now();
    let per_client = 500;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let ca = ca.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(connect(&ca, port));
                for _ in 0..per_client {
                    assert_eq!(get(&mut r, port, "/v1/card"), 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client");
    }
    let rps = (8 * per_client) as f64 / start.elapsed().as_secs_f64();
    table.push(format!(
        "{:<40} {rps:9.0}",
        "cached_card_reads_per_s (8 clients)"
    ));
    results.insert(
        "cached_card_reads_per_s_8_clients".into(),
        serde_json::json!(rps),
    );

    // Memory: the daemon's resident size with 256 idle TLS connections held by another process.
    let before = rss_kib();
    let mut holder = Command::new(std::env::current_exe().expect("exe"))
        .env("NHI_BENCH_HOLD", format!("{port}:256:{}", ca.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("client process");
    let mut ready = String::new();
    BufReader::new(holder.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("ready");
    assert_eq!(ready.trim(), "ready");
    let after = rss_kib();
    drop(holder.stdin.take());
    let _ = holder.wait();
    table.push(format!(
        "{:<40} {before:9} → {after} KiB",
        "rss_kib (idle → 256 TLS connections)"
    ));
    results.insert("rss_kib_idle".into(), serde_json::json!(before));
    results.insert("rss_kib_256_connections".into(), serde_json::json!(after));

    let _ = stop_tx.send(true);
    let _ = rt.block_on(server);
    monitor.stop(Duration::from_secs(2));

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    let file = out.join("daemon.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&results).expect("json")).expect("write");
    println!("nhi-bridge daemon benchmark (simulated card through pcscd + vpcd; times in ms)");
    for line in table {
        println!("  {line}");
    }
    println!("written to {}", file.display());
}
