//! The cloud SAM's wire format from the server side: framing, decryption and padding of
//! whatever a hostile server sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_bridge::sam::wire;

fuzz_target!(|data: &[u8]| {
    let mut r = data;
    if let Ok(record) = wire::receive(&mut r) {
        assert!(record.len() <= wire::MAX_RECORD + 2048);
        let _ = wire::open(&wire::hello_key(), &record);
    }
    let _ = wire::open(&wire::hello_key(), data);
    if let Some(p) = wire::unpad(data) {
        assert!(p.len() < data.len());
    }
    // What we seal, we open.
    if let Some(sealed) = wire::seal(&wire::hello_key(), data) {
        assert_eq!(wire::open(&wire::hello_key(), &sealed).as_deref(), Some(data));
    }
});
