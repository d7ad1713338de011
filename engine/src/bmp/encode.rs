//! BMP messages (RFC 7854 4, RFC 8671, RFC 9069): the common header, the
//! per-peer header and each message type. BGP PDUs inside them (OPENs,
//! UPDATEs, NOTIFICATIONs) come from the engine's own wire codec.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};

use crate::event::DownReason;
use crate::wire::{
    CodecConfig, EncodeError, EncodedAttributes, Family, NextHop, Nlri, Open, UpdatePacker,
    HEADER_LEN, MAX_EXTENDED_MESSAGE_LEN,
};

/// BMP version 3.
pub const VERSION: u8 = 3;

/// BMP message types (RFC 7854 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MsgType {
    /// Route Monitoring.
    RouteMonitoring = 0,
    /// Statistics Report.
    StatisticsReport = 1,
    /// Peer Down Notification.
    PeerDown = 2,
    /// Peer Up Notification.
    PeerUp = 3,
    /// Initiation.
    Initiation = 4,
    /// Termination.
    Termination = 5,
}

/// Peer types (RFC 7854 4.2, RFC 9069 4.1).
pub const PEER_GLOBAL: u8 = 0;
/// The Loc-RIB instance peer (RFC 9069).
pub const PEER_LOC_RIB: u8 = 3;

/// Per-peer header flag: the peer address is IPv6.
pub const FLAG_V: u8 = 0x80;
/// Post-policy (Adj-RIB-In after import policy, Adj-RIB-Out after export).
pub const FLAG_L: u8 = 0x40;
/// Legacy 2-octet AS_PATH format.
pub const FLAG_A: u8 = 0x20;
/// Adj-RIB-Out (RFC 8671).
pub const FLAG_O: u8 = 0x10;

/// The per-peer header's fields (RFC 7854 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerHeader {
    /// Peer type.
    pub kind: u8,
    /// Flags (the V flag is set from `address`).
    pub flags: u8,
    /// The peer's address (unspecified for the Loc-RIB).
    pub address: IpAddr,
    /// The peer's AS.
    pub asn: u32,
    /// The peer's BGP identifier.
    pub bgp_id: Ipv4Addr,
    /// When the information was learned.
    pub time: SystemTime,
}

fn begin(out: &mut BytesMut, kind: MsgType) -> usize {
    let start = out.len();
    out.put_u8(VERSION);
    out.put_u32(0);
    out.put_u8(kind as u8);
    start
}

fn finish(out: &mut BytesMut, start: usize) {
    let len = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    out[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
}

fn put_addr(out: &mut BytesMut, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            out.put_bytes(0, 12);
            out.put_slice(&a.octets());
        }
        IpAddr::V6(a) => out.put_slice(&a.octets()),
    }
}

fn put_peer(out: &mut BytesMut, h: &PeerHeader) {
    out.put_u8(h.kind);
    let v = if h.address.is_ipv6() && h.kind != PEER_LOC_RIB {
        FLAG_V
    } else {
        0
    };
    out.put_u8(h.flags | v);
    // Peer distinguisher: the global instance / default table.
    out.put_u64(0);
    put_addr(out, h.address);
    out.put_u32(h.asn);
    out.put_slice(&h.bgp_id.octets());
    let t = h.time.duration_since(UNIX_EPOCH).unwrap_or_default();
    out.put_u32(u32::try_from(t.as_secs()).unwrap_or(u32::MAX));
    out.put_u32(t.subsec_micros());
}

fn put_tlv(out: &mut BytesMut, kind: u16, value: &[u8]) {
    let len = value.len().min(usize::from(u16::MAX));
    out.put_u16(kind);
    out.put_u16(len as u16);
    out.put_slice(&value[..len]);
}

/// Initiation (RFC 7854 4.3) with sysDescr and sysName.
pub fn initiation(out: &mut BytesMut, sys_name: &str, sys_descr: &str) {
    let start = begin(out, MsgType::Initiation);
    put_tlv(out, 1, sys_descr.as_bytes());
    put_tlv(out, 2, sys_name.as_bytes());
    finish(out, start);
}

/// Termination (RFC 7854 4.5): session administratively closed.
pub fn termination(out: &mut BytesMut, text: &str) {
    let start = begin(out, MsgType::Termination);
    put_tlv(out, 0, text.as_bytes());
    put_tlv(out, 1, &0u16.to_be_bytes());
    finish(out, start);
}

