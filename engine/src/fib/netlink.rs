//! The kernel's routing table as the forwarding table, over rtnetlink:
//! routes of protocol `bgp` (186) in the configured table and metric.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::channel::mpsc::UnboundedReceiver;
use futures::{StreamExt, TryStreamExt};
use ipnet::IpNet;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::constants::{RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE};
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use rtnetlink::sys::{AsyncSocket, SocketAddr};
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
        Ok(Netlink {
            handle,
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

    /// Installs (or replaces) the route to `net` via `gateways`.
    pub async fn replace(&self, net: IpNet, gateways: &[IpAddr]) -> Result<(), KernelError> {
        let msg = self.message(net, gateways)?;
        Ok(self.handle.route().add(msg).replace().execute().await?)
    }

    /// Removes our route to `net`.
    pub async fn delete(&self, net: IpNet) -> Result<(), KernelError> {
        let msg = self.message(net, &[])?;
        Ok(self.handle.route().del(msg).execute().await?)
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
