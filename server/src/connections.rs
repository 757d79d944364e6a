//! Accepting and keeping connections, plain or TLS, with the limits a
//! public listener needs: a cap on open connections (a clear 503 beyond
//! it), a deadline for the TLS handshake and for each request's header, an
//! idle limit for connections that carry no request, and a graceful stop
//! that lets requests in flight finish.
//!
//! hyper serves each connection (HTTP/1.1, and HTTP/2 where TLS's ALPN
//! chose it). Every connection is also watched: it is closed when no
//! request has been in flight for `idle_timeout` (an HTTP/2 client that
//! never finishes a HEADERS frame, a keep-alive connection left open), or
//! when nothing has moved in either direction for `idle_timeout` (a client
//! that stops reading its answer).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; more are refused with a 503 at once.
    pub max_connections: usize,
    /// A request's header (and a TLS handshake) must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight, or with nothing moving, is
    /// closed after this.
    pub idle_timeout: Duration,
}

/// What the server answers, raw, to a connection beyond the cap on the
/// plain listener (over TLS the connection is closed: it has no handshake
/// to spend on a refusal).
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nContent-Length: 41\r\nConnection: close\r\n\r\ntoo many connections; try again shortly\r\n";

/// Open connections, for the metrics.
#[derive(Debug, Default)]
pub struct ConnectionCount(AtomicUsize);

impl ConnectionCount {
    /// Connections open now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Serves `app` on `listener` until `stop` resolves; then accepts no more,
/// lets every open connection finish its requests (HTTP/2 gets a GOAWAY,
/// idle HTTP/1.1 connections are closed) and returns once they are done or
/// `grace` has passed, whichever is first. `true` when every connection
/// finished in time.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: Limits,
    open: Arc<ConnectionCount>,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> bool {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    // Plain HTTP is HTTP/1.1 only (browsers speak HTTP/2 over TLS alone),
    // and over TLS the handshake's ALPN has chosen: no connection waits to
    // have its first bytes sniffed for HTTP/2's preface.
    let builders = Builders {
        http1: Arc::new(builder.clone().http1_only()),
        http2: Arc::new(builder.http2_only()),
    };
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before
                    // it was taken: wait a moment rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics::counter!("kaisen_connections_refused_total").increment(1);
            if tls.is_none() {
                // Best effort, never waiting: the refusal fits in the
                // socket's send buffer.
                let _ = stream.try_write(REFUSAL);
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            builders: builders.clone(),
            app: app.clone(),
            peer,
            limits,
            open: open.clone(),
        };
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            connection.run(stream, tls, watcher, permit).await;
        });
    }
    drop(listener);
    tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_ok()
}

/// hyper's connection builders, one per protocol.
#[derive(Clone)]
struct Builders {
    http1: Arc<auto::Builder<TokioExecutor>>,
    http2: Arc<auto::Builder<TokioExecutor>>,
}

/// One accepted connection.
struct Connection {
    builders: Builders,
    app: Router,
    peer: SocketAddr,
    limits: Limits,
    open: Arc<ConnectionCount>,
}

impl Connection {
    async fn run(
        self,
        stream: TcpStream,
        tls: Option<TlsAcceptor>,
        watcher: hyper_util::server::graceful::Watcher,
        _permit: OwnedSemaphorePermit,
    ) {
        self.open.0.fetch_add(1, Ordering::Relaxed);
        let activity = Activity::new();
        let stream = Watched {
            inner: stream,
            activity: activity.clone(),
        };
        match tls {
            None => {
                let builder = self.builders.http1.clone();
                self.serve(&builder, stream, watcher, activity).await;
            }
            Some(tls) => {
                let deadline = self.limits.header_read_timeout;
                match tokio::time::timeout(deadline, tls.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                        let builder = if h2 {
                            self.builders.http2.clone()
                        } else {
                            self.builders.http1.clone()
                        };
                        self.serve(&builder, stream, watcher, activity).await;
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            }
        }
        self.open.0.fetch_sub(1, Ordering::Relaxed);
    }

    async fn serve<I>(
        &self,
        builder: &auto::Builder<TokioExecutor>,
        io: I,
        watcher: hyper_util::server::graceful::Watcher,
        activity: Activity,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let app = self.app.clone();
        let requests = activity.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let guard = requests.request_started();
            let app = app.clone();
            async move {
                let response = app.oneshot(request.map(axum::body::Body::new)).await;
                drop(guard);
                Ok::<_, Infallible>(response.unwrap_or_else(|e| match e {}))
            }
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        let connection = watcher.watch(connection.into_owned());
        tokio::select! {
            outcome = connection => {
                if let Err(error) = outcome {
                    tracing::debug!(%error, "connection ended with an error");
                }
            }
            () = activity.idle(self.limits.idle_timeout) => {
                tracing::debug!(%peer, "idle connection closed");
            }
        }
    }
}

/// When a connection last moved a byte and last had a request in flight.
#[derive(Clone)]
struct Activity(Arc<ActivityInner>);

struct ActivityInner {
    start: Instant,
    /// Milliseconds since `start` of the last byte read or written.
    last_io: AtomicU64,
    /// Milliseconds since `start` at which the last request ended (or the
    /// connection opened).
    last_request: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self(Arc::new(ActivityInner {
            start: Instant::now(),
            last_io: AtomicU64::new(0),
            last_request: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }))
    }

    fn now(&self) -> u64 {
        u64::try_from(self.0.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touched(&self) {
        self.0.last_io.store(self.now(), Ordering::Relaxed);
    }

    fn request_started(&self) -> RequestGuard {
        self.0.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestGuard(self.clone())
    }

    /// Resolves once the connection has been idle for `limit`: no byte
    /// moved, or no request in flight, for that long.
    async fn idle(&self, limit: Duration) {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        loop {
            let now = self.now();
            let quiet_io = now.saturating_sub(self.0.last_io.load(Ordering::Relaxed));
            let no_request = if self.0.in_flight.load(Ordering::Relaxed) == 0 {
                now.saturating_sub(self.0.last_request.load(Ordering::Relaxed))
            } else {
                0
            };
            let idle = quiet_io.max(no_request);
            if idle >= limit_ms {
                return;
            }
            tokio::time::sleep(Duration::from_millis(limit_ms - idle)).await;
        }
    }
}

/// Marks a request in flight while alive.
struct RequestGuard(Activity);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .0
            .last_request
            .store(activity.now(), Ordering::Relaxed);
        activity.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that records when it last moved a byte.
struct Watched<S> {
    inner: S,
    activity: Activity,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touched();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touched();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touched();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The TLS acceptor for `--tls-cert` / `--tls-key`: rustls with ring,
/// offering HTTP/2 and HTTP/1.1.
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let named = |e: &dyn std::fmt::Display| {
        format!(
            "cannot load --tls-cert {} / --tls-key {}: {e}",
            cert.display(),
            key.display()
        )
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| named(&e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| named(&e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| named(&e))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| named(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