/// Peer Up (RFC 7854 4.10) with both OPENs; `table` names the Loc-RIB
/// (RFC 9069 4.2 wants a VRF/Table Name TLV).
pub fn peer_up(
    out: &mut BytesMut,
    h: &PeerHeader,
    local: SocketAddr,
    remote_port: u16,
    sent: &Open,
    received: &Open,
    table: Option<&str>,
) -> Result<(), EncodeError> {
    let mut opens = BytesMut::new();
    sent.encode(&mut opens)?;
    received.encode(&mut opens)?;
    let start = begin(out, MsgType::PeerUp);
    put_peer(out, h);
    put_addr(out, local.ip());
    out.put_u16(local.port());
    out.put_u16(remote_port);
    out.put_slice(&opens);
    if let Some(t) = table {
        put_tlv(out, 3, t.as_bytes());
    }
    finish(out, start);
    Ok(())
}

/// Peer Down (RFC 7854 4.9) with its reason and data.
pub fn peer_down(out: &mut BytesMut, h: &PeerHeader, reason: &DownReason) {
    let mut data = BytesMut::new();
    let code = match reason {
        DownReason::LocalNotification(n) | DownReason::RemoteNotification(n) => {
            if n.encode(MAX_EXTENDED_MESSAGE_LEN, &mut data).is_err() {
                data.clear();
            }
            if matches!(reason, DownReason::LocalNotification(_)) {
                1
            } else {
                3
            }
        }
        DownReason::LocalNoNotification => {
            // The FSM event that closed it: none of RFC 4271 8.1's fits
            // a restart of the peer, so 0.
            data.put_u16(0);
            2
        }
        DownReason::RemoteNoNotification => 4,
    };
    let start = begin(out, MsgType::PeerDown);
    put_peer(out, h);
    out.put_u8(code);
    out.put_slice(&data);
    finish(out, start);
}

/// A Route Monitoring message around one BGP UPDATE PDU.
pub fn route_monitoring(out: &mut BytesMut, h: &PeerHeader, update: &[u8]) {
    let start = begin(out, MsgType::RouteMonitoring);
    put_peer(out, h);
    out.put_slice(update);
    finish(out, start);
}

/// One statistic of a Statistics Report (RFC 7854 4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// A 64-bit gauge.
    Gauge(u16, u64),
    /// A per-AFI/SAFI 64-bit gauge.
    FamilyGauge(u16, Family, u64),
}

/// Stat type: routes in the Adj-RIBs-In.
pub const STAT_ADJ_RIB_IN: u16 = 7;
/// Stat type: routes in the Loc-RIB.
pub const STAT_LOC_RIB: u16 = 8;
/// Stat type: per-AFI/SAFI routes in the Adj-RIB-In.
pub const STAT_ADJ_RIB_IN_AF: u16 = 9;
/// Stat type: per-AFI/SAFI routes in the Loc-RIB.
pub const STAT_LOC_RIB_AF: u16 = 10;
/// Stat type: routes in the post-policy Adj-RIB-Out (RFC 8671).
pub const STAT_ADJ_RIB_OUT_POST: u16 = 15;
/// Stat type: per-AFI/SAFI routes in the post-policy Adj-RIB-Out.
pub const STAT_ADJ_RIB_OUT_POST_AF: u16 = 17;

/// A Statistics Report.
pub fn statistics(out: &mut BytesMut, h: &PeerHeader, stats: &[Stat]) {
    let start = begin(out, MsgType::StatisticsReport);
    put_peer(out, h);
    out.put_u32(stats.len() as u32);
    for s in stats {
        match *s {
            Stat::Gauge(kind, v) => put_tlv(out, kind, &v.to_be_bytes()),
            Stat::FamilyGauge(kind, family, v) => {
                let mut value = [0u8; 11];
                value[..2].copy_from_slice(&family.afi.0.to_be_bytes());
                value[2] = family.safi.0;
                value[3..].copy_from_slice(&v.to_be_bytes());
                put_tlv(out, kind, &value);
            }
        }
    }
    finish(out, start);
}

/// Encodes routes as BGP UPDATE PDUs for Route Monitoring, with the codec
/// of the session they describe (4-octet AS numbers, add-path).
pub struct UpdateEncoder {
    codec: CodecConfig,
    packer: UpdatePacker,
}

impl UpdateEncoder {
    /// An encoder for a session's codec.
    pub fn new(codec: CodecConfig) -> UpdateEncoder {
        UpdateEncoder {
            packer: UpdatePacker::new(&codec),
            codec,
        }
    }

    /// Whether AS numbers are 4 octets (else the A flag goes on).
    pub fn four_octet_as(&self) -> bool {
        self.codec.four_octet_as
    }

    fn nlri(&self, family: Family, net: ipnet::IpNet, path_id: u32) -> Nlri {
        Nlri {
            prefix: net,
            path_id: self.codec.sends_path_ids(family).then_some(path_id),
        }
    }

