//! Integration tests on the real PC/SC stack: pcscd with vsmartcard's vpcd driver, and
//! `nhi-card-sim` playing the card. One pcscd serves the whole machine, so every test takes the
//! rig lock; they live in this one test binary for that reason.
//!
//! Needs `scripts/setup-rig.sh` to have installed pcscd and vpcd (it starts pcscd if needed).

// Test and bench code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// pcscd, vpcd and namespaces: Linux only (the Windows build is tested by scripts/test-wine.sh).
#![cfg(target_os = "linux")]

mod https;
mod support;

mod browser;
mod card_access;
mod cli;
mod cli_read;
mod daemon;
mod faults;
mod legacy;
mod limits;
mod monitor;
mod openapi;
mod pages;
mod privacy;
mod recovery;
mod selfcheck;
mod selfcheck_page;
