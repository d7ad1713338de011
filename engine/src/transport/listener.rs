//! The BGP listener: bound sockets that accept connections and hand each to
//! the session of the peer it comes from.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{md5, unmap, TransportError};
use crate::session::PeerHandle;

/// Connections waiting to be accepted per socket.
const BACKLOG: i32 = 128;
/// Pause after a failed accept (e.g. out of descriptors) so that the loop
/// does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A configured peer as the listener knows it.
struct Registered {
    handle: PeerHandle,
    password: Option<String>,
}

/// One bound socket and its accept loop.
struct Bound {
    socket: Arc<TcpListener>,
    addr: SocketAddr,
    /// An IPv6 socket that accepts IPv4 too.
    dual_stack: bool,
    task: JoinHandle<()>,
}

impl Bound {
    /// Whether connections from `peer` can arrive on this socket.
    fn serves(&self, peer: IpAddr) -> bool {
        match peer {
            IpAddr::V4(_) => self.addr.is_ipv4() || self.dual_stack,
            IpAddr::V6(_) => self.addr.is_ipv6(),
        }
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        // The accept loop holds the socket too; stopping it closes it.
        self.task.abort();
    }
}

/// One socket of a [`PreparedBind`].
struct Prepared {
    socket: Arc<TcpListener>,
    addr: SocketAddr,
    dual_stack: bool,
    /// Already bound and serving (kept as it is).
    reused: bool,
}

impl Prepared {
    fn serves(&self, peer: IpAddr) -> bool {
        match peer {
            IpAddr::V4(_) => self.addr.is_ipv4() || self.dual_stack,
            IpAddr::V6(_) => self.addr.is_ipv6(),
        }
    }
}

/// Sockets bound by [`Listener::prepare`], not serving yet: put in force
/// by [`Listener::install`], released by dropping.
pub struct PreparedBind {
    sockets: Vec<Prepared>,
}

impl PreparedBind {
    /// The socket addresses the listener will have once installed.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|p| p.addr).collect()
    }

    /// Whether every socket is one already serving (no new one bound).
    pub fn all_reused(&self) -> bool {
        self.sockets.iter().all(|p| p.reused)
    }
}

/// Decides about a connection from an address no peer is registered for:
/// the session to hand it to (registered by then), or `None` to refuse it.
pub type UnknownPeer = Arc<dyn Fn(IpAddr) -> Option<PeerHandle> + Send + Sync>;

#[derive(Default)]
struct Inner {
    peers: Mutex<HashMap<IpAddr, Registered>>,
    bound: Mutex<Vec<Bound>>,
    unknown: Mutex<Option<UnknownPeer>>,
}

/// Accepts BGP connections and dispatches them by remote address to the
/// registered peers; a connection from any other address goes to the
/// [`UnknownPeer`] decider if one is set, else is closed at once.
/// Cheap to clone: clones share the sockets and the peer map.
#[derive(Clone, Default)]
pub struct Listener {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Listener {
    /// A listener with no socket bound and no peer registered.
    pub fn new() -> Listener {
        Listener::default()
    }

    /// Binds `addresses` on `port` in place of what was bound, and returns
    /// the socket addresses now bound: [`Listener::prepare`] then
    /// [`Listener::install`]. If any new address fails, what was bound
    /// stays bound and the error is returned.
    pub fn rebind(
        &self,
        addresses: &[IpAddr],
        port: u16,
    ) -> Result<Vec<SocketAddr>, TransportError> {
        let prepared = self.prepare(addresses, port)?;
        Ok(self.install(prepared))
    }