    /// UPDATEs announcing `nets` (prefix, path id) with `attrs`, appended
    /// to `out` one after the other.
    pub fn announce(
        &self,
        family: Family,
        nets: &[(ipnet::IpNet, u32)],
        attrs: &crate::rib::PathAttrs,
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let encoded = EncodedAttributes::new(&attrs.attrs, self.codec.four_octet_as)?;
        // Our own routes have no next hop until export: report the
        // unspecified address of the family.
        let next_hop = attrs.next_hop.unwrap_or(if family.afi.0 == 2 {
            NextHop::V6 {
                global: std::net::Ipv6Addr::UNSPECIFIED,
                link_local: None,
            }
        } else {
            NextHop::V4(Ipv4Addr::UNSPECIFIED)
        });
        let nlri: Vec<Nlri> = nets
            .iter()
            .map(|(n, id)| self.nlri(family, *n, *id))
            .collect();
        self.packer
            .announce(&encoded, family, next_hop, &nlri, out)
            .map(|_| ())
    }

    /// UPDATEs withdrawing `nets`.
    pub fn withdraw(
        &self,
        family: Family,
        nets: &[(ipnet::IpNet, u32)],
        out: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let nlri: Vec<Nlri> = nets
            .iter()
            .map(|(n, id)| self.nlri(family, *n, *id))
            .collect();
        self.packer.withdraw(family, &nlri, out).map(|_| ())
    }

    /// The End-of-RIB marker of `family`.
    pub fn end_of_rib(&self, family: Family, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.packer.end_of_rib(family, out)
    }
}

/// Splits back-to-back BGP messages.
pub fn split_messages(mut buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if buf.len() < HEADER_LEN {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
        if len < HEADER_LEN || len > buf.len() {
            return None;
        }
        let (msg, rest) = buf.split_at(len);
        buf = rest;
        Some(msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> PeerHeader {
        PeerHeader {
            kind: PEER_GLOBAL,
            flags: FLAG_L,
            address: "2001:db8::1".parse().unwrap(),
            asn: 65001,
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            time: UNIX_EPOCH + std::time::Duration::from_micros(1_500_000),
        }
    }

    #[test]
    fn common_and_per_peer_headers() {
        let mut out = BytesMut::new();
        route_monitoring(&mut out, &header(), &[0xAA]);
        assert_eq!(out.len(), 6 + 42 + 1);
        assert_eq!(&out[..6], &[3, 0, 0, 0, 49, 0]);
        // Peer type, flags with V and L, distinguisher.
        assert_eq!(out[6], 0);
        assert_eq!(out[7], FLAG_V | FLAG_L);
        assert_eq!(&out[8..16], &[0; 8]);
        assert_eq!(&out[32..36], &65001u32.to_be_bytes());
        assert_eq!(&out[36..40], &[192, 0, 2, 1]);
        assert_eq!(&out[40..44], &1u32.to_be_bytes());
        assert_eq!(&out[44..48], &500_000u32.to_be_bytes());
        assert_eq!(out[48], 0xAA);
    }

    #[test]
    fn peer_down_reasons() {
        let mut out = BytesMut::new();
        peer_down(&mut out, &header(), &DownReason::RemoteNoNotification);
        assert_eq!(out.len(), 6 + 42 + 1);
        assert_eq!(out[48], 4);
        out.clear();
        let n = crate::wire::Notification::cease(crate::wire::CeaseSubcode::AdministrativeShutdown);
        peer_down(&mut out, &header(), &DownReason::RemoteNotification(n));
        assert_eq!(out[48], 3);
        // A whole NOTIFICATION PDU follows: marker, length, type 3, 6/2.
        assert_eq!(&out[49..65], &[0xff; 16]);
        assert_eq!(out[67], 3);
        assert_eq!(&out[68..70], &[6, 2]);
    }

    #[test]
    fn statistics_tlvs() {
        let mut out = BytesMut::new();
        statistics(
            &mut out,
            &header(),
            &[
                Stat::Gauge(STAT_ADJ_RIB_IN, 5),
                Stat::FamilyGauge(STAT_ADJ_RIB_IN_AF, Family::IPV6_UNICAST, 3),
            ],
        );
        let body = &out[48..];
        assert_eq!(&body[..4], &2u32.to_be_bytes());
        assert_eq!(&body[4..8], &[0, 7, 0, 8]);
        assert_eq!(&body[16..20], &[0, 9, 0, 11]);
        assert_eq!(&body[20..23], &[0, 2, 1]);
        assert_eq!(out.len(), 48 + 4 + 12 + 15);
    }

    #[test]
    fn split_survives_garbage() {
        assert_eq!(split_messages(&[0xff; 10]).count(), 0);
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 19, 4]);
        m.extend_from_slice(&[0xff; 5]);
        assert_eq!(split_messages(&m).count(), 1);
    }
}
