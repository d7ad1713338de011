//! Which TCP connections the gNMI server serves.
//!
//! gRPC carries credentials with every RPC, so a connection "logs in" with
//! its first RPC that authenticates. Until then it waits in
//! [`PreAuth`] (NETCONF's mechanism): more than [`Limits::waiting`] such
//! connections push the oldest out, and one that has not logged in within
//! [`Limits::grace`] is closed. Idle sockets, or clients stuck in the TLS
//! handshake, so never hold more than a few descriptors, and a real client
//! gets in however many an attacker opens. At most
//! [`Limits::connections`] connections are open at once; more are closed
//! as they are accepted.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use ocbgp_models::pre_auth::PreAuth;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Sleep;
use tokio_stream::Stream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How many connections the server keeps, and for how long before login.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most, logged in or not.
    pub connections: usize,
    /// Connections waiting for their first authenticated RPC at most.
    pub waiting: usize,
    /// How long a connection may wait for it.
    pub grace: Duration,
}

impl Default for Limits {
    /// NETCONF's: 32 waiting, 30 s to log in; 256 connections.
    fn default() -> Limits {
        Limits {
            connections: 256,
            waiting: 32,
            grace: Duration::from_secs(30),
        }
    }
}

/// A connection's place among those waiting to log in: its receiver from
/// [`PreAuth`], dropped (leaving it) at login.
type Place = Arc<Mutex<Option<oneshot::Receiver<()>>>>;

/// The places of the open connections, by (local, remote) address: the
/// RPC that authenticates knows its connection only by those.
type Logins = Mutex<HashMap<(SocketAddr, SocketAddr), Place>>;

fn logins() -> &'static Logins {
    static LOGINS: std::sync::OnceLock<Logins> = std::sync::OnceLock::new();
    LOGINS.get_or_init(Default::default)
}

/// Marks the connection between `local` and `remote` as logged in: it
/// leaves the waiting connections and its grace time ends.
pub(crate) fn logged_in(local: Option<SocketAddr>, remote: Option<SocketAddr>) {
    let (Some(local), Some(remote)) = (local, remote) else {
        return;
    };
    let place = logins()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(local, remote))
        .cloned();
    if let Some(place) = place {
        place.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The accepted connections, as tonic's server takes them.
pub struct Incoming {
    listener: TcpListener,
    limits: Limits,
    open: Arc<AtomicUsize>,
    waiting: Arc<PreAuth>,
}

impl Incoming {
    /// Admits connections accepted on `listener` within `limits`.
    pub fn new(listener: TcpListener, limits: Limits) -> Incoming {
        Incoming {
            listener,
            limits,
            open: Arc::new(AtomicUsize::new(0)),
            waiting: Arc::new(PreAuth::new(limits.waiting)),
        }
    }

    fn admit(&self, stream: TcpStream) -> io::Result<Admitted> {
        let _ = stream.set_nodelay(true);
        let info = stream.connect_info();
        let (Some(local), Some(remote)) = (info.local_addr, info.remote_addr) else {
            return Err(io::Error::other("accepted a socket without addresses"));
        };
        let place: Place = Arc::new(Mutex::new(Some(self.waiting.admit())));
        logins()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((local, remote), place.clone());
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(Admitted {
            stream,
            info,
            waiting: Some(Waiting {
                place,
                deadline: Box::pin(tokio::time::sleep(self.limits.grace)),
            }),
            open: self.open.clone(),
        })
    }
}

impl Stream for Incoming {
    type Item = io::Result<Admitted>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let (stream, peer) = match self.listener.poll_accept(cx) {
                Poll::Ready(Ok(accepted)) => accepted,
                // tonic logs and goes on (out of descriptors and the like).
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                Poll::Pending => return Poll::Pending,
            };
            if self.open.load(Ordering::Relaxed) >= self.limits.connections {
                tracing::warn!(%peer, limit = self.limits.connections, "gNMI connection refused: too many connections");
                continue;
            }
            return Poll::Ready(Some(self.admit(stream)));
        }
    }
}

