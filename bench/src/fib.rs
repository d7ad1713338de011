//! `bgpbench run --fib`: how long a daemon takes to install a full table
//! into the kernel of its namespace (issue #17's benchmark).
//!
//! `bgpbench fib-count` runs in the daemon's namespace and counts the
//! IPv4 routes of one kernel table and one protocol (ocbgpd and FRR's
//! zebra install as `bgp`, 186; BIRD as `bird`, 12). It does not poll
//! `ip route`: it reads one dump of the table at start, then follows the
//! kernel's `RTM_NEWROUTE` / `RTM_DELROUTE` notifications (multicast
//! group `RTMGRP_IPV4_ROUTE`, with a receive buffer of 512 MiB so that a
//! million notifications fit), keeping the set of prefixes it has seen.
//! If the socket overflows anyway (`ENOBUFS`), it dumps the table again.
//! Once the set holds `--expect` routes it prints `fib_complete` with the
//! time, then checks the count with one more dump (`fib_dump`).
//!
//! The kernel notifies after a route is in the table, so the instant the
//! count is reached is an instant `ip route` holds them all.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::daemons::Daemon;
use crate::event::emit;
use crate::measure::mono_ns;

/// The kernel table routes are installed into (main).
pub const TABLE: u32 = 254;
/// The metric ocbgpd installs with.
pub const OCBGPD_METRIC: u32 = 20;

/// Kernel route protocol numbers (`/etc/iproute2/rt_protos`).
pub const RTPROT_BIRD: u8 = 12;
/// `bgp`: ocbgpd's netlink backend, and zebra for FRR's bgpd.
pub const RTPROT_BGP: u8 = 186;

/// The protocol a daemon's routes have in the kernel.
pub fn protocol(daemon: Daemon) -> Result<u8> {
    Ok(match daemon {
        Daemon::Ocbgpd | Daemon::Frr => RTPROT_BGP,
        Daemon::Bird => RTPROT_BIRD,
        Daemon::Gobgpd => bail!("--fib: gobgpd installs no routes (it needs zebra)"),
    })
}

/// Options of `bgpbench fib-count`.
#[derive(Debug, Clone, clap::Args)]
pub struct FibCountArgs {
    /// The kernel table to count.
    #[arg(long, default_value_t = TABLE)]
    pub table: u32,
    /// The route protocol to count (186 bgp, 12 bird).
    #[arg(long)]
    pub protocol: u8,
    /// Print `fib_complete` once this many routes are there.
    #[arg(long)]
    pub expect: usize,
    /// Seconds between progress events.
    #[arg(long, default_value_t = 10)]
    pub progress: u64,
    /// Seconds to run at most.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
}

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const RTA_DST: u16 = 1;
const RTA_TABLE: u16 = 15;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const AF_INET: u8 = 2;

/// One route message, as much as the counter needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// `RTM_NEWROUTE` (true) or `RTM_DELROUTE`.
    pub new: bool,
    /// Address family.
    pub family: u8,
    /// Table (`RTA_TABLE`, else the header's).
    pub table: u32,
    /// Protocol.
    pub protocol: u8,
    /// Destination address (IPv4, 0 when absent) and prefix length, as
    /// one key: address << 8 | length.
    pub key: u64,
}

/// What one buffer of netlink messages held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The route messages.
    pub routes: Vec<RouteInfo>,
    /// A `NLMSG_DONE` (end of a dump) was seen.
    pub done: bool,
    /// A `NLMSG_ERROR` with a nonzero code was seen (its errno).
    pub error: Option<i32>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parses the netlink messages in `buf` (host byte order, as the kernel
/// sends them); a truncated tail is ignored.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut at = 0;
    while let (Some(len), Some(kind)) = (u32_at(buf, at), u16_at(buf, at + 4)) {
        let len = len as usize;
        if len < 16 || at + len > buf.len() {
            break;
        }
        let msg = &buf[at + 16..at + len];
        match kind {
            NLMSG_DONE => out.done = true,
            NLMSG_ERROR => {
                let code = u32_at(msg, 0).map(|c| c as i32).unwrap_or(0);
                if code != 0 {
                    out.error = Some(-code);
                }
            }
            RTM_NEWROUTE | RTM_DELROUTE => {
                if let Some(r) = route(kind == RTM_NEWROUTE, msg) {
                    out.routes.push(r);
                }
            }
            _ => {}
        }
        at += align4(len);
    }
    out
}

