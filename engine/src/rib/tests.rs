//! The RIB end to end, without sockets: updates in, best paths, and the
//! UPDATE bytes each update-group member is handed.

use std::net::{IpAddr, Ipv4Addr};

use bytes::BytesMut;
use tokio::sync::mpsc;

use super::*;
use crate::wire::{
    AsPath, Attributes, CodecConfig, DecodedUpdate, MessageDecoder, NextHop, Origin, PeerKind,
    Received, Update, Verdict,
};
use ipnet::IpNet;

const ME: u32 = 65000;

fn info(last: u8, asn: u32) -> PeerInfo {
    let kind = if asn == ME {
        SourceKind::Internal
    } else {
        SourceKind::External
    };
    PeerInfo {
        router_id: Ipv4Addr::new(10, 0, 0, last),
        ..PeerInfo::peer(kind, IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), asn, ME)
    }
}

fn ebgp_key() -> GroupKey {
    GroupKey {
        kind: SourceKind::External,
        rr_client: false,
        local_asn: ME,
        local_v4: Some(Ipv4Addr::new(192, 0, 2, 100)),
        local_v6: None,
        codec: CodecConfig {
            four_octet_as: true,
            ..CodecConfig::default()
        },
        families: vec![Family::IPV4_UNICAST],
        ipv4_over_ipv6: false,
        policy: None,
        add_path_eligible: Default::default(),
        target: None,
        rs_member: None,
        cluster_id: None,
        client_to_client: true,
        outbound: Outbound::default(),
        llgr: false,
    }
}

struct Peer {
    idx: PeerIdx,
    rx: mpsc::UnboundedReceiver<bytes::Bytes>,
    /// Decode as an iBGP receiver would (LOCAL_PREF is kept).
    internal: bool,
}

impl Peer {
    /// Every UPDATE the peer was sent since the last call.
    fn updates(&mut self) -> Vec<Update> {
        let mut buf = BytesMut::new();
        while let Ok(b) = self.rx.try_recv() {
            buf.extend_from_slice(&b);
        }
        let peer = if self.internal {
            PeerKind::Internal
        } else {
            PeerKind::External
        };
        let mut dec = MessageDecoder::new(CodecConfig {
            four_octet_as: true,
            peer,
            ..CodecConfig::default()
        });
        let mut out = Vec::new();
        while let Some(m) = dec.decode(&mut buf).expect("well-formed") {
            match m {
                Received::Update(u) => out.push(u.update),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(buf.is_empty());
        out
    }
}

fn up(rib: &mut Rib, last: u8, asn: u32) -> Peer {
    let idx = rib.add_peer(info(last, asn));
    let (tx, rx) = mpsc::unbounded_channel();
    rib.peer_up(idx, ebgp_key(), tx);
    let mut p = Peer {
        idx,
        rx,
        internal: false,
    };
    // The initial dump of an empty table is just End-of-RIB.
    let eor = p.updates();
    assert_eq!(eor.len(), 1);
    assert_eq!(eor[0].end_of_rib_family(), Some(Family::IPV4_UNICAST));
    p
}

fn announce(path: &[u32], prefixes: &[&str], next_hop: [u8; 4]) -> DecodedUpdate {
    let attributes = Attributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(path.iter().copied())),
        ..Attributes::default()
    };
    DecodedUpdate {
        update: Update {
            attributes,
            next_hop: Some(Ipv4Addr::from(next_hop)),
            nlri: prefixes
                .iter()
                .map(|p| Nlri::new(p.parse().unwrap()))
                .collect(),
            ..Update::default()
        },
        verdict: Verdict::Clean,
        problems: Vec::new(),
    }
}

fn withdraw(prefixes: &[&str]) -> DecodedUpdate {
    DecodedUpdate {
        update: Update {
            withdrawn: prefixes
                .iter()
                .map(|p| Nlri::new(p.parse().unwrap()))
                .collect(),
            ..Update::default()
        },
        verdict: Verdict::Clean,
        problems: Vec::new(),
    }
}

fn rib() -> Rib {
    Rib::new(
        LocalSettings::new(ME, Ipv4Addr::new(10, 0, 0, 100)),
        SelectionOptions::default(),
    )
}

fn prefixes(u: &Update) -> Vec<String> {
    u.nlri.iter().map(|n| n.prefix.to_string()).collect()
}

#[test]
fn routes_flow_through_best_path_to_the_group() {
    let mut rib = rib();
    let mut a = up(&mut rib, 1, 65001);
    let mut b = up(&mut rib, 2, 65002);
    let mut c = up(&mut rib, 3, 65003);

    rib.update(
        a.idx,
        &announce(
            &[65001, 65010],
            &["198.51.100.0/24", "203.0.113.0/24"],
            [192, 0, 2, 1],
        ),
    );
    rib.flush();
    let to_c = c.updates();
    assert_eq!(to_c.len(), 1, "both prefixes share one UPDATE");
    assert_eq!(prefixes(&to_c[0]), ["198.51.100.0/24", "203.0.113.0/24"]);
    let attrs = &to_c[0].attributes;
    assert_eq!(
        attrs.as_path,
        Some(AsPath::from_sequence([ME, 65001, 65010]))
    );
    assert_eq!(to_c[0].next_hop, Some(Ipv4Addr::new(192, 0, 2, 100)));
    assert_eq!(attrs.local_pref, None);
    assert_eq!(b.updates().len(), 1);
    assert!(
        a.updates().is_empty(),
        "split horizon: nothing back to the source"
    );

    // B offers a shorter path for one prefix: it becomes best. C gets B's
    // path, A gets it too (it had nothing for the prefix), B gets a
    // withdraw of A's path it had been sent.
    rib.update(
        b.idx,
        &announce(&[65002], &["198.51.100.0/24"], [192, 0, 2, 2]),
    );
    rib.flush();
    let to_c = c.updates();
    assert_eq!(to_c.len(), 1);
    assert_eq!(
        to_c[0].attributes.as_path,
        Some(AsPath::from_sequence([ME, 65002]))
    );
    let to_a = a.updates();
    assert_eq!(to_a.len(), 1);
    assert_eq!(prefixes(&to_a[0]), ["198.51.100.0/24"]);
    let to_b = b.updates();
    assert_eq!(to_b.len(), 1);
    assert_eq!(
        to_b[0].withdrawn,
        [Nlri::new("198.51.100.0/24".parse().unwrap())]
    );

    let counts = |p: &Peer| rib.counts(p.idx, Family::IPV4_UNICAST);
    assert_eq!(
        counts(&a),
        PrefixCounts {
            received: 2,
            accepted: 2,
            installed: 1,
            sent: 1
        }
    );
    assert_eq!(
        counts(&b),
        PrefixCounts {
            received: 1,
            accepted: 1,
            installed: 1,
            sent: 1
        }
    );
    assert_eq!(
        counts(&c),
        PrefixCounts {
            received: 0,
            accepted: 0,
            installed: 0,
            sent: 2
        }
    );

    // A withdraws the prefix B is best for: nothing visible changes.
    rib.update(a.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    assert!(c.updates().is_empty() && a.updates().is_empty() && b.updates().is_empty());

    // B goes down: its prefix has no path left; A and C get the withdraw.
    rib.peer_down(b.idx, &[]);
    rib.flush();
    for p in [&mut a, &mut c] {
        let u = p.updates();
        assert_eq!(u.len(), 1);
        assert_eq!(
            u[0].withdrawn,
            [Nlri::new("198.51.100.0/24".parse().unwrap())]
        );
    }
    assert_eq!(rib.v4().len(), 1);
    assert_eq!(rib.counts(c.idx, Family::IPV4_UNICAST).sent, 1);
}

#[test]
fn a_new_member_gets_the_table_packed_then_end_of_rib() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let many: Vec<String> = (0..3000)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    rib.update(a.idx, &announce(&[65001], &refs, [192, 0, 2, 1]));
    rib.flush();
    assert_eq!(rib.v4().len(), 3000);
    // The received set; the one made for eBGP peers went with the flush.
    assert_eq!(rib.attr_sets(), 1);

    let idx = rib.add_peer(info(9, 65009));
    let (tx, rx) = mpsc::unbounded_channel();
    rib.peer_up(idx, ebgp_key(), tx);
    let mut late = Peer {
        idx,
        rx,
        internal: false,
    };
    let updates = late.updates();
    let (eor, routes) = updates.split_last().unwrap();
    assert_eq!(eor.end_of_rib_family(), Some(Family::IPV4_UNICAST));
    let total: usize = routes.iter().map(|u| u.nlri.len()).sum();
    assert_eq!(total, 3000);
    // 3000 /24s at 4 octets each fill 4096-octet UPDATEs: 3 messages.
    assert!(
        routes.len() <= 4,
        "{} UPDATEs for 3000 routes",
        routes.len()
    );
}

