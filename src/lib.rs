//! nhi-bridge: the local component that lets NHI web pages use the Taiwan NHI IC card in a PC/SC
//! reader.
//!
//! Layers, top to bottom (no module imports one above it):
//! `service` (reader choice, timeouts, error codes) → `card` (the NHI application) and
//! `reader` (PC/SC) → `apdu` (the types and the `Transport` trait they share).

#![forbid(unsafe_code)]

pub mod apdu;
pub mod api;
pub mod atomic_file;
pub mod browser;
pub mod capacity;
pub mod card;
pub mod config;
pub mod diag;
pub mod error;
pub mod logging;
pub mod os;
pub mod reader;
pub mod sam;
pub mod server;
pub mod service;
pub mod tls;
pub mod tray;
