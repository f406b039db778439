//! The legacy `/echo` command parser: any frame text is one command (or Unknown), never a panic,
//! and parsing is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_bridge::api::legacy::command::Command;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let cmd = Command::parse(&text);
    let _ = cmd.reply_name();
    assert_eq!(Command::parse(&text), cmd);
});
