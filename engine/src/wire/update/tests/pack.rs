//! Packing: few messages, each within the limit, every route once.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::super::*;
use crate::wire::config::CodecConfig;
use crate::wire::error::EncodeError;
use crate::wire::family::Family;
use crate::wire::frame::Frame;
use crate::wire::prefix::Nlri;

fn attributes() -> Attributes {
    Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence([65001, 3356, 4_200_000_001])),
        med: Some(10),
        communities: vec![Community::new(65001, 100), Community::new(65001, 200)],
        large_communities: vec![LargeCommunity {
            global_admin: 65001,
            local_data1: 1,
            local_data2: 2,
        }],
        ..Attributes::default()
    }
}

fn v4_prefixes(n: u32, len: u8) -> Vec<Nlri> {
    (0..n)
        .map(|i| {
            Nlri::new(IpNet::V4(
                Ipv4Net::new(Ipv4Addr::from(i << (32 - len)), len).unwrap(),
            ))
        })
        .collect()
}

fn v6_prefixes(n: u32, len: u8) -> Vec<Nlri> {
    (0..n)
        .map(|i| {
            let addr = Ipv6Addr::from((0x2001_0db8u128 << 96) | (u128::from(i) << (128 - len)));
            Nlri::new(IpNet::V6(Ipv6Net::new(addr, len).unwrap()))
        })
        .collect()
}

/// Splits a buffer into UPDATEs, checking each length against `max`.
fn messages(out: &BytesMut, config: &CodecConfig) -> Vec<DecodedUpdate> {
    let mut buf = out.clone();
    let mut all = vec![];
    while let Some(frame) = Frame::split(&mut buf, config.max_message_len()).unwrap() {
        assert!(frame.bytes().len() <= config.max_message_len());
        let decoded = DecodedUpdate::decode(&frame.body(), config);
        assert_eq!(decoded.verdict, Verdict::Clean, "{:?}", decoded.problems);
        all.push(decoded);
    }
    assert!(buf.is_empty());
    all
}

/// Every announced route of the messages, in order, with their
/// attributes checked against `expected`.
fn announced(
    messages: &[DecodedUpdate],
    family: Family,
    next_hop: NextHop,
    expected: &Attributes,
) -> Vec<Nlri> {
    let mut routes = vec![];
    for m in messages {
        assert_eq!(&m.update.attributes, expected);
        let groups: Vec<_> = m.announced().collect();
        assert_eq!(groups.len(), 1);
        assert_eq!((groups[0].family, groups[0].next_hop), (family, next_hop));
        routes.extend_from_slice(groups[0].nlri);
    }
    routes
}

#[test]
fn ipv4_announcements_fill_each_message() {
    let config = CodecConfig::default();
    let attrs = EncodedAttributes::new(&attributes(), false).unwrap();
    let routes = v4_prefixes(10_000, 24);
    let next_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut out = BytesMut::new();
    let count = UpdatePacker::new(&config)
        .announce(&attrs, Family::IPV4_UNICAST, next_hop, &routes, &mut out)
        .unwrap();

    // Header, two section lengths, the block, NEXT_HOP; 4 octets per /24.
    let per_message = (4096 - 19 - 2 - 2 - attrs.len() - 7) / 4;
    assert_eq!(count, routes.len().div_ceil(per_message));
    let all = messages(&out, &config);
    assert_eq!(all.len(), count);
    assert_eq!(
        announced(&all, Family::IPV4_UNICAST, next_hop, &attributes()),
        routes
    );
    let full = 19 + 2 + 2 + attrs.len() + 7 + per_message * 4;
    assert!(all[..count - 1]
        .iter()
        .all(|m| m.update.nlri.len() == per_message));
    assert!(full <= 4096 && full + 4 > 4096);
}

