//! ZAPI version 6 (FRR 8) message formats: what ocbgpd sends to zebra and
//! reads back. Integers are big-endian except where FRR writes a C enum
//! as it lies in memory (the route owner notification's note).
//!
//! Every message starts with a 10-byte header: length (u16, the header
//! included), marker 254, version 6, VRF id (u32), command (u16).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The ZAPI version spoken (FRR 7.x and 8.x).
pub const VERSION: u8 = 6;
/// The header's marker byte.
pub const MARKER: u8 = 254;
/// The header's size.
pub const HEADER: usize = 10;

/// Commands (FRR 8.4's `zebra_message_types_t`).
pub mod cmd {
    /// Ask for interface information.
    pub const INTERFACE_ADD: u16 = 0;
    /// Add (or replace) a route.
    pub const ROUTE_ADD: u16 = 8;
    /// Delete a route.
    pub const ROUTE_DELETE: u16 = 9;
    /// Zebra tells a route's owner what became of it.
    pub const ROUTE_NOTIFY_OWNER: u16 = 10;
    /// Ask for routes of a type.
    pub const REDISTRIBUTE_ADD: u16 = 11;
    /// Ask for the router id.
    pub const ROUTER_ID_ADD: u16 = 15;
    /// Greeting: the client's route type.
    pub const HELLO: u16 = 18;
    /// Track next hops.
    pub const NEXTHOP_REGISTER: u16 = 20;
    /// Stop tracking next hops.
    pub const NEXTHOP_UNREGISTER: u16 = 21;
    /// How a tracked next hop resolves.
    pub const NEXTHOP_UPDATE: u16 = 22;
    /// A redistributed route appeared or changed.
    pub const REDISTRIBUTE_ROUTE_ADD: u16 = 30;
    /// A redistributed route went.
    pub const REDISTRIBUTE_ROUTE_DEL: u16 = 31;
}

/// Route types (FRR's `route_types.txt`).
pub mod route_type {
    /// Kernel routes of other programs.
    pub const KERNEL: u8 = 1;
    /// Connected routes.
    pub const CONNECT: u8 = 2;
    /// Static routes.
    pub const STATIC: u8 = 3;
    /// OSPFv2.
    pub const OSPF: u8 = 6;
    /// OSPFv3.
    pub const OSPF6: u8 = 7;
    /// BGP: ours.
    pub const BGP: u8 = 9;
    /// One past the last type FRR 8.4 knows.
    pub const MAX: u8 = 31;
}

/// Address families as ZAPI's redistribution and router-id requests
/// name them (FRR's `afi_t`).
pub mod afi {
    /// IPv4.
    pub const IP: u8 = 1;
    /// IPv6.
    pub const IP6: u8 = 2;
}

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const SAFI_UNICAST: u8 = 1;
const SAFI_MAX: u8 = 8;
/// The most next hops zebra takes in one route (FRR's MULTIPATH_NUM as
/// Debian builds it is 64; 256 bounds what a decoder accepts).
pub const MAX_NEXTHOPS: usize = 256;

/// `zapi_route.message` bits.
mod msg {
    pub const NEXTHOP: u32 = 0x01;
    pub const DISTANCE: u32 = 0x02;
    pub const METRIC: u32 = 0x04;
    pub const TAG: u32 = 0x08;
    pub const MTU: u32 = 0x10;
    pub const SRCPFX: u32 = 0x20;
    pub const BACKUP_NEXTHOPS: u32 = 0x40;
    pub const NHG: u32 = 0x80;
    pub const TABLEID: u32 = 0x100;
    pub const SRTE: u32 = 0x200;
    pub const OPAQUE: u32 = 0x400;
}

/// `zapi_route.flags`: zebra may resolve the next hop recursively.
const FLAG_ALLOW_RECURSION: u32 = 0x01;

/// Next hop types (FRR's `nexthop_types_t`).
mod nh_type {
    pub const IFINDEX: u8 = 1;
    pub const IPV4: u8 = 2;
    pub const IPV4_IFINDEX: u8 = 3;
    pub const IPV6: u8 = 4;
    pub const IPV6_IFINDEX: u8 = 5;
    pub const BLACKHOLE: u8 = 6;
}

