//! Socket options of a session's connection and the outgoing connect.
//!
//! TTL rules (RFC 4271 has none; this is common practice, as in FRR and
//! BIRD): with GTSM (RFC 5082) we send TTL 255 and the kernel drops
//! segments that arrive with a TTL below 255 minus the allowed hops; else
//! the configured multihop TTL; else 1 for external peers (directly
//! connected unless told otherwise) and 255 for internal ones (usually
//! loopback to loopback across the IGP).

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;

use tokio::net::{TcpSocket, TcpStream};

use super::{md5, TransportError};
use crate::session::PeerConfig;

/// An IPv4-mapped IPv6 address as the IPv4 address it is; others as given.
/// A dual-stack listener sees IPv4 peers this way.
pub fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The TTL (IPv6: hop limit) of the session's outgoing packets.
pub fn outgoing_ttl(config: &PeerConfig) -> u8 {
    if config.ttl_security.is_some() {
        return 255;
    }
    match config.multihop_ttl {
        Some(ttl) => ttl.max(1),
        None if config.is_internal() => 255,
        None => 1,
    }
}

/// The least TTL accepted on received packets under GTSM: 255 minus the
/// hops allowed (RFC 5082 3); `None` without GTSM.
pub fn min_ttl(config: &PeerConfig) -> Option<u8> {
    // RFC 5082 / OpenConfig-style hop count: 1 is a directly connected
    // peer, whose packets arrive with TTL 255.
    config
        .ttl_security
        .map(|hops| (256 - u16::from(hops.max(1))) as u8)
}

/// Sets TTL, GTSM minimum TTL and MSS on a session's socket, for traffic
/// with `peer`. The IP version of `peer` (not of the socket) decides which
/// options apply: an IPv4 peer on a dual-stack IPv6 socket is IPv4 traffic.
pub fn apply_options(
    socket: &impl AsFd,
    peer: IpAddr,
    config: &PeerConfig,
) -> Result<(), TransportError> {
    let sock = socket2::SockRef::from(socket);
    let ttl = u32::from(outgoing_ttl(config));
    match unmap(peer) {
        IpAddr::V4(_) => sock
            .set_ttl_v4(ttl)
            .map_err(TransportError::io("set IP_TTL"))?,
        IpAddr::V6(_) => sock
            .set_unicast_hops_v6(ttl)
            .map_err(TransportError::io("set IPV6_UNICAST_HOPS"))?,
    }
    if let Some(min) = min_ttl(config) {
        let value = libc::c_int::from(min).to_ne_bytes();
        let set = match unmap(peer) {
            IpAddr::V4(_) => md5::setsockopt(socket, libc::IPPROTO_IP, libc::IP_MINTTL, &value),
            IpAddr::V6(_) => {
                md5::setsockopt(socket, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &value)
            }
        };
        set.map_err(TransportError::io("set minimum TTL (GTSM)"))?;
    }
    if let Some(mss) = config.tcp_mss {
        sock.set_tcp_mss(u32::from(mss))
            .map_err(TransportError::io("set TCP_MAXSEG"))?;
    }
    Ok(())
}

/// Readies a connection the listener accepted for `config`'s session. Its
/// MD5 key came with it from the listening socket.
pub fn prepare_accepted(stream: &TcpStream, config: &PeerConfig) -> Result<(), TransportError> {
    let peer = stream
        .peer_addr()
        .map_err(TransportError::io("getpeername"))?;
    apply_options(stream, peer.ip(), config)?;
    stream
        .set_nodelay(true)
        .map_err(TransportError::io("set TCP_NODELAY"))
}

/// Opens the session's TCP connection: MD5 key, TTL/GTSM and MSS are set
/// and the local address bound before the SYN goes out; the attempt is
/// bounded by the connect-retry time (RFC 4271 8.2.2: its expiry in Connect
/// drops the attempt).
pub async fn connect(config: &PeerConfig) -> Result<TcpStream, TransportError> {
    let remote = SocketAddr::new(config.remote, config.remote_port);
    let sock = match remote {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(TransportError::io("socket"))?;
    if let Some(password) = &config.password {
        md5::set_key(&sock, config.remote, Some(password.as_bytes()))
            .map_err(TransportError::io("set TCP_MD5SIG"))?;
    }
    apply_options(&sock, config.remote, config)?;
    if let Some(local) = config.local_address {
        sock.bind(SocketAddr::new(local, 0))
            .map_err(TransportError::io("bind local address"))?;
    }
    let stream = tokio::time::timeout(config.connect_timeout(), sock.connect(remote))
        .await
        .map_err(|_| TransportError::Timeout(remote))?
        .map_err(TransportError::io("connect"))?;
    stream
        .set_nodelay(true)
        .map_err(TransportError::io("set TCP_NODELAY"))?;
    Ok(stream)
}
