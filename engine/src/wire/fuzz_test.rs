//! A deterministic stand-in for the cargo-fuzz target: the decoders must
//! survive random and mutated input without panicking, under random
//! session settings, whatever way the bytes are split by the socket.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};

use super::*;

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

fn random_config(rng: &mut Rng) -> CodecConfig {
    let families = [
        Family::IPV4_UNICAST,
        Family::IPV6_UNICAST,
        Family::IPV4_MULTICAST,
        Family::IPV6_MULTICAST,
    ];
    let bits = rng.next();
    let pick = |shift: u32| {
        families
            .iter()
            .enumerate()
            .filter(|(i, _)| bits >> (shift + *i as u32) & 1 == 1)
            .map(|(_, f)| *f)
            .collect()
    };
    CodecConfig {
        four_octet_as: bits & 1 == 1,
        extended_message: bits & 2 == 2,
        peer: if bits & 4 == 4 {
            PeerKind::Internal
        } else {
            PeerKind::External
        },
        add_path_receive: pick(8),
        add_path_send: pick(16),
    }
}

/// Valid messages of every type to mutate, encoded under `config`.
fn corpus(config: &CodecConfig) -> Vec<Vec<u8>> {
    let mut messages = vec![];
    let caps = Capabilities {
        multiprotocol: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        route_refresh: true,
        enhanced_route_refresh: true,
        four_octet_as: Some(4_200_000_000),
        extended_next_hop: vec![ExtendedNextHop {
            family: Family::IPV4_UNICAST,
            next_hop_afi: Afi::IPV6,
        }],
        extended_message: true,
        add_path: vec![AddPath {
            family: Family::IPV4_UNICAST,
            direction: AddPathDirection::Both,
        }],
        graceful_restart: Some(GracefulRestart {
            restarting: true,
            notification: false,
            restart_time: 120,
            families: vec![GracefulRestartFamily {
                family: Family::IPV6_UNICAST,
                forwarding_preserved: true,
            }],
        }),
        long_lived_graceful_restart: Some(vec![crate::wire::LongLivedFamily {
            family: Family::IPV6_UNICAST,
            forwarding_preserved: false,
            stale_time: 86_400,
        }]),
        unknown: vec![RawCapability {
            code: 73,
            value: Bytes::from_static(b"\x02r1\x00"),
        }],
    };
    let attributes = Attributes {
        origin: Some(Origin::Egp),
        as_path: Some(AsPath {
            segments: vec![
                // No sets: they are treated as withdrawn (RFC 9774).
                Segment {
                    kind: SegmentType::ConfedSequence,
                    asns: vec![64512],
                },
                Segment {
                    kind: SegmentType::Sequence,
                    asns: vec![65001, 4_200_000_001],
                },
                Segment {
                    kind: SegmentType::Sequence,
                    asns: vec![1, 2, 3],
                },
            ],
        }),
        med: Some(5),
        local_pref: Some(100),
        atomic_aggregate: true,
        aggregator: Some(Aggregator {
            asn: 4_200_000_009,
            address: Ipv4Addr::new(1, 2, 3, 4),
        }),
        communities: vec![Community::NO_EXPORT],
        originator_id: Some(Ipv4Addr::new(9, 9, 9, 9)),
        cluster_list: vec![Ipv4Addr::new(8, 8, 8, 8)],
        extended_communities: vec![ExtCommunity([0, 2, 0, 1, 0, 0, 0, 1])],
        large_communities: vec![LargeCommunity {
            global_admin: 1,
            local_data1: 2,
            local_data2: 3,
        }],
        unknown: vec![RawAttribute::new(
            AttrFlags::OPTIONAL_TRANSITIVE,
            AttrType(99),
            Bytes::from_static(b"xyz"),
        )
        .unwrap()],
    };
    let with_ids = |family: Family, prefixes: &[&str]| -> Vec<Nlri> {
        prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let n = Nlri::new(p.parse().unwrap());
                if config.sends_path_ids(family) {
                    Nlri {
                        path_id: Some(i as u32),
                        ..n
                    }
                } else {
                    n
                }
            })
            .collect()
    };
    let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let updates = [
        Update {
            attributes: attributes.clone(),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            nlri: with_ids(
                Family::IPV4_UNICAST,
                &["10.0.0.0/8", "192.168.0.0/16", "0.0.0.0/0", "1.2.3.4/32"],
            ),
            withdrawn: with_ids(Family::IPV4_UNICAST, &["172.16.0.0/12"]),
            ..Update::default()
        },
        Update {
            attributes: attributes.clone(),
            mp_reach: Some(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: NextHop::V6 {
                    global,
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: with_ids(
                    Family::IPV6_UNICAST,
                    &["2001:db8::/32", "::/0", "2001:db8:1:2::/64"],
                ),
            }),
            mp_unreach: Some(MpUnreach {
                family: Family::IPV6_UNICAST,
                nlri: with_ids(Family::IPV6_UNICAST, &["2001:db8:ffff::/48"]),
            }),
            ..Update::default()
        },
        Update::end_of_rib(Family::IPV4_UNICAST),
        Update::end_of_rib(Family::IPV6_UNICAST),
    ];
    let mut others = vec![
        Message::Open(Open::new(
            4_200_000_000,
            90,
            Ipv4Addr::new(10, 0, 0, 1),
            caps,
        )),
        Message::Keepalive,
        Message::Notification(Notification::administrative_shutdown("maintenance window")),
        Message::RouteRefresh(RouteRefresh {
            family: Family::IPV6_UNICAST,
            subtype: RouteRefreshSubtype::EndOfRefresh,
        }),
    ];
    others.extend(updates.into_iter().map(Message::Update));
    for m in others {
        let mut out = BytesMut::new();
        m.encode(config, &mut out).unwrap();
        messages.push(out.to_vec());
    }
    messages
}

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = corpus[rng.below(corpus.len())].clone();
    for _ in 0..=rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => data[rng.below(len)] = rng.byte(),
            1 if len > 0 => data[rng.below(len)] ^= 1 << rng.below(8),
            2 => data.insert(rng.below(len + 1), rng.byte()),
            3 if len > 0 => {
                data.remove(rng.below(len));
            }
            4 => data.truncate(rng.below(len + 1)),
            // Overwrite what is likely a length field after the header,
            // keeping the header itself intact so the body gets read.
            5 if len > 21 => {
                let at = 19 + rng.below(len - 20);
                data[at] = rng.byte();
                if at + 1 < len {
                    data[at + 1] = rng.byte();
                }
            }
            _ => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len());
                let at = rng.below(len + 1);
                data.splice(at..at, other[from..].iter().take(rng.below(40)).copied());
            }
        }
    }
    // Keep the header's length honest half of the time, so bodies are read.
    if data.len() >= 19 && rng.chance(2) {
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes();
        data[16..18].copy_from_slice(&len);
    }
    data
}

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(120);
    let mut data: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
    if rng.chance(2) {
        // A valid header in front of random octets.
        let total = data.len() + 19;
        let mut framed = vec![0xff; 16];
        framed.extend_from_slice(&u16::try_from(total).unwrap().to_be_bytes());
        framed.push(1 + rng.below(5) as u8);
        framed.append(&mut data);
        data = framed;
    }
    data
}

