//! H_Sign: the card and the cloud SAM together (protocol/legacy-nhi.md §1.5, §4). The SAM's
//! service check comes first and is the caller's (`CardService` runs it before taking the card);
//! then, inside one card transaction, the card ID and a challenge, the SAM exchange with the
//! card's MUTUAL AUTHENTICATE in the middle, and a card reset at the end. Everything ends by one
//! deadline.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::apdu::TransportError;
use crate::card::CardError;
use crate::error::ErrorCode;
use crate::reader::Pcsc;
use crate::sam::{self, SamConfig};

use super::{with_nhi_card, After, ServiceError};

/// The 20-character H_Sign argument: the protocol version (4) and a random value (16), as pages
/// send it. Printable ASCII only, so nothing odd reaches the SAM exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HSignArgument([u8; 20]);

impl HSignArgument {
    /// Twenty printable ASCII characters, or nothing.
    pub fn parse(text: &str) -> Option<HSignArgument> {
        let bytes: [u8; 20] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_graphic)
            .then_some(HSignArgument(bytes))
    }

    /// The argument as the SAM exchange sends it.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

/// A card step that failed: its legacy code, except that a card pulled out says so.
fn card_step(e: &CardError, code: ErrorCode) -> ErrorCode {
    match e.transport() {
        Some(TransportError::CardRemoved) => ErrorCode::CardRemoved,
        _ => code,
    }
}

/// The SAM's service check (§4.5), before any card is touched.
pub fn check_sam(sam_cfg: &SamConfig, deadline: Instant) -> Result<(), ServiceError> {
    sam::check_service(sam_cfg, deadline)
        .map_err(|code| ServiceError::new(code, "cloud SAM service check (77) failed"))
}

/// Runs the card part of H_Sign with the SAM exchange; returns the 256-character signature.
pub fn hsign(
    pcsc: &Pcsc,
    preferred: Option<&str>,
    abandoned: &AtomicBool,
    sam_cfg: &SamConfig,
    deadline: Instant,
    argument: &HSignArgument,
) -> Result<String, ServiceError> {
    let found = with_nhi_card(pcsc, preferred, abandoned, After::Reset, |card| {
        let outcome = (|| {
            let id = card
                .card_id()
                .map_err(|e| card_step(&e, ErrorCode::CardIdFailed))?;
            let challenge = card
                .get_challenge()
                .map_err(|e| card_step(&e, ErrorCode::ChallengeFailed))?;
            sam::authenticate(
                sam_cfg,
                deadline,
                id.as_bytes(),
                &challenge,
                argument.as_bytes(),
                |au| {
                    card.mutual_auth(au)
                        .map_err(|e| card_step(&e, ErrorCode::MutualAuthFailed))
                },
            )
        })();
        Ok(outcome)
    })?;
    found
        .value
        .map_err(|code| ServiceError::new(code, "H_Sign failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_is_twenty_printable_characters() {
        assert!(HSignArgument::parse("00111234567890123456").is_some());
        assert!(HSignArgument::parse("0011123456789012345").is_none());
        assert!(HSignArgument::parse("001112345678901234567").is_none());
        assert!(HSignArgument::parse("0011 234567890123456").is_none());
        assert!(HSignArgument::parse("0011\\u{0}234567890123456").is_none());
        assert!(HSignArgument::parse("00111234567890１２３").is_none());
    }
}
