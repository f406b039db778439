//! A raw HTTPS/1.1 client and a daemon harness for the tests. Raw on purpose: the tests set Host
//! and Origin to whatever a hostile page or a confused client would send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};

use crate::support::wait_child;

pub const NHI_ORIGIN: &str = "https://cloudicweb.nhi.gov.tw";

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client trusting `ca` only. Building one costs more than a handshake (OpenSSL's defaults):
/// tests that open many connections build it once.
pub fn connector(ca: &Path) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).expect("connector");
    b.set_ca_file(ca).expect("CA file");
    b.set_verify(SslVerifyMode::PEER);
    b.build()
}

/// Opens a verified TLS connection to 127.0.0.1:port (the certificate must carry IP 127.0.0.1).
pub fn tls_connect(ca: &Path, port: u16) -> SslStream<TcpStream> {
    tls_connect_via(&connector(ca), port)
}

/// [`tls_connect`] with a client built once.
pub fn tls_connect_via(connector: &SslConnector, port: u16) -> SslStream<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20))).ok();
    connector
        .connect("127.0.0.1", tcp)
        .expect("TLS handshake with the daemon")
}

fn read_head<R: BufRead>(r: &mut R) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header line");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    (status, headers)
}

/// Writes one request with exactly these headers (plus Connection: close and Content-Length) on
/// any stream and reads the whole response.
fn exchange<S: Read + Write>(
    mut s: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes()).expect("send");
    // The daemon may answer (413) and close before the whole body is sent: read its answer anyway.
    let _ = s.write_all(body);
    let mut r = BufReader::new(s);
    let (status, headers) = read_head(&mut r);
    let mut body = Vec::new();
    let _ = r.read_to_end(&mut body);
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// One request over verified TLS.
pub fn request(
    ca: &Path,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    exchange(tls_connect(ca, port), method, path, headers, body)
}

/// A server-sent-events subscription.
pub struct EventStream {
    reader: BufReader<SslStream<TcpStream>>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    buf: Vec<u8>,
    /// The server ended the body with the final zero-length chunk (not a dropped connection).
    pub ended_cleanly: bool,
}

impl EventStream {
    pub fn open(ca: &Path, port: u16, origin: &str) -> EventStream {
        EventStream::open_path(ca, port, "/v1/events", Some(origin))
    }

    pub fn open_path(ca: &Path, port: u16, path: &str, origin: Option<&str>) -> EventStream {
        let mut s = tls_connect(ca, port);
        let origin = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{origin}Accept: text/event-stream\r\n\r\n"
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut reader = BufReader::new(s);
        let (status, headers) = read_head(&mut reader);
        EventStream {
            reader,
            status,
            headers,
            buf: Vec::new(),
            ended_cleanly: false,
        }
    }

