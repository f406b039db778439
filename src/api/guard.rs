//! The gate every request passes before anything else runs: the Host check (DNS-rebinding guard)
//! and the Origin check, then the CORS headers for allowed origins.
//!
//! Nothing behind this gate — least of all the card — is reached by a request it refuses.

use http::header::{self, HeaderMap, HeaderValue};
use http::Method;

use super::popup::OPENER_HEADER;
use crate::config::origin::parse_port;
use crate::config::{Allowlist, Origin};
use crate::error::ErrorCode;

/// Host names the daemon answers to, each only with its own port.
pub const HOST_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "[::1]", "iccert.nhi.gov.tw"];
/// The names the component's own pages are served from (see [`Guard::own_origin`]).
const OWN_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// What the component's own pages may use: status and events, never card data (the self-check
/// page shows none; the AuthHC popup reaches the card only for its allowed opener, below).
fn own_page_may(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && matches!(
            path,
            "/" | "/echo"
                | "/selfcheck.json"
                | "/auth.html"
                | "/v1/status"
                | "/v1/readers"
                | "/v1/events"
                | "/api/GetStatus.bmp"
                | "/api/GetCardStatus.bmp"
        )
}

/// Who is calling, once the guard let the request through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A page of an allowed origin (gets CORS headers with this exact origin).
    Site(String),
    /// A page the daemon serves itself (same origin: no CORS needed).
    OwnPage,
    /// The daemon's AuthHC popup (`/auth.html`) calling `/api/` for the allowed page that opened
    /// it (same origin: no CORS needed).
    Popup(String),
    /// No Origin header: a non-browser client such as curl or `nhi-bridge check`.
    NoOrigin,
}

/// The Host and Origin rules of one listener.
pub struct Guard {
    port: u16,
    /// Whether this listener speaks TLS (the scheme of the daemon's own origin).
    tls: bool,
    allowlist: Allowlist,
    /// The per-start secret the daemon's own page presents to follow `/v1/events`.
    page_token: PageToken,
}

/// Paths a request without an Origin may use: nothing on them reveals card-holder data. (`/echo`
/// is here for its upgrade; the session itself then answers `GetVersion` only.)
fn open_without_origin(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && matches!(
            path,
            "/v1/status" | "/" | "/echo" | "/selfcheck.json" | "/api/GetStatus.bmp" | "/auth.html"
        )
}

/// A random value made at start-up and embedded in the self-check page: same-origin requests carry
/// no Origin header, so the page proves it is ours by quoting this (a page of another site cannot
/// read it; a local process could, and is bounded by the event-stream limits instead).
#[derive(Clone)]
pub struct PageToken(String);

impl PageToken {
    /// A new token from the OS CSPRNG.
    pub fn random() -> PageToken {
        let mut b = [0u8; 16];
        // Without randomness the token is empty, which no query matches: the page then shows no
        // live updates, which is all that is lost.
        if openssl::rand::rand_bytes(&mut b).is_err() {
            return PageToken(String::new());
        }
        PageToken(b.iter().map(|x| format!("{x:02x}")).collect())
    }

    /// The token as the page embeds it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `query` carries `token=<this token>`, compared in constant time.
    fn presented_in(&self, query: &str) -> bool {
        !self.0.is_empty()
            && query.split('&').any(|kv| {
                kv.strip_prefix("token=").is_some_and(|t| {
                    t.len() == self.0.len() && openssl::memcmp::eq(t.as_bytes(), self.0.as_bytes())
                })
            })
    }
}

impl Guard {
    /// The guard of the listener on `port` (TLS or not), with the allowlist and the page token.
    pub fn new(port: u16, tls: bool, allowlist: Allowlist, page_token: PageToken) -> Guard {
        Guard {
            port,
            tls,
            allowlist,
            page_token,
        }
    }

