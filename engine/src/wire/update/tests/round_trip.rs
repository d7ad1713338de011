//! Byte-exact vectors derived from the RFCs' encodings, and encode/decode
//! round trips.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use ipnet::IpNet;

use super::super::*;
use crate::wire::config::CodecConfig;
use crate::wire::family::Family;
use crate::wire::prefix::Nlri;

fn nlri(s: &str) -> Nlri {
    Nlri::new(s.parse::<IpNet>().unwrap())
}

fn encode(update: &Update, config: &CodecConfig) -> BytesMut {
    let mut out = BytesMut::new();
    update.encode(config, &mut out).unwrap();
    out
}

fn decode_message(out: &BytesMut, config: &CodecConfig) -> DecodedUpdate {
    assert_eq!(
        usize::from(u16::from_be_bytes([out[16], out[17]])),
        out.len()
    );
    assert_eq!(out[18], 2);
    DecodedUpdate::decode(&out[19..], config)
}

fn assert_round_trip(update: &Update, config: &CodecConfig) {
    let decoded = decode_message(&encode(update, config), config);
    assert_eq!(decoded.verdict, Verdict::Clean, "{:?}", decoded.problems);
    assert_eq!(&decoded.update, update);
}

#[test]
fn rfc4271_ipv4_vector() {
    // 10.0.0.0/8 and 192.168.1.0/24 with ORIGIN IGP, AS_PATH 65001,
    // NEXT_HOP 192.0.2.1 and MED 100, on a 2-octet session.
    let update = Update {
        attributes: Attributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([65001])),
            med: Some(100),
            ..Attributes::default()
        },
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        nlri: vec![nlri("10.0.0.0/8"), nlri("192.168.1.0/24")],
        ..Update::default()
    };
    let out = encode(&update, &CodecConfig::default());
    let mut expected = vec![0xff; 16];
    expected.extend_from_slice(&[0, 54, 2, 0, 0, 0, 25]);
    expected.extend_from_slice(&[0x40, 1, 1, 0]);
    expected.extend_from_slice(&[0x40, 2, 4, 2, 1, 0xfd, 0xe9]);
    expected.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    expected.extend_from_slice(&[0x80, 4, 4, 0, 0, 0, 100]);
    expected.extend_from_slice(&[8, 10, 24, 192, 168, 1]);
    assert_eq!(&out[..], &expected[..]);
    let decoded = decode_message(&out, &CodecConfig::default());
    assert_eq!(decoded.update, update);
    let announced: Vec<_> = decoded.announced().collect();
    assert_eq!(announced.len(), 1);
    assert_eq!(
        announced[0].next_hop,
        NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))
    );
    assert_eq!(announced[0].nlri.len(), 2);
}

#[test]
fn rfc4760_rfc2545_ipv6_vector() {
    // 2001:db8::/32 via 2001:db8::1 and fe80::1, ORIGIN IGP, empty AS_PATH,
    // LOCAL_PREF 100: MP_REACH_NLRI first (RFC 7606 5.1).
    let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let link_local: Ipv6Addr = "fe80::1".parse().unwrap();
    let update = Update {
        attributes: Attributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            local_pref: Some(100),
            ..Attributes::default()
        },
        mp_reach: Some(MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: NextHop::V6 {
                global,
                link_local: Some(link_local),
            },
            nlri: vec![nlri("2001:db8::/32")],
        }),
        ..Update::default()
    };
    let config = CodecConfig {
        four_octet_as: true,
        peer: crate::wire::PeerKind::Internal,
        ..CodecConfig::default()
    };
    let out = encode(&update, &config);
    let mut expected = vec![0xff; 16];
    expected.extend_from_slice(&[0, 83, 2, 0, 0, 0, 60]);
    expected.extend_from_slice(&[0x90, 14, 0, 42, 0, 2, 1, 32]);
    expected.extend_from_slice(&global.octets());
    expected.extend_from_slice(&link_local.octets());
    expected.extend_from_slice(&[0, 32, 0x20, 0x01, 0x0d, 0xb8]);
    expected.extend_from_slice(&[0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 5, 4, 0, 0, 0, 100]);
    assert_eq!(&out[..], &expected[..]);
    assert_round_trip(&update, &config);
}

