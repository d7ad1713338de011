//! MRT records (RFC 6396; RFC 8050 for add-path): TABLE_DUMP_V2 peer
//! index tables and RIB entries, BGP4MP messages and state changes. Path
//! attributes and UPDATEs come from the engine's wire codec.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use ipnet::IpNet;

use crate::rib::PathAttrs;
use crate::wire::{EncodeError, EncodedAttributes, NextHop};

/// TABLE_DUMP_V2.
pub const TABLE_DUMP_V2: u16 = 13;
/// BGP4MP.
pub const BGP4MP: u16 = 16;
/// BGP4MP with microsecond timestamps.
pub const BGP4MP_ET: u16 = 17;

/// TABLE_DUMP_V2 subtype: the peer index table.
pub const PEER_INDEX_TABLE: u16 = 1;
/// TABLE_DUMP_V2 subtype: IPv4 unicast RIB entries.
pub const RIB_IPV4_UNICAST: u16 = 2;
/// TABLE_DUMP_V2 subtype: IPv6 unicast RIB entries.
pub const RIB_IPV6_UNICAST: u16 = 4;
/// TABLE_DUMP_V2 subtype: IPv4 unicast with path ids (RFC 8050).
pub const RIB_IPV4_UNICAST_ADDPATH: u16 = 8;
/// TABLE_DUMP_V2 subtype: IPv6 unicast with path ids (RFC 8050).
pub const RIB_IPV6_UNICAST_ADDPATH: u16 = 10;

/// BGP4MP subtype: a state change, 4-octet AS numbers.
pub const STATE_CHANGE_AS4: u16 = 5;
/// BGP4MP subtype: a message, 4-octet AS numbers.
pub const MESSAGE_AS4: u16 = 4;
/// BGP4MP subtype: a message with path ids, 4-octet AS (RFC 8050).
pub const MESSAGE_AS4_ADDPATH: u16 = 9;

/// BGP FSM states as BGP4MP numbers them.
pub const STATE_IDLE: u16 = 1;
/// OpenConfirm.
pub const STATE_OPENCONFIRM: u16 = 5;
/// Established.
pub const STATE_ESTABLISHED: u16 = 6;

/// Starts a record; returns where its header is.
fn begin(out: &mut BytesMut, time: SystemTime, kind: u16, subtype: u16) -> usize {
    let start = out.len();
    let t = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    out.put_u32(u32::try_from(t.as_secs()).unwrap_or(u32::MAX));
    out.put_u16(kind);
    out.put_u16(subtype);
    out.put_u32(0);
    if kind == BGP4MP_ET {
        out.put_u32(t.subsec_micros());
    }
    start
}

fn finish(out: &mut BytesMut, start: usize) {
    let len = u32::try_from(out.len() - start - 12).unwrap_or(u32::MAX);
    out[start + 8..start + 12].copy_from_slice(&len.to_be_bytes());
}

fn put_ip(out: &mut BytesMut, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => out.put_slice(&a.octets()),
        IpAddr::V6(a) => out.put_slice(&a.octets()),
    }
}

/// One peer of a peer index table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexPeer {
    /// BGP identifier.
    pub bgp_id: Ipv4Addr,
    /// Address.
    pub address: IpAddr,
    /// AS.
    pub asn: u32,
}

/// PEER_INDEX_TABLE (RFC 6396 4.3.1); every AS is written in 4 octets.
pub fn peer_index_table(
    out: &mut BytesMut,
    time: SystemTime,
    collector: Ipv4Addr,
    view: &str,
    peers: &[IndexPeer],
) {
    let start = begin(out, time, TABLE_DUMP_V2, PEER_INDEX_TABLE);
    out.put_slice(&collector.octets());
    let view = &view.as_bytes()[..view.len().min(usize::from(u16::MAX))];
    out.put_u16(view.len() as u16);
    out.put_slice(view);
    out.put_u16(u16::try_from(peers.len()).unwrap_or(u16::MAX));
    for p in peers.iter().take(usize::from(u16::MAX)) {
        let v6 = u8::from(p.address.is_ipv6());
        out.put_u8(v6 | 0x02);
        out.put_slice(&p.bgp_id.octets());
        put_ip(out, p.address);
        out.put_u32(p.asn);
    }
    finish(out, start);
}

