//! Where the NHI card application meets the readers: the only module that imports both.
//!
//! It owns the reader choice (a named reader, else the first whose card accepts the HC SELECT),
//! runs card operations inside one PC/SC transaction each, bounds them in time, and maps card and
//! reader failures to the stable [`ErrorCode`]s. The daemon's `CardService` grows here.

pub mod card_service;
pub mod fair;
pub mod hsign;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use thiserror::Error;

use crate::apdu::{Transport, TransportError};
use crate::card::nhi::Operation;
use crate::card::{CardData, CardError, NhiCard, Profile};
use crate::error::ErrorCode;
use crate::reader::{Pcsc, ReaderError};

/// A failure with its public code and a technical detail for logs (never card-holder data).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{code}: {detail}")]
pub struct ServiceError {
    /// The code users and pages see.
    pub code: ErrorCode,
    /// What happened, for the log (never card-holder data).
    pub detail: String,
}

impl ServiceError {
    /// A failure with its code and a detail.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ServiceError {
        ServiceError {
            code,
            detail: detail.into(),
        }
    }
}

impl From<ReaderError> for ServiceError {
    fn from(e: ReaderError) -> ServiceError {
        let code = match &e {
            ReaderError::ServiceUnavailable => ErrorCode::PcscUnavailable,
            ReaderError::NoReaders => ErrorCode::NoReader,
            ReaderError::UnknownReader(_) => ErrorCode::ReaderNotFound,
            ReaderError::NoCard(_) => ErrorCode::NoCard,
            ReaderError::CardRemoved => ErrorCode::CardRemoved,
            ReaderError::CardUnresponsive => ErrorCode::CardUnresponsive,
            ReaderError::Sharing => ErrorCode::CardBusy,
            ReaderError::Pcsc(_) => ErrorCode::CardUnavailable,
        };
        ServiceError::new(code, e.to_string())
    }
}

impl From<CardError> for ServiceError {
    fn from(e: CardError) -> ServiceError {
        let code = match &e {
            CardError::NotNhiCard(_) => ErrorCode::NotNhiCard,
            CardError::Refused {
                op: Operation::ReadProfile,
                ..
            } => ErrorCode::ProfileReadFailed,
            CardError::Refused {
                op: Operation::ReadCardData,
                ..
            } => ErrorCode::CardDataReadFailed,
            CardError::Refused { .. } => ErrorCode::CardUnavailable,
            CardError::Malformed { .. } => ErrorCode::CardInvalidResponse,
            CardError::Transport { source, .. } => match source {
                TransportError::CardRemoved => ErrorCode::CardRemoved,
                TransportError::ServiceUnavailable => ErrorCode::PcscUnavailable,
                TransportError::Timeout => ErrorCode::CardTimeout,
                TransportError::Apdu(_) => ErrorCode::CardInvalidResponse,
                TransportError::CardReset
                | TransportError::ReaderUnavailable
                | TransportError::Communication(_) => ErrorCode::CardUnavailable,
            },
        };
        ServiceError::new(code, e.to_string())
    }
}

/// What `read` shows: the profile, and the card data when the card gives it.
#[derive(Debug)]
pub struct CardReadout {
    /// The reader it came from.
    pub reader: String,
    /// The basic profile (`CA 11`).
    pub profile: Profile,
    /// `None` when the card refuses `CA 24` (a well-formed refusal, not a fault).
    pub card_data: Option<CardData>,
}

/// One insertion of one card: the reader's event counter and the card's ATR.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Insertion {
    /// The card's answer to reset.
    pub atr: Vec<u8>,
    /// The reader's event counter.
    pub event_count: u32,
}

/// What becomes of the card after an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Leave the card as it is (every read).
    Leave,
    /// Reset the card (the official component does so after H_Sign).
    Reset,
}

/// The result of an operation on the NHI card, with where it ran.
#[derive(Debug)]
pub struct Found<R> {
    /// The reader it ran in.
    pub reader: String,
    /// `None` when the reader could not say (the card went away right after the operation).
    pub insertion: Option<Insertion>,
    /// What the operation returned.
    pub value: R,
}