/// A `struct rtmsg` and its attributes.
fn route(new: bool, msg: &[u8]) -> Option<RouteInfo> {
    if msg.len() < 12 {
        return None;
    }
    let (family, dst_len, table, protocol) = (msg[0], msg[1], msg[4], msg[5]);
    let mut info = RouteInfo {
        new,
        family,
        table: u32::from(table),
        protocol,
        key: u64::from(dst_len),
    };
    let mut at = 12;
    while let (Some(len), Some(kind)) = (u16_at(msg, at), u16_at(msg, at + 2)) {
        let len = len as usize;
        if len < 4 || at + len > msg.len() {
            break;
        }
        let value = &msg[at + 4..at + len];
        match kind {
            RTA_TABLE => info.table = u32_at(value, 0)?,
            RTA_DST if value.len() == 4 => {
                let addr = u32::from_be_bytes(value.try_into().ok()?);
                info.key = (u64::from(addr) << 8) | u64::from(dst_len);
            }
            _ => {}
        }
        at += align4(len);
    }
    Some(info)
}

/// The set of routes of one table and protocol.
#[derive(Debug, Default)]
pub struct Counter {
    table: u32,
    protocol: u8,
    routes: HashSet<u64>,
}

impl Counter {
    /// Counts routes of `table` and `protocol`.
    pub fn new(table: u32, protocol: u8) -> Self {
        Counter {
            table,
            protocol,
            routes: HashSet::with_capacity(1 << 20),
        }
    }

    /// Applies one message.
    pub fn apply(&mut self, r: &RouteInfo) {
        if r.family != AF_INET || r.table != self.table || r.protocol != self.protocol {
            return;
        }
        if r.new {
            self.routes.insert(r.key);
        } else {
            self.routes.remove(&r.key);
        }
    }

    /// How many routes it holds.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    fn clear(&mut self) {
        self.routes.clear();
    }
}

/// A raw `NETLINK_ROUTE` socket.
struct Socket(libc::c_int);

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

impl Socket {
    /// Opens a socket bound to `groups`, with a receive buffer of
    /// `rcvbuf` bytes (forced: we are root) and a receive timeout.
    fn open(groups: u32, rcvbuf: usize, timeout: Duration) -> Result<Socket> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("netlink socket");
        }
        let s = Socket(fd);
        let size = rcvbuf as libc::c_int;
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: the option values point to live locals of the sizes
        // given; the address is a zeroed sockaddr_nl with its fields set.
        unsafe {
            if libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) < 0
            {
                return Err(std::io::Error::last_os_error()).context("SO_RCVBUFFORCE");
            }
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            addr.nl_groups = groups;
            if libc::bind(
                fd,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            ) < 0
            {
                return Err(std::io::Error::last_os_error()).context("binding netlink socket");
            }
        }
        Ok(s)
    }

    /// One datagram into `buf`: its length, `Ok(None)` on the receive
    /// timeout.
    fn recv(&self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        // SAFETY: buf is valid for writes of its length.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            _ => Err(e),
        }
    }

    fn send(&self, msg: &[u8]) -> Result<()> {
        // SAFETY: a zeroed sockaddr_nl is the kernel's address; msg is
        // valid for reads of its length.
        let n = unsafe {
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.0,
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error()).context("netlink send");
        }
        Ok(())
    }
}

