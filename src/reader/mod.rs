//! PC/SC access (pcsc-lite's pcscd on Linux, WinSCard on Windows, CryptoTokenKit on macOS).
//!
//! It owns the PC/SC context — re-established transparently when the service restarts — the
//! reader list, connections to cards in shared mode with every operation inside a transaction,
//! and the [`Transport`] implementation the card layer runs on. It knows nothing of the NHI card:
//! the two meet only in `service`, through the `apdu` module.

pub mod monitor;

use std::ffi::CString;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use thiserror::Error;

use crate::apdu::{Protocol, Transport, TransportError};

/// How long a failed exchange waits for pcscd to notice a removal before calling it a line fault.
/// pcscd polls card presence every ~400 ms.
const REMOVAL_GRACE: Duration = Duration::from_millis(1500);

/// Why a PC/SC operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReaderError {
    /// pcscd (or the Smart Card service) is not running.
    #[error("the PC/SC service is not running")]
    ServiceUnavailable,
    /// No reader is connected.
    #[error("no card reader is connected")]
    NoReaders,
    /// The named reader is not connected.
    #[error("reader {0:?} was not found")]
    UnknownReader(String),
    /// The reader has no card.
    #[error("no card in reader {0:?}")]
    NoCard(String),
    /// The card went away.
    #[error("the card was removed")]
    CardRemoved,
    /// The card does not answer to reset.
    #[error("the card does not respond (inserted the wrong way round?)")]
    CardUnresponsive,
    /// Another application holds the card exclusively.
    #[error("another application holds the card exclusively")]
    Sharing,
    /// Any other PC/SC error.
    #[error("PC/SC error: {0}")]
    Pcsc(pcsc::Error),
}

/// What the reader list says about one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's PC/SC name.
    pub name: String,
    /// Whether a card is in it.
    pub card_present: bool,
    /// The card's answer to reset (empty without a card). Identifies the card type, not the holder.
    pub atr: Vec<u8>,
    /// The card is powered but did not answer to reset.
    pub mute: bool,
    /// Counts insertions and removals in this reader; with the ATR it identifies one insertion.
    pub event_count: u32,
}

/// Errors that mean the PC/SC service (or this context) is gone, not this one call.
pub(crate) fn service_gone(e: pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::InvalidHandle
    )
}

fn reader_error(e: pcsc::Error, reader: &str) -> ReaderError {
    use pcsc::Error as E;
    match e {
        E::NoService | E::ServiceStopped | E::InvalidHandle => ReaderError::ServiceUnavailable,
        E::NoReadersAvailable => ReaderError::NoReaders,
        E::UnknownReader | E::ReaderUnavailable => ReaderError::UnknownReader(reader.to_owned()),
        E::NoSmartcard => ReaderError::NoCard(reader.to_owned()),
        E::RemovedCard => ReaderError::CardRemoved,
        E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard | E::InvalidAtr => {
            ReaderError::CardUnresponsive
        }
        E::SharingViolation => ReaderError::Sharing,
        other => ReaderError::Pcsc(other),
    }
}

/// A handle on the PC/SC service. Cheap to share; all methods take `&self`.
///
/// It keeps two contexts: one for card connections and one for questions about readers (the list,
/// an insertion's identity). pcsc-lite serialises the calls of one context, so a reader listing on
/// the card's context would wait behind an APDU in flight.
#[derive(Default)]
pub struct Pcsc {
    cards: Mutex<Option<Context>>,
    queries: Mutex<Option<Context>>,
}

/// Which of [`Pcsc`]'s contexts a call uses.
#[derive(Clone, Copy)]
enum Use {
    Cards,
    Queries,
}

impl Pcsc {
    /// A handle; contexts are made on first use.
    pub fn new() -> Pcsc {
        Pcsc::default()
    }

    fn slot(&self, which: Use) -> MutexGuard<'_, Option<Context>> {
        let m = match which {
            Use::Cards => &self.cards,
            Use::Queries => &self.queries,
        };
        // A panic elsewhere while holding the lock leaves a context that is still usable.
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn context(&self, which: Use) -> Result<Context, ReaderError> {
        let mut slot = self.slot(which);
        if let Some(ctx) = slot.as_ref() {
            return Ok(ctx.clone());
        }
        let ctx = Context::establish(Scope::User).map_err(|e| {
            log::debug!("SCardEstablishContext failed: {e}");
            ReaderError::ServiceUnavailable
        })?;
        *slot = Some(ctx.clone());
        Ok(ctx)
    }