#[test]
fn ipv6_announcements_use_mp_reach_and_extended_messages() {
    let config = CodecConfig {
        extended_message: true,
        four_octet_as: true,
        ..CodecConfig::default()
    };
    let attrs = EncodedAttributes::new(&attributes(), true).unwrap();
    let routes = v6_prefixes(50_000, 48);
    let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let link_local: Ipv6Addr = "fe80::1".parse().unwrap();
    let next_hop = NextHop::V6 {
        global,
        link_local: Some(link_local),
    };
    let mut out = BytesMut::new();
    let count = UpdatePacker::new(&config)
        .announce(&attrs, Family::IPV6_UNICAST, next_hop, &routes, &mut out)
        .unwrap();

    // MP_REACH_NLRI: 4 header octets, AFI, SAFI, length, 32, reserved.
    let per_message = (65535 - 19 - 2 - 2 - (4 + 3 + 1 + 32 + 1) - attrs.len()) / 7;
    assert_eq!(count, routes.len().div_ceil(per_message));
    let all = messages(&out, &config);
    assert_eq!(
        announced(&all, Family::IPV6_UNICAST, next_hop, &attributes()),
        routes
    );
}

#[test]
fn mixed_lengths_and_add_path_are_packed_greedily() {
    let config = CodecConfig {
        add_path_send: vec![Family::IPV4_UNICAST],
        add_path_receive: vec![Family::IPV4_UNICAST],
        ..CodecConfig::default()
    };
    let attrs = EncodedAttributes::new(&attributes(), false).unwrap();
    let routes: Vec<Nlri> = (0..3000u32)
        .map(|i| {
            let len = [8u8, 16, 24, 32, 19][i as usize % 5];
            let net = Ipv4Net::new(Ipv4Addr::from(i.wrapping_mul(2_654_435_761)), len).unwrap();
            Nlri::with_path_id(IpNet::V4(net), i)
        })
        .collect();
    let next_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut out = BytesMut::new();
    UpdatePacker::new(&config)
        .announce(&attrs, Family::IPV4_UNICAST, next_hop, &routes, &mut out)
        .unwrap();
    let all = messages(&out, &config);
    assert_eq!(
        announced(&all, Family::IPV4_UNICAST, next_hop, &attributes()),
        routes
    );
    // Greedy: the first route of each message would not have fit in the
    // one before.
    let overhead = 19 + 4 + attrs.len() + 7;
    for pair in all.windows(2) {
        let used: usize = overhead
            + pair[0]
                .update
                .nlri
                .iter()
                .map(|n| n.wire_len(true))
                .sum::<usize>();
        assert!(used + pair[1].update.nlri[0].wire_len(true) > 4096);
    }
}

#[test]
fn withdrawals_are_packed_per_family() {
    let config = CodecConfig::default();
    let packer = UpdatePacker::new(&config);
    let v4 = v4_prefixes(5000, 24);
    let mut out = BytesMut::new();
    let count = packer
        .withdraw(Family::IPV4_UNICAST, &v4, &mut out)
        .unwrap();
    assert_eq!(count, 5000usize.div_ceil((4096 - 23) / 4));
    let all = messages(&out, &config);
    assert!(all
        .iter()
        .all(|m| m.update.attributes.is_empty() && m.update.nlri.is_empty()));
    let back: Vec<Nlri> = all
        .iter()
        .flat_map(|m| m.update.withdrawn.clone())
        .collect();
    assert_eq!(back, v4);

    let v6 = v6_prefixes(5000, 64);
    let mut out = BytesMut::new();
    let count = packer
        .withdraw(Family::IPV6_UNICAST, &v6, &mut out)
        .unwrap();
    assert_eq!(count, 5000usize.div_ceil((4096 - 23 - 7) / 9));
    let all = messages(&out, &config);
    let back: Vec<Nlri> = all
        .iter()
        .flat_map(|m| {
            m.withdrawn().flat_map(|(f, n)| {
                assert_eq!(f, Family::IPV6_UNICAST);
                n.to_vec()
            })
        })
        .collect();
    assert_eq!(back, v6);

    assert_eq!(packer.withdraw(Family::IPV6_UNICAST, &[], &mut out), Ok(0));
}