/// `zapi_nexthop.flags` bits that add fields.
mod nh_flag {
    pub const LABEL: u8 = 0x02;
    pub const WEIGHT: u8 = 0x04;
    pub const HAS_BACKUP: u8 = 0x08;
    pub const SEG6: u8 = 0x10;
    pub const SEG6LOCAL: u8 = 0x20;
    pub const EVPN: u8 = 0x40;
}

/// What zebra says became of a route of ours (`zapi_route_notify_owner`).
pub mod note {
    /// The kernel refused it.
    pub const FAIL_INSTALL: u32 = 0;
    /// Another protocol's route for the prefix wins (administrative
    /// distance).
    pub const BETTER_ADMIN_WON: u32 = 1;
    /// In the kernel.
    pub const INSTALLED: u32 = 2;
    /// Out of the kernel.
    pub const REMOVED: u32 = 3;
    /// Could not be taken out.
    pub const REMOVE_FAIL: u32 = 4;
}

/// Why a message from zebra was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message ends before a field.
    #[error("message truncated reading {0}")]
    Truncated(&'static str),
    /// The header's marker is not 254.
    #[error("bad header marker {0}")]
    Marker(u8),
    /// Another ZAPI version.
    #[error("ZAPI version {0}, expected 6")]
    Version(u8),
    /// A length shorter than the header.
    #[error("bad message length {0}")]
    Length(u16),
    /// An address family other than IPv4 and IPv6.
    #[error("unknown address family {0}")]
    Family(u16),
    /// A prefix length beyond the address.
    #[error("prefix length {0} too long")]
    PrefixLen(u8),
    /// A route type or SAFI out of range.
    #[error("bad route type or SAFI {0}")]
    Range(u8),
    /// More next hops than a route can have.
    #[error("{0} next hops")]
    Nexthops(usize),
    /// A next hop of an unknown type.
    #[error("unknown next hop type {0}")]
    NexthopType(u8),
}

/// A message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The whole message's length.
    pub length: u16,
    /// The VRF.
    pub vrf: u32,
    /// The command.
    pub command: u16,
}

/// Checks a header; the body is `length - 10` bytes.
pub fn decode_header(b: &[u8; HEADER]) -> Result<Header, DecodeError> {
    let length = u16::from_be_bytes([b[0], b[1]]);
    if b[2] != MARKER {
        return Err(DecodeError::Marker(b[2]));
    }
    if b[3] != VERSION {
        return Err(DecodeError::Version(b[3]));
    }
    if usize::from(length) < HEADER {
        return Err(DecodeError::Length(length));
    }
    Ok(Header {
        length,
        vrf: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        command: u16::from_be_bytes([b[8], b[9]]),
    })
}

