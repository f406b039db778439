//! `CardService`: the daemon's single owner of card access.
//!
//! - One card operation at a time: an async lock whose owned guard moves into the blocking work,
//!   so it is held until the card has really finished, even when the caller stopped waiting. A
//!   request has one deadline for its wait and its work together.
//! - The profile of an inserted card is read once: it is cached under the reader's insertion
//!   identity (event counter + ATR), dropped the moment the monitor reports the card removed, and
//!   served only after pcscd confirms the same insertion is still there (a status call, no APDU),
//!   so a card swapped faster than the monitor reports never answers for its successor.
//!   Concurrent requests for it share one card read (the lock plus a second look at the cache).
//! - H_Sign asks the cloud SAM for its service check before taking the card: a slow SAM never
//!   holds the card lock.
//! - A picture of PC/SC (up/down, readers, inserted cards) kept current by the reader monitor's
//!   events, which are also re-broadcast to subscribers (the SSE stream).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use super::fair::FairLock;

use crate::error::ErrorCode;
use crate::reader::monitor::{EventSink, Monitor, ReaderEvent};
use crate::reader::Pcsc;

use super::hsign::{self, HSignArgument};
use super::{read_card, run_blocking_until, CardReadout, Insertion, ServiceError};
use crate::sam::SamConfig;

/// Longest pcscd may take to say what is in a reader (it does not touch cards).
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one confirmation of a cached insertion serves further hits. pcscd itself learns of a
/// swap only when it next polls the reader (vpcd: ~400 ms), so 20 ms adds little to that window,
/// while a confirmation per hit would cap cached reads at one pcscd round trip each.
const CONFIRM_FRESH: Duration = Duration::from_millis(20);

/// How the inserted card's last read went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CardCheck {
    /// Not read since it was inserted (or no card).
    #[default]
    Unknown,
    /// It read as an NHI card.
    Readable,
    /// It could not be read: why (7005 not an NHI card, …).
    Failed(ErrorCode),
}

/// What is known of PC/SC right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Whether pcscd answers.
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
    /// The cloud SAM for H_Sign.
    pub sam: SamConfig,
    /// Read a card's profile when it is inserted (see [`CardService::prefetch`]).
    pub prefetch: bool,
}

/// The daemon's single owner of card access (see the module notes).
pub struct CardService {
    pcsc: Arc<Pcsc>,
    preferred: Option<String>,
    timeout: Duration,
    hsign_timeout: Duration,
    sam: SamConfig,
    /// Where prefetches run; `None` (no prefetch) when started outside a tokio runtime.
    prefetch: Option<tokio::runtime::Handle>,
    /// The card's turn, round robin over the origins waiting (see [`super::fair`]).
    io: Arc<FairLock>,
    snapshot: RwLock<Snapshot>,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
    events: broadcast::Sender<ReaderEvent>,
    /// How the inserted card's last read went (the tray, the self-check page); back to
    /// [`CardCheck::Unknown`] when a card comes or goes.
    failed: tokio::sync::watch::Sender<CardCheck>,
    /// The last insertion pcscd confirmed, and when (see [`CONFIRM_FRESH`]).
    confirmed: Mutex<Option<(String, Insertion, Instant)>>,
}

struct Sink(Weak<CardService>);

