//! `CardService`: the daemon's single owner of card access.
//!
//! - One card operation at a time (an async lock around every operation that sends APDUs); waiters
//!   are bounded by the card timeout.
//! - The profile of an inserted card is read once: it is cached under the reader's insertion
//!   identity (event counter + ATR) and dropped the moment the monitor reports the card removed.
//!   Concurrent requests for it share one card read (the lock plus a second look at the cache).
//! - A picture of PC/SC (up/down, readers, inserted cards) kept current by the reader monitor's
//!   events, which are also re-broadcast to subscribers (the SSE stream).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::error::ErrorCode;
use crate::reader::monitor::{EventSink, Monitor, ReaderEvent};
use crate::reader::{Pcsc, ReaderInfo};

use super::hsign::{self, HSignArgument};
use super::{read_card, run_blocking_with_timeout, CardReadout, Insertion, ServiceError};
use crate::sam::SamConfig;

/// Longest a reader listing may take (it does not touch cards).
const LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// What is known of PC/SC right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub pcsc_up: bool,
    /// Reader name → the card inserted in it, if any.
    pub readers: BTreeMap<String, Option<Insertion>>,
}

struct Cached {
    insertion: Insertion,
    readout: Arc<CardReadout>,
}

/// How the service reaches and bounds the card and the cloud SAM.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Reader to use; `None` = the first whose card accepts the NHI SELECT.
    pub preferred: Option<String>,
    /// Longest a card read may take.
    pub card_timeout: Duration,
    /// Longest a whole H_Sign (SAM check, card, SAM exchange) may take.
    pub hsign_timeout: Duration,
    pub sam: SamConfig,
}

pub struct CardService {
    pcsc: Arc<Pcsc>,
    preferred: Option<String>,
    timeout: Duration,
    hsign_timeout: Duration,
    sam: SamConfig,
    io: tokio::sync::Mutex<()>,
    snapshot: RwLock<Snapshot>,
    cache: Mutex<HashMap<String, Cached>>,
    events: broadcast::Sender<ReaderEvent>,
}

struct Sink(Weak<CardService>);