    /// Next SSE event (name, data), decoding the chunked body; None when the stream ends.
    pub fn next_event(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = find(&self.buf, b"\n\n") {
                let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&raw);
                let mut name = String::new();
                let mut data = String::new();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = v.trim().to_owned();
                    }
                }
                if name.is_empty() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, data));
            }
            let mut size = String::new();
            if self.reader.read_line(&mut size).ok()? == 0 {
                return None;
            }
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                self.ended_cleanly = true;
                return None;
            }
            let mut chunk = vec![0u8; n + 2];
            self.reader.read_exact(&mut chunk).ok()?;
            chunk.truncate(n);
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Waits for an event named `name` (and whose data contains `data_has`), up to `timeout`.
    pub fn expect(&mut self, name: &str, data_has: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {name} event within {timeout:?}; saw {seen:?}"
            );
            self.reader
                .get_ref()
                .get_ref()
                .set_read_timeout(Some(left))
                .ok();
            match self.next_event() {
                Some((n, d)) if n == name && d.contains(data_has) => return d,
                Some(other) => seen.push(other),
                None => panic!("event stream ended while waiting for {name}; saw {seen:?}"),
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A running `nhi-bridge run --headless` on a port of its own, with its own data dir.
pub struct Daemon {
    child: Option<Child>,
    pub port: u16,
    /// The data directory, when the daemon owns it.
    pub dir: Option<tempfile::TempDir>,
    pub data: PathBuf,
    pub ca: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts a daemon with `config`; the legacy HTTP ports are off unless `config` sets them.
    pub fn start(config: &str) -> Daemon {
        Daemon::start_in(tempfile::tempdir().expect("tempdir"), config, &[])
    }

    /// Starts the daemon with `config` (TOML) on a port the system picks (`--port 0`) and waits
    /// for its "listening" line.
    pub fn start_in(dir: tempfile::TempDir, config: &str, env: &[(&str, &str)]) -> Daemon {
        let data = dir.path().to_path_buf();
        let mut d = Daemon::start_at(&data, config, env);
        d.dir = Some(dir);
        d
    }

    /// Like [`Daemon::start_in`], with a data directory the caller keeps.
    pub fn start_at(data: &Path, config: &str, env: &[(&str, &str)]) -> Daemon {
        Daemon::start_wrapped(data, config, env, &[])
    }

    /// Like [`Daemon::start_at`], run through `wrapper` (e.g. `prlimit --nofile=64`).
    pub fn start_wrapped(
        data: &Path,
        config: &str,
        env: &[(&str, &str)],
        wrapper: &[&str],
    ) -> Daemon {
        let cfg_path = data.join("config.toml");
        let mut text = config.to_owned();
        if !text.contains("legacy_http_port") {
            text.push_str("\nlegacy_http_port = 0\n");
        }
        if !text.contains("legacy_https_port") {
            text.push_str("\nlegacy_https_port = 0\n");
        }
        // Tests count APDUs: no read at insertion unless a test asks for it.
        if !text.contains("prefetch") {
            text.push_str("\nprefetch = false\n");
        }
        std::fs::write(&cfg_path, text).expect("write config");
        // A config that names `port` gets it (the real-port page tests); otherwise the system
        // picks one, so tests never collide.
        let listen_port = config
            .lines()
            .find_map(|l| l.trim().strip_prefix("port = "))
            .unwrap_or("0")
            .to_owned();
        let bin = env!("CARGO_BIN_EXE_nhi-bridge");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .arg("--data-dir")
            .arg(data)
            .args(["run", "--headless", "--port", &listen_port, "--config"])
            .arg(&cfg_path)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nhi-bridge run");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on https://127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                    let _ = port_tx.send(port.parse::<u16>().unwrap_or(0));
                }
                let mut l = sink.lock().unwrap_or_else(|p| p.into_inner());
                l.push_str(&line);
                l.push('\n');
            }
        });
        let port = match port_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "daemon did not start: {}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        let ca = data.join("tls").join("ca.pem");
        Daemon {
            child: Some(child),
            port,
            dir: None,
            data: data.to_path_buf(),
            ca,
            log,
        }
    }

    pub fn get(&self, path: &str, origin: Option<&str>) -> HttpResponse {
        let host = format!("127.0.0.1:{}", self.port);
        let mut headers = vec![("Host", host.as_str())];
        if let Some(o) = origin {
            headers.push(("Origin", o));
        }
        request(&self.ca, self.port, "GET", path, &headers, b"")
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        request(&self.ca, self.port, method, path, headers, body)
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn events(&self, origin: &str) -> EventStream {
        EventStream::open(&self.ca, self.port, origin)
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// The exit status of a daemon told to stop some other way (within `timeout`).
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        match wait_child(&mut child, timeout) {
            Some(s) => s,
            None => {
                let _ = child.kill();
                panic!("daemon did not exit within {timeout:?}");
            }
        }
    }

    /// SIGTERM, then the exit status (within 10 s).
    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        crate::support::terminate(&child);
        match wait_child(&mut child, Duration::from_secs(10)) {
            Some(s) => s,
            None => {
                let _ = child.kill();
                panic!("daemon did not stop within 10 s of SIGTERM");
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One request over plain HTTP (the legacy 59001 variant).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    exchange(s, method, path, headers, body)
}

/// A byte stream a WebSocket can run on (TLS or plain TCP), with a read timeout.
pub trait Wire: Read + Write {
    fn set_timeout(&self, t: Duration);
}

impl Wire for SslStream<TcpStream> {
    fn set_timeout(&self, t: Duration) {
        self.get_ref().set_read_timeout(Some(t)).ok();
    }
}

impl Wire for TcpStream {
    fn set_timeout(&self, t: Duration) {
        self.set_read_timeout(Some(t)).ok();
    }
}

/// A legacy `/echo` WebSocket session over verified TLS (or plain TCP on the legacy HTTP port).
pub struct EchoSocket {
    ws: tungstenite::WebSocket<Box<dyn Wire>>,
}

impl EchoSocket {
    pub fn open(ca: &Path, port: u16, host: &str, origin: &str) -> EchoSocket {
        EchoSocket::try_open(Box::new(tls_connect(ca, port)), "wss", host, Some(origin))
            .unwrap_or_else(|e| panic!("WebSocket handshake failed: {e}"))
    }

    /// The handshake on `stream`; `Err` carries the HTTP status when the daemon refused it.
    pub fn try_open(
        stream: Box<dyn Wire>,
        scheme: &str,
        host: &str,
        origin: Option<&str>,
    ) -> Result<EchoSocket, String> {
        let mut req = tungstenite::http::Request::builder()
            .uri(format!("{scheme}://{host}/echo"))
            .header("Host", host)
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header(
                "Sec-WebSocket-Key",
                tungstenite::handshake::client::generate_key(),
            );
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let req = req.body(()).expect("request");
        match tungstenite::client::client(req, stream) {
            Ok((ws, _)) => Ok(EchoSocket { ws }),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
                Err(format!("HTTP {}", r.status().as_u16()))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether the daemon ends the session (a Close frame or the connection closing) within
    /// `within`; `false` when it is still open then.
    pub fn closed_by_peer(&mut self, within: Duration) -> bool {
        self.ws.get_ref().set_timeout(within);
        loop {
            match self.ws.read() {
                Ok(tungstenite::Message::Close(_)) => return true,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    /// Sends a ping frame.
    pub fn ping(&mut self) -> Result<(), String> {
        self.ws
            .send(tungstenite::Message::Ping(Default::default()))
            .map_err(|e| e.to_string())
    }

    /// Sends one command frame and returns the reply frame's text; `None` when the daemon closed.
    pub fn send(&mut self, command: &str) -> Option<String> {
        self.ws.send(tungstenite::Message::text(command)).ok()?;
        loop {
            match self.ws.read().ok()? {
                tungstenite::Message::Text(t) => return Some(t.to_string()),
                tungstenite::Message::Close(_) => return None,
                _ => continue,
            }
        }
    }
}

/// Asserts that the daemon closes `stream` within 15 s: a read ends with end-of-stream or a
/// reset, not with our own read timeout (which would mean the connection was left open).
pub fn assert_closed_by_daemon<S: Read>(
    stream: &mut S,
    set_timeout: impl FnOnce(Duration),
    what: &str,
) {
    set_timeout(Duration::from_secs(15));
    let mut b = [0u8; 1];
    match stream.read(&mut b) {
        Ok(n) => assert_eq!(n, 0, "{what}: the daemon sent data"),
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{what}: not closed: {e}"
        ),
    }
}

/// A running `nhi-sam-sim` on a free loopback port.
pub struct SamSim {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl SamSim {
    pub fn start(args: &[&str]) -> SamSim {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("sam.log");
        let bin = crate::support::sim_bin().with_file_name("nhi-sam-sim");
        let mut child = Command::new(&bin)
            .arg("--log")
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        BufReader::new(out)
            .read_line(&mut line)
            .expect("listening line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad listening line {line:?}"));
        SamSim {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn events(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for SamSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