impl EventSink for Sink {
    fn publish(&self, event: ReaderEvent) {
        if let Some(service) = self.0.upgrade() {
            service.apply(&event);
            if let ReaderEvent::CardInserted { reader, .. } = &event {
                service.prefetch(reader);
            }
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
            prefetch: settings
                .prefetch
                .then(tokio::runtime::Handle::try_current)
                .and_then(Result::ok),
            io: Arc::new(FairLock::default()),
            snapshot: RwLock::new(initial),
            cache: Arc::new(Mutex::new(HashMap::new())),
            events,
            failed: tokio::sync::watch::channel(CardCheck::Unknown).0,
            confirmed: Mutex::new(None),
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
                self.failed.send_replace(CardCheck::Unknown);
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
                self.failed.send_replace(CardCheck::Unknown);
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
                self.failed.send_replace(CardCheck::Unknown);
            }
        }
    }

    /// What PC/SC looks like now (from the monitor; no I/O).
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The monitor's events as they come.
    pub fn subscribe(&self) -> broadcast::Receiver<ReaderEvent> {
        self.events.subscribe()
    }

    /// Whether the service reads each card when it is inserted (`prefetch`).
    pub fn prefetches(&self) -> bool {
        self.prefetch.is_some()
    }

    /// How the inserted card's last read went, as it changes.
    pub fn card_checks(&self) -> tokio::sync::watch::Receiver<CardCheck> {
        self.failed.subscribe()
    }

    /// Records how a read of an inserted card went.
    fn note_read<T>(&self, result: &Result<T, ServiceError>) {
        let now = match result {
            Ok(_) => CardCheck::Readable,
            // Nothing to read is not a card that failed.
            Err(e)
                if matches!(
                    e.code,
                    ErrorCode::NoCard
                        | ErrorCode::NoReader
                        | ErrorCode::PcscUnavailable
                        | ErrorCode::ReaderNotFound
                ) =>
            {
                CardCheck::Unknown
            }
            Err(e) => CardCheck::Failed(e.code),
        };
        self.failed
            .send_if_modified(|f| std::mem::replace(f, now) != now);
    }

    /// The reader the configuration names, if any.
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

    /// Reads the profile of the card just inserted in `reader`, so the first page request is
    /// answered from memory. It is an ordinary read: it waits its turn for the card (a request
    /// already waiting goes first), holds it for one read, and a request that comes meanwhile
    /// waits and then finds the cache filled — one card read, not two. A card that refuses the
    /// NHI SELECT gets that SELECT and nothing else; a card pulled out meanwhile leaves nothing
    /// cached (the insertion no longer matches).
    fn prefetch(self: &Arc<Self>, reader: &str) {
        let Some(rt) = &self.prefetch else {
            return;
        };
        let service = self.clone();
        let reader = reader.to_owned();
        rt.spawn(async move {
            match service.profile(Some(reader.clone())).await {
                Ok(_) => log::debug!("prefetched the card in {reader:?}"),
                Err(e) => log::debug!("prefetch in {reader:?}: {}", e.code),
            }
        });
    }

    /// The readers and their cards as the monitor last reported them: no PC/SC call, so it never
    /// waits behind a card operation.
    pub fn readers(&self) -> Vec<(String, Option<Insertion>)> {
        self.snapshot().readers.into_iter().collect()
    }

    /// A cached readout for `reader` (or any reader) that the monitor still shows inserted.
    fn cached(&self, reader: Option<&str>) -> Option<(String, Insertion, Arc<CardReadout>)> {
        let snap = self.snapshot();
        let cache = lock(&self.cache);
        let mut hits: Vec<(&String, &Cached)> = cache
            .iter()
            .filter(|(name, _)| reader.is_none_or(|r| r == name.as_str()))
            .filter(|(name, c)| snap.readers.get(*name) == Some(&Some(c.insertion.clone())))
            .collect();
        hits.sort_by(|a, b| a.0.cmp(b.0));
        hits.first()
            .map(|(name, c)| ((*name).clone(), c.insertion.clone(), c.readout.clone()))
    }

    /// [`CardService::cached`], confirmed with pcscd: the reader's event counter and ATR now are
    /// the cached ones. A mismatch drops the entry.
    async fn confirmed(&self, reader: Option<&str>, deadline: Instant) -> Option<Arc<CardReadout>> {
        let (name, insertion, readout) = self.cached(reader)?;
        let fresh = lock(&self.confirmed).as_ref().is_some_and(|(n, i, at)| {
            *n == name && *i == insertion && at.elapsed() < CONFIRM_FRESH
        });
        if fresh {
            return Some(readout);
        }
        let pcsc = self.pcsc.clone();
        let asked = name.clone();
        let until = deadline.min(Instant::now() + STATUS_TIMEOUT);
        let now = run_blocking_until(until, move |_| Ok(pcsc.insertion(&asked)?)).await;
        match now {
            Ok(Some((atr, event_count)))
                if atr == insertion.atr && event_count == insertion.event_count =>
            {
                *lock(&self.confirmed) = Some((name, insertion, Instant::now()));
                Some(readout)
            }
            Ok(_) => {
                log::debug!("the card in {name:?} changed since it was read; reading it again");
                let mut cache = lock(&self.cache);
                if cache.get(&name).is_some_and(|c| c.insertion == insertion) {
                    cache.remove(&name);
                }
                None
            }
            Err(e) => {
                log::debug!("cannot confirm the card in {name:?}: {e}");
                None
            }
        }
    }

    fn waited_too_long() -> ServiceError {
        ServiceError::new(ErrorCode::CardTimeout, "waited too long for the card")
    }

    /// The profile of the NHI card in `reader` (or the configured/first NHI card). Repeated calls
    /// for the same inserted card send no APDUs. The wait for the card and the read share one
    /// deadline.
    pub async fn profile(&self, reader: Option<String>) -> Result<Arc<CardReadout>, ServiceError> {
        let result = self.read_profile(reader).await;
        self.note_read(&result);
        result
    }

    async fn read_profile(&self, reader: Option<String>) -> Result<Arc<CardReadout>, ServiceError> {
        let deadline = Instant::now() + self.timeout;
        let want = reader.or_else(|| self.preferred.clone());
        if let Some(hit) = self.confirmed(want.as_deref(), deadline).await {
            return Ok(hit);
        }
        let turn = tokio::time::timeout_at(deadline.into(), self.io.lock())
            .await
            .map_err(|_| Self::waited_too_long())?;
        // Whoever held the lock may have just read this very card.
        if let Some(hit) = self.confirmed(want.as_deref(), deadline).await {
            return Ok(hit);
        }
        let pcsc = self.pcsc.clone();
        let cache = self.cache.clone();
        run_blocking_until(deadline, move |abandoned| {
            // Held until the card has finished and its readout is cached, even if the caller
            // stopped waiting: the next in line finds the cache filled.
            let _turn = turn;
            let found = read_card(&pcsc, want.as_deref(), abandoned)?;
            let readout = Arc::new(found.value);
            if let Some(insertion) = found.insertion {
                lock(&cache).insert(
                    found.reader,
                    Cached {
                        insertion,
                        readout: readout.clone(),
                    },
                );
            }
            Ok(readout)
        })
        .await
    }

    /// H_Sign: the SAM's service check first, without the card; then the card to itself (no
    /// other card operation runs meanwhile). One deadline, `hsign_timeout`, for all of it; the
    /// wait for the card is bounded by the card timeout too.
    pub async fn hsign(&self, argument: HSignArgument) -> Result<String, ServiceError> {
        let deadline = Instant::now() + self.hsign_timeout;
        let sam = self.sam.clone();
        run_blocking_until(deadline, move |_| hsign::check_sam(&sam, deadline)).await?;
        let wait = deadline.min(Instant::now() + self.timeout);
        let turn = tokio::time::timeout_at(wait.into(), self.io.lock())
            .await
            .map_err(|_| Self::waited_too_long())?;
        let pcsc = self.pcsc.clone();
        let preferred = self.preferred.clone();
        let sam = self.sam.clone();
        run_blocking_until(deadline, move |abandoned| {
            let _turn = turn;
            hsign::hsign(
                &pcsc,
                preferred.as_deref(),
                abandoned,
                &sam,
                deadline,
                &argument,
            )
        })
        .await
    }
}
