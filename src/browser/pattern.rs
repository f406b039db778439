//! Chromium's site patterns as they appear in managed policies (`https://[*.]nhi.gov.tw`) and in a
//! profile's content-setting exceptions (`https://cloudicweb.nhi.gov.tw:443`), and how one
//! relates to an allowlist entry: does it cover the whole entry (a policy that lets every NHI
//! page through), or touch part of it (a Block on one NHI page)?

use crate::config::origin::{Entry, Origin};

/// The host part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// `*`: every host.
    Any,
    /// A domain, with `[*.]` (`subdomains`) or exactly.
    Domain { name: String, subdomains: bool },
}

/// A parsed site pattern (the subset Chromium documents for these policies: scheme, host with
/// an optional `[*.]`, port; a path is ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePattern {
    scheme: Option<String>,
    host: Host,
    port: Option<u16>,
}

impl SitePattern {
    /// Parses a pattern; `None` for what Chromium would not take as a site.
    pub fn parse(text: &str) -> Option<SitePattern> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once("://") {
            Some((s, r)) if s != "*" => (Some(s.to_ascii_lowercase()), r),
            Some((_, r)) => (None, r),
            None => (None, text),
        };
        let rest = rest.split(['/', '?', '#']).next()?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, "*")) => (h, None),
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, Some(crate::config::origin::parse_port(p)?))
            }
            _ => (rest, None),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            Host::Any
        } else if let Some(d) = host.strip_prefix("[*.]") {
            Host::Domain {
                name: d.to_owned(),
                subdomains: true,
            }
        } else if host.is_empty() {
            return None;
        } else {
            Host::Domain {
                name: host,
                subdomains: false,
            }
        };
        if let Host::Domain { name, .. } = &host {
            if name.is_empty() || name.contains('*') {
                return None;
            }
        }
        Some(SitePattern { scheme, host, port })
    }

    fn scheme_ok(&self, scheme: &str) -> bool {
        self.scheme.as_deref().is_none_or(|s| s == scheme)
    }

    fn port_ok(&self, port: u16) -> bool {
        self.port.is_none_or(|p| p == port)
    }

    /// Whether the origin `o` is matched.
    pub fn matches(&self, o: &Origin) -> bool {
        self.scheme_ok(o.scheme())
            && self.port_ok(o.port())
            && match &self.host {
                Host::Any => true,
                Host::Domain { name, subdomains } => {
                    o.host() == name || (*subdomains && is_under(o.host(), name))
                }
            }
    }

    /// Whether every origin of `entry` is matched.
    pub fn covers(&self, entry: Entry<'_>) -> bool {
        self.relates(entry, |name, subdomains, suffix| {
            subdomains && (suffix == name || is_under(suffix, name))
        })
    }

    /// Whether some origin of `entry` is matched.
    pub fn touches(&self, entry: Entry<'_>) -> bool {
        self.relates(entry, |name, subdomains, suffix| {
            is_under(name, suffix) || (subdomains && (name == suffix || is_under(suffix, name)))
        })
    }

    /// An exact entry is matched or not; a `https://*.suffix` entry (https, port 443) is decided
    /// by `domain(name, subdomains, suffix)` for a domain pattern, and always by `*`.
    fn relates(&self, entry: Entry<'_>, domain: impl Fn(&str, bool, &str) -> bool) -> bool {
        match entry {
            Entry::Exact(o) => self.matches(o),
            Entry::Subdomains(suffix) => {
                self.scheme_ok("https")
                    && self.port_ok(443)
                    && match &self.host {
                        Host::Any => true,
                        Host::Domain { name, subdomains } => domain(name, *subdomains, suffix),
                    }
            }
        }
    }

    /// The origin it names, when it names exactly one (`https://host:443`).
    pub fn origin(&self) -> Option<String> {
        match (&self.scheme, &self.host) {
            (
                Some(s),
                Host::Domain {
                    name,
                    subdomains: false,
                },
            ) => {
                let port = self.port.unwrap_or(if s == "https" { 443 } else { 80 });
                Origin::parse(&format!("{s}://{name}:{port}")).map(|o| o.to_string())
            }
            _ => None,
        }
    }
}

/// `host` is a proper subdomain of `domain`.
fn is_under(host: &str, domain: &str) -> bool {
    host.len() > domain.len() + 1
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Allowlist;

    fn p(s: &str) -> SitePattern {
        SitePattern::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn policy_patterns_cover_entries_only_when_they_hold_all_of_them() {
        let list = Allowlist::default_list();
        let entries = list.entries();
        let (exact, subs) = (entries[0], entries[1]);
        for ours in list.browser_patterns() {
            assert!(entries.iter().any(|e| p(&ours).covers(*e)), "{ours}");
        }
        assert!(p("https://[*.]nhi.gov.tw").covers(subs));
        assert!(p("https://[*.]nhi.gov.tw").covers(exact));
        assert!(p("[*.]gov.tw").covers(subs));
        assert!(p("*").covers(subs));
        assert!(!p("https://cloudicweb.nhi.gov.tw").covers(subs));
        assert!(!p("http://[*.]nhi.gov.tw").covers(subs));
        assert!(!p("https://[*.]nhi.gov.tw:8443").covers(subs));
        assert!(!p("https://[*.]evilnhi.gov.tw").covers(subs));
        assert!(!p("https://[*.]a.nhi.gov.tw").covers(subs));
        assert!(p("https://nhi.gov.tw").covers(exact));
    }

    #[test]
    fn a_block_on_one_nhi_page_touches_the_subdomain_entry() {
        let list = Allowlist::default_list();
        let subs = list.entries()[1];
        let block = p("https://cloudicweb.nhi.gov.tw:443");
        assert!(block.touches(subs));
        assert_eq!(
            block.origin().as_deref(),
            Some("https://cloudicweb.nhi.gov.tw")
        );
        assert!(!p("https://example.org:443").touches(subs));
        assert!(!p("https://nhi.gov.tw.evil.example:443").touches(subs));
        assert!(p("[*.]gov.tw").touches(subs));
        assert!(!p("http://cloudicweb.nhi.gov.tw:80").touches(subs));
    }

    #[test]
    fn odd_patterns_are_refused_not_guessed() {
        for bad in [
            "",
            "https://",
            "https://a*b.example",
            "https://x:99999",
            "https://[*.]",
        ] {
            assert!(SitePattern::parse(bad).is_none(), "{bad}");
        }
    }
}