/// Finds the NHI card and runs `op` on it, after SELECT, inside one transaction.
///
/// With `preferred`, only that reader is used. Otherwise readers are tried in PC/SC order and the
/// first whose card accepts the HC SELECT wins; a non-NHI card elsewhere does not get in the way.
/// The card is reset afterwards when `after` says so (H_Sign), or when `abandoned` is set by the
/// time the card answers (the caller gave up waiting), rather than left as the operation left it.
pub fn with_nhi_card<R>(
    pcsc: &Pcsc,
    preferred: Option<&str>,
    abandoned: &AtomicBool,
    after: After,
    mut op: impl FnMut(&mut NhiCard<'_, dyn Transport + '_>) -> Result<R, CardError>,
) -> Result<Found<R>, ServiceError> {
    let readers = pcsc.readers()?;
    if readers.is_empty() {
        return Err(ServiceError::new(ErrorCode::NoReader, "no reader listed"));
    }
    let candidates: Vec<_> = match preferred {
        Some(name) => {
            let r = readers.iter().find(|r| r.name == name).ok_or_else(|| {
                ServiceError::new(ErrorCode::ReaderNotFound, format!("no reader {name:?}"))
            })?;
            vec![r]
        }
        None => readers.iter().collect(),
    };

    let mut first_failure: Option<ServiceError> = None;
    for info in candidates {
        if !info.card_present {
            continue;
        }
        if info.mute {
            first_failure.get_or_insert(ServiceError::new(
                ErrorCode::CardUnresponsive,
                format!("card in {:?} is mute", info.name),
            ));
            continue;
        }
        let mut conn = match pcsc.connect(&info.name) {
            Ok(c) => c,
            Err(e) => {
                log::debug!("connect {:?}: {e}", info.name);
                first_failure.get_or_insert(e.into());
                continue;
            }
        };
        let outcome = conn.transaction(|t| {
            let mut card = NhiCard::new(t);
            match card.select() {
                Ok(()) => Ok(op(&mut card)),
                Err(e) => Err(e),
            }
        });
        let insertion = conn
            .insertion()
            .ok()
            .map(|(atr, event_count)| Insertion { atr, event_count });
        let late = abandoned.load(Ordering::SeqCst);
        if late {
            log::info!(
                "card operation on {:?} finished after its timeout; resetting the card",
                info.name
            );
        }
        // Reset once SELECT succeeded (this is the NHI card) when the caller asks, or always
        // after a late answer; a card that refused SELECT is not ours to reset.
        if late || (after == After::Reset && matches!(outcome, Ok(Ok(_)))) {
            conn.reset();
        }
        match outcome {
            Ok(Ok(Ok(value))) => {
                return Ok(Found {
                    reader: info.name.clone(),
                    insertion,
                    value,
                })
            }
            // After a successful SELECT this is the NHI card: its failure is the answer.
            Ok(Ok(Err(e))) => return Err(e.into()),
            Ok(Err(select_failed)) => {
                log::debug!("{:?}: {select_failed}", info.name);
                first_failure.get_or_insert(select_failed.into());
            }
            Err(e) => {
                log::debug!("transaction on {:?}: {e}", info.name);
                first_failure.get_or_insert(e.into());
            }
        }
    }
    Err(first_failure
        .unwrap_or_else(|| ServiceError::new(ErrorCode::NoCard, "no reader has a card inserted")))
}

/// Reads the profile and card data of the NHI card.
pub fn read_card(
    pcsc: &Pcsc,
    preferred: Option<&str>,
    abandoned: &AtomicBool,
) -> Result<Found<CardReadout>, ServiceError> {
    let found = with_nhi_card(pcsc, preferred, abandoned, After::Leave, |card| {
        let profile = card.read_profile()?;
        let card_data = match card.card_data() {
            Ok(d) => Some(d),
            Err(CardError::Refused { sw, .. }) => {
                log::info!("card refused CA 24 ({sw}); card data left out");
                None
            }
            Err(e) => return Err(e),
        };
        Ok((profile, card_data))
    })?;
    let (profile, card_data) = found.value;
    Ok(Found {
        value: CardReadout {
            reader: found.reader.clone(),
            profile,
            card_data,
        },
        reader: found.reader,
        insertion: found.insertion,
    })
}