#[test]
fn rfc4724_end_of_rib_markers() {
    let config = CodecConfig::default();
    let ipv4 = encode(&Update::end_of_rib(Family::IPV4_UNICAST), &config);
    assert_eq!(&ipv4[16..], [0, 23, 2, 0, 0, 0, 0].as_slice());
    assert_eq!(
        decode_message(&ipv4, &config).end_of_rib(),
        Some(Family::IPV4_UNICAST)
    );

    let ipv6 = encode(&Update::end_of_rib(Family::IPV6_UNICAST), &config);
    assert_eq!(
        &ipv6[16..],
        [0, 30, 2, 0, 0, 0, 7, 0x90, 15, 0, 3, 0, 2, 1].as_slice()
    );
    assert_eq!(
        decode_message(&ipv6, &config).end_of_rib(),
        Some(Family::IPV6_UNICAST)
    );

    // Any family has a marker, even one whose NLRI the codec cannot read.
    let vpn = Family::new(crate::wire::family::Afi(1), crate::wire::family::Safi(128));
    let out = encode(&Update::end_of_rib(vpn), &config);
    assert_eq!(decode_message(&out, &config).end_of_rib(), Some(vpn));

    let withdrawal = Update {
        withdrawn: vec![nlri("10.0.0.0/8")],
        ..Update::default()
    };
    assert_eq!(
        decode_message(&encode(&withdrawal, &config), &config).end_of_rib(),
        None
    );
}

fn every_attribute() -> Attributes {
    Attributes {
        origin: Some(Origin::Incomplete),
        as_path: Some(AsPath {
            segments: vec![
                Segment {
                    kind: SegmentType::ConfedSequence,
                    asns: vec![64512, 64513],
                },
                // No AS_SET: received, one is treated as withdrawn (RFC 9774).
                Segment {
                    kind: SegmentType::Sequence,
                    asns: vec![65001, 4_200_000_001, 3356, 4_200_000_002, 174],
                },
            ],
        }),
        med: Some(0),
        local_pref: Some(200),
        atomic_aggregate: true,
        aggregator: Some(Aggregator {
            asn: 4_200_000_003,
            address: Ipv4Addr::new(198, 51, 100, 7),
        }),
        communities: vec![Community::new(65001, 1), Community::NO_EXPORT],
        originator_id: Some(Ipv4Addr::new(10, 0, 0, 9)),
        cluster_list: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
        extended_communities: vec![ExtCommunity([0, 2, 0xfd, 0xe9, 0, 0, 0, 7])],
        large_communities: vec![LargeCommunity {
            global_admin: 4_200_000_001,
            local_data1: 1,
            local_data2: 2,
        }],
        unknown: vec![
            // In type order, which is the order they are written in.
            RawAttribute::new(AttrFlags(0xe0), AttrType(11), Bytes::from(vec![9; 300])).unwrap(),
            RawAttribute::new(
                AttrFlags::OPTIONAL_TRANSITIVE,
                AttrType(40),
                Bytes::from_static(b"sid"),
            )
            .unwrap(),
        ],
    }
}

#[test]
fn every_attribute_round_trips_on_a_4_octet_session() {
    let update = Update {
        attributes: every_attribute(),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        nlri: vec![nlri("203.0.113.0/24"), nlri("0.0.0.0/0")],
        withdrawn: vec![nlri("198.18.0.0/15")],
        ..Update::default()
    };
    let config = CodecConfig {
        four_octet_as: true,
        peer: crate::wire::PeerKind::Internal,
        ..CodecConfig::default()
    };
    assert_round_trip(&update, &config);
}

#[test]
fn rfc6793_round_trip_through_a_2_octet_session() {
    // The encoder writes AS_TRANS plus AS4_PATH / AS4_AGGREGATOR; the
    // decoder merges them back (RFC 6793 4.2.2, 4.2.3).
    let update = Update {
        attributes: every_attribute(),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        nlri: vec![nlri("203.0.113.0/24")],
        ..Update::default()
    };
    let config = CodecConfig {
        peer: crate::wire::PeerKind::Internal,
        ..CodecConfig::default()
    };
    let out = encode(&update, &config);
    // AS4_PATH (17) and AS4_AGGREGATOR (18) are on the wire.
    let raw = DecodedUpdate::decode(
        &out[19..],
        &CodecConfig {
            four_octet_as: false,
            ..config.clone()
        },
    );
    assert_eq!(raw.verdict, Verdict::Clean);
    assert_round_trip(&update, &config);
    assert!(out.windows(2).any(|w| w == [0xc0, 17]));
    assert!(out.windows(2).any(|w| w == [0xc0, 18]));
}

