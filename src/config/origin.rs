//! Which web origins may use the card: exact `scheme://host[:port]` entries and `https://*.domain`
//! wildcards that match whole DNS labels. Comparison is on parsed, normalised origins — never on
//! string prefixes — so `https://evilnhi.gov.tw` and `https://nhi.gov.tw.evil.com` never match
//! `https://*.nhi.gov.tw`.

use std::fmt;

use thiserror::Error;

/// Why an allowlist entry is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OriginError {
    /// Not `scheme://host[:port]`.
    #[error("{0:?} is not an origin of the form scheme://host[:port]")]
    Syntax(String),
    /// A scheme other than http or https.
    #[error("{0:?}: only http and https origins can be allowed")]
    Scheme(String),
    /// `null`, `file://` and other opaque origins.
    #[error("{0:?}: `null` and file:// origins are never allowed")]
    Opaque(String),
    /// A wildcard that is not a whole leading label over https.
    #[error("{0:?}: a wildcard must be https://*.domain with at least two labels and no port")]
    Wildcard(String),
}

/// A port as browsers write it in `Host` and `Origin`: decimal digits with no sign and no leading
/// zero, 1–65535. `str::parse::<u16>` alone would also take `+7777` and `07777`, spellings no
/// browser sends; refusing them keeps one spelling per port to compare.
pub fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

/// A parsed web origin with its default port made explicit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses an `Origin` header value (RFC 6454 serialisation: no path, no trailing slash).
    pub fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return None;
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6.split_once(']')?;
            addr.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after {
                "" => default_port,
                p => parse_port(p.strip_prefix(':')?)?,
            };
            (format!("[{}]", addr.to_ascii_lowercase()), port)
        } else {
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) => (h, parse_port(p)?),
                None => (rest, default_port),
            };
            let host = host.to_ascii_lowercase();
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
                return None;
            }
            (host, port)
        };
        Some(Origin { scheme, host, port })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }
    /// The host, lowercase.
    pub fn host(&self) -> &str {
        &self.host
    }
    /// The port (the scheme's default when none is written).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = matches!(
            (self.scheme.as_str(), self.port),
            ("https", 443) | ("http", 80)
        );
        if default {
            write!(f, "{}://{}", self.scheme, self.host)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(Origin),
    /// `https://*.suffix`: any host of one or more labels followed by `.suffix`, port 443.
    Subdomains(String),
}

/// One allowlist entry, as [`Allowlist::entries`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// Exactly this origin.
    Exact(&'a Origin),
    /// `https://*.<suffix>`: every host under the suffix, https, port 443.
    Subdomains(&'a str),
}

/// The configured allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    patterns: Vec<Pattern>,
}

/// The default allowlist: NHI's own sites over https.
pub const DEFAULT_ORIGINS: [&str; 2] = ["https://nhi.gov.tw", "https://*.nhi.gov.tw"];

impl Allowlist {
    /// Parses allowlist entries (exact origins or `https://*.domain`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Allowlist, OriginError> {
        let patterns = entries
            .iter()
            .map(|e| parse_pattern(e.as_ref().trim()))
            .collect::<Result<_, _>>()?;
        Ok(Allowlist { patterns })
    }

    /// [`DEFAULT_ORIGINS`] as an allowlist.
    pub fn default_list() -> Allowlist {
        Allowlist::parse(&DEFAULT_ORIGINS).unwrap_or(Allowlist {
            patterns: Vec::new(),
        })
    }

    /// The entries, for code that reasons about them (the browsers' site settings).
    pub fn entries(&self) -> Vec<Entry<'_>> {
        self.patterns
            .iter()
            .map(|p| match p {
                Pattern::Exact(o) => Entry::Exact(o),
                Pattern::Subdomains(s) => Entry::Subdomains(s),
            })
            .collect()
    }

    /// The same origins as Chromium URL patterns, for managed policies: an exact origin as it is
    /// written, `https://*.domain` as `https://[*.]domain` (which Chromium also applies to
    /// `https://domain` itself; the guard still refuses that origin unless it is listed).
    pub fn browser_patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| match p {
                Pattern::Exact(o) => o.to_string(),
                Pattern::Subdomains(s) => format!("https://[*.]{s}"),
            })
            .collect()
    }

    /// Whether the `Origin` header value `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        let Some(o) = Origin::parse(origin) else {
            return false;
        };
        self.patterns.iter().any(|p| match p {
            Pattern::Exact(e) => *e == o,
            Pattern::Subdomains(suffix) => {
                o.scheme == "https"
                    && o.port == 443
                    && o.host.len() > suffix.len() + 1
                    && o.host.ends_with(suffix.as_str())
                    && o.host.as_bytes()[o.host.len() - suffix.len() - 1] == b'.'
            }
        })
    }
}