/// Runs a blocking card operation on its own thread and gives up waiting after `timeout`.
///
/// PC/SC has no way to abort an APDU in flight, so a stuck card keeps its thread until the card
/// answers or is removed; the caller is released on time either way, and the operation sees the
/// `abandoned` flag set so it can reset the card when it finally returns.
pub fn run_with_timeout<R: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce(&AtomicBool) -> Result<R, ServiceError> + Send + 'static,
) -> Result<R, ServiceError> {
    let abandoned = Arc::new(AtomicBool::new(false));
    let flag = abandoned.clone();
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("card-op".into())
        .spawn(move || {
            let _ = tx.send(f(&flag));
        })
        .map_err(|e| ServiceError::new(ErrorCode::Internal, format!("spawn: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            abandoned.store(true, Ordering::SeqCst);
            Err(timed_out(timeout))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ServiceError::new(
            ErrorCode::Internal,
            "card operation ended without a result",
        )),
    }
}

/// The async form of [`run_with_timeout`], on tokio's blocking pool, waiting until `deadline`.
pub async fn run_blocking_until<R: Send + 'static>(
    deadline: std::time::Instant,
    f: impl FnOnce(&AtomicBool) -> Result<R, ServiceError> + Send + 'static,
) -> Result<R, ServiceError> {
    let abandoned = Arc::new(AtomicBool::new(false));
    let flag = abandoned.clone();
    let timeout = deadline.saturating_duration_since(std::time::Instant::now());
    let task = tokio::task::spawn_blocking(move || f(&flag));
    match tokio::time::timeout_at(deadline.into(), task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(ServiceError::new(
            ErrorCode::Internal,
            format!("card operation failed: {join}"),
        )),
        Err(_) => {
            abandoned.store(true, Ordering::SeqCst);
            Err(timed_out(timeout))
        }
    }
}

fn timed_out(timeout: Duration) -> ServiceError {
    ServiceError::new(
        ErrorCode::CardTimeout,
        format!("no answer within {} ms", timeout.as_millis()),
    )
}

/// [`read_card`] bounded by `timeout`.
pub fn read_card_within(
    pcsc: Arc<Pcsc>,
    preferred: Option<String>,
    timeout: Duration,
) -> Result<CardReadout, ServiceError> {
    run_with_timeout(timeout, move |abandoned| {
        read_card(&pcsc, preferred.as_deref(), abandoned).map(|f| f.value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::StatusWord;

    #[test]
    fn card_errors_map_to_codes() {
        let cases = [
            (
                CardError::NotNhiCard(StatusWord::FILE_NOT_FOUND),
                ErrorCode::NotNhiCard,
            ),
            (
                CardError::Refused {
                    op: Operation::ReadProfile,
                    sw: StatusWord::SECURITY_STATUS_NOT_SATISFIED,
                },
                ErrorCode::ProfileReadFailed,
            ),
            (
                CardError::Refused {
                    op: Operation::ReadCardData,
                    sw: StatusWord::INS_NOT_SUPPORTED,
                },
                ErrorCode::CardDataReadFailed,
            ),
            (
                CardError::Malformed {
                    op: Operation::ReadProfile,
                    reason: "x".into(),
                },
                ErrorCode::CardInvalidResponse,
            ),
            (
                CardError::Transport {
                    op: Operation::ReadProfile,
                    source: TransportError::CardRemoved,
                },
                ErrorCode::CardRemoved,
            ),
            (
                CardError::Transport {
                    op: Operation::Select,
                    source: TransportError::ServiceUnavailable,
                },
                ErrorCode::PcscUnavailable,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(ServiceError::from(e).code, code);
        }
    }

    #[test]
    fn reader_errors_map_to_codes() {
        assert_eq!(
            ServiceError::from(ReaderError::ServiceUnavailable).code,
            ErrorCode::PcscUnavailable
        );
        assert_eq!(
            ServiceError::from(ReaderError::NoReaders).code,
            ErrorCode::NoReader
        );
        assert_eq!(
            ServiceError::from(ReaderError::NoCard("r".into())).code,
            ErrorCode::NoCard
        );
        assert_eq!(
            ServiceError::from(ReaderError::Sharing).code,
            ErrorCode::CardBusy
        );
    }

    #[test]
    fn timeout_releases_the_caller() {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (seen_tx, seen_rx) = mpsc::channel::<bool>();
        let err = run_with_timeout(Duration::from_millis(50), move |abandoned| {
            // Blocks until the test lets it go: a card that never answers.
            let _ = release_rx.recv();
            let _ = seen_tx.send(abandoned.load(Ordering::SeqCst));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::CardTimeout);
        drop(release_tx);
        // The late operation learns it was abandoned (so it resets the card).
        assert_eq!(seen_rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        assert_eq!(run_with_timeout(Duration::from_secs(5), |_| Ok(7)), Ok(7));
    }
}
