//! Every match condition, with its match-set options.

use super::*;
use crate::wire::{ExtCommunity, LargeCommunity, Segment, SegmentType};

fn prefix_cond(set: &str, opt: &str) -> String {
    format!(
        r#""match-prefix-set":{{"config":{{"prefix-set":{set:?},"match-set-options":{opt:?}}}}}"#
    )
}

#[test]
fn match_prefix_set_any_and_invert() {
    let cfg = Cfg::new().prefix_set(
        "ps",
        Some("MIXED"),
        &[
            ("10.0.0.0/8", "exact"),
            ("192.168.0.0/16", "24..32"),
            ("2001:db8::/32", "48..48"),
        ],
    );
    let any = matcher(cfg.clone(), &prefix_cond("ps", "ANY"));
    let inv = matcher(cfg, &prefix_cond("ps", "INVERT"));
    let mut b = Bench::new();
    let a = b.attrs(|_| {});
    for (p, inside) in [
        ("10.0.0.0/8", true),
        ("10.0.0.0/16", false),
        ("192.168.1.0/24", true),
        ("192.168.1.128/25", true),
        ("192.168.0.0/16", false),
        ("2001:db8:5::/48", true),
        ("2001:db8:5::/64", false),
    ] {
        assert_eq!(b.run_on(&any, p, &a).is_accept(), inside, "{p}");
        assert_eq!(b.run_on(&inv, p, &a).is_accept(), !inside, "INVERT {p}");
    }
}

#[test]
fn prefix_set_problems_name_the_entry() {
    let e = Cfg::new()
        .prefix_set("v4", Some("IPV4"), &[("2001:db8::/32", "exact")])
        .try_compile()
        .unwrap_err();
    assert!(e
        .path
        .as_deref()
        .unwrap()
        .contains("prefix-set[name='v4']/prefixes/prefix[ip-prefix='2001:db8::/32']"));
    let e = Cfg::new()
        .prefix_set("r", None, &[("10.0.0.0/16", "8..12")])
        .try_compile()
        .unwrap_err();
    assert!(e.reason.contains("below the prefix's own length"), "{e}");
    let e = Cfg::new()
        .prefix_set("r", None, &[("10.0.0.0/16", "20..40")])
        .try_compile()
        .unwrap_err();
    assert!(e.reason.contains("beyond /32"), "{e}");
}

#[test]
fn match_neighbor_set_uses_source_on_import_and_target_on_export() {
    let cfg = Cfg::new().neighbor_set("ns", &["192.0.2.1", "2001:db8::1"]);
    let cond = r#""match-neighbor-set":{"config":{"neighbor-set":"ns"}}"#;
    let chain = matcher(cfg.clone(), cond);
    assert!(chain.depends_on_target());
    let mut b = Bench::new();
    assert!(b.accepts(&chain, |_| {}), "import from 192.0.2.1");
    b.source = peer(SourceKind::External, "192.0.2.2", 65002);
    assert!(!b.accepts(&chain, |_| {}));
    b.target = Some(peer(SourceKind::External, "2001:db8::1", 65003));
    assert!(b.accepts(&chain, |_| {}), "export to 2001:db8::1");
    let inv = matcher(
        cfg,
        r#""match-neighbor-set":{"config":{"neighbor-set":"ns","match-set-options":"INVERT"}}"#,
    );
    assert!(!b.accepts(&inv, |_| {}));
}

#[test]
fn match_tag_set_sees_only_tags_set_in_the_same_evaluation() {
    let cfg = Cfg::new().tag_set("ts", &["100", "0xff"]);
    let any = r#""match-tag-set":{"config":{"tag-set":"ts"}}"#;
    let inv = r#""match-tag-set":{"config":{"tag-set":"ts","match-set-options":"INVERT"}}"#;
    let mut b = Bench::new();
    assert!(
        !b.accepts(&matcher(cfg.clone(), any), |_| {}),
        "untagged routes never match ANY"
    );
    assert!(
        b.accepts(&matcher(cfg.clone(), inv), |_| {}),
        "and always match INVERT"
    );
    // set-tag inline, then match in the next statement.
    let tag = r#""set-tag":{"config":{"mode":"INLINE"},"inline":{"config":{"tag":[255]}}}"#;
    let chain = cfg
        .clone()
        .policy(
            "p",
            &[
                stmt("tag", "", tag),
                stmt("m", any, &result("ACCEPT_ROUTE")),
            ],
        )
        .chain(&["p"], DefaultPolicy::Reject);
    assert!(b.accepts(&chain, |_| {}), "0xff and 255 are the same tag");
    // set-tag by reference.
    let by_ref =
        r#""set-tag":{"config":{"mode":"REFERENCE"},"reference":{"config":{"tag-set":"ts"}}}"#;
    let chain = cfg
        .policy(
            "p",
            &[
                stmt("tag", "", by_ref),
                stmt("m", any, &result("ACCEPT_ROUTE")),
            ],
        )
        .chain(&["p"], DefaultPolicy::Reject);
    assert!(b.accepts(&chain, |_| {}));
}

