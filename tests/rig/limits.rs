//! What a hostile page or local process cannot do to the daemon: hold WebSockets or event streams
//! past their budgets or their idle time, use `/echo` without an Origin for card data, forge the
//! self-check page's access, or make the accept loop spin when descriptors run out.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::https::*;
use crate::legacy::free_port;
use crate::support::*;

/// Budgets with `max_connections = 4`: 3 long-lived places, 1 per origin, 1 slot kept free.
const SMALL: &str = "max_connections = 4\nidle_timeout_secs = 2\nheader_timeout_secs = 2\n";

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn wss(d: &Daemon, origin: Option<&str>) -> Result<EchoSocket, String> {
    EchoSocket::try_open(
        Box::new(tls_connect(&d.ca, d.port)),
        "wss",
        &d.host(),
        origin,
    )
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn websockets_keep_their_budget_and_idle_clock() {
    let _rig = rig();
    let d = Daemon::start(SMALL);

    // One origin gets one long-lived place; the second socket of that page is turned away.
    let mut a = wss(&d, Some(NHI_ORIGIN)).expect("first socket");
    assert_eq!(a.send("GetVersion").as_deref(), Some("GetVersion:0011"));
    assert_eq!(
        wss(&d, Some(NHI_ORIGIN)).err().as_deref(),
        Some("HTTP 503"),
        "a page's share is one socket here"
    );
    let mut b = wss(&d, Some("https://b.nhi.gov.tw")).expect("second origin");
    let _c = wss(&d, Some("https://c.nhi.gov.tw")).expect("third origin");
    assert_eq!(
        wss(&d, Some("https://d.nhi.gov.tw")).err().as_deref(),
        Some("HTTP 503"),
        "all long-lived places are taken"
    );
    // ... and a short request still gets the slot kept for it.
    let st = d.get("/v1/status", None);
    assert_eq!(st.status, 200);
    assert_eq!(
        wss(&d, Some("https://d.nhi.gov.tw"))
            .err()
            .map(|e| e.contains("503")),
        Some(true)
    );

    // Quiet sockets are closed after idle_timeout_secs, which gives their places back.
    assert!(b.send("GetVersion").is_some());
    assert!(
        a.closed_by_peer(Duration::from_secs(10)),
        "idle socket left open"
    );
    assert!(
        b.closed_by_peer(Duration::from_secs(10)),
        "idle socket left open"
    );
    let mut again = wss(&d, Some(NHI_ORIGIN)).expect("a place is free again");
    assert_eq!(again.send("GetVersion").as_deref(), Some("GetVersion:0011"));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn refused_websockets_are_closed_and_cannot_pile_up() {
    let _rig = rig();
    let d = Daemon::start(SMALL);
    let pid = d.pid();
    let before = open_fds(pid);

    // A refused page that never sends a command is closed after the first-message deadline.
    let mut silent = wss(&d, Some("https://evil.example")).expect("handshake completes");
    assert!(
        silent.closed_by_peer(Duration::from_secs(10)),
        "a silent refused socket stays open"
    );

    // A hostile page opening socket after socket (and keeping them) holds at most its share:
    // the old daemon kept every refused socket open, one descriptor each.
    let mut held = Vec::new();
    let mut most = 0;
    for _ in 0..200 {
        if let Ok(ws) = wss(&d, Some("https://evil.example")) {
            held.push(ws);
        }
        most = most.max(open_fds(pid));
    }
    assert!(
        most <= before + 8,
        "the daemon held {most} descriptors (was {before}) for refused sockets"
    );
    drop(held);
    assert_eq!(d.get("/v1/status", None).status, 200, "still serving");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn echo_without_origin_answers_getversion_only() {
    let _rig = rig();
    let sim = Sim::start(SLOT0, &[]);
    let legacy = free_port();
    let d = Daemon::start(&format!("legacy_http_port = {legacy}\n"));

    let mut ws = wss(&d, None).expect("handshake");
    assert_eq!(ws.send("GetVersion").as_deref(), Some("GetVersion:0011"));
    assert_eq!(ws.send("GetBasic").as_deref(), Some("4041"));
    assert!(ws.closed_by_peer(Duration::from_secs(10)));

    // The same over plain ws:// on the legacy HTTP port.
    let tcp = TcpStream::connect(("127.0.0.1", legacy)).expect("connect");
    let host = format!("127.0.0.1:{legacy}");
    let mut plain = EchoSocket::try_open(Box::new(tcp), "ws", &host, None).expect("handshake");
    assert_eq!(
        plain.send("EnCrypt?Pwd=123456789012").as_deref(),
        Some("4041")
    );
    assert!(plain.closed_by_peer(Duration::from_secs(10)));

    let mut ws = wss(&d, None).expect("handshake");
    assert_eq!(
        ws.send("H_Sign?Random=00111234567890123456").as_deref(),
        Some("4041")
    );
    assert!(
        sim.apdus().is_empty(),
        "a client without Origin reached the card: {:?}",
        sim.apdus()
    );
    // A page of an allowed origin still reads the card.
    let mut page = wss(&d, Some(NHI_ORIGIN)).expect("handshake");
    assert!(page
        .send("GetBasic")
        .is_some_and(|r| r.starts_with("GetBasic:")));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn event_streams_need_the_page_token_and_have_their_own_budget() {
    let _rig = rig();
    let d = Daemon::start(SMALL);
    let host = d.host();
    // A forged same-origin header is no key any more.
    let forged = d.request(
        "GET",
        "/v1/events",
        &[("Host", &host), ("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(forged.status, 403);
    let wrong = d.request(
        "GET",
        "/v1/events?token=00000000000000000000000000000000",
        &[("Host", &host)],
        b"",
    );
    assert_eq!(wrong.status, 403);

    // The token the page carries opens the stream.
    let html = d.get("/", None).text();
    let token = html
        .split("data-token=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the page carries its token")
        .to_owned();
    assert_eq!(token.len(), 32);
    let mut own = EventStream::open_path(&d.ca, d.port, &format!("/v1/events?token={token}"), None);
    assert_eq!(own.status, 200);
    own.expect("pcsc-up", "", Duration::from_secs(5));

    // One stream per origin here; the second is refused with its own code.
    let mut a = d.events(NHI_ORIGIN);
    assert_eq!(a.status, 200);
    let second = d.request(
        "GET",
        "/v1/events",
        &[("Host", &host), ("Origin", NHI_ORIGIN)],
        b"",
    );
    assert_eq!(
        (second.status, second.json()["code"].as_str()),
        (503, Some("4290"))
    );
    let b = d.events("https://b.nhi.gov.tw");
    assert_eq!(b.status, 200);
    let full = d.request(
        "GET",
        "/v1/events",
        &[("Host", &host), ("Origin", "https://c.nhi.gov.tw")],
        b"",
    );
    assert_eq!(full.status, 503, "all long-lived places are taken");
    // Short requests keep their slot while the streams are open.
    for _ in 0..5 {
        assert_eq!(d.get("/v1/status", None).status, 200);
    }
    a.expect("pcsc-up", "", Duration::from_secs(5));
    drop(a);
    // The place comes back when the stream's connection ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = d.request(
            "GET",
            "/v1/events",
            &[("Host", &host), ("Origin", "https://c.nhi.gov.tw")],
            b"",
        );
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the place was not given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after "(comm) ": state is [0], utime [11], stime [12].
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn running_out_of_descriptors_backs_off_and_recovers() {
    let _rig = rig();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Daemon::start_wrapped(
        dir.path(),
        "header_timeout_secs = 30\n",
        &[],
        &["prlimit", "--nofile=48:48", "--"],
    );
    let pid = d.pid();
    // Connections that never start TLS: the daemon accepts them until it has no descriptor left,
    // and the rest wait in the backlog, readable, while accept fails with EMFILE.
    let mut flood = Vec::new();
    for _ in 0..80 {
        flood.push(TcpStream::connect(("127.0.0.1", d.port)).expect("connect"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.log().contains("accept failed") {
        assert!(Instant::now() < deadline, "no accept failure: {}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = cpu_ticks(pid);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2)); // a window to measure CPU over, not a wait
    let used = cpu_ticks(pid) - t0;
    let window_ticks = started.elapsed().as_millis() as u64 / 10; // 100 ticks a second
    assert!(
        used * 4 < window_ticks,
        "the accept loop spins: {used} ticks of CPU in {window_ticks}"
    );
    let failures =
        d.log().matches("accept failed").count() + d.log().matches("accept still failing").count();
    assert_eq!(failures, 1, "one warning for the storm: {}", d.log());

    // Descriptors free up: the daemon serves again and says the storm is over.
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            d.get("/v1/status", None).status == 200
        }));
        if ok.unwrap_or(false) {
            break;
        }
        assert!(Instant::now() < deadline, "the daemon did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(d.log().contains("accepting again after"), "{}", d.log());
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_malformed_chunked_body_is_a_bad_request() {
    use std::io::{Read, Write};
    let _rig = rig();
    let d = Daemon::start("");
    let mut s = tls_connect(&d.ca, d.port);
    let req = format!(
        "POST /v1/card/hsign HTTP/1.1\r\nHost: {}\r\nOrigin: {NHI_ORIGIN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
        d.host()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 400"),
        "malformed chunk answered: {text}"
    );
}

/// Sends one keep-alive request on `s` and reads exactly its response (Content-Length).
fn keep_alive_get(
    s: &mut openssl::ssl::SslStream<TcpStream>,
    host: &str,
    path: &str,
) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")?;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let len: usize = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok(text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn a_kept_alive_connection_lasts_the_idle_timeout_not_the_header_timeout() {
    let _rig = rig();
    let d = Daemon::start("header_timeout_secs = 1\nidle_timeout_secs = 4\n");
    let mut s = tls_connect(&d.ca, d.port);
    assert_eq!(
        keep_alive_get(&mut s, &d.host(), "/v1/status").ok(),
        Some(200)
    );
    // Quiet for longer than the header timeout, well within the idle timeout: still open.
    std::thread::sleep(Duration::from_millis(2500)); // the quiet period under test
    assert_eq!(
        keep_alive_get(&mut s, &d.host(), "/v1/status").ok(),
        Some(200),
        "the kept-alive connection was closed before idle_timeout_secs"
    );
    // Then quiet past the idle timeout: the daemon closes it.
    let tcp = s.get_ref().try_clone().expect("clone");
    assert_closed_by_daemon(
        &mut s,
        |t| drop(tcp.set_read_timeout(Some(t))),
        "after idle_timeout_secs",
    );
    // A request head that trickles in is still cut at the header timeout.
    let mut slow = tls_connect(&d.ca, d.port);
    std::io::Write::write_all(&mut slow, b"GET /v1/status HTTP/1.1\r\n").expect("send");
    let tcp = slow.get_ref().try_clone().expect("clone");
    assert_closed_by_daemon(
        &mut slow,
        |t| drop(tcp.set_read_timeout(Some(t))),
        "a half head",
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn exactly_max_connections_are_served_whatever_the_number_of_listeners() {
    let _rig = rig();
    // The daemon listens on 127.0.0.1 and ::1 (and the legacy ports are off): two accept points
    // share three slots.
    let d = Daemon::start("max_connections = 3\nidle_timeout_secs = 30\n");
    let mut held = Vec::new();
    for i in 0..3 {
        let mut s = tls_connect(&d.ca, d.port);
        assert_eq!(
            keep_alive_get(&mut s, &d.host(), "/v1/status").ok(),
            Some(200),
            "connection {} of 3 not served",
            i + 1
        );
        held.push(s);
    }
    // The fourth waits in the backlog: its handshake does not start while three are open.
    let tcp = TcpStream::connect(("127.0.0.1", d.port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_millis(1500))).ok();
    let connector = {
        let mut b = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls_client())
            .expect("connector");
        b.set_ca_file(&d.ca).expect("ca");
        b.build()
    };
    let waiting = connector.connect("127.0.0.1", tcp);
    assert!(
        waiting.is_err(),
        "a fourth connection was served past the cap"
    );
    // One of the three leaves: the next is served.
    drop(held.pop());
    let mut next = tls_connect(&d.ca, d.port);
    assert_eq!(
        keep_alive_get(&mut next, &d.host(), "/v1/status").ok(),
        Some(200)
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn refused_websockets_do_not_crowd_out_an_allowed_page_and_pings_do_not_keep_them() {
    let _rig = rig();
    // 12 long-lived places, 3 per origin: 4 foreign origins × 3 held sockets took all of them.
    let d = Daemon::start("max_connections = 16\nidle_timeout_secs = 30\n");
    let mut held = Vec::new();
    for o in [
        "https://a.example",
        "https://b.example",
        "https://c.example",
        "https://d.example",
    ] {
        for _ in 0..3 {
            if let Ok(ws) = wss(&d, Some(o)) {
                held.push(ws);
            }
        }
    }
    let mut page = wss(&d, Some(NHI_ORIGIN)).expect("the NHI page gets its /echo");
    assert_eq!(page.send("GetVersion").as_deref(), Some("GetVersion:0011"));
    let mut events = EventStream::open(&d.ca, d.port, NHI_ORIGIN);
    assert_eq!(events.status, 200, "the NHI page gets its event stream");
    events.expect("pcsc-up", "", Duration::from_secs(5));
    drop(held);

    // A refused socket that pings every 200 ms is still closed at its first-message deadline
    // (5 s): pings do not move it.
    let mut pinging = wss(&d, Some("https://evil.example")).expect("handshake completes");
    let start = std::time::Instant::now();
    let mut closed = false;
    while start.elapsed() < Duration::from_secs(15) {
        if pinging.ping().is_err() || pinging.closed_by_peer(Duration::from_millis(200)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "pings kept a refused socket open for 15 s");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn under_churn_of_refused_websockets_an_nhi_pages_echo_and_events_succeed() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let _rig = rig();
    let d = Arc::new(Daemon::start(""));
    let client = Arc::new(connector(&d.ca));
    let open = |client: &openssl::ssl::SslConnector, d: &Daemon, origin: &str| {
        EchoSocket::try_open(
            Box::new(tls_connect_via(client, d.port)),
            "wss",
            &d.host(),
            Some(origin),
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    // 4 foreign origins × 48 sockets, each reopened as soon as it is closed (the audit's page):
    // enough to fill every long-lived place when refused sockets took them. A socket turned
    // away is retried after 500 ms, so the churn does not starve the machine's two cores.
    let workers: Vec<_> = (0..192)
        .map(|i| {
            let (d, stop, client) = (d.clone(), stop.clone(), client.clone());
            std::thread::spawn(move || {
                let origin = format!("https://evil{}.example", i % 4);
                while !stop.load(Ordering::Relaxed) {
                    match open(&client, &d, &origin) {
                        Ok(mut ws) => {
                            ws.closed_by_peer(Duration::from_secs(6));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(500)),
                    }
                }
            })
        })
        .collect();
    let tries = 100;
    let mut ok = 0;
    for _ in 0..tries {
        let echo = open(&client, &d, NHI_ORIGIN)
            .ok()
            .and_then(|mut ws| ws.send("GetVersion"))
            .is_some_and(|r| r == "GetVersion:0011");
        let sse = EventStream::open(&d.ca, d.port, NHI_ORIGIN).status == 200;
        ok += usize::from(echo && sse);
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    println!(
        "under refused-WebSocket churn: {ok}/{tries} NHI /echo + event-stream tries succeeded"
    );
    assert!(ok * 100 >= tries * 99, "only {ok} of {tries} succeeded");
}