#[test]
fn no_as4_attributes_when_every_as_fits_in_2_octets() {
    let attributes = Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence([65001, 65002])),
        aggregator: Some(Aggregator {
            asn: 65001,
            address: Ipv4Addr::new(1, 1, 1, 1),
        }),
        ..Attributes::default()
    };
    let block = EncodedAttributes::new(&attributes, false).unwrap();
    assert!(!block
        .as_bytes()
        .windows(2)
        .any(|w| w == [0xc0, 17] || w == [0xc0, 18]));
    let four = EncodedAttributes::new(&every_attribute(), true).unwrap();
    assert!(!four
        .as_bytes()
        .windows(2)
        .any(|w| w == [0xc0, 17] || w == [0xc0, 18]));
}

#[test]
fn attributes_are_written_in_type_order() {
    let block = EncodedAttributes::new(&every_attribute(), true).unwrap();
    let mut types = vec![];
    let mut rest = block.as_bytes();
    while let [flags, ty, tail @ ..] = rest {
        let (len, tail) = if flags & 0x10 != 0 {
            (
                usize::from(u16::from_be_bytes([tail[0], tail[1]])),
                &tail[2..],
            )
        } else {
            (usize::from(tail[0]), &tail[1..])
        };
        types.push(*ty);
        rest = &tail[len..];
    }
    assert_eq!(types, [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 16, 32, 40]);
}

#[test]
fn add_path_and_mp_unreach_round_trip() {
    let ipv6 = Family::IPV6_UNICAST;
    let update = Update {
        withdrawn: vec![Nlri::with_path_id("10.0.0.0/8".parse().unwrap(), 1)],
        mp_unreach: Some(MpUnreach {
            family: ipv6,
            nlri: vec![Nlri::with_path_id(
                "2001:db8:1::/48".parse().unwrap(),
                0xffff_ffff,
            )],
        }),
        ..Update::default()
    };
    let config = CodecConfig {
        add_path_receive: vec![Family::IPV4_UNICAST, ipv6],
        add_path_send: vec![Family::IPV4_UNICAST, ipv6],
        ..CodecConfig::default()
    };
    assert_round_trip(&update, &config);
    let decoded = decode_message(&encode(&update, &config), &config);
    let withdrawn: Vec<_> = decoded.withdrawn().map(|(f, n)| (f, n.len())).collect();
    assert_eq!(withdrawn, [(Family::IPV4_UNICAST, 1), (ipv6, 1)]);
}

#[test]
fn rfc8950_ipv4_routes_with_an_ipv6_next_hop() {
    let global: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let update = Update {
        attributes: Attributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            ..Attributes::default()
        },
        mp_reach: Some(MpReach {
            family: Family::IPV4_UNICAST,
            next_hop: NextHop::V6 {
                global,
                link_local: None,
            },
            nlri: vec![nlri("192.0.2.0/24")],
        }),
        ..Update::default()
    };
    let config = CodecConfig::default();
    let out = encode(&update, &config);
    assert_eq!(&out[23..31], [0x90, 14, 0, 25, 0, 1, 1, 16].as_slice());
    assert_round_trip(&update, &config);
}

#[test]
fn encoding_errors_write_nothing() {
    let config = CodecConfig::default();
    let mut out = BytesMut::from(&b"keep"[..]);
    let v6_in_v4 = Update {
        nlri: vec![nlri("2001:db8::/32")],
        ..Update::default()
    };
    assert!(matches!(
        v6_in_v4.encode(&config, &mut out),
        Err(crate::wire::EncodeError::WrongFamily { .. })
    ));
    let too_big = Update {
        withdrawn: (0..2000u32)
            .map(|i| nlri(&format!("10.{}.{}.0/24", i / 256, i % 256)))
            .collect(),
        ..Update::default()
    };
    assert!(matches!(
        too_big.encode(&config, &mut out),
        Err(crate::wire::EncodeError::MessageTooLong { .. })
    ));
    let add_path = CodecConfig {
        add_path_send: vec![Family::IPV4_UNICAST],
        ..CodecConfig::default()
    };
    let no_id = Update {
        withdrawn: vec![nlri("10.0.0.0/8")],
        ..Update::default()
    };
    assert!(matches!(
        no_id.encode(&add_path, &mut out),
        Err(crate::wire::EncodeError::MissingPathId { .. })
    ));
    assert_eq!(&out[..], b"keep");
}