#[test]
fn sessions_up_together_share_one_dump_but_never_get_their_own_routes() {
    let mut rib = rib();
    // The table: a's two prefixes, b's one (as after our restart, with
    // the sessions held back until the deferral ends).
    let (ia, ib, ic) = (
        rib.add_peer(info(1, 65001)),
        rib.add_peer(info(2, 65002)),
        rib.add_peer(info(3, 65003)),
    );
    let mut rx = Vec::new();
    let mut up = Vec::new();
    for idx in [ia, ib, ic] {
        let (tx, r) = mpsc::unbounded_channel();
        rx.push(Peer {
            idx,
            rx: r,
            internal: false,
        });
        up.push((idx, ebgp_key(), tx));
    }
    rib.update(
        ia,
        &announce(
            &[65001],
            &["198.51.100.0/24", "203.0.113.0/24"],
            [192, 0, 2, 1],
        ),
    );
    rib.update(ib, &announce(&[65002], &["192.0.2.0/24"], [192, 0, 2, 2]));
    rib.peers_up(up);
    let got: Vec<Vec<String>> = rx
        .iter_mut()
        .map(|p| {
            let updates = p.updates();
            assert_eq!(
                updates.last().and_then(Update::end_of_rib_family),
                Some(Family::IPV4_UNICAST)
            );
            let mut all: Vec<String> = updates.iter().flat_map(prefixes).collect();
            all.sort();
            all
        })
        .collect();
    assert_eq!(got[0], ["192.0.2.0/24"]);
    assert_eq!(got[1], ["198.51.100.0/24", "203.0.113.0/24"]);
    assert_eq!(
        got[2],
        ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]
    );
    // One group, counted once: each member's sent count is its own.
    assert_eq!(rib.group_count(), 1);
    let sent = |p| rib.counts(p, Family::IPV4_UNICAST).sent;
    assert_eq!((sent(ia), sent(ib), sent(ic)), (1, 2, 3));
}

#[test]
fn ibgp_routes_are_not_sent_to_ibgp_peers_and_get_local_pref() {
    let mut rib = rib();
    let ibgp_key = GroupKey {
        kind: SourceKind::Internal,
        ..ebgp_key()
    };
    let i1 = rib.add_peer(info(1, ME));
    let i2 = rib.add_peer(info(2, ME));
    let (t1, _r1) = mpsc::unbounded_channel();
    let (t2, r2) = mpsc::unbounded_channel();
    rib.peer_up(i1, ibgp_key.clone(), t1);
    rib.peer_up(i2, ibgp_key, t2);
    let mut p2 = Peer {
        idx: i2,
        rx: r2,
        internal: true,
    };
    p2.updates();
    let mut e = up(&mut rib, 3, 65003);

    rib.update(
        i1,
        &announce(&[65100], &["198.51.100.0/24"], [192, 0, 2, 1]),
    );
    rib.flush();
    assert!(
        p2.updates().is_empty(),
        "no iBGP to iBGP without reflection"
    );
    let to_e = e.updates();
    assert_eq!(
        to_e[0].attributes.as_path,
        Some(AsPath::from_sequence([ME, 65100]))
    );

    // Our own route goes to iBGP with local-pref and next hop self.
    rib.originate(
        "203.0.113.0/24".parse().unwrap(),
        PathAttrs {
            attrs: Attributes {
                origin: Some(Origin::Igp),
                ..Attributes::default()
            },
            next_hop: None,
        },
    );
    rib.flush();
    let to_i2 = p2.updates();
    assert_eq!(to_i2.len(), 1);
    assert_eq!(to_i2[0].attributes.local_pref, Some(DEFAULT_LOCAL_PREF));
    assert_eq!(to_i2[0].next_hop, Some(Ipv4Addr::new(192, 0, 2, 100)));
    assert_eq!(to_i2[0].attributes.as_path, Some(AsPath::default()));
    let to_e = e.updates();
    assert_eq!(to_e[0].next_hop, Some(Ipv4Addr::new(192, 0, 2, 100)));

    // One given an explicit next hop keeps it, to iBGP and eBGP (GoBGP's
    // `global rib add ... nexthop`).
    let hop = Ipv4Addr::new(192, 0, 2, 77);
    rib.originate(
        "203.0.113.128/25".parse().unwrap(),
        PathAttrs {
            attrs: Attributes {
                origin: Some(Origin::Igp),
                ..Attributes::default()
            },
            next_hop: Some(NextHop::V4(hop)),
        },
    );
    rib.flush();
    assert_eq!(p2.updates()[0].next_hop, Some(hop));
    assert_eq!(e.updates()[0].next_hop, Some(hop));
}

/// A policy from a closure, for tests.
struct FnPolicy<F>(F);

impl<F> RoutePolicy for FnPolicy<F>
where
    F: Fn(&PolicyRoute<'_>, &mut Interner) -> Option<Attrs> + Send + Sync,
{
    fn apply(&self, route: &PolicyRoute<'_>, interner: &mut Interner) -> Option<Attrs> {
        (self.0)(route, interner)
    }
}

fn reject(prefix: &'static str) -> SharedPolicy {
    let net: IpNet = prefix.parse().unwrap();
    SharedPolicy(std::sync::Arc::new(FnPolicy(
        move |r: &PolicyRoute<'_>, _: &mut Interner| (r.prefix != net).then(|| r.attrs.clone()),
    )))
}

/// 198.51.100.0/24 and 203.0.113.0/24 from `from` (AS 65001), flushed.
fn announce_two(rib: &mut Rib, from: PeerIdx) {
    rib.update(
        from,
        &announce(
            &[65001],
            &["198.51.100.0/24", "203.0.113.0/24"],
            [192, 0, 2, 1],
        ),
    );
    rib.flush();
}

/// An export policy: 198.51.100.0/24 rejected, MED 77 on the rest.
fn reject_one_med_77_on_the_rest() -> SharedPolicy {
    SharedPolicy(std::sync::Arc::new(FnPolicy(
        |r: &PolicyRoute<'_>, i: &mut Interner| {
            if r.prefix.to_string() == "198.51.100.0/24" {
                return None;
            }
            let mut a = (**r.attrs).clone();
            a.attrs.med = Some(77);
            Some(i.intern(a))
        },
    )))
}

