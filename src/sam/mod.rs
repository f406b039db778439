//! Client of the NHI cloud SAM (protocol/legacy-nhi.md §4): plain TCP to a configurable endpoint
//! (default `cloudicap.nhi.gov.tw:443`), an RSA-1024 "Hello" handshake under the fixed hello key,
//! a session key CN ‖ SN[0..8], the `77` service check, and the `01`→`02`→(card)→`03`→`04`
//! exchange that yields the 256-character H_Sign signature.
//!
//! Every failure is the exact legacy code of §6. Every connect, send and whole reply has a
//! deadline — the step's own timeout or the operation's deadline, whichever comes first — so a
//! server that trickles bytes cannot keep a thread and a socket alive past the operation.
//! It knows nothing of cards: the card's MUTUAL AUTHENTICATE is a callback given by `service`.

pub mod wire;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use openssl::pkey::Private;
use openssl::rsa::{Padding, Rsa};

use crate::error::ErrorCode;

/// Where and how patiently to talk to the cloud SAM.
#[derive(Debug, Clone)]
pub struct SamConfig {
    /// `host:port`.
    pub endpoint: String,
    /// Longest the TCP connect may take.
    pub connect_timeout: Duration,
    /// Waiting for the server's hello (the official component waits about 20 s).
    pub hello_timeout: Duration,
    /// Waiting for the later replies (about 60 s in the official component).
    pub reply_timeout: Duration,
}

/// The NHI cloud SAM the official component uses.
pub const DEFAULT_ENDPOINT: &str = "cloudicap.nhi.gov.tw:443";

impl Default for SamConfig {
    fn default() -> SamConfig {
        SamConfig {
            endpoint: DEFAULT_ENDPOINT.into(),
            connect_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(20),
            reply_timeout: Duration::from_secs(60),
        }
    }
}

/// Offsets of the server hello (§4.3).
const HELLO_PEM: std::ops::Range<usize> = 6..278;
const HELLO_SEP: std::ops::Range<usize> = 278..283;
const HELLO_NONCE: std::ops::Range<usize> = 283..411;
const SEPARATOR: &[u8] = b" 128 ";

/// 16 ASCII digits from the OS CSPRNG (the form the official component uses for its nonce).
pub fn random_digits<const N: usize>() -> Result<[u8; N], ErrorCode> {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        let mut b = [0u8; 32];
        openssl::rand::rand_bytes(&mut b).map_err(|_| ErrorCode::Internal)?;
        // Rejection sampling keeps the digits uniform: 250 = 25 × 10.
        for x in b.into_iter().filter(|x| *x < 250) {
            if i == N {
                break;
            }
            out[i] = b'0' + x % 10;
            i += 1;
        }
    }
    Ok(out)
}

/// The time left before `deadline`; `None` when it has passed.
fn left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

fn connect(cfg: &SamConfig, deadline: Instant) -> Result<TcpStream, ErrorCode> {
    let addrs = cfg.endpoint.to_socket_addrs().map_err(|e| {
        log::warn!("cloud SAM {}: cannot resolve: {e}", cfg.endpoint);
        ErrorCode::SamUnreachable
    })?;
    for addr in addrs {
        let Some(time) = left(deadline) else { break };
        match TcpStream::connect_timeout(&addr, cfg.connect_timeout.min(time)) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                let _ = s.set_write_timeout(Some(cfg.reply_timeout.min(time)));
                return Ok(s);
            }
            Err(e) => log::info!("cloud SAM {addr}: {e}"),
        }
    }
    Err(ErrorCode::SamUnreachable)
}

/// Reads from the stream, each read bounded by what is left until one deadline: a whole reply
/// must arrive in time, not merely each of its bytes.
struct Until<'a> {
    stream: &'a mut TcpStream,
    deadline: Instant,
}

impl Read for Until<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let time = left(self.deadline).ok_or(std::io::ErrorKind::TimedOut)?;
        self.stream.set_read_timeout(Some(time))?;
        self.stream.read(buf)
    }
}