/// An `RTM_GETROUTE` dump request for IPv4.
pub fn dump_request(seq: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(28);
    m.extend_from_slice(&28u32.to_ne_bytes());
    m.extend_from_slice(&RTM_GETROUTE.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.push(AF_INET);
    m.extend_from_slice(&[0; 11]);
    m
}

/// Counts the table's routes with one dump (on a socket of its own).
fn dump(counter: &mut Counter, buf: &mut [u8]) -> Result<()> {
    let s = Socket::open(0, 64 << 20, Duration::from_secs(30))?;
    s.send(&dump_request(1))?;
    counter.clear();
    loop {
        let Some(n) = s.recv(buf)? else {
            bail!("route dump: no answer within 30 s")
        };
        let p = parse(&buf[..n]);
        for r in &p.routes {
            counter.apply(r);
        }
        if let Some(e) = p.error {
            bail!("route dump failed: errno {e}");
        }
        if p.done {
            return Ok(());
        }
    }
}

/// Runs `bgpbench fib-count`.
pub async fn count(args: FibCountArgs) -> Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let monitor = Socket::open(RTMGRP_IPV4_ROUTE, 512 << 20, Duration::from_millis(200))?;
    let mut counter = Counter::new(args.table, args.protocol);
    dump(&mut counter, &mut buf)?;
    emit(json!({"event": "listening", "routes": counter.len(), "t_ns": mono_ns()}));
    let start = mono_ns();
    let deadline = start + args.timeout * 1_000_000_000;
    let mut next_progress = start + args.progress * 1_000_000_000;
    let mut first = !counter.is_empty();
    let mut overflows = 0u64;
    let mut notifications = 0u64;
    while counter.len() < args.expect {
        let now = mono_ns();
        if now > deadline {
            emit(json!({"event": "fib_timeout", "routes": counter.len()}));
            bail!(
                "{} of {} routes after {} s",
                counter.len(),
                args.expect,
                args.timeout
            );
        }
        if now > next_progress {
            emit(json!({"event": "fib_progress", "routes": counter.len(), "t_ns": now}));
            next_progress = now + args.progress * 1_000_000_000;
        }
        match monitor.recv(&mut buf) {
            Ok(Some(n)) => {
                let p = parse(&buf[..n]);
                notifications += p.routes.len() as u64;
                for r in &p.routes {
                    counter.apply(r);
                }
            }
            Ok(None) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                // Notifications were lost: count what is there.
                overflows += 1;
                dump(&mut counter, &mut buf)?;
            }
            Err(e) => return Err(e).context("reading route notifications"),
        }
        if !first && !counter.is_empty() {
            first = true;
            emit(json!({"event": "fib_first", "t_ns": mono_ns()}));
        }
    }
    let done = mono_ns();
    emit(
        json!({"event": "fib_complete", "routes": counter.len(), "t_ns": done,
                "notifications": notifications, "overflows": overflows}),
    );
    drop(monitor);
    dump(&mut counter, &mut buf)?;
    emit(json!({"event": "fib_dump", "routes": counter.len(),
                "seconds": crate::measure::seconds_between(done, mono_ns())}));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One route message as the kernel would send it.
    fn msg(
        kind: u16,
        table: u8,
        protocol: u8,
        dst: [u8; 4],
        len: u8,
        rta_table: Option<u32>,
    ) -> Vec<u8> {
        let mut body = vec![AF_INET, len, 0, 0, table, protocol, 0, 1, 0, 0, 0, 0];
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&RTA_DST.to_ne_bytes());
        body.extend_from_slice(&dst);
        if let Some(t) = rta_table {
            body.extend_from_slice(&8u16.to_ne_bytes());
            body.extend_from_slice(&RTA_TABLE.to_ne_bytes());
            body.extend_from_slice(&t.to_ne_bytes());
        }
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn routes_of_one_table_and_protocol_are_counted_once() {
        let mut buf = Vec::new();
        buf.extend(msg(RTM_NEWROUTE, 254, 186, [1, 2, 3, 0], 24, Some(254)));
        // A replace notifies again: still one route.
        buf.extend(msg(RTM_NEWROUTE, 254, 186, [1, 2, 3, 0], 24, Some(254)));
        buf.extend(msg(RTM_NEWROUTE, 254, 186, [1, 2, 0, 0], 16, None));
        // Other protocol, other table (in RTA_TABLE), other family.
        buf.extend(msg(RTM_NEWROUTE, 254, 12, [9, 9, 9, 0], 24, None));
        buf.extend(msg(RTM_NEWROUTE, 252, 186, [9, 9, 8, 0], 24, Some(1000)));
        let mut v6 = msg(RTM_NEWROUTE, 254, 186, [9, 9, 7, 0], 24, None);
        v6[16] = 10;
        buf.extend(v6);
        let p = parse(&buf);
        assert_eq!(p.routes.len(), 6);
        assert_eq!(p.routes[4].table, 1000);
        assert_eq!(p.routes[0].key, (0x0102_0300u64 << 8) | 24);
        let mut c = Counter::new(254, 186);
        for r in &p.routes {
            c.apply(r);
        }
        assert_eq!(c.len(), 2);
        let del = parse(&msg(RTM_DELROUTE, 254, 186, [1, 2, 0, 0], 16, None));
        c.apply(&del.routes[0]);
        assert_eq!(c.len(), 1);
        assert!(!p.done && p.error.is_none());
    }

    #[test]
    fn done_errors_and_truncation() {
        let mut done = Vec::new();
        done.extend_from_slice(&20u32.to_ne_bytes());
        done.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        done.extend_from_slice(&[0; 14]);
        assert!(parse(&done).done);
        let mut err = Vec::new();
        err.extend_from_slice(&20u32.to_ne_bytes());
        err.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err.extend_from_slice(&[0; 10]);
        err.extend_from_slice(&(-105i32).to_ne_bytes());
        assert_eq!(parse(&err).error, Some(105));
        let m = msg(RTM_NEWROUTE, 254, 186, [1, 2, 3, 0], 24, None);
        assert!(parse(&m[..m.len() - 1]).routes.is_empty());
        assert_eq!(dump_request(7).len(), 28);
        assert_eq!(protocol(Daemon::Bird).unwrap(), 12);
        assert!(protocol(Daemon::Gobgpd).is_err());
    }
}