/// A bounds-checked reader over a body.
struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn v4(&mut self, what: &'static str) -> Result<Ipv4Addr, DecodeError> {
        let b = self.take(4, what)?;
        Ok(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
    fn v6(&mut self, what: &'static str) -> Result<Ipv6Addr, DecodeError> {
        let b = self.take(16, what)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(Ipv6Addr::from(a))
    }
    /// A prefix of `family` in `len` bits, its address in as many bytes
    /// as it needs (`full`: the whole address).
    fn prefix(&mut self, family: u16, len: u8, full: bool) -> Result<IpNet, DecodeError> {
        let (max, size) = match family {
            f if f == u16::from(AF_INET) => (32u8, 4usize),
            f if f == u16::from(AF_INET6) => (128, 16),
            f => return Err(DecodeError::Family(f)),
        };
        if len > max {
            return Err(DecodeError::PrefixLen(len));
        }
        let n = if full {
            size
        } else {
            usize::from(len).div_ceil(8)
        };
        let bytes = self.take(n, "prefix")?;
        let mut a = [0u8; 16];
        a[..n].copy_from_slice(bytes);
        Ok(match size {
            4 => IpNet::V4(
                Ipv4Net::new(Ipv4Addr::new(a[0], a[1], a[2], a[3]), len)
                    .map_err(|_| DecodeError::PrefixLen(len))?
                    .trunc(),
            ),
            _ => IpNet::V6(
                Ipv6Net::new(Ipv6Addr::from(a), len)
                    .map_err(|_| DecodeError::PrefixLen(len))?
                    .trunc(),
            ),
        })
    }
}

/// Frames a body after its header.
fn frame(command: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    let len = (HEADER + body.len()).min(usize::from(u16::MAX)) as u16;
    out.extend_from_slice(&len.to_be_bytes());
    out.push(MARKER);
    out.push(VERSION);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&command.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// HELLO: the client's route type and instance; zebra is asked to tell
/// what became of the routes sent (route owner notifications).
pub fn hello(route_type: u8, instance: u16) -> Vec<u8> {
    let mut b = vec![route_type];
    b.extend_from_slice(&instance.to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes()); // session id
    b.push(1); // receive notifications
    b.push(0); // asynchronous
    frame(cmd::HELLO, &b)
}

/// ROUTER_ID_ADD for an address family.
pub fn router_id_add(afi: u8) -> Vec<u8> {
    frame(cmd::ROUTER_ID_ADD, &u16::from(afi).to_be_bytes())
}

/// INTERFACE_ADD: zebra then tells about its interfaces.
pub fn interface_add() -> Vec<u8> {
    frame(cmd::INTERFACE_ADD, &[])
}

/// REDISTRIBUTE_ADD: zebra sends the routes of `route_type` in `afi`,
/// now and as they change.
pub fn redistribute_add(afi: u8, route_type: u8) -> Vec<u8> {
    frame(cmd::REDISTRIBUTE_ADD, &[afi, route_type, 0, 0])
}

/// NEXTHOP_REGISTER (or UNREGISTER): track how these addresses resolve.
pub fn nexthop_register(register: bool, addrs: &[IpAddr]) -> Vec<u8> {
    let mut b = Vec::with_capacity(addrs.len() * 22);
    for a in addrs {
        b.push(0); // not only connected
        b.push(0); // do not resolve via the default route
        b.extend_from_slice(&u16::from(SAFI_UNICAST).to_be_bytes());
        match a {
            IpAddr::V4(v4) => {
                b.extend_from_slice(&u16::from(AF_INET).to_be_bytes());
                b.push(32);
                b.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                b.extend_from_slice(&u16::from(AF_INET6).to_be_bytes());
                b.push(128);
                b.extend_from_slice(&v6.octets());
            }
        }
    }
    let c = if register {
        cmd::NEXTHOP_REGISTER
    } else {
        cmd::NEXTHOP_UNREGISTER
    };
    frame(c, &b)
}

fn put_prefix(b: &mut Vec<u8>, net: IpNet) {
    let len = net.prefix_len();
    let n = usize::from(len).div_ceil(8);
    match net {
        IpNet::V4(v4) => {
            b.push(AF_INET);
            b.push(len);
            b.extend_from_slice(&v4.network().octets()[..n]);
        }
        IpNet::V6(v6) => {
            b.push(AF_INET6);
            b.push(len);
            b.extend_from_slice(&v6.network().octets()[..n]);
        }
    }
}

fn route_head(b: &mut Vec<u8>, message: u32, net: IpNet) {
    b.push(route_type::BGP);
    b.extend_from_slice(&0u16.to_be_bytes()); // instance
    b.extend_from_slice(&FLAG_ALLOW_RECURSION.to_be_bytes());
    b.extend_from_slice(&message.to_be_bytes());
    b.push(SAFI_UNICAST);
    put_prefix(b, net);
}

/// ROUTE_ADD of a BGP route with these gateways (zebra resolves them,
/// recursively if need be) and metric; it replaces the route sent
/// before for the prefix. Gateways beyond [`MAX_NEXTHOPS`] are left out.
pub fn route_add(net: IpNet, gateways: &[IpAddr], metric: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(32 + gateways.len() * 26);
    route_head(&mut b, msg::NEXTHOP | msg::METRIC, net);
    let gateways = &gateways[..gateways.len().min(MAX_NEXTHOPS)];
    b.extend_from_slice(&(gateways.len() as u16).to_be_bytes());
    for gw in gateways {
        b.extend_from_slice(&0u32.to_be_bytes()); // VRF
        match gw {
            IpAddr::V4(v4) => {
                b.push(nh_type::IPV4);
                b.push(0);
                b.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                b.push(nh_type::IPV6);
                b.push(0);
                b.extend_from_slice(&v6.octets());
            }
        }
        b.extend_from_slice(&0u32.to_be_bytes()); // ifindex
    }
    b.extend_from_slice(&metric.to_be_bytes());
    frame(cmd::ROUTE_ADD, &b)
}

/// ROUTE_DELETE of our route for `net`.
pub fn route_delete(net: IpNet) -> Vec<u8> {
    let mut b = Vec::with_capacity(32);
    route_head(&mut b, 0, net);
    frame(cmd::ROUTE_DELETE, &b)
}

/// One next hop of a route zebra sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nexthop {
    /// Its gateway, when it has one.
    pub gateway: Option<IpAddr>,
    /// Its interface (0: none).
    pub ifindex: u32,
}

/// A route zebra sent (redistribution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Its route type (the protocol it comes from).
    pub route_type: u8,
    /// The prefix.
    pub prefix: IpNet,
    /// Its next hops.
    pub nexthops: Vec<Nexthop>,
    /// Its administrative distance, when sent.
    pub distance: Option<u8>,
    /// Its metric, when sent.
    pub metric: Option<u32>,
    /// Its tag, when sent.
    pub tag: Option<u32>,
}