/// The prefixes `updates` withdraw.
fn withdrawn(updates: &[Update]) -> Vec<String> {
    updates
        .iter()
        .flat_map(|u| u.withdrawn.iter().map(|n| n.prefix.to_string()))
        .collect()
}

#[test]
fn import_policy_change_reevaluates_stored_routes_only_where_the_outcome_changes() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let mut c = up(&mut rib, 3, 65003);
    rib.set_import(a.idx, Some(reject("198.51.100.0/24")), None);
    announce_two(&mut rib, a.idx);
    let got = c.updates();
    assert_eq!(got.len(), 1);
    assert_eq!(prefixes(&got[0]), ["203.0.113.0/24"]);
    assert_eq!(
        rib.counts(a.idx, Family::IPV4_UNICAST),
        PrefixCounts {
            received: 2,
            accepted: 1,
            installed: 1,
            sent: 0
        }
    );

    // The policy now rejects the other prefix: one withdraw, one announce,
    // nothing resent that did not change.
    rib.set_import(a.idx, Some(reject("203.0.113.0/24")), None);
    rib.flush();
    let got = c.updates();
    let announced: Vec<String> = got.iter().flat_map(prefixes).collect();
    assert_eq!(withdrawn(&got), ["203.0.113.0/24"]);
    assert_eq!(announced, ["198.51.100.0/24"]);
}

#[test]
fn an_import_policy_change_within_prefixes_judges_only_the_routes_there() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let mut c = up(&mut rib, 3, 65003);
    announce_two(&mut rib, a.idx);
    assert_eq!(c.updates().iter().flat_map(prefixes).count(), 2);
    // A policy rejecting both, said to differ only within 203.0.113.0/24
    // (and an unrelated IPv6 range): only that route is judged again.
    let within: Vec<IpNet> = ["203.0.113.0/25", "203.0.113.0/24", "2001:db8::/32"]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    let both = SharedPolicy(std::sync::Arc::new(FnPolicy(
        |_: &PolicyRoute<'_>, _: &mut Interner| None,
    )));
    rib.set_import(a.idx, Some(both.clone()), Some(&within));
    rib.flush();
    assert_eq!(withdrawn(&c.updates()), ["203.0.113.0/24"]);
    // An empty range: nothing judged again; none: everything.
    rib.set_import(a.idx, Some(both.clone()), Some(&[]));
    rib.flush();
    assert!(c.updates().is_empty());
    rib.set_import(a.idx, Some(both), None);
    rib.flush();
    assert_eq!(withdrawn(&c.updates()), ["198.51.100.0/24"]);
}

#[test]
fn export_policy_change_sends_the_member_only_the_difference() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let mut c = up(&mut rib, 3, 65003);
    let mut d = up(&mut rib, 4, 65004);
    announce_two(&mut rib, a.idx);
    assert_eq!(c.updates().len(), 1);
    assert_eq!(d.updates().len(), 1);

    // C alone stops getting one prefix, and gets MED 77 on the other.
    rib.set_export(c.idx, Some(reject_one_med_77_on_the_rest()));
    let got = c.updates();
    let withdrawn: Vec<String> = got
        .iter()
        .flat_map(|u| u.withdrawn.iter().map(|n| n.prefix.to_string()))
        .collect();
    assert_eq!(withdrawn, ["198.51.100.0/24"]);
    let med: Vec<Option<u32>> = got
        .iter()
        .filter(|u| !u.nlri.is_empty())
        .map(|u| u.attributes.med)
        .collect();
    assert_eq!(med, [Some(77)]);
    assert!(d.updates().is_empty(), "other members are not disturbed");
    assert_eq!(rib.counts(c.idx, Family::IPV4_UNICAST).sent, 1);
    assert_eq!(rib.counts(d.idx, Family::IPV4_UNICAST).sent, 2);

    // New routes reach C through its own group, policy applied.
    rib.update(
        a.idx,
        &announce(&[65001], &["192.0.2.0/24"], [192, 0, 2, 1]),
    );
    rib.flush();
    let got = c.updates();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attributes.med, Some(77));
}

#[test]
fn pre_policy_adj_rib_out_has_the_rules_but_not_the_policy() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let c = up(&mut rib, 3, 65003);
    announce_two(&mut rib, a.idx);
    // C's export policy drops one prefix and sets MED 77 on the other.
    rib.set_export(c.idx, Some(reject_one_med_77_on_the_rest()));
    let mut pre = rib.advertised_pre_policy(c.idx, Family::IPV4_UNICAST, None);
    pre.sort_by_key(|(n, _)| *n);
    let nets: Vec<String> = pre.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(nets, ["198.51.100.0/24", "203.0.113.0/24"]);
    for (_, attrs) in &pre {
        let attrs = attrs.as_ref().expect("sent before policy");
        // The rules: our AS in front, next hop self; no policy MED.
        assert_eq!(
            attrs.attrs.as_path,
            Some(AsPath::from_sequence([ME, 65001]))
        );
        assert_eq!(
            attrs.next_hop,
            Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 100)))
        );
        assert_eq!(attrs.attrs.med, None);
    }
    // Asked by prefix: the source itself is sent nothing, nor is anyone a
    // prefix without a route.
    let asked: Vec<IpNet> = vec![
        "203.0.113.0/24".parse().unwrap(),
        "192.0.2.0/24".parse().unwrap(),
    ];
    let own = rib.advertised_pre_policy(a.idx, Family::IPV4_UNICAST, Some(&asked));
    assert_eq!(own.len(), 2);
    assert!(own.iter().all(|(_, a)| a.is_none()));
    let to_c = rib.advertised_pre_policy(c.idx, Family::IPV4_UNICAST, Some(&asked));
    assert!(to_c[0].1.is_some() && to_c[1].1.is_none());
    // A family the peer did not negotiate: nothing.
    assert!(rib
        .advertised_pre_policy(c.idx, Family::IPV6_UNICAST, None)
        .is_empty());
}

#[test]
fn add_path_send_members_get_path_ids() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let key = GroupKey {
        codec: CodecConfig {
            four_octet_as: true,
            add_path_send: vec![Family::IPV4_UNICAST],
            ..CodecConfig::default()
        },
        ..ebgp_key()
    };
    let idx = rib.add_peer(info(5, 65005));
    let (tx, mut rx) = mpsc::unbounded_channel();
    rib.peer_up(idx, key, tx);
    rib.update(
        a.idx,
        &announce(&[65001], &["198.51.100.0/24"], [192, 0, 2, 1]),
    );
    rib.flush();
    let (ann, _) = add_path_updates(&mut rx);
    // One path per prefix (send-max 1), under path id 1.
    assert_eq!(ann, [(1, "198.51.100.0/24".to_string(), 65001)]);
}

