//! The last line of defence for the diagnostics bundle: every line that goes into it is scanned,
//! and a line that looks like card-holder data or a password is withheld. Nothing we log is meant
//! to carry such data (the log levels of other crates are capped, our own code never formats it);
//! this catches what slipped through anyway — an old log file, a future bug, a foreign crate.
//!
//! What counts: a 12-digit card number, an ID-number shape (`A123456789`), a CJK name within a few
//! characters of a date (`王小明,0700315`), a password parameter, and hex dumps that decode to any
//! of these or to a Big5 name. It errs on the side of withholding.

/// Why a line was withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 12-digit card number.
    CardNumber,
    /// An ID-number shape.
    IdNumber,
    /// A CJK name next to a date.
    NameAndDate,
    /// A password parameter.
    Password,
    /// A hex dump that decodes to card-holder data.
    HexDump,
}

impl Kind {
    /// The kind in words, for the placeholder line.
    pub fn label(self) -> &'static str {
        match self {
            Kind::CardNumber => "card number",
            Kind::IdNumber => "ID number",
            Kind::NameAndDate => "name and date",
            Kind::Password => "password",
            Kind::HexDump => "card data (hex)",
        }
    }
}

/// Characters between a name and a date that still make them one record.
const NEAR: usize = 8;

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// Maximal runs of characters satisfying `f`, as (start, end) char indices.
fn runs(chars: &[char], f: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if f(chars[i]) {
            let start = i;
            while i < chars.len() && f(chars[i]) {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

fn card_number(chars: &[char]) -> bool {
    runs(chars, |c| c.is_ascii_digit())
        .iter()
        .any(|(s, e)| e - s == 12)
}

fn id_number(chars: &[char]) -> bool {
    runs(chars, |c| c.is_ascii_alphanumeric())
        .iter()
        .any(|&(s, e)| {
            let w = &chars[s..e];
            w.len() == 10
                && w[0].is_ascii_uppercase()
                && (w[1].is_ascii_uppercase() || w[1].is_ascii_digit())
                && w[2..].iter().all(char::is_ascii_digit)
        })
}

/// Date tokens: 7 digits (ROC yyyMMdd), 8 digits (yyyyMMdd), or yyyy-mm-dd / yyyy/mm/dd.
fn dates(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = runs(chars, |c| c.is_ascii_digit())
        .into_iter()
        .filter(|(s, e)| matches!(e - s, 7 | 8))
        .collect();
    out.extend(
        runs(chars, |c| c.is_ascii_digit() || c == '-' || c == '/')
            .into_iter()
            .filter(|&(s, e)| {
                let t: String = chars[s..e].iter().collect();
                let parts: Vec<&str> = t.split(['-', '/']).collect();
                parts.len() == 3
                    && parts[0].len() == 4
                    && parts[1].len() == 2
                    && parts[2].len() == 2
                    && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
                    && !time_follows(chars, e)
            }),
    );
    out
}

/// A clock time (`HH:MM`, after a space or `T`) right after a date makes it a timestamp — when
/// something happened (a log line, a page contact) — not a birth date.
fn time_follows(chars: &[char], at: usize) -> bool {
    let rest = &chars[at.min(chars.len())..];
    let rest = match rest.first() {
        Some(' ' | 'T') => &rest[1..],
        _ => return false,
    };
    rest.len() >= 5
        && rest[0].is_ascii_digit()
        && rest[1].is_ascii_digit()
        && rest[2] == ':'
        && rest[3].is_ascii_digit()
        && rest[4].is_ascii_digit()
}

fn name_and_date(chars: &[char]) -> bool {
    let names: Vec<(usize, usize)> = runs(chars, is_han)
        .into_iter()
        .filter(|(s, e)| (1..=10).contains(&(e - s)))
        .collect();
    if names.is_empty() {
        return false;
    }
    dates(chars).iter().any(|&(ds, de)| {
        names
            .iter()
            .any(|&(ns, ne)| (ne <= ds && ds - ne <= NEAR) || (de <= ns && ns - de <= NEAR))
    })
}

fn password(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("pwd=") || lower.contains("\"pwd\"") || lower.contains("password=")
}

fn text_kind(chars: &[char], line: &str) -> Option<Kind> {
    if password(line) {
        Some(Kind::Password)
    } else if card_number(chars) {
        Some(Kind::CardNumber)
    } else if id_number(chars) {
        Some(Kind::IdNumber)
    } else if name_and_date(chars) {
        Some(Kind::NameAndDate)
    } else {
        None
    }
}

fn hex_value(c: char) -> Option<u8> {
    c.to_digit(16).map(|d| d as u8)
}

/// Hex runs that decode to card-holder data: ASCII digits/IDs, or a Big5 name.
fn hex_dump(chars: &[char]) -> bool {
    runs(chars, |c| c.is_ascii_hexdigit())
        .iter()
        .any(|&(s, e)| {
            let run = &chars[s..e];
            if run.len() < 4 || !run.len().is_multiple_of(2) {
                return false;
            }
            let bytes: Vec<u8> = run
                .chunks(2)
                .filter_map(|p| Some(hex_value(p[0])? << 4 | hex_value(p[1])?))
                .collect();
            // As ASCII, with everything else a separator: card numbers and IDs inside a dump.
            let text: String = bytes
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { ' ' })
                .collect();
            let decoded: Vec<char> = text.chars().collect();
            if text_kind(&decoded, &text).is_some() {
                return true;
            }
            // As Big5, with or without a trailing status word: a name alone.
            let all_han = |b: &[u8]| {
                let (big5, _, bad) = encoding_rs::BIG5.decode(b);
                !bad && (2..=10).contains(&big5.chars().count()) && big5.chars().all(is_han)
            };
            all_han(&bytes) || (bytes.len() > 2 && all_han(&bytes[..bytes.len() - 2]))
        })
}

/// Whether `line` must be withheld, and why.
pub fn personal(line: &str) -> Option<Kind> {
    // A log line's own time stamp is not a birth date.
    let body = match line.strip_prefix('[') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
            rest.split_once(']').map_or(line, |(_, b)| b)
        }
        _ => line,
    };
    let chars: Vec<char> = body.chars().collect();
    text_kind(&chars, body).or_else(|| hex_dump(&chars).then_some(Kind::HexDump))
}