    /// The first half of a change of the bound addresses: binds what
    /// `addresses` on `port` needs and is not bound yet, without serving
    /// it (port 0 picks a free port, the same for all addresses only by
    /// chance). No address means every address: one dual-stack `[::]`
    /// socket, or `0.0.0.0` where IPv6 is missing. Listed IPv6 addresses
    /// are bound IPv6-only so that `0.0.0.0` and `::` can be listed
    /// together. Every fallible step (bind, listen, registration with the
    /// runtime, the peers' TCP MD5 keys) happens here; an error leaves the
    /// listener as it was. [`Listener::install`] puts the result in force;
    /// dropping it releases the new sockets.
    ///
    /// A socket already bound to an address and port that stay is reused,
    /// not bound again: it keeps its backlog, so no connection is lost or
    /// refused across the change, and nothing competes for its port. The
    /// new sockets are bound while the old ones are still open, which for
    /// most changes needs nothing special (another address or port); for a
    /// change between a wildcard and a specific address on the same port
    /// the sockets carry SO_REUSEPORT, without which Linux refuses the
    /// overlap. Until `install`, the kernel may queue a connection on a
    /// new overlapping socket: it is accepted once installed, or reset if
    /// the change is dropped.
    ///
    /// Must run inside a tokio runtime (else [`TransportError::NoRuntime`]).
    pub fn prepare(&self, addresses: &[IpAddr], port: u16) -> Result<PreparedBind, TransportError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(TransportError::NoRuntime);
        }
        let mut wanted: Vec<(SocketAddr, bool)> = Vec::new();
        if addresses.is_empty() {
            wanted.push((
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
                true,
            ));
        } else {
            for &ip in addresses {
                let addr = SocketAddr::new(ip, port);
                if !wanted.iter().any(|(a, _)| *a == addr) {
                    wanted.push((addr, false));
                }
            }
        }
        let current: Vec<(SocketAddr, bool, Arc<TcpListener>)> = lock(&self.inner.bound)
            .iter()
            .map(|b| (b.addr, b.dual_stack, b.socket.clone()))
            .collect();
        let peers: Vec<(IpAddr, String)> = lock(&self.inner.peers)
            .iter()
            .filter_map(|(a, r)| r.password.clone().map(|p| (*a, p)))
            .collect();
        let mut sockets = Vec::with_capacity(wanted.len());
        for (addr, dual_stack) in wanted {
            // Port 0 asks for a fresh port: never reused.
            // Every address is one dual-stack `[::]` socket, or `0.0.0.0` on a
            // host without IPv6 (then that one is reused).
            let any_v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            let reuse = (port != 0)
                .then(|| {
                    current.iter().find(|(a, d, _)| {
                        (*a == addr && *d == dual_stack) || (dual_stack && !*d && *a == any_v4)
                    })
                })
                .flatten();
            if let Some((addr, dual_stack, socket)) = reuse {
                sockets.push(Prepared {
                    socket: socket.clone(),
                    addr: *addr,
                    dual_stack: *dual_stack,
                    reused: true,
                });
                continue;
            }
            let (std_socket, dual_stack) = match bind(addr, dual_stack) {
                Ok(s) => (s, dual_stack),
                Err(e) if dual_stack => {
                    tracing::debug!(error = %e, "no dual-stack listener, binding IPv4 only");
                    let any_v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
                    (bind(any_v4, false)?, false)
                }
                Err(e) => return Err(e),
            };
            let socket = Arc::new(
                TcpListener::from_std(std_socket)
                    .map_err(TransportError::io("register listener"))?,
            );
            let addr = socket
                .local_addr()
                .map_err(TransportError::io("getsockname"))?;
            let p = Prepared {
                socket,
                addr,
                dual_stack,
                reused: false,
            };
            for (peer, password) in &peers {
                if p.serves(*peer) {
                    md5::set_key(&*p.socket, *peer, Some(password.as_bytes())).map_err(|e| {
                        TransportError::Io {
                            op: "set TCP_MD5SIG on listener",
                            source: e,
                        }
                    })?;
                }
            }
            sockets.push(p);
        }
        Ok(PreparedBind { sockets })
    }

    /// The second half: serves the sockets of `prepared` and closes every
    /// other; returns the socket addresses now bound. Cannot fail.
    pub fn install(&self, prepared: PreparedBind) -> Vec<SocketAddr> {
        let mut bound = lock(&self.inner.bound);
        let mut old = std::mem::take(&mut *bound);
        for p in prepared.sockets {
            let kept = old
                .iter()
                .position(|b| p.reused && Arc::ptr_eq(&b.socket, &p.socket));
            match kept {
                Some(i) => bound.push(old.swap_remove(i)),
                None => {
                    let task = tokio::spawn(accept_loop(p.socket.clone(), self.inner.clone()));
                    bound.push(Bound {
                        socket: p.socket,
                        addr: p.addr,
                        dual_stack: p.dual_stack,
                        task,
                    });
                }
            }
        }
        let addrs: Vec<SocketAddr> = bound.iter().map(|b| b.addr).collect();
        drop(bound);
        if !old.is_empty() {
            let closed: Vec<SocketAddr> = old.iter().map(|b| b.addr).collect();
            tracing::info!(addresses = ?closed, "BGP listener sockets closed");
        }
        // Dropping the old entries stops their accept loops and closes them.
        drop(old);
        tracing::info!(addresses = ?addrs, "BGP listener bound");
        addrs
    }

    /// Sets what decides about connections from unregistered addresses
    /// (dynamic neighbors); without it they are closed at once.
    pub fn set_unknown_peer(&self, decide: Option<UnknownPeer>) {
        *lock(&self.inner.unknown) = decide;
    }

    /// Closes every listening socket; registered peers stay registered.
    pub fn disable(&self) {
        let old = std::mem::take(&mut *lock(&self.inner.bound));
        if !old.is_empty() {
            tracing::info!("BGP listener closed");
        }
    }

    /// The socket addresses bound now.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        lock(&self.inner.bound).iter().map(|b| b.addr).collect()
    }

    /// Registers (or replaces) the peer at `address`: its connections go to
    /// `handle`, and with a password the listening sockets accept it only
    /// with that TCP MD5 key (RFC 2385). A password the kernel refuses is
    /// an error; the peer is registered regardless.
    pub fn add_peer(
        &self,
        address: IpAddr,
        handle: PeerHandle,
        password: Option<String>,
    ) -> Result<(), TransportError> {
        let address = unmap(address);
        let old = lock(&self.inner.peers).insert(
            address,
            Registered {
                handle,
                password: password.clone(),
            },
        );
        let had_key = old.is_some_and(|o| o.password.is_some());
        if password.is_none() && !had_key {
            return Ok(());
        }
        let mut result = Ok(());
        for b in lock(&self.inner.bound).iter().filter(|b| b.serves(address)) {
            if let Err(e) =
                md5::set_key(&*b.socket, address, password.as_deref().map(str::as_bytes))
            {
                result = Err(TransportError::Io {
                    op: "set TCP_MD5SIG on listener",
                    source: e,
                });
            }
        }
        result
    }

    /// Forgets the peer at `address` and removes its MD5 key.
    pub fn remove_peer(&self, address: IpAddr) {
        let address = unmap(address);
        let old = lock(&self.inner.peers).remove(&address);
        if old.is_some_and(|o| o.password.is_some()) {
            for b in lock(&self.inner.bound).iter().filter(|b| b.serves(address)) {
                set_listener_key(b, address, None);
            }
        }
    }
}