/// An add-path member sending up to `max` paths per prefix.
fn up_add_path(
    rib: &mut Rib,
    last: u8,
    asn: u32,
    max: u8,
) -> (PeerIdx, mpsc::UnboundedReceiver<bytes::Bytes>) {
    up_add_path_as(rib, info(last, asn), max)
}

/// [`up_add_path`] for a peer described by `info`.
fn up_add_path_as(
    rib: &mut Rib,
    info: PeerInfo,
    max: u8,
) -> (PeerIdx, mpsc::UnboundedReceiver<bytes::Bytes>) {
    let outbound = Outbound {
        send_max: [max, 1],
        ..Outbound::default()
    };
    let key = GroupKey {
        codec: CodecConfig {
            four_octet_as: true,
            add_path_send: vec![Family::IPV4_UNICAST],
            ..CodecConfig::default()
        },
        outbound,
        ..ebgp_key()
    };
    let idx = rib.add_peer(PeerInfo { outbound, ..info });
    let (tx, rx) = mpsc::unbounded_channel();
    rib.peer_up(idx, key, tx);
    (idx, rx)
}

/// (path id, prefix, source AS: the first but ours) of an announced path.
type Announced = (u32, String, u32);

/// What an add-path receiver got: the paths announced and the (path id,
/// prefix) withdrawn, each sorted.
fn add_path_updates(
    rx: &mut mpsc::UnboundedReceiver<bytes::Bytes>,
) -> (Vec<Announced>, Vec<(u32, String)>) {
    let mut buf = BytesMut::new();
    while let Ok(b) = rx.try_recv() {
        buf.extend_from_slice(&b);
    }
    let mut dec = MessageDecoder::new(CodecConfig {
        four_octet_as: true,
        add_path_receive: vec![Family::IPV4_UNICAST],
        ..CodecConfig::default()
    });
    let (mut ann, mut wd) = (Vec::new(), Vec::new());
    while let Some(Received::Update(u)) = dec.decode(&mut buf).expect("well-formed") {
        let first = u
            .update
            .attributes
            .as_path
            .as_ref()
            .and_then(|p| p.segments.first())
            .and_then(|s| s.asns.iter().copied().find(|&a| a != ME))
            .unwrap_or(0);
        for n in &u.update.nlri {
            ann.push((n.path_id.unwrap_or(0), n.prefix.to_string(), first));
        }
        for n in &u.update.withdrawn {
            wd.push((n.path_id.unwrap_or(0), n.prefix.to_string()));
        }
    }
    ann.sort();
    wd.sort();
    (ann, wd)
}

/// Three eBGP sources (AS 65001-65003, addresses .1-.3) of one prefix,
/// 198.51.100.0/24, preferred in that order (AS paths of 1, 2 and 3 ASes).
fn three_sources(rib: &mut Rib) -> [Peer; 3] {
    let peers = [up(rib, 1, 65001), up(rib, 2, 65002), up(rib, 3, 65003)];
    let paths: [&[u32]; 3] = [&[65001], &[65002, 1], &[65003, 1, 2]];
    for (i, (p, path)) in peers.iter().zip(paths).enumerate() {
        let hop = [192, 0, 2, 1 + i as u8];
        rib.update(p.idx, &announce(path, &["198.51.100.0/24"], hop));
    }
    rib.flush();
    peers
}