impl EventSink for Sink {
    fn publish(&self, event: ReaderEvent) {
        if let Some(service) = self.0.upgrade() {
            service.apply(&event);
            let _ = service.events.send(event);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CardService {
    /// Creates the service with an initial picture of PC/SC and starts the reader monitor. The
    /// caller owns the returned monitor (dropping it stops the thread).
    pub fn start(
        pcsc: Arc<Pcsc>,
        settings: Settings,
    ) -> std::io::Result<(Arc<CardService>, Monitor)> {
        let (events, _) = broadcast::channel(64);
        let initial = match pcsc.readers() {
            Ok(readers) => Snapshot {
                pcsc_up: true,
                readers: readers
                    .into_iter()
                    .map(|r| {
                        let card = r.card_present.then_some(Insertion {
                            atr: r.atr,
                            event_count: r.event_count,
                        });
                        (r.name, card)
                    })
                    .collect(),
            },
            Err(_) => Snapshot::default(),
        };
        let service = Arc::new(CardService {
            pcsc,
            preferred: settings.preferred,
            timeout: settings.card_timeout,
            hsign_timeout: settings.hsign_timeout,
            sam: settings.sam,
            io: tokio::sync::Mutex::new(()),
            snapshot: RwLock::new(initial),
            cache: Mutex::new(HashMap::new()),
            events,
        });
        let monitor = Monitor::spawn(Sink(Arc::downgrade(&service)))?;
        Ok((service, monitor))
    }

    fn apply(&self, event: &ReaderEvent) {
        let mut snap = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        match event {
            ReaderEvent::PcscUp => snap.pcsc_up = true,
            ReaderEvent::PcscDown => {
                snap.pcsc_up = false;
                snap.readers.clear();
                lock(&self.cache).clear();
            }
            ReaderEvent::ReaderAdded { reader } => {
                snap.readers.entry(reader.clone()).or_insert(None);
            }
            ReaderEvent::ReaderRemoved { reader } => {
                snap.readers.remove(reader);
                lock(&self.cache).remove(reader);
            }
            ReaderEvent::CardInserted {
                reader,
                atr,
                event_count,
            } => {
                snap.readers.insert(
                    reader.clone(),
                    Some(Insertion {
                        atr: atr.clone(),
                        event_count: *event_count,
                    }),
                );
            }
            ReaderEvent::CardRemoved { reader } => {
                snap.readers.insert(reader.clone(), None);
                lock(&self.cache).remove(reader);
            }
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ReaderEvent> {
        self.events.subscribe()
    }

    pub fn preferred_reader(&self) -> Option<&str> {
        self.preferred.as_deref()
    }

    /// The reader card operations go to: the configured one, else the reader whose NHI card was
    /// read last and is still inserted.
    pub fn selected_reader(&self) -> Option<String> {
        if let Some(p) = &self.preferred {
            return Some(p.clone());
        }
        let snap = self.snapshot();
        lock(&self.cache)
            .iter()
            .filter(|(reader, c)| snap.readers.get(*reader) == Some(&Some(c.insertion.clone())))
            .map(|(reader, _)| reader.clone())
            .min()
    }

    /// The readers as PC/SC lists them now.
    pub async fn readers(&self) -> Result<Vec<ReaderInfo>, ServiceError> {
        let pcsc = self.pcsc.clone();
        run_blocking_with_timeout(LIST_TIMEOUT, move |_| Ok(pcsc.readers()?)).await
    }

    fn cached(&self, reader: Option<&str>) -> Option<Arc<CardReadout>> {
        let snap = self.snapshot();
        let cache = lock(&self.cache);
        let mut hits: Vec<(&String, &Cached)> = cache
            .iter()
            .filter(|(name, _)| reader.is_none_or(|r| r == name.as_str()))
            .filter(|(name, c)| snap.readers.get(*name) == Some(&Some(c.insertion.clone())))
            .collect();
        hits.sort_by(|a, b| a.0.cmp(b.0));
        hits.first().map(|(_, c)| c.readout.clone())
    }

    /// The profile of the NHI card in `reader` (or the configured/first NHI card). Repeated calls
    /// for the same inserted card send no APDUs.
    pub async fn profile(&self, reader: Option<String>) -> Result<Arc<CardReadout>, ServiceError> {
        let want = reader.or_else(|| self.preferred.clone());
        if let Some(hit) = self.cached(want.as_deref()) {
            return Ok(hit);
        }
        let _turn = tokio::time::timeout(self.timeout, self.io.lock())
            .await
            .map_err(|_| {
                ServiceError::new(ErrorCode::CardTimeout, "waited too long for the card")
            })?;
        // Whoever held the lock may have just read this very card.
        if let Some(hit) = self.cached(want.as_deref()) {
            return Ok(hit);
        }
        let pcsc = self.pcsc.clone();
        let found = run_blocking_with_timeout(self.timeout, move |abandoned| {
            read_card(&pcsc, want.as_deref(), abandoned)
        })
        .await?;
        let readout = Arc::new(found.value);
        if let Some(insertion) = found.insertion {
            lock(&self.cache).insert(
                found.reader,
                Cached {
                    insertion,
                    readout: readout.clone(),
                },
            );
        }
        Ok(readout)
    }

    /// H_Sign with the card to itself: no other card operation runs meanwhile.
    pub async fn hsign(&self, argument: HSignArgument) -> Result<String, ServiceError> {
        let _turn = tokio::time::timeout(self.timeout, self.io.lock())
            .await
            .map_err(|_| {
                ServiceError::new(ErrorCode::CardTimeout, "waited too long for the card")
            })?;
        let pcsc = self.pcsc.clone();
        let preferred = self.preferred.clone();
        let sam = self.sam.clone();
        run_blocking_with_timeout(self.hsign_timeout, move |abandoned| {
            hsign::hsign(&pcsc, preferred.as_deref(), abandoned, &sam, &argument)
        })
        .await
    }
}