/// One whole reply within `timeout`, and before the operation's `deadline`.
fn receive(
    stream: &mut TcpStream,
    timeout: Duration,
    deadline: Instant,
) -> std::io::Result<Vec<u8>> {
    let until = deadline.min(Instant::now() + timeout);
    wire::receive(&mut Until {
        stream,
        deadline: until,
    })
}

/// The hello handshake; returns the session key.
fn handshake(
    stream: &mut TcpStream,
    cfg: &SamConfig,
    deadline: Instant,
) -> Result<[u8; 24], ErrorCode> {
    let key: Rsa<Private> = Rsa::generate(1024).map_err(|_| ErrorCode::SamKeyGen)?;
    let pem = key
        .public_key_to_pem()
        .map_err(|_| ErrorCode::SamKeyExport)?;
    let cn: [u8; 16] = random_digits()?;
    let hello_key = wire::hello_key();

    let hello = [b"Hello ".as_slice(), &pem].concat();
    let sealed = wire::seal(&hello_key, &hello).ok_or(ErrorCode::SamHelloSend)?;
    wire::send(stream, &sealed).map_err(|_| ErrorCode::SamHelloSend)?;

    let reply = receive(stream, cfg.hello_timeout, deadline).map_err(|e| {
        log::info!("cloud SAM hello: {e}");
        ErrorCode::SamHello
    })?;
    let plain = wire::open(&hello_key, &reply).ok_or(ErrorCode::SamHello)?;
    if !plain.starts_with(b"Hello")
        || plain.len() < HELLO_NONCE.end
        || &plain[HELLO_SEP] != SEPARATOR
    {
        return Err(ErrorCode::SamHello);
    }
    let server = Rsa::public_key_from_pem(&plain[HELLO_PEM]).map_err(|_| ErrorCode::SamHello)?;
    let mut sn = vec![0u8; key.size() as usize];
    let n = key
        .private_decrypt(&plain[HELLO_NONCE], &mut sn, Padding::PKCS1)
        .map_err(|_| ErrorCode::SamNonceDecrypt)?;
    if n < 8 {
        return Err(ErrorCode::SamNonceDecrypt);
    }
    let mut enc = vec![0u8; server.size() as usize];
    let m = server
        .public_encrypt(&cn, &mut enc, Padding::PKCS1)
        .map_err(|_| ErrorCode::SamNonceEncrypt)?;
    // Not encrypted: " 128 " + RSA(CN) + <E>.
    wire::send(stream, &[SEPARATOR, &enc[..m]].concat()).map_err(|_| ErrorCode::SamNonceSend)?;

    let mut session = [0u8; 24];
    session[..16].copy_from_slice(&cn);
    session[16..].copy_from_slice(&sn[..8]);
    Ok(session)
}

/// The service check done before every H_Sign (§4.5): `77` in plain text, `04…` back, all before
/// `deadline`.
pub fn check_service(cfg: &SamConfig, deadline: Instant) -> Result<(), ErrorCode> {
    let mut stream = connect(cfg, deadline)?;
    handshake(&mut stream, cfg, deadline)?;
    wire::send(&mut stream, b"77").map_err(|_| ErrorCode::SamSendFailed)?;
    let reply =
        receive(&mut stream, cfg.reply_timeout, deadline).map_err(|_| ErrorCode::SamReplyOpcode)?;
    if !reply.starts_with(b"04") {
        return Err(ErrorCode::SamReplyOpcode);
    }
    Ok(())
}