#[test]
fn add_path_send_max_sends_the_best_paths_and_withdraws_each_by_its_id() {
    let mut rib = rib();
    let (_, mut m) = up_add_path(&mut rib, 5, 65005, 2);
    add_path_updates(&mut m);
    let [a, b, c] = three_sources(&mut rib);
    let (ann, wd) = add_path_updates(&mut m);
    assert!(wd.is_empty(), "{wd:?}");
    let firsts: Vec<u32> = ann.iter().map(|a| a.2).collect();
    assert_eq!(ann.len(), 2, "{ann:?}");
    assert!(
        firsts.contains(&65001) && firsts.contains(&65002),
        "{ann:?}"
    );
    assert_ne!(ann[0].0, ann[1].0, "distinct path ids: {ann:?}");
    let id_of = |asn: u32| ann.iter().find(|a| a.2 == asn).unwrap().0;
    let id_a = id_of(65001);
    let id_b = id_of(65002);

    // The best goes: its id alone is withdrawn, c's path comes in.
    rib.update(a.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    let (ann, wd) = add_path_updates(&mut m);
    assert_eq!(wd, [(id_a, "198.51.100.0/24".to_string())]);
    assert_eq!(ann.len(), 1, "{ann:?}");
    assert_eq!(ann[0].2, 65003);
    assert!(ann[0].0 != id_b);

    // A change to b's path is an implicit replace under the same id.
    rib.update(
        b.idx,
        &announce_med(&[65002, 1], &["198.51.100.0/24"], [192, 0, 2, 2], 9),
    );
    rib.flush();
    let (ann, wd) = add_path_updates(&mut m);
    assert!(wd.is_empty(), "{wd:?}");
    assert_eq!(ann, [(id_b, "198.51.100.0/24".to_string(), 65002)]);

    // A member joining late gets both paths in its initial dump.
    let (_, mut late) = up_add_path(&mut rib, 6, 65006, 2);
    let (ann, _) = add_path_updates(&mut late);
    let firsts: Vec<u32> = ann.iter().map(|a| a.2).collect();
    assert_eq!(firsts.len(), 2, "{ann:?}");
    assert!(
        firsts.contains(&65002) && firsts.contains(&65003),
        "{ann:?}"
    );

    // Everything withdrawn: both ids go.
    rib.update(b.idx, &withdraw(&["198.51.100.0/24"]));
    rib.update(c.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    let (ann, wd) = add_path_updates(&mut m);
    assert!(ann.is_empty(), "{ann:?}");
    assert_eq!(wd.len(), 2, "{wd:?}");
}

#[test]
fn a_route_server_client_with_add_path_gets_several_paths_but_never_its_own() {
    let mut rib = rib();
    let rs = PeerInfo {
        rs_client: true,
        ..info(5, 65005)
    };
    let (m, mut rx) = up_add_path_as(&mut rib, rs, 2);
    add_path_updates(&mut rx);
    let [_a, _b, _c] = three_sources(&mut rib);
    rib.update(m, &announce(&[65005], &["198.51.100.0/24"], [192, 0, 2, 5]));
    rib.flush();
    let (ann, _) = add_path_updates(&mut rx);
    // Transparent (no AS of ours in front), the two best of the others.
    let sources: Vec<u32> = ann.iter().map(|a| a.2).collect();
    assert_eq!(sources.len(), 2, "{ann:?}");
    assert!(
        sources.contains(&65001) && sources.contains(&65002),
        "{ann:?}"
    );
}

#[test]
fn only_prefixes_the_eligible_prefix_policy_accepts_get_several_paths() {
    let mut rib = rib();
    let (m, mut rx) = up_add_path(&mut rib, 5, 65005, 2);
    add_path_updates(&mut rx);
    rib.set_export_policies(m, None, [Some(reject("198.51.100.0/24")), None]);
    let [a, b, _c] = three_sources(&mut rib);
    for (p, path) in [(&a, &[65001][..]), (&b, &[65002, 1][..])] {
        let hop = [192, 0, 2, p.idx.0 as u8];
        rib.update(p.idx, &announce(path, &["203.0.113.0/24"], hop));
    }
    rib.flush();
    let (ann, _) = add_path_updates(&mut rx);
    let count = |prefix: &str| ann.iter().filter(|a| a.1 == prefix).count();
    // The policy rejects 198.51.100.0/24: its best alone; the other gets two.
    assert_eq!(count("198.51.100.0/24"), 1, "{ann:?}");
    assert_eq!(count("203.0.113.0/24"), 2, "{ann:?}");

    // Without the policy, the difference: 198.51.100.0/24's second path.
    rib.set_export_policies(m, None, [None, None]);
    let (ann, wd) = add_path_updates(&mut rx);
    assert!(wd.is_empty(), "{wd:?}");
    assert_eq!(ann.len(), 1, "{ann:?}");
    assert_eq!((ann[0].1.as_str(), ann[0].2), ("198.51.100.0/24", 65002));
}

#[test]
fn a_send_max_change_sends_the_difference_and_later_changes_by_path_id() {
    let mut rib = rib();
    let [a, _b, _c] = three_sources(&mut rib);
    // Add-path negotiated, send-max 1: the best under path id 1.
    let (m, mut rx) = up_add_path(&mut rib, 5, 65005, 1);
    let (ann, _) = add_path_updates(&mut rx);
    assert_eq!(ann, [(1, "198.51.100.0/24".to_string(), 65001)]);

    // send-max 2: id 1 goes, the two best come under their own ids, in
    // a group that is new.
    let with_max = |max: u8| PeerInfo {
        outbound: Outbound {
            send_max: [max, 1],
            ..Outbound::default()
        },
        ..info(5, 65005)
    };
    rib.set_peer(m, with_max(2));
    let (ann, wd) = add_path_updates(&mut rx);
    assert_eq!(wd, [(1, "198.51.100.0/24".to_string())]);
    let sources: Vec<u32> = ann.iter().map(|a| a.2).collect();
    assert_eq!(sources.len(), 2, "{ann:?}");
    assert!(
        sources.contains(&65001) && sources.contains(&65002),
        "{ann:?}"
    );
    let id_a = ann.iter().find(|a| a.2 == 65001).unwrap().0;

    // The group knows what it sent: a's path goes by its id, c's comes.
    rib.update(a.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    let (ann, wd) = add_path_updates(&mut rx);
    assert_eq!(wd, [(id_a, "198.51.100.0/24".to_string())]);
    assert_eq!(ann.len(), 1, "{ann:?}");
    assert_eq!(ann[0].2, 65003);

    // Back to one path: both ids go, the best comes under id 1.
    rib.set_peer(m, with_max(1));
    let (ann, wd) = add_path_updates(&mut rx);
    assert_eq!(wd.len(), 2, "{wd:?}");
    assert_eq!(ann, [(1, "198.51.100.0/24".to_string(), 65002)]);
}

#[test]
fn peers_with_the_same_export_policy_share_a_group() {
    let mut rib = rib();
    let shared = reject("198.51.100.0/24");
    let idx: Vec<PeerIdx> = (1..=3)
        .map(|i| rib.add_peer(info(i, 65000 + u32::from(i))))
        .collect();
    rib.set_export(idx[0], Some(shared.clone()));
    rib.set_export(idx[1], Some(shared));
    rib.set_export(idx[2], Some(reject("198.51.100.0/24")));
    for &i in &idx {
        let (tx, _rx) = mpsc::unbounded_channel();
        rib.peer_up(i, ebgp_key(), tx);
    }
    // The same policy object: one group; an equal but separate one: another.
    assert_eq!(rib.group_count(), 2);
}

/// A route-server client (RFC 7947) up in its own group, past its End-of-RIB.
fn up_rs(rib: &mut Rib, last: u8, asn: u32) -> Peer {
    let idx = rib.add_peer(PeerInfo {
        rs_client: true,
        ..info(last, asn)
    });
    let (tx, rx) = mpsc::unbounded_channel();
    rib.peer_up(idx, ebgp_key(), tx);
    let mut p = Peer {
        idx,
        rx,
        internal: false,
    };
    let eor = p.updates();
    assert_eq!(
        eor.last().and_then(Update::end_of_rib_family),
        Some(Family::IPV4_UNICAST)
    );
    p
}

fn announce_med(path: &[u32], prefixes: &[&str], next_hop: [u8; 4], med: u32) -> DecodedUpdate {
    let mut u = announce(path, prefixes, next_hop);
    u.update.attributes.med = Some(med);
    u.update.attributes.communities = vec![crate::wire::Community(0xfde8_0001)];
    u
}

#[test]
fn route_server_clients_get_routes_transparently_and_in_groups_of_their_own() {
    let mut rib = rib();
    let mut a = up_rs(&mut rib, 1, 65001);
    let mut b = up_rs(&mut rib, 2, 65002);
    let mut plain = up(&mut rib, 3, 65003);
    assert_eq!(rib.group_count(), 3, "one group per route-server client");

    rib.update(
        a.idx,
        &announce_med(&[65001, 65010], &["198.51.100.0/24"], [192, 0, 2, 1], 5),
    );
    rib.flush();
    let to_b = b.updates();
    assert_eq!(to_b.len(), 1);
    let attrs = &to_b[0].attributes;
    assert_eq!(
        attrs.as_path,
        Some(AsPath::from_sequence([65001, 65010])),
        "our AS is not prepended"
    );
    assert_eq!(
        to_b[0].next_hop,
        Some(Ipv4Addr::new(192, 0, 2, 1)),
        "NEXT_HOP unchanged"
    );
    assert_eq!(attrs.med, Some(5), "MED passes through");
    assert_eq!(attrs.communities, [crate::wire::Community(0xfde8_0001)]);
    assert!(
        a.updates().is_empty(),
        "nothing back to the client it came from"
    );
    // A normal eBGP peer still gets the usual rules.
    let to_plain = plain.updates();
    assert_eq!(
        to_plain[0].attributes.as_path,
        Some(AsPath::from_sequence([ME, 65001, 65010]))
    );
    assert_eq!(to_plain[0].next_hop, Some(Ipv4Addr::new(192, 0, 2, 100)));
    assert_eq!(to_plain[0].attributes.med, None);
    assert_eq!(rib.counts(b.idx, Family::IPV4_UNICAST).sent, 1);
    assert_eq!(rib.counts(a.idx, Family::IPV4_UNICAST).sent, 0);
}

#[test]
fn a_route_server_client_whose_own_path_is_best_gets_the_next_best() {
    let mut rib = rib();
    let mut a = up_rs(&mut rib, 1, 65001);
    let mut b = up_rs(&mut rib, 2, 65002);
    let mut plain = up(&mut rib, 3, 65003);

    // A's path is best (shorter); B's is second.
    rib.update(
        a.idx,
        &announce(&[65001], &["198.51.100.0/24"], [192, 0, 2, 1]),
    );
    rib.update(
        b.idx,
        &announce(&[65002, 65020], &["198.51.100.0/24"], [192, 0, 2, 2]),
    );
    rib.flush();
    let to_a = a.updates();
    assert_eq!(to_a.len(), 1, "path hiding: A gets B's path");
    assert_eq!(
        to_a[0].attributes.as_path,
        Some(AsPath::from_sequence([65002, 65020]))
    );
    assert_eq!(to_a[0].next_hop, Some(Ipv4Addr::new(192, 0, 2, 2)));
    let to_b = b.updates();
    assert_eq!(to_b.len(), 1);
    assert_eq!(
        to_b[0].attributes.as_path,
        Some(AsPath::from_sequence([65001]))
    );
    assert_eq!(plain.updates().len(), 1);
    assert_eq!(rib.counts(a.idx, Family::IPV4_UNICAST).sent, 1);

    // B withdraws its (non-best) path: only A hears of it.
    rib.update(b.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    let to_a = a.updates();
    assert_eq!(to_a.len(), 1);
    assert_eq!(
        to_a[0].withdrawn,
        [Nlri::new("198.51.100.0/24".parse().unwrap())]
    );
    assert!(b.updates().is_empty() && plain.updates().is_empty());
    assert_eq!(rib.counts(a.idx, Family::IPV4_UNICAST).sent, 0);

    // B announces again, then A withdraws: B's own path is best, so B gets
    // a withdraw, A (had B's path) nothing new.
    rib.update(
        b.idx,
        &announce(&[65002, 65020], &["198.51.100.0/24"], [192, 0, 2, 2]),
    );
    rib.flush();
    assert_eq!(a.updates().len(), 1);
    rib.update(a.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    let to_b = b.updates();
    assert_eq!(to_b.len(), 1);
    assert_eq!(
        to_b[0].withdrawn,
        [Nlri::new("198.51.100.0/24".parse().unwrap())]
    );
    assert!(a.updates().is_empty());
}

#[test]
fn a_route_server_client_whose_policy_rejects_the_best_gets_the_next_best() {
    let mut rib = rib();
    let a = up_rs(&mut rib, 1, 65001);
    let b = up_rs(&mut rib, 2, 65002);
    let mut c = up_rs(&mut rib, 3, 65003);
    // C takes nothing from AS 65001.
    let no_a = SharedPolicy(std::sync::Arc::new(FnPolicy(
        |r: &PolicyRoute<'_>, _: &mut Interner| (r.source.asn != 65001).then(|| r.attrs.clone()),
    )));
    rib.set_export(c.idx, Some(no_a));
    rib.update(
        a.idx,
        &announce(&[65001], &["198.51.100.0/24"], [192, 0, 2, 1]),
    );
    rib.update(
        b.idx,
        &announce(&[65002, 65020], &["198.51.100.0/24"], [192, 0, 2, 2]),
    );
    rib.flush();
    let to_c = c.updates();
    assert_eq!(to_c.len(), 1);
    assert_eq!(
        to_c[0].attributes.as_path,
        Some(AsPath::from_sequence([65002, 65020]))
    );
    // A late dump (route refresh) sends the same choice.
    rib.refresh(c.idx, Family::IPV4_UNICAST, false);
    let again = c.updates();
    assert_eq!(
        again[0].attributes.as_path,
        Some(AsPath::from_sequence([65002, 65020]))
    );
    assert_eq!(
        again.last().and_then(Update::end_of_rib_family),
        Some(Family::IPV4_UNICAST)
    );
    // Without the policy (soft reconfiguration out), C gets A's best path.
    rib.set_export(c.idx, None);
    let to_c = c.updates();
    assert_eq!(to_c.len(), 1);
    assert_eq!(
        to_c[0].attributes.as_path,
        Some(AsPath::from_sequence([65001]))
    );
    let _ = (a, b);
}

#[test]
fn own_as_routes_are_kept_but_never_accepted_unless_allowed() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let mut c = up(&mut rib, 3, 65003);
    rib.update(
        a.idx,
        &announce(&[65001, ME, 100], &["10.50.0.0/24"], [192, 0, 2, 1]),
    );
    rib.update(
        a.idx,
        &announce(&[65001, 100], &["10.51.0.0/24"], [192, 0, 2, 1]),
    );
    rib.flush();
    let sent: Vec<String> = c.updates().iter().flat_map(prefixes).collect();
    assert_eq!(sent, ["10.51.0.0/24"], "the looped route is not advertised");
    let dest = rib
        .v4()
        .get(V4Key::new("10.50.0.0/24".parse().unwrap()))
        .expect("kept pre-policy");
    assert!(dest.best().is_none());
    assert_eq!(
        rib.counts(a.idx, Family::IPV4_UNICAST),
        PrefixCounts {
            received: 2,
            accepted: 1,
            installed: 1,
            sent: 0
        }
    );

    // allow-own-as 1: the stored route is accepted on re-import.
    let relaxed = PeerInfo {
        inbound: Inbound {
            allow_own_as: 1,
            ..info(1, 65001).inbound
        },
        ..info(1, 65001)
    };
    rib.set_peer(a.idx, relaxed);
    rib.flush();
    let sent: Vec<String> = c.updates().iter().flat_map(prefixes).collect();
    assert_eq!(sent, ["10.50.0.0/24"]);
}

fn ibgp(rib: &mut Rib, last: u8, client: bool) -> Peer {
    let idx = rib.add_peer(PeerInfo {
        rr_client: client,
        ..info(last, ME)
    });
    let (tx, rx) = mpsc::unbounded_channel();
    rib.peer_up(
        idx,
        GroupKey {
            kind: SourceKind::Internal,
            ..ebgp_key()
        },
        tx,
    );
    let mut p = Peer {
        idx,
        rx,
        internal: true,
    };
    assert_eq!(p.updates().len(), 1, "End-of-RIB");
    p
}

#[test]
fn reflection_sets_originator_and_cluster_and_drops_loops() {
    let mut rib = rib();
    let a = ibgp(&mut rib, 1, true);
    let mut b = ibgp(&mut rib, 2, true);
    let mut n = ibgp(&mut rib, 3, false);
    rib.update(a.idx, &announce(&[], &["10.1.0.0/24"], [192, 0, 2, 1]));
    rib.flush();
    for p in [&mut b, &mut n] {
        let u = p.updates();
        assert_eq!(u.len(), 1);
        assert_eq!(
            u[0].attributes.originator_id,
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(u[0].attributes.cluster_list, [Ipv4Addr::new(10, 0, 0, 100)]);
    }

    // Client-to-client off: B loses the route, the non-client keeps it.
    rib.set_client_to_client(false);
    rib.flush();
    let u = b.updates();
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].withdrawn, [Nlri::new("10.1.0.0/24".parse().unwrap())]);
    assert!(n.updates().is_empty());

    // Our cluster id in CLUSTER_LIST, or our router id as ORIGINATOR_ID.
    let mut looped = announce(&[], &["10.2.0.0/24"], [192, 0, 2, 3]);
    looped.update.attributes.cluster_list = vec![Ipv4Addr::new(10, 0, 0, 100)];
    rib.update(n.idx, &looped);
    let mut mine = announce(&[], &["10.3.0.0/24"], [192, 0, 2, 3]);
    mine.update.attributes.originator_id = Some(Ipv4Addr::new(10, 0, 0, 100));
    rib.update(n.idx, &mine);
    rib.flush();
    assert_eq!(rib.counts(n.idx, Family::IPV4_UNICAST).accepted, 0);
    assert!(b.updates().is_empty());
}

#[test]
fn send_community_type_and_private_as_rules_shape_what_a_peer_gets() {
    use crate::wire::{Community, LargeCommunity};
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let mut c = up(&mut rib, 3, 65003);
    let outbound = Outbound {
        communities: [CommunityKinds {
            large: true,
            ..CommunityKinds::default()
        }; 2],
        private_as: Some(PrivateAs::RemoveAll),
        ..Outbound::default()
    };
    // A change of export rules moves C to its new group with the difference.
    rib.set_peer(
        c.idx,
        PeerInfo {
            outbound,
            ..info(3, 65003)
        },
    );
    let mut u = announce(&[65001, 64600, 100], &["10.9.0.0/24"], [192, 0, 2, 1]);
    u.update.attributes.communities = vec![Community::new(65001, 7)];
    u.update.attributes.large_communities = vec![LargeCommunity {
        global_admin: 65001,
        local_data1: 1,
        local_data2: 2,
    }];
    rib.update(a.idx, &u);
    rib.flush();
    let got = c.updates();
    assert_eq!(got.len(), 1);
    let attrs = &got[0].attributes;
    assert!(attrs.communities.is_empty());
    assert_eq!(attrs.large_communities.len(), 1);
    // Every private AS goes (65001 and 64600); ours (65000, private too)
    // is put in front afterwards.
    assert_eq!(attrs.as_path, Some(AsPath::from_sequence([ME, 100])));
}

#[test]
fn prefix_limits_report_warning_then_excess_once() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let limit = Limit {
        max: 2,
        warning_pct: Some(50),
        prevent_teardown: false,
    };
    let limits = [
        FamilyLimits {
            accepted: Some(limit),
            received: None,
        },
        FamilyLimits::default(),
    ];
    assert!(rib.set_limits(a.idx, limits).is_empty());
    rib.update(a.idx, &announce(&[65001], &["10.0.1.0/24"], [192, 0, 2, 1]));
    let e = rib.check_limits(a.idx);
    assert_eq!(
        e.iter().map(|e| e.breach).collect::<Vec<_>>(),
        [Breach::Warning]
    );
    rib.update(
        a.idx,
        &announce(&[65001], &["10.0.2.0/24", "10.0.3.0/24"], [192, 0, 2, 1]),
    );
    let e = rib.check_limits(a.idx);
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].breach, e[0].count, e[0].family),
        (Breach::Exceeded, 3, Family::IPV4_UNICAST)
    );
    assert!(rib.limit_exceeded(a.idx, Family::IPV4_UNICAST, false));
    rib.update(a.idx, &announce(&[65001], &["10.0.4.0/24"], [192, 0, 2, 1]));
    assert!(rib.check_limits(a.idx).is_empty(), "reported once");
}