fn decode_nexthop(c: &mut Cursor<'_>, message: u32) -> Result<Nexthop, DecodeError> {
    c.u32("next hop VRF")?;
    let kind = c.u8("next hop type")?;
    let flags = c.u8("next hop flags")?;
    let (gateway, ifindex) = match kind {
        nh_type::BLACKHOLE => {
            c.u8("blackhole type")?;
            (None, 0)
        }
        nh_type::IPV4 | nh_type::IPV4_IFINDEX => {
            let a = c.v4("next hop")?;
            (Some(IpAddr::V4(a)), c.u32("ifindex")?)
        }
        nh_type::IFINDEX => (None, c.u32("ifindex")?),
        nh_type::IPV6 | nh_type::IPV6_IFINDEX => {
            let a = c.v6("next hop")?;
            (Some(IpAddr::V6(a)), c.u32("ifindex")?)
        }
        k => return Err(DecodeError::NexthopType(k)),
    };
    if flags & nh_flag::LABEL != 0 {
        let n = c.u8("label count")?;
        c.take(usize::from(n) * 4, "labels")?;
    }
    if flags & nh_flag::WEIGHT != 0 {
        c.u32("weight")?;
    }
    if flags & nh_flag::EVPN != 0 {
        c.take(6, "router MAC")?;
    }
    if message & msg::SRTE != 0 {
        c.u32("SR-TE color")?;
    }
    if flags & nh_flag::HAS_BACKUP != 0 {
        let n = c.u8("backup count")?;
        c.take(usize::from(n), "backup indexes")?;
    }
    if flags & nh_flag::SEG6LOCAL != 0 {
        // action (u32), then struct seg6local_context: nh4, nh6, table
        // (4 + 16 + 4 bytes).
        c.take(4 + 24, "SRv6 local context")?;
    }
    if flags & nh_flag::SEG6 != 0 {
        c.take(16, "SRv6 segment")?;
    }
    Ok(Nexthop { gateway, ifindex })
}

/// Decodes the body of a REDISTRIBUTE_ROUTE_ADD or _DEL.
pub fn decode_route(body: &[u8]) -> Result<Route, DecodeError> {
    let mut c = Cursor { b: body };
    let route_type = c.u8("route type")?;
    if route_type >= route_type::MAX {
        return Err(DecodeError::Range(route_type));
    }
    c.u16("instance")?;
    c.u32("flags")?;
    let message = c.u32("message")?;
    let safi = c.u8("SAFI")?;
    if !(SAFI_UNICAST..SAFI_MAX).contains(&safi) {
        return Err(DecodeError::Range(safi));
    }
    let family = c.u8("family")?;
    let len = c.u8("prefix length")?;
    let prefix = c.prefix(u16::from(family), len, false)?;
    if message & msg::SRCPFX != 0 {
        let l = c.u8("source prefix length")?;
        c.prefix(u16::from(AF_INET6), l, false)?;
    }
    if message & msg::NHG != 0 {
        c.u32("next hop group")?;
    }
    let mut nexthops = Vec::new();
    for (bit, what) in [
        (msg::NEXTHOP, "next hop count"),
        (msg::BACKUP_NEXTHOPS, "backup next hop count"),
    ] {
        if message & bit == 0 {
            continue;
        }
        let n = usize::from(c.u16(what)?);
        if n > MAX_NEXTHOPS {
            return Err(DecodeError::Nexthops(n));
        }
        for _ in 0..n {
            let nh = decode_nexthop(&mut c, message)?;
            if bit == msg::NEXTHOP {
                nexthops.push(nh);
            }
        }
    }
    let distance = (message & msg::DISTANCE != 0)
        .then(|| c.u8("distance"))
        .transpose()?;
    let metric = (message & msg::METRIC != 0)
        .then(|| c.u32("metric"))
        .transpose()?;
    let tag = (message & msg::TAG != 0)
        .then(|| c.u32("tag"))
        .transpose()?;
    // MTU, table id and opaque data follow; nothing here needs them.
    let _ = (msg::MTU, msg::TABLEID, msg::OPAQUE);
    Ok(Route {
        route_type,
        prefix,
        nexthops,
        distance,
        metric,
        tag,
    })
}

