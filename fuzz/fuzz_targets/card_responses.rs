//! The card layer against a card that answers anything: the fuzz input is cut into responses
//! (each prefixed by its length byte) handed back APDU by APDU, T=0 or T=1 by the first byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_bridge::apdu::{Protocol, Response, Transport, TransportError};
use nhi_bridge::card::{NhiCard, Profile};

struct Answers<'a> {
    data: &'a [u8],
    t0: bool,
}

impl Transport for Answers<'_> {
    fn transmit_raw(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let (&n, rest) = self.data.split_first().ok_or(TransportError::CardRemoved)?;
        let n = (n as usize).min(rest.len());
        let (answer, rest) = rest.split_at(n);
        self.data = rest;
        Ok(answer.to_vec())
    }

    fn protocol(&self) -> Protocol {
        if self.t0 {
            Protocol::T0
        } else {
            Protocol::T1
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = Response::from_bytes(data);
    let _ = Profile::parse(data);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut t = Answers {
        data: rest,
        t0: mode & 1 == 1,
    };
    let mut card = NhiCard::new(&mut t);
    if card.select().is_ok() {
        let _ = card.read_profile();
        let _ = card.card_data();
        let _ = card.card_id();
        let _ = card.get_challenge();
        let _ = card.mutual_auth(&[0u8; 32]);
    }
});
