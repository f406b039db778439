//! Asks the running daemon for `/v1/status` over HTTPS, verifying its certificate against this
//! installation's CA, as a browser that trusts the CA would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};

/// What answers on the daemon's port.
#[derive(Debug)]
pub enum Probe {
    /// The daemon answered `/v1/status`.
    Status(serde_json::Value),
    /// Something listens but the TLS handshake with our CA failed (another program, or an old
    /// certificate).
    Untrusted(String),
    /// Something answered, but not as nhi-bridge does.
    Unexpected(String),
    /// Nothing accepts connections on the port.
    Closed,
}

/// Asks `https://127.0.0.1:port/v1/status`, trusting only `ca`.
pub fn status(port: u16, ca: &Path, timeout: Duration) -> Probe {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(tcp) = TcpStream::connect_timeout(&addr, timeout) else {
        return Probe::Closed;
    };
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let connector = SslConnector::builder(SslMethod::tls_client()).and_then(|mut b| {
        b.set_ca_file(ca)?;
        b.set_verify(SslVerifyMode::PEER);
        Ok(b.build())
    });
    let connector = match connector {
        Ok(c) => c,
        Err(e) => return Probe::Untrusted(format!("CA file {}: {e}", ca.display())),
    };
    let mut tls = match connector.connect("127.0.0.1", tcp) {
        Ok(s) => s,
        Err(e) => return Probe::Untrusted(e.to_string()),
    };
    let req =
        format!("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if tls.write_all(req.as_bytes()).is_err() {
        return Probe::Unexpected("the request could not be sent".into());
    }
    let mut raw = Vec::new();
    let _ = tls.take(1024 * 1024).read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Probe::Unexpected("no HTTP response".into());
    };
    if !head.starts_with("HTTP/1.1 200") {
        return Probe::Unexpected(head.lines().next().unwrap_or("").to_owned());
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) if v["daemon"]["name"] == "nhi-bridge" => Probe::Status(v),
        _ => Probe::Unexpected("the answer is not nhi-bridge's status".into()),
    }
}