#[test]
fn install_protocol_eq_is_bgp_for_peers_and_static_for_ours() {
    let bgp = matcher(
        Cfg::new(),
        r#""config":{"install-protocol-eq":"openconfig-policy-types:BGP"}"#,
    );
    let stat = matcher(
        Cfg::new(),
        r#""config":{"install-protocol-eq":"openconfig-policy-types:STATIC"}"#,
    );
    let mut b = Bench::new();
    assert!(b.accepts(&bgp, |_| {}) && !b.accepts(&stat, |_| {}));
    b.source = PeerInfo::local(65000, Ipv4Addr::new(192, 0, 2, 100));
    assert!(!b.accepts(&bgp, |_| {}) && b.accepts(&stat, |_| {}));
}

fn bgp_cond(body: &str) -> Chain {
    matcher(Cfg::new(), &bgpc(body))
}

#[test]
fn med_origin_local_pref_next_hop() {
    let mut b = Bench::new();
    let med = bgp_cond(r#""config":{"med-eq":10}"#);
    assert!(b.accepts(&med, |a| a.attrs.med = Some(10)));
    assert!(!b.accepts(&med, |a| a.attrs.med = Some(11)));
    assert!(!b.accepts(&med, |_| {}), "absent MED never equals");
    let origin = bgp_cond(r#""config":{"origin-eq":"EGP"}"#);
    assert!(b.accepts(&origin, |a| a.attrs.origin = Some(Origin::Egp)));
    assert!(!b.accepts(&origin, |_| {}));
    let lp = bgp_cond(r#""config":{"local-pref-eq":200}"#);
    assert!(b.accepts(&lp, |a| a.attrs.local_pref = Some(200)));
    assert!(!b.accepts(&lp, |_| {}));
    let nh = bgp_cond(r#""config":{"next-hop-in":["192.0.2.1","2001:db8::1"]}"#);
    assert!(b.accepts(&nh, |_| {}));
    assert!(b.accepts(&nh, |a| a.next_hop = Some(NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None
    })));
    assert!(!b.accepts(&nh, |a| a.next_hop =
        Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 2)))));
    assert!(!b.accepts(&nh, |a| a.next_hop = None));
}

