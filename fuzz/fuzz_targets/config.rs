//! The configuration parser: any text is a configuration or an error naming the problem.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_bridge::config::Config;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = Config::parse(&text, std::path::Path::new("fuzz.toml")) {
        assert!(c.port > 0 && c.max_connections > 0);
        let _ = c.allowlist();
    }
});