/// Decodes a ROUTE_NOTIFY_OWNER: the note and the prefix it is about.
pub fn decode_notify_owner(body: &[u8]) -> Result<(u32, IpNet), DecodeError> {
    let mut c = Cursor { b: body };
    let b = c.take(4, "note")?;
    // A C enum copied as it lies in memory: zebra runs on this host.
    let note = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let family = c.u8("family")?;
    let len = c.u8("prefix length")?;
    let prefix = c.prefix(u16::from(family), len, false)?;
    Ok((note, prefix))
}

/// Decodes a NEXTHOP_UPDATE: the address tracked and how many next hops
/// reach it now (0: unreachable).
pub fn decode_nexthop_update(body: &[u8]) -> Result<(IpAddr, usize), DecodeError> {
    let mut c = Cursor { b: body };
    let message = c.u32("message")?;
    c.u16("SAFI")?;
    let family = c.u16("family")?;
    let len = c.u8("prefix length")?;
    let tracked = c.prefix(family, len, true)?;
    let family = c.u16("resolving family")?;
    let len = c.u8("resolving prefix length")?;
    // An unresolved next hop comes with an empty resolving prefix.
    if family == u16::from(AF_INET) || family == u16::from(AF_INET6) {
        c.prefix(family, len, true)?;
    }
    if message & msg::SRTE != 0 {
        c.u32("SR-TE color")?;
    }
    c.u8("route type")?;
    c.u16("instance")?;
    c.u8("distance")?;
    c.u32("metric")?;
    let n = usize::from(c.u8("next hop count")?);
    for _ in 0..n {
        decode_nexthop(&mut c, 0)?;
    }
    Ok((tracked.addr(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frame: &[u8]) -> &[u8] {
        &frame[HEADER..]
    }

    /// A REDISTRIBUTE_ROUTE_ADD as zebra would send a static route.
    fn static_route() -> Vec<u8> {
        let mut b = vec![route_type::STATIC, 0, 0];
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&(msg::NEXTHOP | msg::DISTANCE | msg::METRIC).to_be_bytes());
        b.push(SAFI_UNICAST);
        b.extend_from_slice(&[AF_INET, 24, 192, 0, 2]);
        b.extend_from_slice(&1u16.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&[nh_type::IPV4_IFINDEX, 0, 10, 0, 0, 1]);
        b.extend_from_slice(&2u32.to_be_bytes());
        b.push(1);
        b.extend_from_slice(&7u32.to_be_bytes());
        b
    }

    #[test]
    fn header_round_trip_and_refusals() {
        let f = route_delete("10.0.0.0/8".parse().unwrap());
        let h = decode_header(f[..HEADER].try_into().unwrap()).unwrap();
        assert_eq!(usize::from(h.length), f.len());
        assert_eq!(h.command, cmd::ROUTE_DELETE);
        let mut bad = f.clone();
        bad[2] = 255;
        assert_eq!(
            decode_header(bad[..HEADER].try_into().unwrap()),
            Err(DecodeError::Marker(255))
        );
        let mut bad = f.clone();
        bad[3] = 5;
        assert_eq!(
            decode_header(bad[..HEADER].try_into().unwrap()),
            Err(DecodeError::Version(5))
        );
        let mut bad = f;
        bad[0] = 0;
        bad[1] = 3;
        assert_eq!(
            decode_header(bad[..HEADER].try_into().unwrap()),
            Err(DecodeError::Length(3))
        );
    }

    #[test]
    fn route_add_layout() {
        let gws = ["192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()];
        let f = route_add("198.51.100.0/24".parse().unwrap(), &gws, 20);
        let b = body(&f);
        assert_eq!(b[0], route_type::BGP);
        assert_eq!(&b[7..11], &(msg::NEXTHOP | msg::METRIC).to_be_bytes());
        assert_eq!(&b[11..16], &[SAFI_UNICAST, AF_INET, 24, 198, 51]);
        assert_eq!(b[17..19], 2u16.to_be_bytes());
        // Two next hops of 4 + 1 + 1 + 4 + 4 bytes, then the metric.
        assert_eq!(b.len(), 19 + 2 * 14 + 4);
        assert_eq!(&b[b.len() - 4..], &20u32.to_be_bytes());
    }

    #[test]
    fn decodes_a_redistributed_route() {
        let r = decode_route(&static_route()).unwrap();
        assert_eq!(r.route_type, route_type::STATIC);
        assert_eq!(r.prefix, "192.0.2.0/24".parse::<IpNet>().unwrap());
        assert_eq!(
            r.nexthops,
            vec![Nexthop {
                gateway: Some("10.0.0.1".parse().unwrap()),
                ifindex: 2
            }]
        );
        assert_eq!((r.distance, r.metric, r.tag), (Some(1), Some(7), None));
    }

    #[test]
    fn truncated_frames_are_refused_at_every_length() {
        let full = static_route();
        for n in 0..full.len() {
            assert!(decode_route(&full[..n]).is_err(), "accepted {n} bytes");
        }
        let mut notify = 2u32.to_ne_bytes().to_vec();
        notify.extend_from_slice(&[AF_INET6, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
        assert!(decode_notify_owner(&notify).is_ok());
        for n in 0..notify.len() {
            assert!(decode_notify_owner(&notify[..n]).is_err());
        }
        let mut update = 0u32.to_be_bytes().to_vec();
        update.extend_from_slice(&[0, 1, 0, AF_INET, 32, 10, 0, 0, 1]);
        update.extend_from_slice(&[0, AF_INET, 24, 10, 0, 0, 0]);
        update.extend_from_slice(&[route_type::CONNECT, 0, 0, 0, 0, 0, 0, 0, 1]);
        update.extend_from_slice(&0u32.to_be_bytes());
        update.extend_from_slice(&[nh_type::IFINDEX, 0, 0, 0, 0, 2]);
        assert_eq!(
            decode_nexthop_update(&update),
            Ok(("10.0.0.1".parse().unwrap(), 1))
        );
        for n in 0..update.len() {
            assert!(decode_nexthop_update(&update[..n]).is_err());
        }
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        // A bad family, an overlong prefix, an unknown next hop type, too
        // many next hops, and pseudo-random bytes.
        let mut r = static_route();
        r[12] = 99;
        assert_eq!(decode_route(&r), Err(DecodeError::Family(99)));
        let mut r = static_route();
        r[13] = 33;
        assert_eq!(decode_route(&r), Err(DecodeError::PrefixLen(33)));
        let mut r = static_route();
        r[23] = 42;
        assert_eq!(decode_route(&r), Err(DecodeError::NexthopType(42)));
        let mut r = static_route();
        r[17] = 0xff;
        assert!(matches!(decode_route(&r), Err(DecodeError::Nexthops(_))));
        let mut x: u32 = 0x1234_5678;
        for len in 0..200 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = decode_route(&junk);
            let _ = decode_notify_owner(&junk);
            let _ = decode_nexthop_update(&junk);
            if junk.len() >= HEADER {
                let _ = decode_header(junk[..HEADER].try_into().unwrap());
            }
        }
    }

    #[test]
    fn small_requests() {
        assert_eq!(
            body(&hello(route_type::BGP, 0)),
            &[9, 0, 0, 0, 0, 0, 0, 1, 0]
        );
        assert_eq!(
            body(&redistribute_add(afi::IP, route_type::STATIC)),
            &[1, 3, 0, 0]
        );
        let f = nexthop_register(true, &["10.0.0.1".parse().unwrap()]);
        assert_eq!(body(&f), &[0, 0, 0, 1, 0, AF_INET, 32, 10, 0, 0, 1]);
    }
}