/// `text` with each personal-looking line replaced by a placeholder; also how many were withheld.
pub fn scrub(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut withheld = 0;
    for line in text.split_inclusive('\n') {
        let (content, eol) = match line.strip_suffix('\n') {
            Some(c) => (c, "\n"),
            None => (line, ""),
        };
        match personal(content) {
            Some(kind) => {
                withheld += 1;
                out.push_str(&format!(
                    "[withheld by nhi-bridge: this line looked like {}]{eol}",
                    kind.label()
                ));
            }
            None => out.push_str(line),
        }
    }
    (out, withheld)
}

/// The same scan over a JSON document's string values: a value that looks like card-holder data
/// is replaced inside its field, so the file stays valid JSON; keys and structure are kept.
/// Returns how many values were withheld.
pub fn scrub_json(value: &mut serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::String(s) => match personal(s) {
            Some(kind) => {
                *s = format!(
                    "[withheld by nhi-bridge: this looked like {}]",
                    kind.label()
                );
                1
            }
            None => 0,
        },
        Value::Array(a) => a.iter_mut().map(scrub_json).sum(),
        Value::Object(o) => o.values_mut().map(scrub_json).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_not_a_birth_date_and_json_stays_json() {
        let contact = "最近一次網頁連線：2026-12-07 16:38，來自 https://cloudicweb.nhi.gov.tw";
        assert_eq!(personal(contact), None);
        assert_eq!(personal("[2026-12-07T16:38:01Z INFO] 已插卡"), None);
        assert_eq!(personal("王小明 1981-03-15"), Some(Kind::NameAndDate));
        let mut doc = serde_json::json!({"checks": [
            {"id": "pages", "message_zh": contact},
            {"id": "x", "message_zh": "王小明,0700315", "n": 3}
        ]});
        assert_eq!(scrub_json(&mut doc), 1);
        assert_eq!(doc["checks"][0]["message_zh"], contact);
        assert!(doc["checks"][1]["message_zh"]
            .as_str()
            .unwrap()
            .starts_with("[withheld"));
        assert_eq!(doc["checks"][1]["n"], 3);
        let text = serde_json::to_string(&doc).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn card_holder_data_is_recognised() {
        let (big5, _, _) = encoding_rs::BIG5.encode("王小明");
        for (line, kind) in [
            (
                "GetBasic:000012345678,A123456789,王小明,0700315,M,1",
                Kind::CardNumber,
            ),
            ("frame: A123456789", Kind::IdNumber),
            ("resident permit AB12345678 seen", Kind::IdNumber),
            ("holder 王小明 born 0700315", Kind::NameAndDate),
            ("陳大文, 1981-03-15", Kind::NameAndDate),
            ("EnCrypt?Pwd=123456789012", Kind::Password),
            ("{\"pwd\":\"abc123\"}", Kind::Password),
            (&format!("data {}", hex(b"000012345678")), Kind::HexDump),
            (&format!("rx {}9000", hex(&big5)), Kind::HexDump),
            (&format!("rx {}", hex(b"A123456789")), Kind::HexDump),
        ] {
            assert_eq!(personal(line), Some(kind), "{line}");
        }
    }

    #[test]
    fn ordinary_diagnostics_pass() {
        for line in [
            "[2026-11-27 16:26:15.123 +00:00] INFO  [nhi_bridge::daemon] logs: /home/u/x.log",
            "[2026-11-27 16:26:15.123 +08:00] WARN  [nhi_bridge::server] 讀卡機 ok",
            "  \"atr\": \"3BBE9600008131FE5D0064041101016301\",",
            "  \"ca_sha256\": \"AB:CD:EF:01:23:45:67:89\",",
            "card number ********5678 reads correctly",
            "健保卡可正常讀取（卡號 ********5678）",
            "Linux version 6.1.0-28-amd64 (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP 2024-11-01",
            "nhi-bridge-diagnostics-1764260775.tar.gz",
            "憑證有效，尚餘 819 天",
            "port 7777, 59001, 59002",
            "GetVersion:0011",
        ] {
            assert_eq!(personal(line), None, "{line}");
        }
    }

    #[test]
    fn scrub_replaces_only_the_bad_lines() {
        let text = "ok line\nEnCrypt?Pwd=secret99\nanother\n";
        let (out, n) = scrub(text);
        assert_eq!(n, 1);
        assert_eq!(
            out,
            "ok line\n[withheld by nhi-bridge: this line looked like password]\nanother\n"
        );
    }
}
