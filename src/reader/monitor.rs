//! The reader monitor: one thread blocked in `SCardGetStatusChange` that turns PC/SC state changes
//! into [`ReaderEvent`]s.
//!
//! It watches every reader plus the `\\?PnP?\Notification` pseudo reader (reader plug/unplug),
//! re-establishes its context when pcscd goes away and comes back, and stops within one wait via
//! `SCardCancel`. At start it reports what is already there (each reader, each inserted card), so a
//! subscriber's picture is complete without a separate query.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pcsc::{Context, ReaderState, Scope, State, PNP_NOTIFICATION};

/// Wait slice while things are settling: for [`SETTLE`] after start and after every change the
/// monitor waits in 1 s slices, then it blocks in `SCardGetStatusChange` with no timeout (only
/// `SCardCancel` or a change wakes it), so an idle daemon does not wake at all.
///
/// Why the slices: with pcsc-lite 1.9.9 a change that lands while a client is between two waits
/// (reading the states and registering for the next event) is sometimes not signalled; a 60 s
/// slice once left the snapshot without an insertion pcscd had reported (issue #12, 1 run in ~6 of
/// `legacy::http_variant_on_59001_and_59002`, where the card arrives just as the daemon starts).
/// Each new wait compares the states afresh, so slicing while changes are likely repairs that,
/// and a monitor that has been blocked for seconds is registered and cannot miss one.
const SETTLING_WAIT: Duration = Duration::from_secs(1);
/// How long after the last change the monitor keeps waiting in slices.
const SETTLE: Duration = Duration::from_secs(10);
/// Pause between attempts to reach a stopped PC/SC service.
const RETRY: Duration = Duration::from_millis(250);

/// A change in PC/SC, as subscribers see it (reader names only, never card data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// pcscd is reachable (again).
    PcscUp,
    /// pcscd went away.
    PcscDown,
    /// A reader was plugged in.
    ReaderAdded {
        /// Its name.
        reader: String,
    },
    /// A reader was unplugged.
    ReaderRemoved {
        /// Its name.
        reader: String,
    },
    /// `event_count` is the reader's insertion counter: with the ATR it names this insertion.
    CardInserted {
        /// The reader.
        reader: String,
        /// The card's answer to reset.
        atr: Vec<u8>,
        /// The reader's event counter at this insertion.
        event_count: u32,
    },
    /// A card was taken out.
    CardRemoved {
        /// The reader.
        reader: String,
    },
}

/// Where the monitor publishes. Implemented for tokio's broadcast and unbounded mpsc senders.
pub trait EventSink: Send + 'static {
    /// Delivers one event; must not block.
    fn publish(&self, event: ReaderEvent);
}

impl EventSink for tokio::sync::broadcast::Sender<ReaderEvent> {
    fn publish(&self, event: ReaderEvent) {
        // No subscriber is not an error: events are state changes, not work items.
        let _ = self.send(event);
    }
}

impl EventSink for tokio::sync::mpsc::UnboundedSender<ReaderEvent> {
    fn publish(&self, event: ReaderEvent) {
        let _ = self.send(event);
    }
}

struct Shared {
    stop: AtomicBool,
    /// The context the thread is blocked on, so `stop` can cancel the wait.
    ctx: Mutex<Option<Context>>,
    /// Wakes the retry pause early on stop.
    pause: (Mutex<()>, Condvar),
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn set_ctx(&self, ctx: Option<Context>) {
        *self.ctx.lock().unwrap_or_else(|p| p.into_inner()) = ctx;
    }

    fn pause(&self, d: Duration) {
        let guard = self.pause.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .pause
            .1
            .wait_timeout_while(guard, d, |_| !self.stopping());
    }
}

/// A running monitor thread. Dropping it stops the thread.
pub struct Monitor {
    shared: Arc<Shared>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Starts the monitor thread, publishing to `sink`.
    pub fn spawn(sink: impl EventSink) -> std::io::Result<Monitor> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            ctx: Mutex::new(None),
            pause: (Mutex::new(()), Condvar::new()),
        });
        let (done_tx, done) = mpsc::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("reader-monitor".into())
            .spawn(move || {
                run(&thread_shared, &sink);
                let _ = done_tx.send(());
            })?;
        Ok(Monitor {
            shared,
            done,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits up to `timeout` for it; returns whether it ended in time.
    pub fn stop(mut self, timeout: Duration) -> bool {
        self.stop_within(timeout)
    }

    fn stop_within(&mut self, timeout: Duration) -> bool {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(ctx) = self
            .shared
            .ctx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            let _ = ctx.cancel();
        }
        self.shared.pause.1.notify_all();
        let ended = self.done.recv_timeout(timeout).is_ok();
        if ended {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        ended
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_within(Duration::from_secs(2));
        }
    }
}

#[derive(Clone, Copy)]
struct Known {
    present: bool,
    event_count: u32,
}

