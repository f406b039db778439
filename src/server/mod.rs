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
use tokio_openssl::SslStream;
use warp::reply::Response;
use warp::Filter;

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// How long open connections may take to finish after shutdown starts.
    pub drain_timeout: Duration,
}

#[derive(Debug, Error)]
pub enum BindError {
    #[error("port {port} is already in use by {holder}")]
    InUse { port: u16, holder: String },
    #[error("cannot listen on {addr}: {source}")]
    Other {
        addr: SocketAddr,
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

/// A stream that remembers when it last moved a byte, for the idle timeout.
struct Tracked<S> {
    inner: S,
    epoch: Instant,
    last: Arc<AtomicU64>,
}

impl<S> Tracked<S> {
    fn touch(&self) {
        self.last
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
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
            self.touch();
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
            self.touch();
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
    pub listener: TcpListener,
    pub tls: Option<Arc<SslAcceptor>>,
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
/// share one connection cap.
pub async fn serve<F>(bindings: Vec<Binding<F>>, limits: Limits, shutdown: watch::Receiver<bool>)
where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut tasks = tokio::task::JoinSet::new();
    for b in bindings {
        tasks.spawn(accept_loop(
            b.listener,
            b.tls,
            b.filter,
            limits.clone(),
            slots.clone(),
            shutdown.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
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

async fn accept_loop<F>(
    listener: TcpListener,
    acceptor: Option<Arc<SslAcceptor>>,
    filter: F,
    limits: Limits,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    loop {
        // Wait for a free slot first: past the cap, connections queue in the kernel's backlog.
        let permit = tokio::select! {
            _ = shutdown.changed() => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (tcp, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        if !peer.ip().is_loopback() {
            // Cannot happen on a loopback socket; refuse rather than trust it.
            continue;
        }
        let acceptor = acceptor.clone();
        let filter = filter.clone();
        let limits = limits.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection(tcp, acceptor, filter, limits, shutdown).await;
            drop(permit);
        });
    }
}

async fn connection<F>(
    tcp: TcpStream,
    acceptor: Option<Arc<SslAcceptor>>,
    filter: F,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = acceptor else {
        return http(tcp, filter, limits, shutdown).await;
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
    http(stream, filter, limits, shutdown).await
}

/// HTTP/1.1 on an established stream, with the idle watchdog and graceful shutdown.
async fn http<S, F>(stream: S, filter: F, limits: Limits, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let last = Arc::new(AtomicU64::new(0));
    let tracked = Tracked {
        inner: stream,
        epoch: Instant::now(),
        last: last.clone(),
    };
    let epoch = tracked.epoch;
    let service = TowerToHyperService::new(warp::service(filter));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(tracked), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let idle_ms = limits.idle_timeout.as_millis() as u64;
    let mut tick = tokio::time::interval(Duration::from_millis((idle_ms / 4).clamp(50, 1000)));
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
            _ = tick.tick() => {
                let quiet = epoch.elapsed().as_millis() as u64 - last.load(Ordering::Relaxed);
                if quiet > idle_ms {
                    log::debug!("closing a connection idle for {quiet} ms");
                    return;
                }
            }
        }
    }
}
