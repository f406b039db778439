//! Conformance with the legacy NHI protocol (protocol/legacy-nhi.md) against the running daemon:
//! the page flow of §1.7 over WSS with the card and SAM simulators, reply syntax, refusals with no
//! card I/O, every SAM fault's code, EnCrypt / SecureGetBasicWithParam decoded by independent
//! decoders written here from §5, and the HTTP variant with its BMP images.

use std::time::{SystemTime, UNIX_EPOCH};

use openssl::hash::{hash, MessageDigest};
use openssl::pkey::PKey;
use openssl::sign::Verifier;
use openssl::symm::{Cipher, Crypter, Mode};

use crate::https::*;
use crate::support::*;

fn daemon_with_sam(sam: &SamSim, extra: &str) -> Daemon {
    Daemon::start(&format!(
        "sam_endpoint = \"{}\"\nsam_hello_timeout_secs = 2\nsam_reply_timeout_secs = 2\n{extra}",
        sam.endpoint()
    ))
}

fn echo(d: &Daemon, origin: &str) -> EchoSocket {
    EchoSocket::open(&d.ca, d.port, &d.host(), origin)
}

/// Verifies the simulator's signature (hex RSA-SHA256 over card ID ‖ argument) with the public key
/// in certs/test.
pub fn signature_valid(sig_hex: &str, card_id: &str, argument: &str) -> bool {
    let key =
        PKey::public_key_from_pem(include_bytes!("../../certs/test/sam-test-signing-pub.pem"))
            .expect("test public key");
    let sig: Vec<u8> = (0..sig_hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(sig_hex.get(i..i + 2)?, 16).ok())
        .collect();
    let mut v = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
    v.update(card_id.as_bytes()).expect("update");
    v.update(argument.as_bytes()).expect("update");
    v.verify(&sig).unwrap_or(false)
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn page_flow_over_wss_ends_in_a_verified_signature() {
    let _rig = rig();
    let card = Sim::start(SLOT0, &[]);
    let sam = SamSim::start(&[]);
    let d = daemon_with_sam(&sam, "");
    let mut ws = echo(&d, NHI_ORIGIN);
    let p = sample();

    let basic = ws.send("GetBasic").expect("reply");
    let flag = p.card_data.chars().next().expect("flag");
    assert_eq!(
        basic,
        format!(
            "GetBasic:{},{},{},{},{},{flag}",
            p.card_no, p.id_no, p.name, p.birth_date, p.sex
        )
    );
    let version = ws.send("GetVersion").expect("reply");
    assert_eq!(version, "GetVersion:0011");
    let random = ws.send("GetRandom").expect("reply");
    let random = random
        .strip_prefix("GetRandom:")
        .expect("GetRandom: prefix");
    assert_eq!(random.len(), 16);
    assert!(random.bytes().all(|b| b.is_ascii_digit()));
    assert_ne!(
        ws.send("GetRandom").expect("reply"),
        format!("GetRandom:{random}")
    );

    let argument = format!("0011{random}");
    let reply = ws
        .send(&format!("H_Sign?Random={argument}"))
        .expect("reply");
    let sig = reply
        .strip_prefix("H_Sign:")
        .unwrap_or_else(|| panic!("H_Sign failed: {reply}"));
    assert_eq!(sig.len(), 256);
    assert!(
        signature_valid(sig, &p.card_no, &argument),
        "signature does not verify"
    );
    assert!(!signature_valid(sig, &p.card_no, "00119999999999999999"));

    // The service check came first, on its own connection, then the exchange; the SAM verified
    // the card's MUTUAL AUTHENTICATE answer; the card was reset afterwards.
    assert_eq!(
        sam.events(),
        ["connect", "77", "connect", "01", "03 card-ok"]
    );
    let log = card.log_lines();
    let last_auth = log
        .iter()
        .rposition(|l| l.starts_with("0082111220"))
        .expect("MUTUAL AUTH sent");
    assert!(
        log[last_auth..]
            .iter()
            .any(|l| l == "# reset" || l == "# power-off"),
        "{log:?}"
    );
    // Several commands, one connection: it is still open.
    assert_eq!(ws.send("GetVersion").as_deref(), Some("GetVersion:0011"));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn reply_syntax_and_unknown_commands() {
    let _rig = rig();
    let _card = Sim::start(SLOT0, &[]);
    let d = Daemon::start("");
    let mut ws = echo(&d, "https://nhi.gov.tw");
    assert!(ws
        .send("GetBasicXYZ")
        .expect("reply")
        .starts_with("GetBasic:"));
    for unknown in [
        "Hello",
        "getversion",
        " GetVersion",
        "H_SignIPAndPort?Random=1&IP=2&PORT=3",
        "GetHostIPaddr",
        "",
    ] {
        assert_eq!(ws.send(unknown).as_deref(), Some("9999"), "{unknown:?}");
    }
    // Still open after unknown commands.
    assert_eq!(ws.send("GetVersion").as_deref(), Some("GetVersion:0011"));
    // A bad H_Sign argument is refused before anything is sent anywhere, with the service
    // error pages know (our own 4000 is in the log).
    assert_eq!(ws.send("H_Sign?Random=123").as_deref(), Some("8201"));
    assert_eq!(
        ws.send("H_Sign?Random=0011 234567890123456").as_deref(),
        Some("8201")
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn refused_pages_get_4041_then_close_and_no_card_io() {
    let _rig = rig();
    let card = Sim::start(SLOT0, &[]);
    let sam = SamSim::start(&[]);
    let d = daemon_with_sam(&sam, "");
    for origin in [
        "https://evil.example",
        "https://evilnhi.gov.tw",
        "null",
        "file://",
    ] {
        let mut ws = echo(&d, origin);
        assert_eq!(ws.send("GetBasic").as_deref(), Some("4041"), "{origin}");
        assert!(
            ws.closed_by_peer(std::time::Duration::from_secs(10)),
            "{origin}: connection left open"
        );
    }
    let mut ws = EchoSocket::open(&d.ca, d.port, "evil.example", NHI_ORIGIN);
    assert_eq!(
        ws.send("H_Sign?Random=00111234567890123456").as_deref(),
        Some("4041")
    );
    assert!(ws.closed_by_peer(std::time::Duration::from_secs(10)));
    assert!(
        card.apdus().is_empty(),
        "refused pages reached the card: {:?}",
        card.apdus()
    );
    assert!(sam.events().is_empty(), "refused pages reached the SAM");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn every_sam_fault_has_its_code_and_the_daemon_keeps_serving() {
    let _rig = rig();
    let _card = Sim::start(SLOT0, &[]);
    for (fault, code) in [
        ("stall", "8305"),
        ("garbage", "8305"),
        ("check-fail", "8005"),
        ("bad-length", "8004"),
        ("bad-opcode", "8005"),
        ("close-mid", "8004"),
        ("not-ok", "8008"),
    ] {
        let sam = SamSim::start(&["--fault", fault]);
        let d = daemon_with_sam(&sam, "");
        let mut ws = echo(&d, NHI_ORIGIN);
        let reply = ws
            .send("H_Sign?Random=00111234567890123456")
            .expect("reply");
        assert_eq!(reply, code, "fault {fault}");
        assert_eq!(
            ws.send("GetVersion").as_deref(),
            Some("GetVersion:0011"),
            "after {fault}"
        );
        assert!(
            ws.send("GetBasic").expect("reply").starts_with("GetBasic:"),
            "after {fault}"
        );
    }
    // Nothing listening at the endpoint: 4061.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let d = Daemon::start(&format!(
        "sam_endpoint = \"127.0.0.1:{port}\"\nsam_connect_timeout_secs = 2\n"
    ));
    let mut ws = echo(&d, NHI_ORIGIN);
    assert_eq!(
        ws.send("H_Sign?Random=00111234567890123456").as_deref(),
        Some("4061")
    );
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn card_faults_during_h_sign() {
    let _rig = rig();
    let sam = SamSim::start(&[]);
    let d = daemon_with_sam(&sam, "");
    // No card: 7004 (H_Sign keeps the 700x codes apart).
    let mut ws = echo(&d, NHI_ORIGIN);
    assert_eq!(
        ws.send("H_Sign?Random=00111234567890123456").as_deref(),
        Some("7004")
    );

    // A card whose MUTUAL AUTHENTICATE answer the SAM cannot verify: 8008.
    let other_secret = r#"
card_no = "000012345678"
name = "王小明"
id_no = "A123456789"
birth_date = "0700315"
sex = "M"
issue_date = "1100101"
auth_secret = "ffffffffffffffffffffffffffffffff"
"#;
    let wrong = Sim::start_with_profile(SLOT0, Some(other_secret), &[]);
    assert_eq!(
        ws.send("H_Sign?Random=00111234567890123456").as_deref(),
        Some("8008")
    );
    assert!(sam.events().contains(&"03 card-bad".to_owned()));
    wrong.remove();

    // Card pulled after SELECT and CA 00: "no card" (7004) as pages know it — not their
    // "installation problem" default for our 8014 — and the next request works.
    let pulled = Sim::start(SLOT0, &["--remove-after", "2"]);
    assert_eq!(
        ws.send("H_Sign?Random=00111234567890123456").as_deref(),
        Some("7004")
    );
    drop(pulled);
    let _good = Sim::start(SLOT0, &[]);
    assert!(ws
        .send("H_Sign?Random=00111234567890123456")
        .expect("reply")
        .starts_with("H_Sign:"));
}

fn des3(mode: Mode, key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = Crypter::new(Cipher::des_ede3(), mode, key, None).expect("crypter");
    c.pad(false);
    let mut out = vec![0u8; data.len() + 8];
    let n = c.update(data, &mut out).expect("update");
    let m = c.finalize(&mut out[n..]).expect("finalize");
    out.truncate(n + m);
    out
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Drops every 8th byte (the inserted "IV" bytes).
fn strip_iv(data: &[u8]) -> Vec<u8> {
    data.chunks(8)
        .flat_map(|c| c[..c.len().min(7)].to_vec())
        .collect()
}

/// Today in Taiwan (UTC+8) as (year, month, day), computed independently of the daemon.
fn taipei_dates() -> Vec<(i32, u32, u32)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        + 8 * 3600;
    // Around midnight the daemon may have used the day before or after this test's instant.
    [now - 120, now, now + 120]
        .iter()
        .map(|&t| {
            let days = t.div_euclid(86_400);
            // Civil date from days since 1970-01-01.
            let (mut y, mut d) = (1970i32, days);
            loop {
                let len = if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                    366
                } else {
                    365
                };
                if d < len {
                    break;
                }
                d -= len;
                y += 1;
            }
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let months = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            let mut m = 0;
            while d >= months[m] {
                d -= months[m];
                m += 1;
            }
            (y, m as u32 + 1, d as u32 + 1)
        })
        .collect()
}

fn decode_encrypt(hex: &str, card_no: &str, (y, m, d): (i32, u32, u32)) -> Option<String> {
    let c2 = unhex(hex);
    let c1_iv = des3(Mode::Decrypt, b"272526864181565247277656", &c2);
    let mut c1 = strip_iv(&c1_iv);
    c1.truncate(c1.len() / 8 * 8);
    let date = format!("{y:04}{m:02}{d:02}");
    let mut key = hash(MessageDigest::sha1(), format!("{card_no}{date}").as_bytes())
        .expect("sha1")
        .to_vec();
    key.extend_from_slice(&[0x27, 0x06, 0x58, 0x66]);
    let padded = des3(Mode::Decrypt, &key, &c1);
    let p = *padded.last()? as usize;
    if !(1..=8).contains(&p) || padded[padded.len() - p..].iter().any(|&b| b as usize != p) {
        return None;
    }
    String::from_utf8(padded[..padded.len() - p].to_vec()).ok()
}

fn decode_secure_basic(hex: &str, (y, m, d): (i32, u32, u32)) -> Option<Vec<String>> {
    let key = format!("{m:02}{d:02}{y:04}").repeat(3);
    let plain = des3(Mode::Decrypt, key.as_bytes(), &unhex(hex));
    let mut csv = strip_iv(&plain);
    while csv.last() == Some(&0) {
        csv.pop();
    }
    let (text, _, bad) = encoding_rs::BIG5.decode(&csv);
    (!bad).then(|| text.split(',').map(str::to_owned).collect())
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn encrypt_and_secure_basic_decode_with_independent_decoders() {
    let _rig = rig();
    let card = Sim::start(SLOT0, &[]);
    let d = Daemon::start("");
    let mut ws = echo(&d, NHI_ORIGIN);
    let p = sample();
    for pwd in ["123456789012", "abc123", "Passw0rd"] {
        let reply = ws.send(&format!("EnCrypt?Pwd={pwd}")).expect("reply");
        let hex = reply
            .strip_prefix("EnCrypt:")
            .unwrap_or_else(|| panic!("{reply}"));
        assert_eq!(hex.len(), if pwd.len() <= 7 { 32 } else { 48 });
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        let decoded: Vec<_> = taipei_dates()
            .into_iter()
            .filter_map(|dt| decode_encrypt(hex, &p.card_no, dt))
            .collect();
        assert!(
            decoded.contains(&pwd.to_owned()),
            "{pwd}: decoded {decoded:?}"
        );
    }
    // Trailing white space is trimmed; a bad length is refused without touching the card.
    let before = card.apdus().len();
    assert_eq!(ws.send("EnCrypt?Pwd=12345").as_deref(), Some("8009"));
    assert_eq!(
        ws.send("EnCrypt?Pwd=1234567890123").as_deref(),
        Some("8009")
    );
    assert_eq!(ws.send("EnCrypt?Pwd=12345   ").as_deref(), Some("8009"));
    assert_eq!(card.apdus().len(), before);

    let reply = ws.send("SecureGetBasicWithParam?Pwd=44666").expect("reply");
    let hex = reply
        .strip_prefix("SecureGetBasicWithParam:")
        .unwrap_or_else(|| panic!("{reply}"));
    let want: Vec<String> = [
        p.card_no.clone(),
        p.id_no.clone(),
        p.name.clone(),
        p.birth_date.clone(),
        p.sex.clone(),
        p.card_data[..1].to_owned(),
    ]
    .to_vec();
    let decoded: Vec<_> = taipei_dates()
        .into_iter()
        .filter_map(|dt| decode_secure_basic(hex, dt))
        .collect();
    assert!(decoded.contains(&want), "decoded {decoded:?}");
}

/// The page decoder of §2.3: pixel bytes in file order, zeros dropped.
fn decode_bmp(bmp: &[u8]) -> serde_json::Value {
    assert_eq!(&bmp[..2], b"BM");
    let off = u32::from_le_bytes(bmp[10..14].try_into().expect("offset")) as usize;
    let width = i32::from_le_bytes(bmp[18..22].try_into().expect("width")) as usize;
    assert_eq!(
        u16::from_le_bytes(bmp[28..30].try_into().expect("bitcount")),
        24
    );
    let text: String = bmp[off..off + 3 * width]
        .iter()
        .filter(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    serde_json::from_str(&text).expect("JSON in the pixels")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn http_variant_on_59001_and_59002() {
    let _rig = rig();
    let sam = SamSim::start(&[]);
    let (hp, sp) = (free_port(), free_port());
    let d = daemon_with_sam(
        &sam,
        &format!("legacy_http_port = {hp}\nlegacy_https_port = {sp}\n"),
    );
    assert!(
        d.log().contains(&format!("http://127.0.0.1:{hp}/api/")),
        "{}",
        d.log()
    );
    let host = format!("localhost:{hp}");
    let form = "application/x-www-form-urlencoded; charset=UTF-8";
    let post = |path: &str, body: &str| {
        http_request(
            hp,
            "POST",
            path,
            &[
                ("Host", &host),
                ("Origin", NHI_ORIGIN),
                ("Content-Type", form),
            ],
            body.as_bytes(),
        )
    };

    let r = post("/api/GetVersion", "");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"result": "0000", "version": "0011"})
    );
    assert_eq!(r.header("access-control-allow-origin"), Some(NHI_ORIGIN));
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));

    let r = post("/api/GetBasic", "");
    assert_eq!(r.json()["result"], "8013", "no card yet");
    let bmp = http_request(
        hp,
        "GET",
        "/api/GetCardStatus.bmp?tick=1",
        &[("Host", &host), ("Origin", NHI_ORIGIN)],
        b"",
    );
    assert_eq!(bmp.header("content-type"), Some("image/bmp"));
    assert_eq!(decode_bmp(&bmp.body)["result"], "8013");

    let _card = Sim::start(SLOT0, &[]);
    let p = sample();
    let v = post("/api/GetBasic", "").json();
    assert_eq!(v["result"], "0000");
    assert_eq!(v["card_no"], p.card_no.as_str());
    assert_eq!(v["as_id"], p.id_no.as_str());
    assert_eq!(v["name"], p.name.as_str());
    assert_eq!(v["birthday"], p.birth_date.as_str());
    assert_eq!(v["sex"], p.sex.as_str());
    assert_eq!(v["card_termination"], &p.card_data[..1]);
    let status = http_request(
        hp,
        "GET",
        "/api/GetStatus.bmp?tick=2",
        &[("Host", &host), ("Origin", NHI_ORIGIN)],
        b"",
    );
    assert_eq!(decode_bmp(&status.body)["result"], "0000");
    let card_status = http_request(
        hp,
        "GET",
        "/api/GetCardStatus.bmp?tick=3",
        &[("Host", &host), ("Origin", NHI_ORIGIN)],
        b"",
    );
    assert_eq!(decode_bmp(&card_status.body)["result"], "0000");

    let random = post("/api/GetRandom", "").json()["random"]
        .as_str()
        .expect("random")
        .to_owned();
    let argument = format!("0011{random}");
    let v = post("/api/SignHC", &format!("{{\"random\":\"{argument}\"}}")).json();
    assert_eq!(v["result"], "0000", "{v}");
    assert!(signature_valid(
        v["sign"].as_str().expect("sign"),
        &p.card_no,
        &argument
    ));
    assert_eq!(
        post("/api/SignHC", "{\"random\":\"short\"}").json()["result"],
        "8201"
    );
    assert_eq!(
        post("/api/EncryptPwd", "{\"pwd\":\"123\"}").json()["result"],
        "8009"
    );
    assert_eq!(
        post("/api/EncryptPwd", "{\"pwd\":\"123456789012\"}").json()["result"],
        "0000"
    );
    assert_eq!(
        post("/api/GetEncryptBasic", "{\"pwd\":\"44666\"}").json()["result"],
        "0000"
    );

    // Same guard as everywhere: a refused origin never reaches the card.
    let r = http_request(
        hp,
        "POST",
        "/api/GetBasic",
        &[("Host", &host), ("Origin", "https://evil.example")],
        b"",
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);

    // The HTTPS variant answers the same.
    let shost = format!("localhost:{sp}");
    let r = request(
        &d.ca,
        sp,
        "POST",
        "/api/GetVersion",
        &[("Host", &shost), ("Origin", NHI_ORIGIN)],
        b"",
    );
    assert_eq!(r.json()["version"], "0011");
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn v1_hsign_validates_and_signs() {
    let _rig = rig();
    let _card = Sim::start(SLOT0, &[]);
    let sam = SamSim::start(&[]);
    let d = daemon_with_sam(&sam, "");
    let host = d.host();
    let post = |ct: &str, body: &str| {
        d.request(
            "POST",
            "/v1/card/hsign",
            &[
                ("Host", &host),
                ("Origin", NHI_ORIGIN),
                ("Content-Type", ct),
            ],
            body.as_bytes(),
        )
    };
    let r = post("text/plain", r#"{"argument":"00111234567890123456"}"#);
    assert_eq!((r.status, r.json()["code"].as_str()), (415, Some("4150")));
    for bad in [
        r#"{"argument":"0011"}"#,
        r#"{"arg":"00111234567890123456"}"#,
        "not json",
        r#"{"argument":"0011123456789012345\n"}"#,
    ] {
        let r = post("application/json", bad);
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (400, Some("4000")),
            "{bad}"
        );
    }
    assert!(sam.events().is_empty(), "bad arguments reached the SAM");
    let r = post(
        "application/json; charset=utf-8",
        r#"{"argument":"00111234567890123456"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let sig = r.json()["signature"]
        .as_str()
        .expect("signature")
        .to_owned();
    assert!(signature_valid(
        &sig,
        &sample().card_no,
        "00111234567890123456"
    ));
}

#[test]
#[ignore = "rig: needs scripts/private-rig.sh (which passes --include-ignored)"]
fn iccert_on_the_plain_http_port_is_not_the_components_own_page() {
    let _rig = rig();
    let sam = SamSim::start(&[]);
    let hp = free_port();
    let _d = daemon_with_sam(&sam, &format!("legacy_http_port = {hp}\n"));
    let card = Sim::start(SLOT0, &[]);
    // A page at http://iccert.nhi.gov.tw:<port> is whoever DNS says it is when the hosts line is
    // missing: no card data, no signature, over /echo or HTTP.
    let fake = format!("http://iccert.nhi.gov.tw:{hp}");
    let host = format!("127.0.0.1:{hp}");
    let stream = std::net::TcpStream::connect(("127.0.0.1", hp)).expect("connect");
    let mut ws =
        EchoSocket::try_open(Box::new(stream), "ws", &host, Some(&fake)).expect("handshake");
    assert_eq!(ws.send("GetBasic").as_deref(), Some("4041"));
    for (method, path) in [("GET", "/v1/card"), ("POST", "/api/GetBasic")] {
        let r = http_request(
            hp,
            method,
            path,
            &[
                ("Host", &host),
                ("Origin", &fake),
                ("X-NHI-Bridge-Opener", NHI_ORIGIN),
            ],
            b"",
        );
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
    }
    // Our own page (a loopback name) still gets no card data either.
    let own = format!("http://localhost:{hp}");
    let r = http_request(
        hp,
        "GET",
        "/v1/card",
        &[("Host", &host), ("Origin", &own)],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let stream = std::net::TcpStream::connect(("127.0.0.1", hp)).expect("connect");
    let mut ws =
        EchoSocket::try_open(Box::new(stream), "ws", &host, Some(&own)).expect("handshake");
    assert_eq!(ws.send("GetBasic").as_deref(), Some("4041"));
    assert!(
        card.apdus().is_empty(),
        "the card was touched: {:?}",
        card.apdus()
    );
}