fn run(shared: &Shared, sink: &dyn EventSink) {
    let mut known: HashMap<String, Known> = HashMap::new();
    let mut up: Option<bool> = None;
    while !shared.stopping() {
        let ctx = match Context::establish(Scope::User) {
            Ok(ctx) => ctx,
            Err(e) => {
                if up != Some(false) {
                    log::warn!("PC/SC service unavailable: {e}");
                    service_down(&mut known, sink);
                    up = Some(false);
                }
                shared.pause(RETRY);
                continue;
            }
        };
        shared.set_ctx(Some(ctx.clone()));
        if shared.stopping() {
            break;
        }
        if up != Some(true) {
            log::info!("PC/SC service available");
            sink.publish(ReaderEvent::PcscUp);
            up = Some(true);
        }
        let lost = watch(&ctx, shared, &mut known, sink);
        shared.set_ctx(None);
        if lost {
            // Whether the service is really gone is for the next establish to say: a failure
            // there reports PcscDown; a success carries on with what is known.
            log::info!("PC/SC context lost; re-establishing");
        }
    }
    shared.set_ctx(None);
}

fn service_down(known: &mut HashMap<String, Known>, sink: &dyn EventSink) {
    sink.publish(ReaderEvent::PcscDown);
    let mut names: Vec<(String, Known)> = known.drain().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (reader, k) in names {
        if k.present {
            sink.publish(ReaderEvent::CardRemoved {
                reader: reader.clone(),
            });
        }
        sink.publish(ReaderEvent::ReaderRemoved { reader });
    }
}

/// Watches until stopped (returns false) or the context fails (returns true).
fn watch(
    ctx: &Context,
    shared: &Shared,
    known: &mut HashMap<String, Known>,
    sink: &dyn EventSink,
) -> bool {
    // Index 0 is the PnP pseudo reader; the rest follow the reader list. States persist across
    // waits so pcscd can compare event counters and report a remove+insert between two waits.
    let mut states: Vec<ReaderState> = vec![ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)];
    let mut relist = true;
    let mut last_change = Instant::now();
    loop {
        if shared.stopping() {
            return false;
        }
        if relist {
            let names = match ctx.list_readers_owned() {
                Ok(names) => names,
                Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
                Err(e) => {
                    log::debug!("listing readers failed: {e}");
                    return true;
                }
            };
            let names: Vec<String> = names
                .into_iter()
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            let mut gone_readers: Vec<String> = known
                .keys()
                .filter(|k| !names.contains(k))
                .cloned()
                .collect();
            gone_readers.sort();
            for reader in gone_readers {
                if known.remove(&reader).is_some_and(|k| k.present) {
                    sink.publish(ReaderEvent::CardRemoved {
                        reader: reader.clone(),
                    });
                }
                sink.publish(ReaderEvent::ReaderRemoved { reader });
            }
            let mut old: Vec<ReaderState> = states.drain(1..).collect();
            for name in &names {
                if !known.contains_key(name) {
                    known.insert(
                        name.clone(),
                        Known {
                            present: false,
                            event_count: 0,
                        },
                    );
                    sink.publish(ReaderEvent::ReaderAdded {
                        reader: name.clone(),
                    });
                }
                let kept = old
                    .iter()
                    .position(|s| s.name().to_string_lossy() == name.as_str())
                    .map(|i| old.swap_remove(i));
                match (kept, CString::new(name.as_str())) {
                    (Some(s), _) => states.push(s),
                    (None, Ok(c)) => states.push(ReaderState::new(c, State::UNAWARE)),
                    (None, Err(_)) => {}
                }
            }
            relist = false;
        }

        let wait = (last_change.elapsed() < SETTLE).then_some(SETTLING_WAIT);
        match ctx.get_status_change(wait, &mut states) {
            Ok(()) => last_change = Instant::now(),
            Err(pcsc::Error::Timeout) => continue,
            Err(pcsc::Error::Cancelled) => return false,
            Err(pcsc::Error::UnknownReader) => {
                relist = true;
                continue;
            }
            Err(e) => {
                if !super::service_gone(e) {
                    log::debug!("SCardGetStatusChange failed: {e}");
                    // Do not spin on a persistent error with a service that is still up.
                    shared.pause(RETRY);
                }
                return true;
            }
        }

        for (i, s) in states.iter_mut().enumerate() {
            let event = s.event_state();
            if i == 0 {
                if event.contains(State::CHANGED) {
                    relist = true;
                }
            } else {
                if event.contains(State::UNKNOWN) || event.contains(State::UNAVAILABLE) {
                    relist = true;
                }
                card_transition(s, known, sink);
            }
            s.sync_current_state();
        }
    }
}

fn card_transition(s: &ReaderState, known: &mut HashMap<String, Known>, sink: &dyn EventSink) {
    let reader = s.name().to_string_lossy().into_owned();
    let Some(k) = known.get_mut(&reader) else {
        return;
    };
    let event = s.event_state();
    let present = event.contains(State::PRESENT) && !event.contains(State::MUTE);
    let count = s.event_count();
    // A changed counter with a card present means it was swapped between two waits.
    let swapped = k.present && present && count != k.event_count && k.event_count != 0;
    if k.present && (!present || swapped) {
        sink.publish(ReaderEvent::CardRemoved {
            reader: reader.clone(),
        });
    }
    if present && (!k.present || swapped) {
        sink.publish(ReaderEvent::CardInserted {
            reader,
            atr: s.atr().to_vec(),
            event_count: count,
        });
    }
    k.present = present;
    k.event_count = count;
}
