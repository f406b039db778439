//! The loopback TLS listener: binds 127.0.0.1 and ::1 only (no option widens it), accepts with a
//! cap on concurrent connections, bounds the TLS handshake, header reads and idle keep-alive time,
//! and serves the API's warp filter over HTTP/1.1 (with upgrades, for WebSockets) on hyper.
//! Shutdown stops accepting at once and gives open connections a bounded time to finish.

pub mod port;

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use openssl::ssl::{Ssl, SslAcceptor};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::capacity::{Budget, Capacity, Connection};
use tokio_openssl::SslStream;
use warp::reply::Response;
use warp::Filter;

/// How many connections are served, and for how long.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once (see `capacity` for the long-lived share).
    pub max_connections: usize,
    /// Longest a TLS handshake or a request's headers may take.
    pub header_timeout: Duration,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// How long open connections may take to finish after shutdown starts.
    pub drain_timeout: Duration,
}

/// Why a port could not be listened on.
#[derive(Debug, Error)]
pub enum BindError {
    /// Another program listens there (often the old NHI component).
    #[error("port {port} is already in use by {holder}")]
    InUse {
        /// The port.
        port: u16,
        /// Who holds it, as far as the system says.
        holder: String,
    },
    /// Any other failure.
    #[error("cannot listen on {addr}: {source}")]
    Other {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Binds 127.0.0.1:port, and [::1]:port where the machine has IPv6 loopback.
pub async fn bind(port: u16) -> Result<Vec<TcpListener>, BindError> {
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let in_use = |port| BindError::InUse {
        port,
        holder: match port::holder(port) {
            Some((pid, cmd)) => format!("process {pid} ({cmd})"),
            None => "another program".into(),
        },
    };
    let first = TcpListener::bind(v4)
        .await
        .map_err(|source| match source.kind() {
            io::ErrorKind::AddrInUse => in_use(port),
            _ => BindError::Other { addr: v4, source },
        })?;
    // With port 0 the system picks one; ::1 then takes the same number.
    let port = first.local_addr().map(|a| a.port()).unwrap_or(port);
    let mut listeners = vec![first];
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
    match TcpListener::bind(v6).await {
        Ok(l) => listeners.push(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(in_use(port)),
        Err(e) => log::info!("not listening on {v6}: {e}"),
    }
    Ok(listeners)
}

/// What a connection is doing, for its one timer: the last byte moved, whether a request's head
/// is arriving (since when), and how many requests are being answered.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    /// 0: no head arriving; else 1 + the ms at which its first byte came.
    head_since: AtomicU64,
    in_flight: AtomicU64,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// When the connection must close if nothing changes: `None` while a request is answered
    /// (its handler has its own deadline; an H_Sign may outlast the idle time).
    fn deadline(&self, limits: &Limits) -> Option<tokio::time::Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let at = |ms: u64, d: Duration| {
            tokio::time::Instant::from_std(self.epoch + Duration::from_millis(ms)) + d
        };
        Some(match self.head_since.load(Ordering::Relaxed) {
            0 => at(self.last_ms.load(Ordering::Relaxed), limits.idle_timeout),
            since => at(since - 1, limits.header_timeout),
        })
    }
}

/// A stream that reports its traffic to the connection's [`Activity`].
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    fn touch(&self, read: bool) {
        let a = &self.activity;
        let now = a.now_ms();
        a.last_ms.store(now, Ordering::Relaxed);
        // The first byte of a new request starts the header clock.
        if read && a.in_flight.load(Ordering::Relaxed) == 0 {
            let _ = a
                .head_since
                .compare_exchange(0, now + 1, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch(true);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch(false);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One listening socket with what it serves: TLS (with this acceptor) or plain HTTP.
pub struct Binding<F> {
    /// The listening socket.
    pub listener: TcpListener,
    /// TLS for this listener; `None` for plain HTTP (the legacy port).
    pub tls: Option<Arc<SslAcceptor>>,
    /// What it serves.
    pub filter: F,
}

impl<F: Clone> Binding<F> {
    /// One binding per listener, all serving `filter` (with TLS when `tls` is given).
    pub fn all(
        listeners: Vec<TcpListener>,
        tls: Option<Arc<SslAcceptor>>,
        filter: F,
    ) -> Vec<Binding<F>> {
        listeners
            .into_iter()
            .map(|listener| Binding {
                listener,
                tls: tls.clone(),
                filter: filter.clone(),
            })
            .collect()
    }
}

/// Serves until `shutdown` turns true, then drains within `limits.drain_timeout`. All bindings
/// share one connection cap: exactly `limits.max_connections` connections are served at once,
/// whatever the number of listeners (one accept loop waits for a slot, then for any listener).
pub async fn serve<F>(
    bindings: Vec<Binding<F>>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let capacity = Capacity::new(Budget::for_connections(limits.max_connections));
    let mut storm = AcceptStorm::default();
    let mut next = 0usize;
    loop {
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            r = accept_any(&bindings, next) => r,
        };
        next = next.wrapping_add(1);
        let (index, tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                drop(permit);
                if let Some(pause) = storm.failed(&e) {
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
                continue;
            }
        };
        storm.succeeded();
        if !peer.ip().is_loopback() {
            // Cannot happen on a loopback socket; refuse rather than trust it.
            continue;
        }
        let Some(b) = bindings.get(index) else {
            continue;
        };
        let conn = Connection::new(
            permit,
            capacity.clone(),
            limits.idle_timeout,
            limits.header_timeout.min(FIRST_MESSAGE_TIMEOUT),
        );
        tokio::spawn(connection(
            tcp,
            b.tls.clone(),
            b.filter.clone(),
            limits.clone(),
            conn,
            shutdown.clone(),
        ));
    }
    // Every connection holds a slot: when all slots are back, every connection has ended.
    let all = limits.max_connections as u32;
    if tokio::time::timeout(limits.drain_timeout, slots.acquire_many(all))
        .await
        .is_err()
    {
        log::warn!(
            "some connections did not finish within {:?}",
            limits.drain_timeout
        );
    }
}

/// A refused WebSocket's deadline for the command it is answered `4041` to.
pub const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// The first ready listener, starting the search at `start` so no listener starves the others.
async fn accept_any<F>(
    bindings: &[Binding<F>],
    start: usize,
) -> io::Result<(usize, TcpStream, SocketAddr)> {
    std::future::poll_fn(|cx| {
        let n = bindings.len();
        for k in 0..n {
            let i = (start + k) % n;
            if let Poll::Ready(r) = bindings[i].listener.poll_accept(cx) {
                return Poll::Ready(r.map(|(tcp, peer)| (i, tcp, peer)));
            }
        }
        Poll::Pending
    })
    .await
}

/// Accept failures: errors about one connection are skipped; running out of descriptors or
/// memory backs off (doubling up to [`AcceptStorm::MAX_PAUSE`]) so the loop cannot spin, and a
/// storm is logged once when it starts (and once a minute while it lasts) and once when it ends.
#[derive(Default)]
struct AcceptStorm {
    failures: u64,
    since: Option<Instant>,
    last_report: Option<Instant>,
    pause: Duration,
}

impl AcceptStorm {
    const FIRST_PAUSE: Duration = Duration::from_millis(10);
    const MAX_PAUSE: Duration = Duration::from_secs(1);
    const REPORT_EVERY: Duration = Duration::from_secs(60);

    /// Records a failure; returns how long to pause before accepting again.
    fn failed(&mut self, e: &io::Error) -> Option<Duration> {
        if matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted
                | io::ErrorKind::WouldBlock
        ) {
            log::debug!("accept: {e}");
            return None;
        }
        self.failures += 1;
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        if self
            .last_report
            .is_none_or(|t| now.duration_since(t) >= Self::REPORT_EVERY)
        {
            if self.failures == 1 {
                log::warn!("accept failed: {e}; backing off until it succeeds again");
            } else {
                log::warn!(
                    "accept still failing: {e} ({} failures in {} s)",
                    self.failures,
                    now.duration_since(since).as_secs()
                );
            }
            self.last_report = Some(now);
        }
        self.pause = (self.pause * 2).clamp(Self::FIRST_PAUSE, Self::MAX_PAUSE);
        Some(self.pause)
    }

    fn succeeded(&mut self) {
        if let Some(since) = self.since.take() {
            log::warn!(
                "accepting again after {} failed attempts in {} ms",
                self.failures,
                since.elapsed().as_millis()
            );
        }
        *self = AcceptStorm::default();
    }
}

async fn connection<F>(
    tcp: TcpStream,
    acceptor: Option<Arc<SslAcceptor>>,
    filter: F,
    limits: Limits,
    conn: Connection,
    shutdown: watch::Receiver<bool>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return http(tcp, filter, limits, conn, shutdown).await;
    };
    let Ok(ssl) = Ssl::new(acceptor.context()) else {
        return;
    };
    let Ok(mut stream) = SslStream::new(ssl, tcp) else {
        return;
    };
    match tokio::time::timeout(limits.header_timeout, Pin::new(&mut stream).accept()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            log::debug!("TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            log::debug!("TLS handshake timed out");
            return;
        }
    }
    http(stream, filter, limits, conn, shutdown).await
}

/// Hands every request on one connection its [`Connection`] (slot, budgets, limits), and tells
/// the connection's [`Activity`] while a request is being answered.
#[derive(Clone)]
struct WithConnection<S> {
    inner: S,
    conn: Connection,
    activity: Arc<Activity>,
}

/// Counts one request in flight until its response is ready (or it is dropped).
struct InFlight<F> {
    inner: Pin<Box<F>>,
    activity: Arc<Activity>,
}

impl<F: std::future::Future> std::future::Future for InFlight<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<F> Drop for InFlight<F> {
    fn drop(&mut self) {
        self.activity.in_flight.fetch_sub(1, Ordering::Relaxed);
        // The response is written from here on: that is traffic, and the idle clock restarts.
        let now = self.activity.now_ms();
        self.activity.last_ms.store(now, Ordering::Relaxed);
    }
}

impl<S, B> tower_service::Service<http::Request<B>> for WithConnection<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InFlight<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.conn.clone());
        // The head is in: the header clock stops, the request is answered.
        self.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        self.activity.head_since.store(0, Ordering::Relaxed);
        InFlight {
            inner: Box::pin(self.inner.call(req)),
            activity: self.activity.clone(),
        }
    }
}