fn parse_pattern(entry: &str) -> Result<Pattern, OriginError> {
    let lower = entry.to_ascii_lowercase();
    if lower == "null" || lower.starts_with("file:") {
        return Err(OriginError::Opaque(entry.into()));
    }
    if let Some(rest) = lower.strip_prefix("https://*.") {
        // Validate the suffix as a host: it must parse as an origin and have two labels or more,
        // so `https://*.tw` cannot open a whole top-level domain.
        let as_origin = Origin::parse(&format!("https://{rest}"))
            .ok_or_else(|| OriginError::Wildcard(entry.into()))?;
        if as_origin.port != 443
            || rest.contains(':')
            || !rest.contains('.')
            || rest.starts_with('[')
        {
            return Err(OriginError::Wildcard(entry.into()));
        }
        return Ok(Pattern::Subdomains(as_origin.host));
    }
    if entry.contains('*') {
        return Err(OriginError::Wildcard(entry.into()));
    }
    match lower.split_once("://") {
        Some(("http" | "https", _)) => {}
        Some(_) => return Err(OriginError::Scheme(entry.into())),
        None => return Err(OriginError::Syntax(entry.into())),
    }
    Origin::parse(entry)
        .map(Pattern::Exact)
        .ok_or_else(|| OriginError::Syntax(entry.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_matches_whole_labels_only() {
        let a = Allowlist::default_list();
        for ok in [
            "https://nhi.gov.tw",
            "https://a.nhi.gov.tw",
            "https://cloudicweb.nhi.gov.tw",
            "https://a.b.nhi.gov.tw",
            "https://CloudICWeb.NHI.gov.tw",
            "https://a.nhi.gov.tw:443",
        ] {
            assert!(a.allows(ok), "{ok}");
        }
        for bad in [
            "https://evilnhi.gov.tw",
            "https://nhi.gov.tw.evil.com",
            "https://a.nhi.gov.tw.evil.com",
            "http://a.nhi.gov.tw",
            "http://nhi.gov.tw",
            "https://a.nhi.gov.tw:8443",
            "https://.nhi.gov.tw",
            "https://evil.example",
            "null",
            "file://",
            "file:///home/user/page.html",
            "https://nhi.gov.tw/",
            "https://a.nhi.gov.tw/path",
            "https://user@a.nhi.gov.tw",
            "",
            "https://",
            "https://a..nhi.gov.tw",
            "https://a.nhi.gov.tw:0",
            "https://a.nhi.gov.tw:99999",
            "https://a.nhi.gov.tw:0443",
            "https://a.nhi.gov.tw:+443",
            "https://[::1]:+443",
            "javascript://a.nhi.gov.tw",
        ] {
            assert!(!a.allows(bad), "{bad}");
        }
    }

    #[test]
    fn a_port_has_one_spelling() {
        assert_eq!(parse_port("7777"), Some(7777));
        assert_eq!(parse_port("1"), Some(1));
        assert_eq!(parse_port("65535"), Some(65535));
        for bad in [
            "", "0", "07777", "+7777", "-1", "65536", " 7777", "7777 ", "7_777", "٧",
        ] {
            assert_eq!(parse_port(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn exact_entries_compare_scheme_host_and_port() {
        let a = Allowlist::parse(&[
            "http://127.0.0.1:8080",
            "https://[::1]:9000",
            "https://example.org",
        ])
        .unwrap();
        assert!(a.allows("http://127.0.0.1:8080"));
        assert!(!a.allows("http://127.0.0.1:8081"));
        assert!(!a.allows("https://127.0.0.1:8080"));
        assert!(a.allows("https://[::1]:9000"));
        assert!(a.allows("https://example.org:443"));
        assert!(!a.allows("https://www.example.org"));
    }

    #[test]
    fn bad_entries_are_refused() {
        for (bad, kind) in [
            ("null", "opaque"),
            ("file://", "opaque"),
            ("ftp://x.org", "scheme"),
            ("https://*.tw", "wildcard"),
            ("http://*.nhi.gov.tw", "wildcard"),
            ("https://*.nhi.gov.tw:8443", "wildcard"),
            ("https://a.*.gov.tw", "wildcard"),
            ("nhi.gov.tw", "syntax"),
            ("https://nhi.gov.tw/x", "syntax"),
        ] {
            let err = Allowlist::parse(&[bad]).unwrap_err();
            let ok = matches!(
                (&err, kind),
                (OriginError::Opaque(_), "opaque")
                    | (OriginError::Scheme(_), "scheme")
                    | (OriginError::Wildcard(_), "wildcard")
                    | (OriginError::Syntax(_), "syntax")
            );
            assert!(ok, "{bad}: {err}");
        }
    }

    #[test]
    fn origin_display_normalises() {
        assert_eq!(
            Origin::parse("HTTPS://A.Example:443").unwrap().to_string(),
            "https://a.example"
        );
        assert_eq!(
            Origin::parse("http://localhost:8080").unwrap().to_string(),
            "http://localhost:8080"
        );
    }
}
