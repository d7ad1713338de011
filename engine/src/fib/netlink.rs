//! The kernel's routing table as the forwarding table, over rtnetlink:
//! routes of protocol `bgp` (186) in the configured table and metric.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use futures::channel::mpsc::UnboundedReceiver;
use futures::{StreamExt, TryStreamExt};
use ipnet::IpNet;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::constants::{RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE};
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST,
};
use rtnetlink::sys::protocols::NETLINK_ROUTE;
use rtnetlink::sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket};
use rtnetlink::{Handle, RouteMessageBuilder, RouteNextHopBuilder};

use super::{FibSettings, Gateways};

/// Why the kernel did not take a change.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The route cannot be expressed (address family mismatch).
    #[error("invalid route: {0}")]
    Invalid(String),
    /// The kernel refused it.
    #[error("{0}")]
    Refused(#[from] rtnetlink::Error),
}

/// Kernel notifications of route changes.
pub type RouteEvents = UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// A rtnetlink connection for one table, and one that hears the kernel's
/// route changes (for next-hop tracking).
pub struct Netlink {
    handle: Handle,
    batcher: Batcher,
    settings: FibSettings,
    tasks: [tokio::task::JoinHandle<()>; 2],
    events: Option<RouteEvents>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Netlink {
    /// Opens the connections (on the current tokio runtime).
    pub fn open(settings: &FibSettings) -> std::io::Result<Netlink> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        let (mut monitor, _, events) = rtnetlink::new_connection()?;
        monitor
            .socket_mut()
            .socket_mut()
            .bind(&SocketAddr::new(0, RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE))?;
        skip_bgp_routes(monitor.socket_mut().socket_mut().as_raw_fd())?;
        Ok(Netlink {
            handle,
            batcher: Batcher::open()?,
            settings: settings.clone(),
            tasks: [tokio::spawn(connection), tokio::spawn(monitor)],
            events: Some(events),
        })
    }

    /// The kernel's route change notifications (once).
    pub fn take_events(&mut self) -> Option<RouteEvents> {
        self.events.take()
    }