/// HTTP/1.1 on an established stream, with one timer and graceful shutdown. The timer closes the
/// connection when a request's head takes longer than `header_timeout` to arrive, or when it is
/// idle (no request, no byte) for `idle_timeout` — a kept-alive connection lasts `idle_timeout`,
/// not the header timeout — and never while a request is being answered. After a WebSocket
/// upgrade this returns, and the session (holding a clone of `conn`) keeps the slot.
async fn http<S, F>(
    stream: S,
    filter: F,
    limits: Limits,
    conn: Connection,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let activity = Arc::new(Activity {
        epoch: Instant::now(),
        last_ms: AtomicU64::new(0),
        head_since: AtomicU64::new(1),
        in_flight: AtomicU64::new(0),
    });
    let tracked = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    let service = TowerToHyperService::new(WithConnection {
        inner: warp::service(filter),
        conn,
        activity: activity.clone(),
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Our timer does it, for the head only: hyper's would also cut the keep-alive wait.
        .header_read_timeout(None)
        .keep_alive(true)
        .serve_connection(TokioIo::new(tracked), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    // One timer per connection, set to the moment the connection would be due: it fires once
    // per period, not on a fixed tick, and traffic only moves the deadline.
    let recheck = || tokio::time::Instant::now() + limits.idle_timeout;
    let sleep = tokio::time::sleep_until(activity.deadline(&limits).unwrap_or_else(recheck));
    let mut sleep = std::pin::pin!(sleep);
    let mut draining = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    log::debug!("connection ended: {e}");
                }
                return;
            }
            _ = shutdown.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = sleep.as_mut() => {
                match activity.deadline(&limits) {
                    Some(due) if due <= tokio::time::Instant::now() => {
                        log::debug!("closing a connection: idle, or its request head too slow");
                        return;
                    }
                    Some(due) => sleep.as_mut().reset(due),
                    None => sleep.as_mut().reset(recheck()),
                }
            }
        }
    }
}