#[test]
fn rfc8950_and_end_of_rib_through_the_packer() {
    let config = CodecConfig::default();
    let packer = UpdatePacker::new(&config);
    let attrs = EncodedAttributes::new(
        &Attributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            ..Attributes::default()
        },
        false,
    )
    .unwrap();
    let next_hop = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None,
    };
    let routes = v4_prefixes(3, 24);
    let mut out = BytesMut::new();
    assert_eq!(
        packer.announce(&attrs, Family::IPV4_UNICAST, next_hop, &routes, &mut out),
        Ok(1)
    );
    packer.end_of_rib(Family::IPV4_UNICAST, &mut out).unwrap();
    packer.end_of_rib(Family::IPV6_UNICAST, &mut out).unwrap();
    let all = messages(&out, &config);
    let reach = all[0].update.mp_reach.as_ref().unwrap();
    assert_eq!(
        (reach.family, reach.next_hop, &reach.nlri),
        (Family::IPV4_UNICAST, next_hop, &routes)
    );
    assert_eq!(all[1].end_of_rib(), Some(Family::IPV4_UNICAST));
    assert_eq!(all[2].end_of_rib(), Some(Family::IPV6_UNICAST));
}

#[test]
fn packing_errors_write_nothing() {
    let config = CodecConfig {
        add_path_send: vec![Family::IPV6_UNICAST],
        ..CodecConfig::default()
    };
    let packer = UpdatePacker::new(&config);
    let small = EncodedAttributes::new(&attributes(), false).unwrap();
    let mut out = BytesMut::from(&b"keep"[..]);
    let v4_nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));

    let huge = Attributes {
        unknown: vec![RawAttribute::new(
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType(99),
            Bytes::from(vec![0; 4060]),
        )
        .unwrap()],
        ..attributes()
    };
    let huge = EncodedAttributes::new(&huge, false).unwrap();
    let routes = v4_prefixes(10, 24);
    assert_eq!(
        packer.announce(&huge, Family::IPV4_UNICAST, v4_nh, &routes, &mut out),
        Err(EncodeError::AttributesTooLarge { max: 4096 })
    );
    assert!(matches!(
        packer.announce(
            &small,
            Family::IPV6_UNICAST,
            v4_nh,
            &v6_prefixes(1, 48),
            &mut out
        ),
        Err(EncodeError::WrongNextHop { .. })
    ));
    let v6_nh = NextHop::V6 {
        global: Ipv6Addr::LOCALHOST,
        link_local: None,
    };
    assert!(matches!(
        packer.announce(
            &small,
            Family::IPV6_UNICAST,
            v6_nh,
            &v6_prefixes(1, 48),
            &mut out
        ),
        Err(EncodeError::MissingPathId { .. })
    ));
    assert!(matches!(
        packer.withdraw(Family::IPV4_UNICAST, &v6_prefixes(1, 48), &mut out),
        Err(EncodeError::WrongFamily { .. })
    ));
    let vpn = Family::new(crate::wire::family::Afi(1), crate::wire::family::Safi(128));
    assert_eq!(
        packer.withdraw(vpn, &routes, &mut out),
        Err(EncodeError::UnsupportedFamily(vpn))
    );
    assert_eq!(&out[..], b"keep");
}

#[test]
fn a_large_batch_shares_one_attribute_block() {
    // 200,000 routes, as a slice of a full table; the block is encoded once.
    let config = CodecConfig {
        four_octet_as: true,
        ..CodecConfig::default()
    };
    let attrs = EncodedAttributes::new(&attributes(), true).unwrap();
    let routes = v4_prefixes(200_000, 24);
    let mut out = BytesMut::with_capacity(1 << 20);
    let next_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
    let count = UpdatePacker::new(&config)
        .announce(&attrs, Family::IPV4_UNICAST, next_hop, &routes, &mut out)
        .unwrap();
    let per_message = (4096 - 23 - attrs.len() - 7) / 4;
    assert_eq!(count, routes.len().div_ceil(per_message));
    assert_eq!(out.len(), count * (23 + attrs.len() + 7) + routes.len() * 4);
}