    /// `host:port` exactly, one of our names, our port (the port may be left out only when it is
    /// 443, as browsers do).
    pub fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) if !n.is_empty() && (n.ends_with(']') || !n.contains(':')) => {
                (n.to_owned(), parse_port(p))
            }
            _ => (host.clone(), Some(443)),
        };
        port == Some(self.port) && HOST_NAMES.contains(&name.as_str())
    }

    /// The component's own pages (the self-check page, the AuthHC popup) are served from a
    /// loopback name only. `iccert.nhi.gov.tw` is not one: it points here only while the hosts
    /// file says so, and without that line whoever controls DNS for it serves a page of that
    /// origin — over plain HTTP with no certificate needed.
    fn own_origin(&self, origin: &str) -> bool {
        let scheme = if self.tls { "https" } else { "http" };
        Origin::parse(origin).is_some_and(|o| {
            o.scheme() == scheme && o.port() == self.port && OWN_NAMES.contains(&o.host())
        })
    }

    /// Decides on a request; the error is the code to answer with (421 or 403).
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
    ) -> Result<Caller, ErrorCode> {
        if !self.host_allowed(headers) {
            return Err(ErrorCode::HostRefused);
        }
        let origins: Vec<&HeaderValue> = headers.get_all(header::ORIGIN).iter().collect();
        match origins.as_slice() {
            [] if open_without_origin(method, path) => Ok(Caller::NoOrigin),
            // The daemon's own page: browsers send no Origin on same-origin GETs, so it quotes
            // the page token. It may follow the event stream; it never needs card data.
            [] if method == Method::GET
                && path == "/v1/events"
                && self.page_token.presented_in(query) =>
            {
                Ok(Caller::OwnPage)
            }
            [] => Err(ErrorCode::OriginRefused),
            [one] => {
                let origin = one.to_str().map_err(|_| ErrorCode::OriginRefused)?;
                if self.allowlist.allows(origin) {
                    Ok(Caller::Site(origin.to_owned()))
                } else if self.own_origin(origin) {
                    if method == Method::POST && path.starts_with("/api/") {
                        // Only the AuthHC popup posts to /api/ from our own origin, and it names
                        // its opener, which must be allowed as if it had asked itself.
                        return headers
                            .get(OPENER_HEADER)
                            .and_then(|o| o.to_str().ok())
                            .filter(|o| self.allowlist.allows(o))
                            .map(|o| Caller::Popup(o.to_owned()))
                            .ok_or(ErrorCode::OriginRefused);
                    }
                    if own_page_may(method, path) {
                        Ok(Caller::OwnPage)
                    } else {
                        Err(ErrorCode::OriginRefused)
                    }
                } else {
                    Err(ErrorCode::OriginRefused)
                }
            }
            // Two Origin headers is not something a browser sends.
            _ => Err(ErrorCode::OriginRefused),
        }
    }
}

/// Methods a preflight allows.
pub const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
/// Request headers a preflight allows.
pub const ALLOWED_HEADERS: &str = "Content-Type";
/// How long a browser may cache a preflight answer.
pub const MAX_AGE_SECS: &str = "600";