#[test]
fn afi_safi_in_and_route_type() {
    let v6 = bgp_cond(r#""config":{"afi-safi-in":["openconfig-bgp-types:IPV6_UNICAST"]}"#);
    let mut b = Bench::new();
    let a = b.attrs(|_| {});
    assert!(!b.run_on(&v6, "10.0.0.0/8", &a).is_accept());
    assert!(b.run_on(&v6, "2001:db8::/32", &a).is_accept());
    let ext = bgp_cond(r#""config":{"route-type":"EXTERNAL"}"#);
    let int = bgp_cond(r#""config":{"route-type":"INTERNAL"}"#);
    assert!(b.accepts(&ext, |_| {}) && !b.accepts(&int, |_| {}));
    b.source = peer(SourceKind::Internal, "192.0.2.5", 65000);
    assert!(!b.accepts(&ext, |_| {}) && b.accepts(&int, |_| {}));
    b.source = PeerInfo::local(65000, Ipv4Addr::new(192, 0, 2, 100));
    assert!(
        !b.accepts(&ext, |_| {}) && !b.accepts(&int, |_| {}),
        "our routes are neither"
    );
}

fn count_cond(container: &str, op: &str, v: u32) -> Chain {
    bgp_cond(&format!(
        r#""{container}":{{"config":{{"operator":"openconfig-policy-types:{op}","value":{v}}}}}"#
    ))
}

#[test]
fn community_count_ext_community_count_and_as_path_length() {
    let mut b = Bench::new();
    let two = |a: &mut PathAttrs| a.attrs.communities = vec![c(1, 1), c(1, 2)];
    assert!(b.accepts(&count_cond("community-count", "ATTRIBUTE_EQ", 2), two));
    assert!(!b.accepts(&count_cond("community-count", "ATTRIBUTE_EQ", 3), two));
    assert!(b.accepts(&count_cond("community-count", "ATTRIBUTE_GE", 2), two));
    assert!(!b.accepts(&count_cond("community-count", "ATTRIBUTE_GE", 3), two));
    assert!(b.accepts(&count_cond("community-count", "ATTRIBUTE_LE", 2), two));
    assert!(!b.accepts(&count_cond("community-count", "ATTRIBUTE_LE", 1), two));
    let ext = |a: &mut PathAttrs| {
        a.attrs.extended_communities = vec![ExtCommunity([0, 2, 0, 1, 0, 0, 0, 1])]
    };
    assert!(b.accepts(&count_cond("ext-community-count", "ATTRIBUTE_EQ", 1), ext));
    assert!(!b.accepts(&count_cond("ext-community-count", "ATTRIBUTE_GE", 2), ext));
    // 65001 65002 {1,2} (65100): length 3 (a set counts one, confed zero).
    let path = |a: &mut PathAttrs| {
        a.attrs.as_path = Some(AsPath {
            segments: vec![
                Segment {
                    kind: SegmentType::ConfedSequence,
                    asns: vec![65100],
                },
                Segment {
                    kind: SegmentType::Sequence,
                    asns: vec![65001, 65002],
                },
                Segment {
                    kind: SegmentType::Set,
                    asns: vec![1, 2],
                },
            ],
        })
    };
    assert!(b.accepts(&count_cond("as-path-length", "ATTRIBUTE_EQ", 3), path));
    assert!(b.accepts(&count_cond("as-path-length", "ATTRIBUTE_LE", 3), path));
    assert!(!b.accepts(&count_cond("as-path-length", "ATTRIBUTE_GE", 4), path));
}

fn comm_cond(set: &str, opt: &str) -> String {
    bgpc(&format!(
        r#""match-community-set":{{"config":{{"community-set":{set:?},"match-set-options":{opt:?}}}}}"#
    ))
}

#[test]
fn match_community_set_any_all_invert() {
    let cfg = Cfg::new().community_set(
        "cs",
        &[
            "65000:1",
            "openconfig-bgp-types:NO_EXPORT",
            "^65100:[0-9]+$",
        ],
    );
    let any = matcher(cfg.clone(), &comm_cond("cs", "ANY"));
    let all = matcher(cfg.clone(), &comm_cond("cs", "ALL"));
    let inv = matcher(cfg, &comm_cond("cs", "INVERT"));
    let large = LargeCommunity {
        global_admin: 65000,
        local_data1: 7,
        local_data2: 9,
    };
    let mut b = Bench::new();
    for (what, comms, larges, want) in [
        ("literal", vec![c(65000, 1)], vec![], (true, false)),
        (
            "well-known",
            vec![Community::NO_EXPORT],
            vec![],
            (true, false),
        ),
        ("regex", vec![c(65100, 42)], vec![], (true, false)),
        (
            "regex is anchored",
            vec![c(165, 10)],
            vec![],
            (false, false),
        ),
        (
            "large communities are not looked at",
            vec![],
            vec![large],
            (false, false),
        ),
        ("none", vec![c(1, 1)], vec![], (false, false)),
        ("nothing", vec![], vec![], (false, false)),
        (
            "all",
            vec![c(65100, 1), c(65000, 1), Community::NO_EXPORT, c(5, 5)],
            vec![large],
            (true, true),
        ),
    ] {
        let f = |a: &mut PathAttrs| {
            a.attrs.communities = comms.clone();
            a.attrs.large_communities = larges.clone();
        };
        assert_eq!(b.accepts(&any, f), want.0, "ANY {what}");
        assert_eq!(b.accepts(&all, f), want.1, "ALL {what}");
        assert_eq!(b.accepts(&inv, f), !want.0, "INVERT {what}");
    }
}

#[test]
fn deprecated_community_set_leaf_matches_any() {
    let chain = matcher(
        Cfg::new().community_set("cs", &["65000:1"]),
        &bgpc(r#""config":{"community-set":"cs"}"#),
    );
    let mut b = Bench::new();
    assert!(b.accepts(&chain, |a| a.attrs.communities = vec![c(65000, 1)]));
    assert!(!b.accepts(&chain, |_| {}));
}

fn ext_cond(set: &str, opt: &str) -> String {
    bgpc(&format!(
        r#""match-ext-community-set":{{"config":{{"ext-community-set":{set:?},"match-set-options":{opt:?}}}}}"#
    ))
}

#[test]
fn match_ext_community_set_any_all_invert() {
    let cfg = Cfg::new().ext_community_set(
        "es",
        &[
            "route-target:65000:100",
            "^route-origin:192\\.0\\.2\\.[0-9]+:.*$",
        ],
    );
    let rt = super::super::sets::community::parse_ext("route-target:65000:100").unwrap();
    let soo = super::super::sets::community::parse_ext("route-origin:192.0.2.7:5").unwrap();
    let other = super::super::sets::community::parse_ext("route-target:65000:101").unwrap();
    let any = matcher(cfg.clone(), &ext_cond("es", "ANY"));
    let all = matcher(cfg.clone(), &ext_cond("es", "ALL"));
    let inv = matcher(cfg, &ext_cond("es", "INVERT"));
    let mut b = Bench::new();
    for (what, list, want) in [
        ("literal", vec![rt], (true, false)),
        ("regex", vec![soo], (true, false)),
        ("other", vec![other], (false, false)),
        ("both", vec![other, soo, rt], (true, true)),
    ] {
        let f = |a: &mut PathAttrs| a.attrs.extended_communities = list.clone();
        assert_eq!(b.accepts(&any, f), want.0, "ANY {what}");
        assert_eq!(b.accepts(&all, f), want.1, "ALL {what}");
        assert_eq!(b.accepts(&inv, f), !want.0, "INVERT {what}");
    }
}

fn path_cond(set: &str, opt: &str) -> String {
    bgpc(&format!(
        r#""match-as-path-set":{{"config":{{"as-path-set":{set:?},"match-set-options":{opt:?}}}}}"#
    ))
}

#[test]
fn match_as_path_set_any_all_invert() {
    let cfg = Cfg::new().aspath_set("aps", &["^65001_", "_65003$"]);
    let any = matcher(cfg.clone(), &path_cond("aps", "ANY"));
    let all = matcher(cfg.clone(), &path_cond("aps", "ALL"));
    let inv = matcher(cfg, &path_cond("aps", "INVERT"));
    let mut b = Bench::new();
    for (path, want) in [
        (vec![65001, 65002], (true, false)),
        (vec![65002, 65003], (true, false)),
        (vec![65001, 65003], (true, true)),
        (vec![650011, 165003], (false, false)),
        (vec![], (false, false)),
    ] {
        let f = |a: &mut PathAttrs| a.attrs.as_path = Some(AsPath::from_sequence(path.clone()));
        assert_eq!(b.accepts(&any, f), want.0, "ANY {path:?}");
        assert_eq!(b.accepts(&all, f), want.1, "ALL {path:?}");
        assert_eq!(b.accepts(&inv, f), !want.0, "INVERT {path:?}");
    }
    // A missing AS_PATH is the empty path.
    let ours = matcher(
        Cfg::new().aspath_set("own", &["^$"]),
        &path_cond("own", "ANY"),
    );
    assert!(b.accepts(&ours, |a| a.attrs.as_path = None));
}

#[test]
fn bad_regular_expressions_are_problems_with_paths() {
    let e = Cfg::new()
        .aspath_set("bad", &["^(65001"])
        .try_compile()
        .unwrap_err();
    assert!(e
        .path
        .unwrap()
        .ends_with("as-path-set[as-path-set-name='bad']/config/as-path-set-member"));
    assert!(e.reason.contains("^(65001"));
    let e = Cfg::new()
        .community_set("bad", &["[65000"])
        .try_compile()
        .unwrap_err();
    assert!(e
        .path
        .unwrap()
        .ends_with("community-set[community-set-name='bad']/config/community-member"));
}

#[test]
fn all_conditions_must_hold() {
    let cfg = Cfg::new()
        .prefix_set("ps", None, &[("10.0.0.0/8", "8..24")])
        .aspath_set("aps", &["^65001_"]);
    let cond = and(&[
        r#""match-prefix-set":{"config":{"prefix-set":"ps"}}"#,
        &bgpc(r#""config":{"med-eq":5},"match-as-path-set":{"config":{"as-path-set":"aps"}}"#),
    ]);
    let chain = matcher(cfg, &cond);
    let mut b = Bench::new();
    assert!(b.accepts(&chain, |a| a.attrs.med = Some(5)));
    assert!(!b.accepts(&chain, |a| a.attrs.med = Some(6)));
    assert!(!b.accepts(&chain, |a| {
        a.attrs.med = Some(5);
        a.attrs.as_path = Some(AsPath::from_sequence([65002]));
    }));
    b.prefix = "11.0.0.0/8".parse().unwrap();
    assert!(!b.accepts(&chain, |a| a.attrs.med = Some(5)));
}

#[test]
fn matches_after_a_change_see_the_changed_route() {
    // Statement 1 adds a community; statement 2 matches on it.
    let cfg = Cfg::new().community_set("cs", &["65000:5"]);
    let add = bgpa(
        r#""set-community":{"config":{"method":"INLINE","options":"ADD"},"inline":{"config":{"communities":["65000:5"]}}}"#,
    );
    let chain = cfg
        .policy(
            "p",
            &[
                stmt("add", "", &add),
                stmt("m", &comm_cond("cs", "ANY"), &result("ACCEPT_ROUTE")),
            ],
        )
        .chain(&["p"], DefaultPolicy::Reject);
    let mut b = Bench::new();
    assert!(b.accepts(&chain, |_| {}));
    let _ = ip("192.0.2.1");
}
