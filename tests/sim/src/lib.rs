//! Test doubles for nhi-bridge. Written from the protocol notes, not from the product's code, so
//! that the product's parsing is checked against an independent reading of the card.
//!
//! - [`profile`]: the card holder's data from a TOML file, laid out as the card stores it.
//! - [`card`]: the NHI card's APDU behaviour, with fault injection.
//! - [`vpcd`]: the client side of vsmartcard's vpcd socket protocol.

pub mod card;
pub mod profile;
pub mod sam;
pub mod vpcd;