/// One path of a RIB entry record.
pub struct RibEntry<'a> {
    /// Index in the peer index table.
    pub peer: u16,
    /// When it was learned.
    pub originated: SystemTime,
    /// Add-path identifier (written only in the ADDPATH subtypes).
    pub path_id: u32,
    /// Its attributes.
    pub attrs: &'a PathAttrs,
}

/// A TABLE_DUMP_V2 RIB record for one prefix (RFC 6396 4.3.2), with path
/// ids when `add_path` (RFC 8050). Entries whose attributes cannot be
/// encoded are left out.
pub fn rib_entries(
    out: &mut BytesMut,
    time: SystemTime,
    sequence: u32,
    prefix: IpNet,
    add_path: bool,
    entries: &[RibEntry<'_>],
) {
    let subtype = match (prefix, add_path) {
        (IpNet::V4(_), false) => RIB_IPV4_UNICAST,
        (IpNet::V4(_), true) => RIB_IPV4_UNICAST_ADDPATH,
        (IpNet::V6(_), false) => RIB_IPV6_UNICAST,
        (IpNet::V6(_), true) => RIB_IPV6_UNICAST_ADDPATH,
    };
    let mut body = BytesMut::new();
    let mut count: u16 = 0;
    for e in entries {
        let Ok(attrs) = table_attributes(e.attrs, prefix) else {
            continue;
        };
        if count == u16::MAX {
            break;
        }
        body.put_u16(e.peer);
        let t = e.originated.duration_since(UNIX_EPOCH).unwrap_or_default();
        body.put_u32(u32::try_from(t.as_secs()).unwrap_or(u32::MAX));
        if add_path {
            body.put_u32(e.path_id);
        }
        body.put_u16(u16::try_from(attrs.len()).unwrap_or(u16::MAX));
        body.put_slice(&attrs);
        count += 1;
    }
    let start = begin(out, time, TABLE_DUMP_V2, subtype);
    out.put_u32(sequence);
    out.put_u8(prefix.prefix_len());
    let octets = usize::from(prefix.prefix_len()).div_ceil(8);
    match prefix.addr() {
        IpAddr::V4(a) => out.put_slice(&a.octets()[..octets]),
        IpAddr::V6(a) => out.put_slice(&a.octets()[..octets]),
    }
    out.put_u16(count);
    out.put_slice(&body);
    finish(out, start);
}

/// The attributes of a RIB entry: the path attributes with 4-octet AS
/// numbers, then NEXT_HOP (IPv4) or the abbreviated MP_REACH_NLRI that
/// holds only the next hop (RFC 6396 4.3.4).
fn table_attributes(attrs: &PathAttrs, prefix: IpNet) -> Result<Vec<u8>, EncodeError> {
    let encoded = EncodedAttributes::new(&attrs.attrs, true)?;
    let mut out = encoded.as_bytes().to_vec();
    let next_hop = attrs.next_hop.unwrap_or(match prefix {
        IpNet::V4(_) => NextHop::V4(Ipv4Addr::UNSPECIFIED),
        IpNet::V6(_) => NextHop::V6 {
            global: std::net::Ipv6Addr::UNSPECIFIED,
            link_local: None,
        },
    });
    match (prefix, next_hop) {
        (IpNet::V4(_), NextHop::V4(a)) => {
            out.extend_from_slice(&[0x40, 3, 4]);
            out.extend_from_slice(&a.octets());
        }
        (_, nh) => {
            let mut hop = Vec::with_capacity(32);
            match nh {
                NextHop::V4(a) => hop.extend_from_slice(&a.octets()),
                NextHop::V6 { global, link_local } => {
                    hop.extend_from_slice(&global.octets());
                    if let Some(ll) = link_local {
                        hop.extend_from_slice(&ll.octets());
                    }
                }
            }
            out.extend_from_slice(&[0x80, 14, (hop.len() + 1) as u8, hop.len() as u8]);
            out.extend_from_slice(&hop);
        }
    }
    Ok(out)
}

/// The two ends of a session, as BGP4MP records name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ends {
    /// The peer's AS.
    pub peer_as: u32,
    /// Our AS.
    pub local_as: u32,
    /// The peer's address.
    pub peer: IpAddr,
    /// Ours (of the same family as the peer's).
    pub local: IpAddr,
}

