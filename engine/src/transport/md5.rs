//! TCP MD5 signatures (RFC 2385) through Linux's `TCP_MD5SIG` socket option.
//!
//! A key is tied to a peer address. On a connecting socket it signs the
//! session's segments; on a listening socket it makes the kernel accept a
//! SYN from that address only when it carries a valid signature, and the
//! accepted socket inherits the key.

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};

/// The longest key the kernel takes (`TCP_MD5SIG_MAXKEYLEN`).
pub const MAX_KEY_LEN: usize = 80;

/// Size of `struct sockaddr_storage`, the address part of `struct tcp_md5sig`.
const SOCKADDR_STORAGE_LEN: usize = 128;
/// Size of `struct tcp_md5sig`: the address, flags, prefix length, key
/// length, interface index and key.
const TCP_MD5SIG_LEN: usize = SOCKADDR_STORAGE_LEN + 1 + 1 + 2 + 4 + MAX_KEY_LEN;

/// Installs (`Some`) or removes (`None`) the MD5 key for `peer` on `socket`.
///
/// The key's address must be of the socket's family: on an IPv6 socket an
/// IPv4 peer is named by its IPv4-mapped address, which is how a dual-stack
/// listener sees it. Removing a key that is not there is not an error.
pub fn set_key(socket: &impl AsFd, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    let key = key.unwrap_or_default();
    if key.len() > MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("TCP MD5 key of {} octets exceeds {MAX_KEY_LEN}", key.len()),
        ));
    }
    let socket_v6 = socket2::SockRef::from(socket).local_addr()?.is_ipv6();
    let peer = match (socket_v6, peer) {
        (true, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        (false, IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "IPv6 peer on an IPv4 socket",
                ));
            }
        },
        (_, peer) => peer,
    };
    let buf = tcp_md5sig(peer, key);
    match setsockopt(socket, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &buf) {
        // The kernel says ENOENT when deleting a key it does not have.
        Err(e) if key.is_empty() && e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// Lays out `struct tcp_md5sig` (linux/tcp.h) with the key for `peer`;
/// an empty key deletes. Built as bytes so that nothing depends on how
/// Rust would lay out a struct.
fn tcp_md5sig(peer: IpAddr, key: &[u8]) -> [u8; TCP_MD5SIG_LEN] {
    let mut buf = [0u8; TCP_MD5SIG_LEN];
    match peer {
        IpAddr::V4(v4) => {
            // struct sockaddr_in: family, port, address, padding.
            buf[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            buf[4..8].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            // struct sockaddr_in6: family, port, flow info, address, scope.
            buf[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            buf[8..24].copy_from_slice(&Ipv6Addr::octets(&v6));
        }
    }
    // tcpm_flags and tcpm_prefixlen stay 0: an exact address, any interface.
    let key_len = key.len().min(MAX_KEY_LEN);
    let at = SOCKADDR_STORAGE_LEN + 2;
    buf[at..at + 2].copy_from_slice(&(key_len as u16).to_ne_bytes());
    let key_at = SOCKADDR_STORAGE_LEN + 8;
    buf[key_at..key_at + key_len].copy_from_slice(&key[..key_len]);
    buf
}

/// `setsockopt(2)` with a byte buffer as the value.
pub(crate) fn setsockopt(
    socket: &impl AsFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    let fd = socket.as_fd().as_raw_fd();
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "socket option value too long"))?;
    // SAFETY: `fd` is a live descriptor borrowed from `socket`; the kernel
    // reads at most `len` bytes from `value`, which is that long.
    let rc = unsafe { libc::setsockopt(fd, level, name, value.as_ptr().cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn layout_matches_linux() {
        let buf = tcp_md5sig(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), b"abc");
        assert_eq!(buf.len(), 216);
        assert_eq!(u16::from_ne_bytes([buf[0], buf[1]]), libc::AF_INET as u16);
        assert_eq!(&buf[4..8], &[192, 0, 2, 1]);
        assert_eq!(u16::from_ne_bytes([buf[130], buf[131]]), 3);
        assert_eq!(&buf[136..139], b"abc");
    }

    #[test]
    fn keys_are_bounded() {
        let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let long = [b'k'; 81];
        assert!(set_key(&sock, IpAddr::V4(Ipv4Addr::LOCALHOST), Some(&long)).is_err());
        // Deleting a key that was never set is fine.
        set_key(&sock, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), None).unwrap();
    }
}