/// A connection until its first authenticated RPC.
struct Waiting {
    /// Its receiver fires when newer connections push this one out.
    place: Place,
    deadline: Pin<Box<Sleep>>,
}

/// An admitted connection: reads end (as if the client had closed) once
/// it must go, which makes the server drop it.
pub struct Admitted {
    stream: TcpStream,
    info: TcpConnectInfo,
    /// `None` once logged in.
    waiting: Option<Waiting>,
    open: Arc<AtomicUsize>,
}

impl Admitted {
    /// Whether the connection must be closed now (and why), registering
    /// the task to be woken when it must.
    fn must_go(&mut self, cx: &mut Context<'_>) -> Option<&'static str> {
        let w = self.waiting.as_mut()?;
        let pushed_out = w
            .place
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .map(|evicted| Pin::new(evicted).poll(cx).is_ready());
        let Some(pushed_out) = pushed_out else {
            // Logged in.
            self.waiting = None;
            return None;
        };
        if pushed_out {
            return Some("pushed out by newer connections not logged in");
        }
        if w.deadline.as_mut().poll(cx).is_ready() {
            return Some("no authenticated RPC in time");
        }
        None
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        if let (Some(local), Some(remote)) = (self.info.local_addr, self.info.remote_addr) {
            logins()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(local, remote));
        }
    }
}

impl Connected for Admitted {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(why) = self.must_go(cx) {
            tracing::info!(peer = ?self.info.remote_addr, "gNMI connection closed: {why}");
            // Nothing read: the end of the stream.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio_stream::StreamExt;

    async fn pair(incoming: &mut Incoming) -> (TcpStream, Admitted) {
        let client = TcpStream::connect(incoming.listener.local_addr().unwrap())
            .await
            .unwrap();
        let server = incoming.next().await.unwrap().unwrap();
        (client, server)
    }

    /// Reads on the server side end without data within `limit`.
    async fn ends(server: &mut Admitted, limit: Duration) -> bool {
        let mut buf = [0u8; 16];
        matches!(
            tokio::time::timeout(limit, server.read(&mut buf)).await,
            Ok(Ok(0))
        )
    }

    #[tokio::test]
    async fn waiting_connections_go_after_the_grace_time_or_when_pushed_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limits = Limits {
            connections: 8,
            waiting: 2,
            grace: Duration::from_millis(300),
        };
        let mut incoming = Incoming::new(listener, limits);
        let (_a, mut a) = pair(&mut incoming).await;
        let (_b, mut b) = pair(&mut incoming).await;
        // B logs in and leaves the waiting ones: C pushes out nobody, D
        // the oldest waiting, A, then C.
        logged_in(b.info.local_addr, b.info.remote_addr);
        let (_c, mut c) = pair(&mut incoming).await;
        let (_d, mut d) = pair(&mut incoming).await;
        assert!(ends(&mut a, Duration::from_secs(5)).await, "A pushed out");
        let (_e, mut e) = pair(&mut incoming).await;
        assert!(ends(&mut c, Duration::from_secs(5)).await, "C pushed out");
        // B logged in: neither pushed out nor timed out.
        assert!(!ends(&mut b, Duration::from_millis(600)).await);
        // D and E never log in: gone after the grace time.
        assert!(ends(&mut d, Duration::from_secs(5)).await);
        assert!(ends(&mut e, Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_are_closed_when_accepted() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            connections: 2,
            ..Limits::default()
        };
        let mut incoming = Incoming::new(listener, limits);
        let (_a, a) = pair(&mut incoming).await;
        let (_b, _b_server) = pair(&mut incoming).await;
        let mut third = TcpStream::connect(addr).await.unwrap();
        // Accepting it yields nothing: it is closed at once.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), incoming.next())
                .await
                .is_err()
        );
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        // One goes: the next is admitted.
        drop(a);
        let (_c, _c_server) = pair(&mut incoming).await;
    }
}