/// CORS headers for a response to an allowed site.
pub fn add_cors(headers: &mut HeaderMap, caller: &Caller) {
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Caller::Site(origin) = caller {
        if let Ok(v) = HeaderValue::from_str(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
    }
}

/// Extra headers of a preflight answer to an allowed site.
pub fn add_preflight(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECS),
    );
    // Private Network Access: a public page calling loopback (older Chromium asks for this).
    headers.insert(
        "access-control-allow-private-network",
        HeaderValue::from_static("true"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn guard() -> Guard {
        Guard::new(
            7777,
            true,
            Allowlist::default_list(),
            PageToken("0123456789abcdef".into()),
        )
    }

    #[test]
    fn host_must_be_ours_with_our_port() {
        let g = guard();
        for ok in [
            "localhost:7777",
            "127.0.0.1:7777",
            "[::1]:7777",
            "iccert.nhi.gov.tw:7777",
            "LOCALHOST:7777",
        ] {
            assert!(g.host_allowed(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "localhost",
            "localhost:7778",
            "localhost:77770",
            "evil.example:7777",
            "127.0.0.1.nip.io:7777",
            "iccert.nhi.gov.tw.evil.com:7777",
            "127.0.0.2:7777",
            "::1:7777",
            "",
            // One spelling per port (a fuzz find: `07777` parsed as 7777).
            "[::1]:07777",
            "localhost:+7777",
            "localhost:",
        ] {
            assert!(!g.host_allowed(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!g.host_allowed(&HeaderMap::new()));
        let g443 = Guard::new(443, true, Allowlist::default_list(), PageToken::random());
        assert!(g443.host_allowed(&headers(&[("host", "iccert.nhi.gov.tw")])));
    }

    #[test]
    fn origin_rules() {
        let g = guard();
        let h = |o: &str| headers(&[("host", "127.0.0.1:7777"), ("origin", o)]);
        assert_eq!(
            g.check(&Method::GET, "/v1/card", "", &h("https://a.nhi.gov.tw")),
            Ok(Caller::Site("https://a.nhi.gov.tw".into()))
        );
        for bad in [
            "https://evil.example",
            "https://evilnhi.gov.tw",
            "null",
            "file://",
        ] {
            assert_eq!(
                g.check(&Method::GET, "/v1/card", "", &h(bad)),
                Err(ErrorCode::OriginRefused),
                "{bad}"
            );
        }
        // Our own page: status and events, never card data.
        assert_eq!(
            g.check(&Method::GET, "/v1/status", "", &h("https://127.0.0.1:7777")),
            Ok(Caller::OwnPage)
        );
        for path in ["/v1/card", "/api/GetBasic"] {
            assert_eq!(
                g.check(&Method::GET, path, "", &h("https://127.0.0.1:7777")),
                Err(ErrorCode::OriginRefused),
                "{path}"
            );
        }
        assert_eq!(
            g.check(
                &Method::POST,
                "/v1/card/hsign",
                "",
                &h("https://127.0.0.1:7777")
            ),
            Err(ErrorCode::OriginRefused)
        );
        // iccert.nhi.gov.tw is pinned only by the hosts file: never our own origin.
        assert_eq!(
            g.check(
                &Method::GET,
                "/v1/status",
                "",
                &h("https://iccert.nhi.gov.tw:7777")
            ),
            Err(ErrorCode::OriginRefused)
        );
        assert_eq!(
            g.check(&Method::GET, "/v1/card", "", &h("https://127.0.0.1:7778")),
            Err(ErrorCode::OriginRefused)
        );
        assert_eq!(
            g.check(&Method::GET, "/v1/card", "", &h("http://127.0.0.1:7777")),
            Err(ErrorCode::OriginRefused)
        );

        // The AuthHC popup: our own origin posting to /api/ must name an allowed opener.
        let popup = |origin: &str, opener: Option<&str>| {
            let mut h = h(origin);
            if let Some(o) = opener {
                h.insert(OPENER_HEADER, HeaderValue::from_str(o).unwrap());
            }
            g.check(&Method::POST, "/api/GetBasic", "", &h)
        };
        let own = "https://127.0.0.1:7777";
        assert_eq!(
            popup(own, Some("https://cloudicweb.nhi.gov.tw")),
            Ok(Caller::Popup("https://cloudicweb.nhi.gov.tw".into()))
        );
        assert_eq!(popup(own, None), Err(ErrorCode::OriginRefused));
        assert_eq!(
            popup(own, Some("https://evil.example")),
            Err(ErrorCode::OriginRefused)
        );
        assert_eq!(
            popup(
                "https://evil.example",
                Some("https://cloudicweb.nhi.gov.tw")
            ),
            Err(ErrorCode::OriginRefused)
        );

        let none = headers(&[("host", "127.0.0.1:7777")]);
        assert_eq!(
            g.check(&Method::GET, "/v1/status", "", &none),
            Ok(Caller::NoOrigin)
        );
        assert_eq!(
            g.check(&Method::GET, "/v1/card", "", &none),
            Err(ErrorCode::OriginRefused)
        );
        assert_eq!(
            g.check(&Method::POST, "/v1/status", "", &none),
            Err(ErrorCode::OriginRefused)
        );

        let own = headers(&[("host", "127.0.0.1:7777")]);
        assert_eq!(
            g.check(&Method::GET, "/v1/events", "token=0123456789abcdef", &own),
            Ok(Caller::OwnPage)
        );
        assert_eq!(
            g.check(&Method::GET, "/v1/card", "token=0123456789abcdef", &own),
            Err(ErrorCode::OriginRefused)
        );
        // A forged `Sec-Fetch-Site` is no longer a key; a wrong or missing token is refused.
        let forged = headers(&[
            ("host", "127.0.0.1:7777"),
            ("sec-fetch-site", "same-origin"),
        ]);
        for query in [
            "",
            "token=",
            "token=0123456789abcdeX",
            "token=0123456789abcdef0",
        ] {
            assert_eq!(
                g.check(&Method::GET, "/v1/events", query, &forged),
                Err(ErrorCode::OriginRefused),
                "{query}"
            );
        }
        let empty = Guard::new(
            7777,
            true,
            Allowlist::default_list(),
            PageToken(String::new()),
        );
        assert_eq!(
            empty.check(&Method::GET, "/v1/events", "token=", &own),
            Err(ErrorCode::OriginRefused)
        );

        let two = headers(&[
            ("host", "127.0.0.1:7777"),
            ("origin", "https://a.nhi.gov.tw"),
            ("origin", "https://b.nhi.gov.tw"),
        ]);
        assert_eq!(
            g.check(&Method::GET, "/v1/card", "", &two),
            Err(ErrorCode::OriginRefused)
        );

        let wrong_host = headers(&[
            ("host", "evil.example:7777"),
            ("origin", "https://a.nhi.gov.tw"),
        ]);
        assert_eq!(
            g.check(&Method::GET, "/v1/card", "", &wrong_host),
            Err(ErrorCode::HostRefused)
        );
    }
}