/// The authentication exchange (§4.4), all before `deadline`. `mutual_auth` runs the card's
/// MUTUAL AUTHENTICATE on the server's 32 bytes. Returns the 256-character signature.
pub fn authenticate(
    cfg: &SamConfig,
    deadline: Instant,
    card_id: &[u8; 12],
    challenge: &[u8; 8],
    argument: &[u8; 20],
    mutual_auth: impl FnOnce(&[u8; 32]) -> Result<[u8; 16], ErrorCode>,
) -> Result<String, ErrorCode> {
    let mut stream = connect(cfg, deadline)?;
    let key = handshake(&mut stream, cfg, deadline)?;
    let send = |stream: &mut TcpStream, plain: &[u8], err: ErrorCode| {
        let sealed = wire::seal(&key, plain).ok_or(err)?;
        wire::send(stream, &sealed).map_err(|_| err)
    };

    let msg01 = [
        b"01".as_slice(),
        &wire::tag("id", card_id),
        &wire::tag("rn", challenge),
        wire::TERMINATOR,
    ]
    .concat();
    send(&mut stream, &msg01, ErrorCode::SamSendFailed)?;
    let reply =
        receive(&mut stream, cfg.reply_timeout, deadline).map_err(|_| ErrorCode::SamReplyLength)?;
    let plain = wire::open(&key, &reply).ok_or(ErrorCode::SamReplyLength)?;
    if plain.len() != 44 {
        return Err(ErrorCode::SamReplyLength);
    }
    if !plain.starts_with(b"02") {
        return Err(ErrorCode::SamReplyOpcode);
    }
    let mut au = [0u8; 32];
    au.copy_from_slice(&plain[9..41]);

    let answer = mutual_auth(&au)?;
    let msg03 = [
        b"03".as_slice(),
        &wire::tag("au", &answer),
        &wire::tag("se", argument),
        wire::TERMINATOR,
    ]
    .concat();
    send(&mut stream, &msg03, ErrorCode::SamAuthSendFailed)?;
    let reply =
        receive(&mut stream, cfg.reply_timeout, deadline).map_err(|_| ErrorCode::SamNotOk)?;
    let plain = wire::open(&key, &reply).ok_or(ErrorCode::SamNotOk)?;
    if plain.get(8..10) != Some(b"OK".as_slice()) {
        return Err(ErrorCode::SamNotOk);
    }
    let sig = plain.get(18..274).ok_or(ErrorCode::SamNotOk)?;
    if !sig.iter().all(u8::is_ascii_graphic) {
        return Err(ErrorCode::SamNotOk);
    }
    let _ = stream.flush();
    Ok(sig.iter().map(|&b| b as char).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_digits_are_digits_and_vary() {
        let a: [u8; 16] = random_digits().unwrap();
        let b: [u8; 16] = random_digits().unwrap();
        assert!(a.iter().all(u8::is_ascii_digit));
        assert_ne!(a, b);
    }

    #[test]
    fn unreachable_endpoint_is_4061() {
        // Bind then drop: nothing listens on the port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = SamConfig {
            endpoint: format!("127.0.0.1:{port}"),
            connect_timeout: Duration::from_secs(2),
            ..SamConfig::default()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            check_service(&cfg, deadline),
            Err(ErrorCode::SamUnreachable)
        );
    }

    #[test]
    fn a_trickling_server_is_cut_off_at_the_deadline() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // One byte every 50 ms, never the end of a record: each read succeeds in time.
            loop {
                if s.write_all(b"x").is_err() {
                    return;
                }
                if stop_rx.recv_timeout(Duration::from_millis(50)).is_ok() {
                    return;
                }
            }
        });
        let cfg = SamConfig {
            endpoint: format!("127.0.0.1:{port}"),
            hello_timeout: Duration::from_secs(60),
            reply_timeout: Duration::from_secs(60),
            ..SamConfig::default()
        };
        let start = Instant::now();
        let r = check_service(&cfg, start + Duration::from_millis(600));
        let took = start.elapsed();
        assert_eq!(r, Err(ErrorCode::SamHello));
        assert!(took < Duration::from_secs(10), "gave up after {took:?}");
        let _ = stop_tx.send(());
        server.join().unwrap();
    }
}