/// How often each outcome was reached, to show the inputs get deep.
#[derive(Default)]
struct Reached {
    errors: usize,
    opens: usize,
    verdicts: [usize; 4],
}

/// Feeds `data` to a decoder in chunks, and exercises what comes out.
fn exercise(config: &CodecConfig, data: &[u8], chunk: usize, reached: &mut Reached) {
    let mut decoder = MessageDecoder::new(config.clone());
    let mut buf = BytesMut::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(received)) => {
                    match &received {
                        Received::Open(_) => reached.opens += 1,
                        Received::Update(d) => {
                            reached.verdicts[match d.verdict {
                                Verdict::Clean => 0,
                                Verdict::AttributesDiscarded => 1,
                                Verdict::TreatAsWithdraw => 2,
                                Verdict::SessionReset(_) => 3,
                            }] += 1
                        }
                        _ => {}
                    }
                    use_message(config, received)
                }
                Ok(None) => break,
                Err(e) => {
                    reached.errors += 1;
                    // The notification must itself be sendable.
                    let mut out = BytesMut::new();
                    e.notification
                        .encode(config.max_message_len(), &mut out)
                        .unwrap();
                    let _ = e.to_string();
                    return;
                }
            }
        }
    }
}

/// Touches everything a session would use, re-encoding where possible.
fn use_message(config: &CodecConfig, received: Received) {
    let mut out = BytesMut::new();
    match received {
        Received::Update(d) => {
            let _ = d.announced().count() + d.withdrawn().count();
            let _ = d.end_of_rib();
            for p in &d.problems {
                let _ = (
                    p.kind.to_string(),
                    p.kind.attribute(),
                    p.notification.to_string(),
                );
            }
            let _ = d.update.encode(config, &mut out);
            let _ = EncodedAttributes::new(&d.update.attributes, config.four_octet_as);
        }
        Received::Open(open) => {
            let _ = open.encode(&mut out);
            let _ = negotiate(&open, &open).codec_config(config.peer);
        }
        Received::Notification(n) => {
            let _ = n.shutdown_communication();
            let _ = n.to_string();
        }
        Received::Keepalive | Received::RouteRefresh(_) => {}
    }
}

