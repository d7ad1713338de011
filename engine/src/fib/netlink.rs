//! The kernel's routing table as the forwarding table, over rtnetlink:
//! routes of protocol `bgp` (186) in the configured table and metric.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use ipnet::IpNet;
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol};
use netlink_packet_route::AddressFamily;
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

/// A rtnetlink connection for one table.
pub struct Netlink {
    handle: Handle,
    settings: FibSettings,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Netlink {
    /// Opens the connection (on the current tokio runtime).
    pub fn open(settings: FibSettings) -> std::io::Result<Netlink> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        Ok(Netlink {
            handle,
            settings,
            connection: tokio::spawn(connection),
        })
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
