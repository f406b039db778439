//! The card side of vsmartcard's vpcd protocol: vpcd (inside pcscd) is the TCP server, we connect.
//!
//! Every message is a 2-byte big-endian length and a payload. One-byte payloads are control:
//! `00` power off, `01` power on, `02` reset (no reply), `04` ATR request (reply: the ATR).
//! Anything longer is a command APDU, answered with the response APDU. Closing the socket is
//! card removal.
//!
//! vpcd writes the length and the payload separately; with delayed ACKs on our side Nagle stalls
//! every exchange by ~40 ms, so the socket runs with TCP_NODELAY and re-armed TCP_QUICKACK.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::card::CardSim;

#[derive(Debug, Default, Clone)]
pub struct LinkFaults {
    /// Wait this long before answering each APDU.
    pub delay: Duration,
    /// Answer this many APDUs, then drop the connection when the next one arrives.
    pub remove_after: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// vpcd closed the connection (pcscd stopped).
    PeerClosed,
    /// `remove_after` was reached: the card was pulled.
    Removed,
    /// A stop signal arrived.
    Stopped,
}

fn quickack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let one: libc::c_int = 1;
        // SAFETY: a valid socket fd and a correctly sized int option value.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

/// Fills `buf`, waking every 100 ms to look at `stop`. `Ok(false)` means stop was requested.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        if stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        quickack(stream);
        match stream.read(&mut buf[got..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn send(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| io::Error::other("answer too long"))?;
    let mut msg = Vec::with_capacity(2 + payload.len());
    msg.extend_from_slice(&len.to_be_bytes());
    msg.extend_from_slice(payload);
    stream.write_all(&msg)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Serves one connection until it ends.
pub fn serve(
    mut stream: TcpStream,
    card: &mut CardSim,
    faults: &LinkFaults,
    apdus_so_far: &mut u64,
    mut apdu_log: Option<&mut File>,
    stop: &AtomicBool,
) -> io::Result<Ended> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    loop {
        let mut len = [0u8; 2];
        match read_full(&mut stream, &mut len, stop) {
            Ok(true) => {}
            Ok(false) => return Ok(Ended::Stopped),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Ended::PeerClosed),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(Ended::PeerClosed),
            Err(e) => return Err(e),
        }
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        match read_full(&mut stream, &mut msg, stop) {
            Ok(true) => {}
            Ok(false) => return Ok(Ended::Stopped),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Ended::PeerClosed),
            Err(e) => return Err(e),
        }
        // One write per line, flushed, so a reader of the log never sees half a line. Power and
        // reset events are logged as `#` lines beside the command APDUs.
        let mut note = |line: String| -> io::Result<()> {
            if let Some(log) = apdu_log.as_deref_mut() {
                log.write_all(format!("{line}\n").as_bytes())?;
                log.flush()?;
            }
            Ok(())
        };
        match msg.as_slice() {
            [0x00] => {
                note("# power-off".into())?;
                card.reset();
            }
            [0x01] => {
                note("# power-on".into())?;
                card.reset();
            }
            [0x02] => {
                note("# reset".into())?;
                card.reset();
            }
            [0x04] => send(&mut stream, &card.atr())?,
            [_] => {}
            apdu => {
                note(hex(apdu))?;
                if faults.remove_after.is_some_and(|n| *apdus_so_far >= n) {
                    return Ok(Ended::Removed);
                }
                *apdus_so_far += 1;
                if !faults.delay.is_zero() {
                    std::thread::sleep(faults.delay);
                }
                let answer = card.apdu(apdu);
                send(&mut stream, &answer)?;
            }
        }
    }
}