    /// How the kernel reaches `next_hop` (`ip route get`): the gateway to
    /// install routes through (the next hop itself when it is on a
    /// connected network), or `None` when it is unreachable (no route,
    /// or only an unreachable, blackhole or prohibit one).
    pub async fn resolve(&self, next_hop: IpAddr) -> Result<Option<IpAddr>, KernelError> {
        let len = if next_hop.is_ipv4() { 32 } else { 128 };
        let msg = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(next_hop, len)
            .map_err(invalid)?
            .build();
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetRoute(msg));
        req.header.flags = NLM_F_REQUEST;
        let mut handle = self.handle.clone();
        let mut replies = handle.request(req)?;
        while let Some(reply) = replies.next().await {
            match reply.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(m)) => {
                    return Ok(reachable_via(&m, next_hop));
                }
                NetlinkPayload::Error(_) => return Ok(None),
                _ => {}
            }
        }
        Ok(None)
    }

    /// A message for `net` in our table, protocol and metric, via
    /// `gateways` (one, or an ECMP set; none to name the route).
    fn message(&self, net: IpNet, gateways: &[IpAddr]) -> Result<RouteMessage, KernelError> {
        let mut b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(net.addr(), net.prefix_len())
            .map_err(invalid)?;
        match gateways {
            [] => {}
            [gw] => b = b.gateway(*gw).map_err(invalid)?,
            many => {
                let family = if net.addr().is_ipv4() {
                    AddressFamily::Inet
                } else {
                    AddressFamily::Inet6
                };
                let hops = many
                    .iter()
                    .map(|gw| {
                        RouteNextHopBuilder::new(family)
                            .via(*gw)
                            .map(RouteNextHopBuilder::build)
                            .map_err(invalid)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                b = b.multipath(hops);
            }
        }
        Ok(b.table_id(self.settings.table)
            .protocol(RouteProtocol::Bgp)
            .priority(self.settings.metric)
            .build())
    }

    /// Applies `changes` (installs or replaces, removes) in batches of
    /// [`BATCH`], each written to the kernel at once; the outcome of each
    /// change, in order. A removal of a route the kernel does not have
    /// fails (`ESRCH`).
    pub async fn apply(&self, changes: &[Change<'_>]) -> Vec<Result<(), KernelError>> {
        let mut out = Vec::with_capacity(changes.len());
        for chunk in changes.chunks(BATCH) {
            out.extend(self.apply_batch(chunk).await);
        }
        out
    }

    /// One batch: the requests in one write, only the last with
    /// `NLM_F_ACK`. The kernel handles a write's requests in order before
    /// the write returns and answers a request without the flag only when
    /// it fails, so once the last one's ack is read, every request without
    /// an error has succeeded.
    async fn apply_batch(&self, changes: &[Change<'_>]) -> Vec<Result<(), KernelError>> {
        let n = changes.len() as u32;
        let base = self
            .batcher
            .seq
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        let mut out: Vec<Option<Result<(), KernelError>>> = Vec::with_capacity(changes.len());
        let mut requests = Vec::with_capacity(changes.len());
        for (i, (net, gateways)) in changes.iter().enumerate() {
            let msg = match self.message(*net, gateways.unwrap_or(&[])) {
                Ok(m) => m,
                Err(e) => {
                    out.push(Some(Err(e)));
                    continue;
                }
            };
            let (payload, flags) = match gateways {
                Some(_) => (
                    RouteNetlinkMessage::NewRoute(msg),
                    NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE,
                ),
                None => (RouteNetlinkMessage::DelRoute(msg), NLM_F_REQUEST),
            };
            let mut m = NetlinkMessage::from(payload);
            m.header.flags = flags;
            m.header.sequence_number = base.wrapping_add(i as u32);
            requests.push((i, m));
            out.push(None);
        }
        let Some(last) = requests.last().map(|(i, _)| *i) else {
            return out.into_iter().flatten().collect();
        };
        let mut buf = Vec::with_capacity(requests.len() * 80);
        for (i, mut m) in requests {
            if i == last {
                m.header.flags |= NLM_F_ACK;
            }
            m.finalize();
            let start = buf.len();
            buf.resize(start + m.buffer_len(), 0);
            m.serialize(&mut buf[start..]);
        }
        if let Err(e) = self.batcher.socket.send(&buf).await {
            let e = e.to_string();
            return out
                .into_iter()
                .map(|r| r.unwrap_or_else(|| Err(KernelError::Invalid(e.clone()))))
                .collect();
        }
        let mut done = false;
        while !done {
            let received =
                tokio::time::timeout(BATCH_TIMEOUT, self.batcher.socket.recv_from_full()).await;
            let data = match received {
                Ok(Ok((data, _))) => data,
                Ok(Err(_)) | Err(_) => break,
            };
            let mut at = 0;
            while at + 16 <= data.len() {
                let len = u32::from_ne_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
                    as usize;
                if len < 16 || at + len > data.len() {
                    break;
                }
                if let Ok(m) =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[at..at + len])
                {
                    let i = m.header.sequence_number.wrapping_sub(base) as usize;
                    if let (NetlinkPayload::Error(e), Some(slot @ None)) =
                        (m.payload, out.get_mut(i))
                    {
                        *slot = Some(match e.code {
                            None => Ok(()),
                            Some(_) => Err(KernelError::Refused(rtnetlink::Error::NetlinkError(e))),
                        });
                        done |= i == last;
                    }
                }
                at += (len + 3) & !3;
            }
        }
        out.into_iter()
            .map(|r| match r {
                Some(r) => r,
                None if done => Ok(()),
                None => Err(KernelError::Invalid("no answer from the kernel".into())),
            })
            .collect()
    }

    /// Our routes in the table (protocol `bgp`, our metric), with their
    /// gateways: what a previous run left.
    pub async fn ours(&self) -> Result<Vec<(IpNet, Gateways)>, KernelError> {
        let mut out = Vec::new();
        let queries = [
            RouteMessageBuilder::<Ipv4Addr>::new().build(),
            RouteMessageBuilder::<Ipv6Addr>::new().build(),
        ];
        for q in queries {
            let mut routes = self.handle.route().get(q).execute();
            while let Some(m) = routes.try_next().await? {
                if let Some(r) = self.our_route(&m) {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    fn our_route(&self, m: &RouteMessage) -> Option<(IpNet, Gateways)> {
        if m.header.protocol != RouteProtocol::Bgp {
            return None;
        }
        let mut table = u32::from(m.header.table);
        let (mut dest, mut gateways, mut metric) = (None, Gateways::new(), 0);
        for a in &m.attributes {
            match a {
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Priority(p) => metric = *p,
                RouteAttribute::Destination(d) => dest = address(d),
                RouteAttribute::Gateway(g) => gateways.extend(address(g)),
                RouteAttribute::MultiPath(hops) => {
                    for hop in hops {
                        for a in &hop.attributes {
                            if let RouteAttribute::Gateway(g) = a {
                                gateways.extend(address(g));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if table != self.settings.table || metric != self.settings.metric || gateways.is_empty() {
            return None;
        }
        gateways.sort();
        let net = IpNet::new(dest?, m.header.destination_prefix_length).ok()?;
        Some((net, gateways))
    }
}

/// The gateway of a route `ip route get` gave for `next_hop`, if it is
/// one that resolves next hops.
fn reachable_via(m: &RouteMessage, next_hop: IpAddr) -> Option<IpAddr> {
    if m.header.kind != RouteType::Unicast || m.header.protocol == RouteProtocol::Bgp {
        return None;
    }
    let mut gateway = None;
    for a in &m.attributes {
        if let RouteAttribute::Gateway(g) = a {
            gateway = address(g);
        }
    }
    // Recursive: a next hop on another network is reached through the
    // gateway of the route that covers it.
    Some(gateway.unwrap_or(next_hop))
}

/// Offset of `rtm_protocol` in a route notification: after the 16-octet
/// `nlmsghdr`, the fifth octet of `struct rtmsg`.
const RTM_PROTOCOL_OFFSET: u32 = 16 + 5;
/// `RTPROT_BGP`.
const RTPROT_BGP: u32 = 186;

/// Has the kernel drop, before they are queued, the notifications of
/// routes of protocol `bgp` on the monitor socket: the routes we install
/// ourselves ([`is_ours`] would ignore them anyway). Without it, a full
/// table installed is a million notifications for the socket to queue
/// (it overflows) and for us to parse and drop. Route notifications come
/// one message a datagram, so the filter looks at one octet.
fn skip_bgp_routes(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    // ldb [21]; jeq #186, drop, keep; keep: ret #-1; drop: ret #0
    let mut program = [
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: RTM_PROTOCOL_OFFSET,
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 1,
            jf: 0,
            k: RTPROT_BGP,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: u32::MAX,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `prog` points to `program`, both alive for the call; the
    // kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether a kernel notification is about a route of ours.
pub fn is_ours(message: &NetlinkMessage<RouteNetlinkMessage>) -> bool {
    match &message.payload {
        NetlinkPayload::InnerMessage(
            RouteNetlinkMessage::NewRoute(m) | RouteNetlinkMessage::DelRoute(m),
        ) => m.header.protocol == RouteProtocol::Bgp,
        _ => false,
    }
}

fn invalid(e: impl std::fmt::Display) -> KernelError {
    KernelError::Invalid(e.to_string())
}

fn address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// How many route changes go to the kernel in one write (one `sendmsg`
/// with this many `RTM_NEWROUTE`/`RTM_DELROUTE` requests; only the last
/// asks for an ack, the others are answered when they fail). About 20 KB
/// a write, and the answers (without the requests echoed:
/// `NETLINK_CAP_ACK`) fit the socket's default buffer.
pub const BATCH: usize = 256;

/// One change for [`Netlink::apply`]: `net` via these gateways, or (with
/// `None`) no route to `net`.
pub type Change<'a> = (IpNet, Option<&'a [IpAddr]>);

/// How long the kernel may take to answer one batch.
const BATCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A socket of our own for batched route changes.
pub(super) struct Batcher {
    socket: TokioSocket,
    seq: std::sync::atomic::AtomicU32,
}

impl Batcher {
    pub(super) fn open() -> std::io::Result<Batcher> {
        let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
        socket.socket_mut().bind_auto()?;
        socket.socket_mut().connect(&SocketAddr::new(0, 0))?;
        // Acks without a copy of each request.
        socket.socket_ref().set_cap_ack(true)?;
        Ok(Batcher {
            socket,
            seq: std::sync::atomic::AtomicU32::new(1),
        })
    }
}
