//! Origin and Host matching: never a panic, and the allowlist never lets through an origin whose
//! host is not `nhi.gov.tw` or a whole-label subdomain of it over https on the default port.
#![no_main]

use http::header::{HeaderMap, HeaderValue, HOST, ORIGIN};
use http::Method;
use libfuzzer_sys::fuzz_target;
use nhi_bridge::api::guard::{Guard, PageToken};
use nhi_bridge::config::{Allowlist, Origin};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let list = Allowlist::default_list();
    if list.allows(&text) {
        let o = Origin::parse(&text).expect("an allowed origin parses");
        assert_eq!(o.scheme(), "https");
        assert_eq!(o.port(), 443);
        assert!(o.host() == "nhi.gov.tw" || o.host().ends_with(".nhi.gov.tw"), "{text}");
        let label = o.host().trim_end_matches("nhi.gov.tw");
        assert!(label.is_empty() || label.ends_with('.'));
    }
    let _ = Allowlist::parse(&[text.as_ref()]);
    let guard = Guard::new(7777, true, list, PageToken::random());
    if let Ok(v) = HeaderValue::from_bytes(data) {
        let mut h = HeaderMap::new();
        h.insert(HOST, v.clone());
        if guard.host_allowed(&h) {
            let s = v.to_str().expect("an allowed Host is text").to_ascii_lowercase();
            assert!(s.ends_with(":7777"), "{s}");
        }
        let mut h2 = HeaderMap::new();
        h2.insert(HOST, HeaderValue::from_static("127.0.0.1:7777"));
        h2.insert(ORIGIN, v);
        let _ = guard.check(&Method::GET, "/v1/card", "", &h2);
    }
});
