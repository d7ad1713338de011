//! TCP for BGP sessions: the listener that hands incoming connections to
//! their peers, outgoing connections, and the socket options sessions need
//! (TTL, GTSM, TCP MD5, MSS).

mod listener;
pub mod md5;
mod socket;

pub use listener::{Listener, PreparedBind, UnknownPeer};
pub use socket::{apply_options, connect, min_ttl, outgoing_ttl, prepare_accepted, unmap};

use std::io;

/// A transport failure, as a value.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A system call failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// Sockets need a tokio runtime to be registered with.
    #[error("no tokio runtime to run the listener on")]
    NoRuntime,
    /// The connection was not established in time.
    #[error("connecting to {0} timed out")]
    Timeout(std::net::SocketAddr),
}

impl TransportError {
    /// A closure that wraps an I/O error with what was being done.
    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> TransportError {
        move |source| TransportError::Io { op, source }
    }
}

/// Whether the host has `ip`: a socket is bound to it on a free port (and
/// closed at once; nothing listens or is sent). An address the host lacks
/// fails with EADDRNOTAVAIL. For checks that must not take the configured
/// port (a running daemon may hold it).
pub fn address_present(ip: std::net::IpAddr) -> io::Result<()> {
    let addr = std::net::SocketAddr::new(ip, 0);
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())
}