    /// Runs `f` with a context. When the context is stale — pcscd restarted, or it answers with
    /// an error that no healthy service gives for this call (a dying pcscd can say "security
    /// violation") — makes a new context and runs `f` once more; if no new context can be made,
    /// the service is down.
    fn with_context<R>(
        &self,
        which: Use,
        reader: &str,
        f: impl Fn(&Context) -> Result<R, pcsc::Error>,
    ) -> Result<R, ReaderError> {
        let ctx = self.context(which)?;
        match f(&ctx) {
            Err(e)
                if service_gone(e) || matches!(reader_error(e, reader), ReaderError::Pcsc(_)) =>
            {
                log::info!("PC/SC call failed ({e}); re-establishing the context");
                *self.slot(which) = None;
                let ctx = self.context(which)?;
                f(&ctx).map_err(|e| reader_error(e, reader))
            }
            r => r.map_err(|e| reader_error(e, reader)),
        }
    }

    /// Whether the PC/SC service answers.
    pub fn is_available(&self) -> bool {
        self.with_context(Use::Queries, "", |ctx| ctx.is_valid())
            .is_ok()
    }

    /// What is in `reader` now — the card's ATR and the reader's event counter, or `None` without
    /// a card — from pcscd's own state: no card I/O, and it does not wait for an APDU in flight.
    pub fn insertion(&self, reader: &str) -> Result<Option<(Vec<u8>, u32)>, ReaderError> {
        let name = CString::new(reader).map_err(|_| ReaderError::UnknownReader(reader.into()))?;
        self.with_context(Use::Queries, reader, |ctx| {
            let mut states = [ReaderState::new(name.clone(), State::UNAWARE)];
            match ctx.get_status_change(Duration::ZERO, &mut states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => return Err(e),
            }
            let info = reader_info(&states[0]);
            Ok(info.card_present.then_some((info.atr, info.event_count)))
        })
    }

    /// The readers and what is in them.
    pub fn readers(&self) -> Result<Vec<ReaderInfo>, ReaderError> {
        self.with_context(Use::Queries, "", |ctx| {
            let names = match ctx.list_readers_owned() {
                Ok(names) => names,
                Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut states: Vec<ReaderState> = names
                .into_iter()
                .map(|n| ReaderState::new(n, State::UNAWARE))
                .collect();
            // UNAWARE makes the call return at once with the current state.
            match ctx.get_status_change(Duration::ZERO, &mut states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => return Err(e),
            }
            Ok(states.iter().map(reader_info).collect())
        })
    }

    /// Connects to the card in `reader`, shared with other applications.
    pub fn connect(&self, reader: &str) -> Result<CardConnection, ReaderError> {
        let name = CString::new(reader).map_err(|_| ReaderError::UnknownReader(reader.into()))?;
        let (ctx, card) = self.with_context(Use::Cards, reader, |ctx| {
            let card = ctx.connect(&name, ShareMode::Shared, Protocols::ANY)?;
            Ok((ctx.clone(), card))
        })?;
        Ok(CardConnection {
            card: Some(card),
            ctx,
            reader: reader.to_owned(),
            after: Disposition::LeaveCard,
        })
    }
}

fn reader_info(s: &ReaderState) -> ReaderInfo {
    let state = s.event_state();
    let present = state.contains(State::PRESENT);
    ReaderInfo {
        name: s.name().to_string_lossy().into_owned(),
        card_present: present,
        atr: if present {
            s.atr().to_vec()
        } else {
            Vec::new()
        },
        mute: state.contains(State::MUTE),
        event_count: s.event_count(),
    }
}

/// A connection to the card in one reader. Dropping it disconnects and leaves the card as it is
/// (the `pcsc` crate's own drop would reset it, costing a real card a power cycle and another
/// application its session); [`CardConnection::reset`] is the deliberate exception.
pub struct CardConnection {
    /// `None` only while dropping.
    card: Option<pcsc::Card>,
    ctx: Context,
    reader: String,
    after: Disposition,
}

impl Drop for CardConnection {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            if let Err((card, e)) = card.disconnect(self.after) {
                log::debug!("disconnect from {:?}: {e}", self.reader);
                // Its own drop would disconnect again with a reset: the handle is gone anyway.
                std::mem::forget(card);
            }
        }
    }
}

