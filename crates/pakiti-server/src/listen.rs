//! Serving connections without letting one client hold them all: a cap on open connections
//! per client address and in all ([`ConnGuards`]), and a header read timeout that also closes
//! idle keep-alive connections ([`http1`]). The request body timeout is in
//! [`crate::limits::read_body`] (reports) and the router (every other body).
//!
//! [`serve`] is the plain-TCP accept loop. A listener with another transport (TLS) uses the
//! same pieces per accepted connection:
//!
//! ```text
//! let guards = ConnGuards::new(&state.settings.limits);
//! loop {
//!     let (tcp, peer) = listener.accept().await?;
//!     let Some(permit) = guards.admit(peer.ip()) else { refuse(&tcp); continue };
//!     let io = /* the TLS handshake, under a timeout */;
//!     tokio::spawn(serve_connection(io, peer, app.clone(), &state.settings.limits, permit));
//! }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::limits::Limits;

/// Open connections per client address and in all.
#[derive(Debug)]
pub struct ConnGuards {
    open: Mutex<Open>,
    per_address: usize,
    total: usize,
}

#[derive(Debug, Default)]
struct Open {
    by_address: HashMap<IpAddr, usize>,
    total: usize,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnPermit {
    guards: Arc<ConnGuards>,
    ip: IpAddr,
}

impl ConnGuards {
    /// Guards sized by `limits.max_connections_per_address` and `limits.max_connections`.
    #[must_use]
    pub fn new(limits: &Limits) -> Arc<Self> {
        Arc::new(ConnGuards {
            open: Mutex::default(),
            per_address: limits.max_connections_per_address.max(1),
            total: limits.max_connections.max(1),
        })
    }

    /// Admits a connection from `ip`, or `None` when that address (or everyone) already holds
    /// as many as allowed: the caller drops the connection at once.
    #[must_use]
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnPermit> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.total >= self.total {
            return None;
        }
        let n = open.by_address.entry(ip).or_default();
        if *n >= self.per_address {
            return None;
        }
        *n += 1;
        open.total += 1;
        Some(ConnPermit {
            guards: self.clone(),
            ip,
        })
    }

    /// Connections open now from `ip`.
    #[must_use]
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.by_address.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut open = self
            .guards
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

/// The HTTP/1.1 connection settings every listener uses: a client that does not send a
/// request's headers within `limits.header_read_timeout_secs` (including an idle keep-alive
/// connection waiting for its next request) is disconnected.
#[must_use]
pub fn http1(limits: &Limits) -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        .keep_alive(true);
    b
}

/// Serves one accepted connection (plain or TLS) with `app`, holding `permit` until it closes.
/// Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    permit: ConnPermit,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = http1(limits).serve_connection(TokioIo::new(io), service(app, peer));
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
    drop(permit);
}

/// `app` as a hyper service that tells handlers who the peer is (for a listener that drives
/// `http1(limits).serve_connection(io, service(app, peer))` itself, e.g. to watch it for a
/// graceful shutdown).
pub fn service(
    app: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    axum::http::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: axum::http::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req.map(axum::body::Body::new))
    })
}

/// Binds a listener whose accept queue holds `backlog` connections (the kernel caps it at
/// `net.core.somaxconn`). `TcpListener::bind` asks for 1,024: a burst of more simultaneous
/// connects than that overflows the queue, and the kernel resets the connections that did
/// not fit before the server ever sees them, so their agents get no answer, not even a 503
/// (issue #15 load test, 2,000 agents at once).
///
/// # Errors
/// The address cannot be bound.
pub fn bind(addr: SocketAddr, backlog: usize) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(u32::try_from(backlog).unwrap_or(u32::MAX).max(1_024))
}

/// Raises this process's soft limit on open files to its hard limit (1,024 by default on many
/// systems, below `limits.max_connections`): a server that runs out of descriptors refuses
/// connections it has room for. Logged; a failure is only a warning.
pub fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(open_files = n, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
}

/// What a connection over the caps is told before it is closed (best effort, never waited
/// for): agents then retry later instead of seeing a bare reset.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\n\
    Content-Type: text/plain\r\nContent-Length: 51\r\nConnection: close\r\n\r\n\
    ERROR: too many open connections; try again later\n\n";

/// Answers an over-the-cap connection 503 without reading it, then closes it.
pub fn refuse(tcp: &tokio::net::TcpStream) {
    let _ = tcp.try_write(BUSY);
}

/// Accepts plain TCP connections on `listener` and serves `app` on each, within the
/// connection caps and timeouts of `limits`, until `shutdown` completes; then waits for the
/// requests in progress to finish.
///
/// # Errors
/// The listener fails (not a single failed accept, which is logged and survived: running out
/// of file descriptors must not stop the server).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guards = ConnGuards::new(&limits);
    let limits = Arc::new(limits);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: pause instead of spinning, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(permit) = guards.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open connections");
            refuse(&tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let conn = http1(&limits).serve_connection(TokioIo::new(tcp), service(app.clone(), peer));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_in_all() {
        let limits = Limits {
            max_connections_per_address: 2,
            max_connections: 3,
            ..Limits::default()
        };
        let g = ConnGuards::new(&limits);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let p1 = g.admit(a).unwrap();
        let _p2 = g.admit(a).unwrap();
        assert!(g.admit(a).is_none());
        let _p3 = g.admit(b).unwrap();
        assert!(g.admit(b).is_none(), "total cap");
        drop(p1);
        assert_eq!(g.open_from(a), 1);
        assert!(g.admit(a).is_some());
    }
}
