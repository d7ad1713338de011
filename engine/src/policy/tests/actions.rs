//! Every action.

use std::net::Ipv6Addr;

use super::*;
use crate::policy::sets::community::parse_ext;
use crate::wire::LargeCommunity;

fn bgp_act(config: &str) -> Chain {
    actor(Cfg::new(), &bgpa(&format!(r#""config":{{{config}}}"#)))
}

#[test]
fn set_route_origin_and_local_pref() {
    let mut b = Bench::new();
    let a = b.out(
        &bgp_act(r#""set-route-origin":"INCOMPLETE","set-local-pref":300"#),
        |_| {},
    );
    assert_eq!(
        (a.attrs.origin, a.attrs.local_pref),
        (Some(Origin::Incomplete), Some(300))
    );
}

#[test]
fn set_next_hop_address_self_and_peer() {
    let mut b = Bench::new();
    let a = b.out(&bgp_act(r#""set-next-hop":"198.51.100.1""#), |_| {});
    assert_eq!(
        a.next_hop,
        Some(NextHop::V4(Ipv4Addr::new(198, 51, 100, 1)))
    );
    let a = b.out(&bgp_act(r#""set-next-hop":"2001:db8::9""#), |_| {});
    assert_eq!(
        a.next_hop,
        Some(NextHop::V6 {
            global: "2001:db8::9".parse::<Ipv6Addr>().unwrap(),
            link_local: None
        })
    );
    let a = b.out(&bgp_act(r#""set-next-hop":"SELF""#), |_| {});
    assert_eq!(a.next_hop, None, "SELF is the no-next-hop marker");
    let peer_chain = bgp_act(r#""set-next-hop":"PEER_ADDRESS""#);
    assert!(peer_chain.depends_on_target());
    b.source = peer(SourceKind::External, "192.0.2.44", 65001);
    let a = b.out(&peer_chain, |_| {});
    assert_eq!(
        a.next_hop,
        Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 44))),
        "import: the source"
    );
    b.target = Some(peer(SourceKind::Internal, "192.0.2.55", 65000));
    let a = b.out(&peer_chain, |_| {});
    assert_eq!(
        a.next_hop,
        Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 55))),
        "export: the target"
    );
}

#[test]
fn set_med_set_add_subtract_saturate() {
    let mut b = Bench::new();
    let set = bgp_act(r#""set-med":100,"set-med-action":"SET""#);
    let add = bgp_act(r#""set-med":100,"set-med-action":"ADD""#);
    let sub = bgp_act(r#""set-med":100,"set-med-action":"SUBTRACT""#);
    assert_eq!(b.out(&set, |a| a.attrs.med = Some(7)).attrs.med, Some(100));
    assert_eq!(b.out(&add, |a| a.attrs.med = Some(7)).attrs.med, Some(107));
    assert_eq!(
        b.out(&add, |_| {}).attrs.med,
        Some(100),
        "absent counts as 0"
    );
    assert_eq!(
        b.out(&add, |a| a.attrs.med = Some(u32::MAX - 1)).attrs.med,
        Some(u32::MAX)
    );
    assert_eq!(b.out(&sub, |a| a.attrs.med = Some(150)).attrs.med, Some(50));
    assert_eq!(b.out(&sub, |a| a.attrs.med = Some(7)).attrs.med, Some(0));
}

#[test]
fn unsupported_actions_are_problems() {
    let cfg = Cfg::new().policy(
        "p",
        &[stmt(
            "s",
            "",
            &bgpa(r#""config":{"set-med":"IGP","set-med-action":"SET"}"#),
        )],
    );
    let e = cfg.try_compile().unwrap_err();
    assert!(e.path.unwrap().ends_with("bgp-actions/config/set-med"));
    assert!(e.reason.contains("IGP"));
    let cfg = Cfg::new().policy(
        "p",
        &[stmt(
            "s",
            "",
            &bgpa(r#""config":{"set-aigp":"5","set-aigp-action":"SET"}"#),
        )],
    );
    assert!(cfg
        .try_compile()
        .unwrap_err()
        .path
        .unwrap()
        .ends_with("config/set-aigp"));
}

fn prepend(config: &str) -> Chain {
    actor(
        Cfg::new(),
        &bgpa(&format!(
            r#""set-as-path-prepend":{{"config":{{{config}}}}}"#
        )),
    )
}

#[test]
fn set_as_path_prepend() {
    let mut b = Bench::new();
    let path = |a: &Attrs| a.attrs.as_path.clone().unwrap();
    assert_eq!(
        path(&b.out(&prepend(r#""asn":64999"#), |_| {})),
        AsPath::from_sequence([64999, 65001, 65002])
    );
    assert_eq!(
        path(&b.out(&prepend(r#""repeat-n":3"#), |_| {})),
        AsPath::from_sequence([65000, 65000, 65000, 65001, 65002]),
        "our AS by default"
    );
    assert_eq!(
        path(&b.out(&prepend(r#""use-last-as":true,"repeat-n":2"#), |_| {})),
        AsPath::from_sequence([65001, 65001, 65001, 65002])
    );
    let empty = b.out(&prepend(r#""use-last-as":true"#), |a| {
        a.attrs.as_path = Some(AsPath::default())
    });
    assert_eq!(path(&empty), AsPath::default(), "nothing to repeat");
    assert_eq!(
        path(&b.out(&prepend(r#""asn":7"#), |a| a.attrs.as_path = None)),
        AsPath::from_sequence([7])
    );
}

fn set_comm(method: &str, options: &str, body: &str) -> String {
    bgpa(&format!(
        r#""set-community":{{"config":{{"method":{method:?},"options":{options:?}}},{body}}}"#
    ))
}

fn inline(list: &[&str]) -> String {
    format!(
        r#""inline":{{"config":{{"communities":[{}]}}}}"#,
        super::list(list)
    )
}

fn refs(field: &str, sets: &[&str]) -> String {
    format!(
        r#""reference":{{"config":{{"{field}":[{}]}}}}"#,
        super::list(sets)
    )
}

#[test]
fn set_community_inline_add_remove_replace() {
    let mut b = Bench::new();
    let start = |a: &mut PathAttrs| a.attrs.communities = vec![c(1, 1), c(2, 2)];
    let add = actor(
        Cfg::new(),
        &set_comm(
            "INLINE",
            "ADD",
            &inline(&["1:1", "3:3", "openconfig-bgp-types:NO_EXPORT"]),
        ),
    );
    assert_eq!(
        b.out(&add, start).attrs.communities,
        vec![c(1, 1), c(2, 2), c(3, 3), Community::NO_EXPORT]
    );
    let rm = actor(Cfg::new(), &set_comm("INLINE", "REMOVE", &inline(&["1:1"])));
    assert_eq!(b.out(&rm, start).attrs.communities, vec![c(2, 2)]);
    let rep = actor(
        Cfg::new(),
        &set_comm("INLINE", "REPLACE", &inline(&["9:9"])),
    );
    assert_eq!(b.out(&rep, start).attrs.communities, vec![c(9, 9)]);
    let clear = actor(Cfg::new(), &set_comm("INLINE", "REPLACE", &inline(&[])));
    assert!(b.out(&clear, start).attrs.communities.is_empty());
    // Nothing to do: the same attribute set comes back.
    let already = b.attrs(|a| a.attrs.communities = vec![c(2, 2)]);
    let out = b.run_on(&rm, "10.0.0.0/8", &already).accepted().unwrap();
    assert!(std::sync::Arc::ptr_eq(&out, &already));
}

#[test]
fn set_community_by_reference_with_regex() {
    let cfg = Cfg::new()
        .community_set("rx", &["^65100:.*$"])
        .community_set("lit", &["7:7"])
        .community_set_opt("keep", &["^65000:"], "INVERT");
    let other_large = LargeCommunity {
        global_admin: 1,
        local_data1: 1,
        local_data2: 1,
    };
    let start = |a: &mut PathAttrs| {
        a.attrs.communities = vec![c(65100, 1), c(65100, 2), c(1, 1), c(65000, 5)];
        a.attrs.large_communities = vec![other_large];
    };
    let mut b = Bench::new();
    let rm = actor(
        cfg.clone(),
        &set_comm("REFERENCE", "REMOVE", &refs("community-set-refs", &["rx"])),
    );
    let a = b.out(&rm, start);
    assert_eq!(a.attrs.communities, vec![c(1, 1), c(65000, 5)]);
    assert_eq!(
        a.attrs.large_communities,
        vec![other_large],
        "large communities are left alone"
    );
    let add = actor(
        cfg.clone(),
        &set_comm("REFERENCE", "ADD", &refs("community-set-refs", &["lit"])),
    );
    let a = b.out(&add, start);
    assert!(a.attrs.communities.contains(&c(7, 7)));
    assert_eq!(a.attrs.large_communities, vec![other_large]);
    let rep = actor(
        cfg.clone(),
        &set_comm(
            "REFERENCE",
            "REPLACE",
            &refs("community-set-refs", &["lit"]),
        ),
    );
    let a = b.out(&rep, start);
    assert_eq!(
        (
            a.attrs.communities.clone(),
            a.attrs.large_communities.clone()
        ),
        (vec![c(7, 7)], vec![other_large])
    );
    // The deprecated INVERT on the set: REMOVE keeps only what matches.
    let keep = actor(
        cfg.clone(),
        &set_comm(
            "REFERENCE",
            "REMOVE",
            &refs("community-set-refs", &["keep"]),
        ),
    );
    assert_eq!(b.out(&keep, start).attrs.communities, vec![c(65000, 5)]);
    // ADD and REPLACE cannot use regular expressions.
    let bad = cfg.policy(
        "p",
        &[stmt(
            "s",
            "",
            &set_comm("REFERENCE", "ADD", &refs("community-set-refs", &["rx"])),
        )],
    );
    let e = bad.try_compile().unwrap_err();
    assert!(e.reason.contains("regular expressions"), "{e}");
    assert!(e
        .path
        .unwrap()
        .ends_with("set-community/reference/config/community-set-refs"));
}

fn set_ext(method: &str, options: &str, body: &str) -> String {
    bgpa(&format!(
        r#""set-ext-community":{{"config":{{"method":{method:?},"options":{options:?}}},{body}}}"#
    ))
}

#[test]
fn set_ext_community_inline_and_reference() {
    let rt1 = parse_ext("route-target:65000:1").unwrap();
    let rt2 = parse_ext("route-target:65000:2").unwrap();
    let soo = parse_ext("route-origin:192.0.2.1:7").unwrap();
    let start = |a: &mut PathAttrs| a.attrs.extended_communities = vec![rt1, soo];
    let cfg = Cfg::new()
        .ext_community_set("rts", &["^route-target:.*"])
        .ext_community_set("two", &["route-target:65000:2"]);
    let mut b = Bench::new();
    let add = actor(
        Cfg::new(),
        &set_ext(
            "INLINE",
            "ADD",
            &inline(&["route-target:65000:2", "route-target:65000:1"]),
        ),
    );
    assert_eq!(
        b.out(&add, start).attrs.extended_communities,
        vec![rt1, soo, rt2]
    );
    let rep = actor(
        Cfg::new(),
        &set_ext("INLINE", "REPLACE", &inline(&["65000:2"])),
    );
    assert_eq!(b.out(&rep, start).attrs.extended_communities, vec![rt2]);
    let rm = actor(
        cfg.clone(),
        &set_ext(
            "REFERENCE",
            "REMOVE",
            &refs("ext-community-set-refs", &["rts"]),
        ),
    );
    assert_eq!(b.out(&rm, start).attrs.extended_communities, vec![soo]);
    let add = actor(
        cfg.clone(),
        &set_ext(
            "REFERENCE",
            "ADD",
            &refs("ext-community-set-refs", &["two"]),
        ),
    );
    assert_eq!(
        b.out(&add, start).attrs.extended_communities,
        vec![rt1, soo, rt2]
    );
    let bad = Cfg::new().policy(
        "p",
        &[stmt(
            "s",
            "",
            &set_ext(
                "INLINE",
                "ADD",
                &inline(&["openconfig-bgp-types:NO_EXPORT"]),
            ),
        )],
    );
    assert!(bad
        .try_compile()
        .unwrap_err()
        .reason
        .contains("standard community"));
}

#[test]
fn actions_of_a_statement_apply_together() {
    let body = and(&[
        &result("ACCEPT_ROUTE"),
        &bgpa(
            r#""config":{"set-local-pref":50,"set-med":5,"set-med-action":"SET"},
               "set-as-path-prepend":{"config":{"asn":1,"repeat-n":1}},
               "set-community":{"config":{"method":"INLINE","options":"ADD"},"inline":{"config":{"communities":["1:1"]}}}"#,
        ),
    ]);
    let chain = Cfg::new()
        .policy("p", &[stmt("s", "", &body)])
        .chain(&["p"], DefaultPolicy::Reject);
    let mut b = Bench::new();
    let a = b.out(&chain, |_| {});
    assert_eq!(a.attrs.local_pref, Some(50));
    assert_eq!(a.attrs.med, Some(5));
    assert_eq!(
        a.attrs.as_path,
        Some(AsPath::from_sequence([1, 65001, 65002]))
    );
    assert_eq!(a.attrs.communities, vec![c(1, 1)]);
}