/// Sets or clears a key on a listening socket, logging failure.
fn set_listener_key(b: &Bound, peer: IpAddr, password: Option<&String>) {
    if let Err(e) = md5::set_key(&*b.socket, peer, password.map(|p| p.as_bytes())) {
        tracing::warn!(listener = %b.addr, %peer, error = %e, "cannot set TCP MD5 key on listener");
    }
}

/// A listening socket for `addr`, non-blocking, with SO_REUSEADDR (so a
/// restart can bind while old connections linger in TIME_WAIT),
/// SO_REUSEPORT (so a new wildcard socket can be bound while a specific
/// one on the same port is still open, see [`Listener::prepare`]) and
/// TTL 255.
fn bind(addr: SocketAddr, dual_stack: bool) -> Result<std::net::TcpListener, TransportError> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(TransportError::io("socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(TransportError::io("set SO_REUSEADDR"))?;
    socket
        .set_reuse_port(true)
        .map_err(TransportError::io("set SO_REUSEPORT"))?;
    if addr.is_ipv6() {
        socket
            .set_only_v6(!dual_stack)
            .map_err(TransportError::io("set IPV6_V6ONLY"))?;
    }
    // SYN-ACKs leave with the listener's TTL: 255, so that a peer using
    // GTSM (RFC 5082) accepts them. Each accepted connection then gets its
    // peer's TTL.
    if addr.is_ipv4() || dual_stack {
        socket
            .set_ttl_v4(255)
            .map_err(TransportError::io("set IP_TTL"))?;
    }
    if addr.is_ipv6() {
        socket
            .set_unicast_hops_v6(255)
            .map_err(TransportError::io("set IPV6_UNICAST_HOPS"))?;
    }
    socket
        .bind(&addr.into())
        .map_err(TransportError::io("bind listener"))?;
    socket
        .listen(BACKLOG)
        .map_err(TransportError::io("listen"))?;
    socket
        .set_nonblocking(true)
        .map_err(TransportError::io("set O_NONBLOCK"))?;
    Ok(socket.into())
}

/// Accepts connections until the task is aborted.
async fn accept_loop(socket: Arc<TcpListener>, inner: Arc<Inner>) {
    loop {
        match socket.accept().await {
            Ok((stream, from)) => {
                let ip = unmap(from.ip());
                let handle = lock(&inner.peers).get(&ip).map(|r| r.handle.clone());
                // Neither lock is held while the decider runs: it registers
                // the peer it creates.
                let decide = || lock(&inner.unknown).clone().and_then(|decide| decide(ip));
                match handle.or_else(decide) {
                    Some(handle) => {
                        if handle.accept(stream).is_err() {
                            tracing::debug!(peer = %from, "connection for a stopped peer closed");
                        }
                    }
                    None => {
                        tracing::debug!(peer = %from, "connection from an unknown address closed")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}