fn put_ends(out: &mut BytesMut, e: &Ends) {
    out.put_u32(e.peer_as);
    out.put_u32(e.local_as);
    // Interface index: unknown.
    out.put_u16(0);
    let local = match (e.peer, e.local) {
        (IpAddr::V4(_), IpAddr::V6(l)) => l
            .to_ipv4_mapped()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V4),
        (IpAddr::V6(_), IpAddr::V4(l)) => IpAddr::V6(l.to_ipv6_mapped()),
        (_, l) => l,
    };
    out.put_u16(if e.peer.is_ipv6() { 2 } else { 1 });
    put_ip(out, e.peer);
    put_ip(out, local);
}

/// BGP4MP_ET STATE_CHANGE_AS4 (RFC 6396 4.4.4).
pub fn state_change(out: &mut BytesMut, time: SystemTime, ends: &Ends, old: u16, new: u16) {
    let start = begin(out, time, BGP4MP_ET, STATE_CHANGE_AS4);
    put_ends(out, ends);
    out.put_u16(old);
    out.put_u16(new);
    finish(out, start);
}

/// BGP4MP_ET MESSAGE_AS4 (or its ADDPATH variant) around one BGP message.
pub fn message(out: &mut BytesMut, time: SystemTime, ends: &Ends, add_path: bool, msg: &[u8]) {
    let subtype = if add_path {
        MESSAGE_AS4_ADDPATH
    } else {
        MESSAGE_AS4
    };
    let start = begin(out, time, BGP4MP_ET, subtype);
    put_ends(out, ends);
    out.put_slice(msg);
    finish(out, start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AsPath, Attributes, Origin, Segment, SegmentType};

    #[test]
    fn rib_record_layout() {
        let attrs = PathAttrs {
            attrs: Attributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath {
                    segments: vec![Segment {
                        kind: SegmentType::Sequence,
                        asns: vec![4_200_000_000],
                    }],
                }),
                ..Attributes::default()
            },
            next_hop: Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))),
        };
        let mut out = BytesMut::new();
        let t = UNIX_EPOCH + std::time::Duration::from_secs(7);
        rib_entries(
            &mut out,
            t,
            3,
            "10.1.0.0/16".parse().unwrap(),
            false,
            &[RibEntry {
                peer: 1,
                originated: t,
                path_id: 0,
                attrs: &attrs,
            }],
        );
        assert_eq!(&out[..4], &7u32.to_be_bytes());
        assert_eq!(&out[4..8], &[0, 13, 0, 2]);
        let len = u32::from_be_bytes([out[8], out[9], out[10], out[11]]) as usize;
        assert_eq!(out.len(), 12 + len);
        // Sequence, /16 with two octets, one entry from peer 1.
        assert_eq!(&out[12..16], &3u32.to_be_bytes());
        assert_eq!(&out[16..19], &[16, 10, 1]);
        assert_eq!(&out[19..21], &[0, 1]);
        assert_eq!(&out[21..23], &[0, 1]);
        // The 4-octet AS is written whole, and NEXT_HOP follows.
        let attrs = &out[29..];
        assert!(attrs
            .windows(4)
            .any(|w| w == 4_200_000_000u32.to_be_bytes()));
        assert!(attrs.ends_with(&[0x40, 3, 4, 192, 0, 2, 1]));
    }
}
