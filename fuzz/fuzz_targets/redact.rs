//! The diagnostics scanner: any text scans without a panic, and scrubbing is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_bridge::diag::redact;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (once, _) = redact::scrub(&text);
    let (twice, n) = redact::scrub(&once);
    assert_eq!(once, twice);
    assert_eq!(n, 0);
});