#[test]
fn enhanced_route_refresh_purges_what_was_not_sent_again() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    rib.update(
        a.idx,
        &announce(&[65001], &["10.0.1.0/24", "10.0.2.0/24"], [192, 0, 2, 1]),
    );
    rib.refresh_boundary(a.idx, Family::IPV4_UNICAST, true);
    rib.update(a.idx, &announce(&[65001], &["10.0.1.0/24"], [192, 0, 2, 1]));
    rib.refresh_boundary(a.idx, Family::IPV4_UNICAST, false);
    rib.flush();
    assert!(rib
        .v4()
        .get(V4Key::new("10.0.1.0/24".parse().unwrap()))
        .is_some());
    assert!(
        rib.v4()
            .get(V4Key::new("10.0.2.0/24".parse().unwrap()))
            .is_none(),
        "stale path gone at EoRR"
    );
}

#[test]
fn a_refresh_to_an_enhanced_peer_is_framed_by_borr_and_eorr() {
    use crate::wire::{RouteRefresh, RouteRefreshSubtype};
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let mut c = up(&mut rib, 3, 65003);
    rib.update(a.idx, &announce(&[65001], &["10.0.1.0/24"], [192, 0, 2, 1]));
    rib.flush();
    c.updates();
    rib.refresh(c.idx, Family::IPV4_UNICAST, true);
    let mut buf = BytesMut::new();
    while let Ok(b) = c.rx.try_recv() {
        buf.extend_from_slice(&b);
    }
    let mut dec = MessageDecoder::new(CodecConfig {
        four_octet_as: true,
        ..CodecConfig::default()
    });
    let mut kinds = Vec::new();
    while let Some(m) = dec.decode(&mut buf).expect("well-formed") {
        kinds.push(match m {
            Received::RouteRefresh(RouteRefresh {
                subtype: RouteRefreshSubtype::BeginningOfRefresh,
                ..
            }) => "BoRR",
            Received::RouteRefresh(RouteRefresh {
                subtype: RouteRefreshSubtype::EndOfRefresh,
                ..
            }) => "EoRR",
            Received::Update(u) if u.update.end_of_rib_family().is_some() => "EoR",
            Received::Update(_) => "UPDATE",
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(kinds.first(), Some(&"BoRR"));
    assert_eq!(kinds.last(), Some(&"EoRR"));
    assert!(kinds.contains(&"UPDATE"));
}

#[test]
fn local_as_goes_in_front_both_ways_unless_told_otherwise() {
    let mut rib = rib();
    // A talks to us as AS 65010 (local-as); C to our real AS.
    let a_info = PeerInfo {
        inbound: Inbound {
            prepend: Some(65010),
            ..Inbound::new(65010)
        },
        outbound: Outbound {
            global_behind: Some(ME),
            ..Outbound::default()
        },
        ..info(1, 65001)
    };
    let idx = rib.add_peer(a_info.clone());
    let (tx, rx) = mpsc::unbounded_channel();
    rib.peer_up(idx, ebgp_key(), tx);
    let mut a = Peer {
        idx,
        rx,
        internal: false,
    };
    a.updates();
    let mut c = up(&mut rib, 3, 65003);
    rib.update(a.idx, &announce(&[65001], &["10.7.0.0/24"], [192, 0, 2, 1]));
    rib.update(c.idx, &announce(&[65003], &["10.8.0.0/24"], [192, 0, 2, 3]));
    rib.flush();
    let to_c = c.updates();
    assert_eq!(
        to_c[0].attributes.as_path,
        Some(AsPath::from_sequence([ME, 65010, 65001]))
    );
    let to_a = a.updates();
    assert_eq!(
        to_a[0].attributes.as_path,
        Some(AsPath::from_sequence([65010, ME, 65003]))
    );

    // no-prepend and replace-as: the AS the peer sees, only.
    rib.set_peer(
        a.idx,
        PeerInfo {
            inbound: Inbound::new(65010),
            outbound: Outbound::default(),
            ..a_info
        },
    );
    rib.flush();
    let to_c = c.updates();
    assert_eq!(
        to_c[0].attributes.as_path,
        Some(AsPath::from_sequence([ME, 65001]))
    );
    let to_a = a.updates();
    assert_eq!(
        to_a[0].attributes.as_path,
        Some(AsPath::from_sequence([65010, 65003]))
    );
}

#[test]
fn graceful_restart_keeps_stale_routes_until_end_of_rib() {
    let mut rib = rib();
    let mut a = up(&mut rib, 1, 65001);
    let mut c = up(&mut rib, 3, 65003);
    announce_two(&mut rib, a.idx);
    assert_eq!(c.updates().len(), 1);

    // A restarts: its routes stay (stale, still sent), C sees nothing.
    rib.peer_down(a.idx, &[Family::IPV4_UNICAST]);
    rib.flush();
    assert!(c.updates().is_empty(), "no withdraw during the restart");
    assert_eq!(rib.stale_count(a.idx, Family::IPV4_UNICAST), 2);
    let net: IpNet = "198.51.100.0/24".parse().unwrap();
    assert!(rib.is_stale(a.idx, net, 0));

    // Back with forwarding state kept: still stale until End-of-RIB.
    let gr = GracefulRestart {
        families: vec![crate::wire::GracefulRestartFamily {
            family: Family::IPV4_UNICAST,
            forwarding_preserved: true,
        }],
        ..GracefulRestart::default()
    };
    rib.resume_stale(a.idx, Some(&gr));
    let (tx, rx) = mpsc::unbounded_channel();
    rib.peer_up(a.idx, ebgp_key(), tx);
    a.rx = rx;
    // It sends one route again (unchanged: C hears nothing), then EoR.
    rib.update(
        a.idx,
        &announce(&[65001], &["198.51.100.0/24"], [192, 0, 2, 1]),
    );
    assert!(!rib.is_stale(a.idx, net, 0));
    assert_eq!(rib.stale_count(a.idx, Family::IPV4_UNICAST), 1);
    rib.flush();
    assert!(c.updates().is_empty());
    rib.end_of_rib(a.idx, Family::IPV4_UNICAST);
    rib.flush();
    let u = c.updates();
    assert_eq!(u.len(), 1);
    assert_eq!(
        u[0].withdrawn,
        [Nlri::new("203.0.113.0/24".parse().unwrap())],
        "only the route not sent again goes"
    );
    assert_eq!(rib.stale_count(a.idx, Family::IPV4_UNICAST), 0);

    // Back without forwarding state: the stale routes go at once.
    rib.peer_down(a.idx, &[Family::IPV4_UNICAST]);
    rib.resume_stale(a.idx, None);
    rib.flush();
    assert_eq!(c.updates()[0].withdrawn, [Nlri::new(net)]);
}

#[test]
fn long_lived_stale_routes_are_least_preferred_and_kept_from_peers_without_llgr() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let b = up(&mut rib, 2, 65002);
    let mut c = up(&mut rib, 3, 65003);
    // A's path is better (shorter) until it is long-lived stale.
    rib.update(
        a.idx,
        &announce(&[65001], &["198.51.100.0/24"], [192, 0, 2, 1]),
    );
    rib.update(
        b.idx,
        &announce(
            &[65002, 65010],
            &["198.51.100.0/24", "203.0.113.0/24"],
            [192, 0, 2, 2],
        ),
    );
    let mut no_llgr = announce(&[65001], &["192.0.2.128/25"], [192, 0, 2, 1]);
    no_llgr.update.attributes.communities = vec![Community::NO_LLGR];
    rib.update(a.idx, &no_llgr);
    rib.flush();
    c.updates();
    let net: IpNet = "198.51.100.0/24".parse().unwrap();
    let best_peer = |rib: &Rib| match net {
        IpNet::V4(n) => rib.v4().get(V4Key::new(n)).unwrap().best().unwrap().peer,
        _ => unreachable!(),
    };
    assert_eq!(best_peer(&rib), a.idx);

    rib.peer_down(a.idx, &[Family::IPV4_UNICAST]);
    rib.long_lived_stale(a.idx, &[Family::IPV4_UNICAST]);
    rib.flush();
    assert_eq!(best_peer(&rib), b.idx, "LLGR_STALE is least preferred");
    let stale = rib
        .v4()
        .get(V4Key::new("198.51.100.0/24".parse().unwrap()))
        .unwrap();
    let a_path = stale.get(a.idx, 0).unwrap();
    assert!(a_path
        .received
        .attrs
        .communities
        .contains(&Community::LLGR_STALE));
    assert!(
        rib.v4()
            .get(V4Key::new("192.0.2.128/25".parse().unwrap()))
            .is_none(),
        "NO_LLGR routes are not kept"
    );
    // C (no LLGR) now gets B's path for the prefix and the NO_LLGR
    // route's withdraw; a stale route alone would be withdrawn from it.
    let u = c.updates();
    assert!(u.iter().any(|u| u
        .withdrawn
        .contains(&Nlri::new("192.0.2.128/25".parse().unwrap()))));
    rib.update(b.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    let u = c.updates();
    assert!(
        u.iter().any(|u| u.withdrawn.contains(&Nlri::new(net))),
        "the LLGR_STALE path is not sent to a peer without LLGR: {u:?}"
    );
}

#[test]
fn adj_rib_out_read_in_batches_is_the_whole_table() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let c = up(&mut rib, 3, 65003);
    let nets: Vec<String> = (0..7).map(|i| format!("10.60.{i}.0/24")).collect();
    let nets: Vec<&str> = nets.iter().map(String::as_str).collect();
    rib.update(a.idx, &announce(&[65001], &nets, [192, 0, 2, 1]));
    rib.flush();
    let whole = rib.advertised(c.idx, Family::IPV4_UNICAST);
    assert_eq!(whole.len(), 7);
    let mut batched = Vec::new();
    let mut from = None;
    loop {
        let (batch, next) = rib.advertised_batch(c.idx, Family::IPV4_UNICAST, from, 3);
        assert!(batch.len() <= 3);
        batched.extend(batch);
        match next {
            Some(n) => from = Some(n),
            None => break,
        }
    }
    let key = |v: &[Advertised]| -> Vec<IpNet> { v.iter().map(|r| r.net).collect() };
    assert_eq!(key(&batched), key(&whole));
    // A's own routes are not sent back to it.
    assert!(rib.advertised(a.idx, Family::IPV4_UNICAST).is_empty());
}

#[test]
fn a_forwarding_listener_hears_each_prefixs_next_hops_and_no_paths() {
    let mut rib = rib();
    let a = up(&mut rib, 1, 65001);
    let b = up(&mut rib, 2, 65002);
    let mut fwd = rib.listen_forwarding(16);
    let mut heard = || {
        let mut out = Vec::new();
        while let Ok(c) = fwd.try_recv() {
            match c {
                RouteChange::Forwarding { net, next_hops } => {
                    out.push((net.to_string(), next_hops.to_vec()))
                }
                other => panic!("a forwarding listener got {other:?}"),
            }
        }
        out
    };
    let hop = |last: u8| IpAddr::V4(Ipv4Addr::new(192, 0, 2, last));
    let net = "198.51.100.0/24".to_string();

    rib.update(
        a.idx,
        &announce(&[65001], &["198.51.100.0/24"], [192, 0, 2, 1]),
    );
    rib.flush();
    rib.publish_changes();
    assert_eq!(heard(), [(net.clone(), vec![hop(1)])]);

    // A worse path changes nothing forwarded, but the prefix is told again.
    rib.update(
        b.idx,
        &announce(&[65002, 65010], &["198.51.100.0/24"], [192, 0, 2, 2]),
    );
    rib.flush();
    rib.publish_changes();
    assert_eq!(heard(), [(net.clone(), vec![hop(1)])]);

    // The best goes: the other path forwards.
    rib.update(a.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    rib.publish_changes();
    assert_eq!(heard(), [(net.clone(), vec![hop(2)])]);

    rib.update(b.idx, &withdraw(&["198.51.100.0/24"]));
    rib.flush();
    rib.publish_changes();
    assert_eq!(heard(), [(net, vec![])]);
}