#[test]
fn decoders_survive_200k_random_and_mutated_inputs() {
    let mut rng = Rng(0x0c0b_6b90_5eed_1234);
    let corpora: Vec<(CodecConfig, Vec<Vec<u8>>)> = (0..8)
        .map(|_| {
            // Our sending settings mirror the peer's receiving ones.
            let mut config = random_config(&mut rng);
            config.add_path_receive = config.add_path_send.clone();
            let corpus = corpus(&config);
            (config, corpus)
        })
        .collect();
    let mut reached = Reached::default();
    for round in 0..200_000 {
        let (source_config, corpus) = &corpora[round % corpora.len()];
        // Usually the settings the corpus was written with; sometimes not.
        let config = if rng.chance(4) {
            random_config(&mut rng)
        } else {
            source_config.clone()
        };
        let data = if rng.chance(4) {
            random_input(&mut rng)
        } else {
            mutate(&mut rng, corpus)
        };
        let chunk = if rng.chance(2) {
            data.len()
        } else {
            1 + rng.below(32)
        };
        exercise(&config, &data, chunk, &mut reached);
        if data.len() > 19 {
            // The body decoders on their own, past the framer's checks.
            let body = &data[19..];
            let _ = DecodedUpdate::decode(body, &config);
            let _ = Open::decode(body);
            let _ = Notification::decode(&Bytes::copy_from_slice(body));
        }
    }
    assert!(
        reached.errors > 1000 && reached.opens > 1000,
        "{} errors, {} opens",
        reached.errors,
        reached.opens
    );
    assert!(
        reached.verdicts.iter().all(|&n| n > 1000),
        "verdicts reached: {:?}",
        reached.verdicts
    );
}

#[test]
fn the_corpus_decodes_cleanly() {
    let mut rng = Rng(7);
    for _ in 0..16 {
        let mut config = random_config(&mut rng);
        config.add_path_receive = config.add_path_send.clone();
        let all: Vec<u8> = corpus(&config).concat();
        let mut decoder = MessageDecoder::new(config.clone());
        let mut buf = BytesMut::from(&all[..]);
        let mut count = 0;
        while let Some(m) = decoder.decode(&mut buf).unwrap() {
            if let Received::Update(d) = &m {
                assert!(
                    matches!(d.verdict, Verdict::Clean | Verdict::AttributesDiscarded),
                    "{:?}",
                    d.problems
                );
            }
            count += 1;
        }
        assert_eq!(count, 8);
    }
}