impl CardConnection {
    /// The reader this connection is to.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    fn protocol(&self) -> Protocol {
        let status = self.card.as_ref().and_then(|c| c.status2_owned().ok());
        match status.and_then(|s| s.protocol2()) {
            Some(pcsc::Protocol::T0) => Protocol::T0,
            _ => Protocol::T1,
        }
    }

    /// The card's ATR and the reader's event counter as this connection sees them: together
    /// they identify one insertion of one card.
    pub fn insertion(&self) -> Result<(Vec<u8>, u32), ReaderError> {
        let name = CString::new(self.reader.as_str())
            .map_err(|_| ReaderError::UnknownReader(self.reader.clone()))?;
        let mut states = [ReaderState::new(name, State::UNAWARE)];
        match self.ctx.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(reader_error(e, &self.reader)),
        }
        let info = reader_info(&states[0]);
        if !info.card_present {
            return Err(ReaderError::CardRemoved);
        }
        Ok((info.atr, info.event_count))
    }

    /// Runs `f` inside one PC/SC transaction, so no other application's APDUs interleave.
    pub fn transaction<R>(
        &mut self,
        f: impl FnOnce(&mut dyn Transport) -> R,
    ) -> Result<R, ReaderError> {
        let protocol = self.protocol();
        let reader = self.reader.clone();
        let Some(card) = self.card.as_mut() else {
            return Err(ReaderError::CardRemoved);
        };
        let tx = match card.transaction2() {
            Ok(tx) => tx,
            Err((card, pcsc::Error::ResetCard)) => {
                // Another application reset the card since we connected: reconnect once.
                card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
                    .map_err(|e| reader_error(e, &reader))?;
                card.transaction().map_err(|e| reader_error(e, &reader))?
            }
            Err((_, e)) => return Err(reader_error(e, &reader)),
        };
        let mut transport = PcscTransport {
            tx: &tx,
            ctx: &self.ctx,
            reader: &reader,
            protocol,
        };
        let out = f(&mut transport);
        if let Err((_, e)) = tx.end(Disposition::LeaveCard) {
            log::debug!("SCardEndTransaction on {reader:?}: {e}");
        }
        Ok(out)
    }

    /// Disconnects, resetting the card so it is left in a known state (after H_Sign, or after a
    /// timed-out operation).
    pub fn reset(mut self) {
        self.after = Disposition::ResetCard;
    }
}

struct PcscTransport<'a, 'tx> {
    tx: &'a pcsc::Transaction<'tx>,
    ctx: &'a Context,
    reader: &'a str,
    protocol: Protocol,
}

impl PcscTransport<'_, '_> {
    /// After a failed exchange, tells a removed card from a line fault by watching the reader for
    /// up to [`REMOVAL_GRACE`].
    fn removed_since(&self) -> bool {
        let Ok(name) = CString::new(self.reader) else {
            return false;
        };
        let mut states = [ReaderState::new(name, State::UNAWARE)];
        if self
            .ctx
            .get_status_change(Duration::ZERO, &mut states)
            .is_err()
        {
            return false;
        }
        let deadline = Instant::now() + REMOVAL_GRACE;
        loop {
            if !states[0].event_state().contains(State::PRESENT) {
                return true;
            }
            states[0].sync_current_state();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.ctx.get_status_change(left, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => return false,
                Err(_) => return false,
            }
        }
    }
}

impl Transport for PcscTransport<'_, '_> {
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        use pcsc::Error as E;
        // Short APDUs only (the NHI card's answers are at most 256 + 2 bytes): a buffer on the
        // stack, not 64 KiB allocated and zeroed per APDU.
        let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
        let result = match self.tx.transmit(apdu, &mut buf) {
            // Some drivers (vpcd among them) report a lost card as an empty "successful" answer.
            Ok(resp) if resp.len() < 2 && self.removed_since() => Err(TransportError::CardRemoved),
            Ok(resp) => Ok(resp.to_vec()),
            Err(E::RemovedCard | E::NoSmartcard) => Err(TransportError::CardRemoved),
            Err(E::ResetCard) => Err(TransportError::CardReset),
            Err(E::ReaderUnavailable | E::UnknownReader) => Err(TransportError::ReaderUnavailable),
            Err(E::NoService | E::ServiceStopped) => Err(TransportError::ServiceUnavailable),
            Err(E::Timeout) => Err(TransportError::Timeout),
            Err(e) => {
                if self.removed_since() {
                    Err(TransportError::CardRemoved)
                } else {
                    Err(TransportError::Communication(e.to_string()))
                }
            }
        };
        // The receive buffer held the answer: card-holder data.
        zeroize::Zeroize::zeroize(&mut buf);
        result
    }

    fn protocol(&self) -> Protocol {
        self.protocol
    }
}
