//! Identity, dependencies, incremental recompiles, caching.

use std::sync::Arc;

use ocbgp_models::gen::{ChangeSet, ListKind};

use super::*;
use crate::policy::{EvalCache, Item};

fn base() -> Cfg {
    Cfg::new()
        .prefix_set("ps", None, &[("10.0.0.0/8", "8..24"), ("192.0.2.0/24", "exact")])
        .prefix_set("unused", None, &[("172.16.0.0/12", "exact")])
        .community_set("cs", &["65000:1"])
        .aspath_set("aps", &["_65002$"])
        .policy("leaf", &[stmt("s", r#""match-prefix-set":{"config":{"prefix-set":"ps"}}"#, &result("ACCEPT_ROUTE"))])
        .policy("mid", &[stmt("s", r#""config":{"call-policy":"leaf"}"#, &result("ACCEPT_ROUTE"))])
        .policy(
            "other",
            &[stmt(
                "s",
                &bgpc(r#""match-community-set":{"config":{"community-set":"cs"}},"match-as-path-set":{"config":{"as-path-set":"aps"}}"#),
                &result("ACCEPT_ROUTE"),
            )],
        )
}

#[test]
fn items_and_dependencies() {
    let p = base().compile();
    assert_eq!(
        p.policy_names().collect::<Vec<_>>(),
        vec!["leaf", "mid", "other"]
    );
    assert!(p.items().contains(&Item::PrefixSet("unused".into())));
    assert!(p.contains(&Item::AsPathSet("aps".into())));
    assert!(
        !p.contains(&Item::AsPathSet("ps".into())),
        "names are per kind"
    );
    let names = |i: Item| p.depends_on(&i).into_iter().collect::<Vec<_>>();
    assert_eq!(names(Item::PrefixSet("ps".into())), vec!["leaf", "mid"]);
    assert_eq!(
        names(Item::PrefixSet("unused".into())),
        Vec::<String>::new()
    );
    assert_eq!(names(Item::CommunitySet("cs".into())), vec!["other"]);
    assert_eq!(names(Item::Policy("leaf".into())), vec!["leaf", "mid"]);
    assert_eq!(
        p.policy("mid").unwrap().uses(),
        &[Item::Policy("leaf".into())]
    );
}

#[test]
fn fingerprints_follow_behaviour() {
    let a = base().compile();
    let b = base().compile();
    assert_ne!(a.generation(), b.generation());
    assert!(b.changed_since(&a).is_empty());
    let names = vec!["mid".to_string()];
    assert_eq!(
        a.chain(&names, DefaultPolicy::Reject).unwrap(),
        b.chain(&names, DefaultPolicy::Reject).unwrap()
    );
    assert_ne!(
        a.chain(&names, DefaultPolicy::Reject)
            .unwrap()
            .fingerprint(),
        a.chain(&names, DefaultPolicy::Accept)
            .unwrap()
            .fingerprint()
    );
    // One prefix more in "ps": leaf and mid (which calls it) change.
    let c = base().prefix_set("ps2", None, &[]).compile();
    assert!(
        c.changed_since(&a).is_empty(),
        "a new unused set changes no policy"
    );
    let mut changed = base();
    changed.prefix[0] = changed.prefix[0].replace("192.0.2.0/24", "192.0.3.0/24");
    let d = changed.compile();
    assert_eq!(
        d.changed_since(&a).into_iter().collect::<Vec<_>>(),
        vec!["leaf", "mid"]
    );
    assert_ne!(
        d.fingerprint(&Item::PrefixSet("ps".into())),
        a.fingerprint(&Item::PrefixSet("ps".into()))
    );
    assert_eq!(
        d.fingerprint(&Item::CommunitySet("cs".into())),
        a.fingerprint(&Item::CommunitySet("cs".into()))
    );
    // A removed policy counts as changed.
    let mut fewer = base();
    fewer.policies.pop();
    assert_eq!(
        fewer
            .compile()
            .changed_since(&a)
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["other"]
    );
}

#[test]
fn update_patches_prefix_sets_and_equals_a_full_compile() {
    let old_cfg = base();
    let old = old_cfg.compile();
    let mut new_cfg = base();
    new_cfg.prefix[0] = new_cfg.prefix[0]
        .replace("192.0.2.0/24", "198.51.100.0/24")
        .replace(r#""8..24""#, r#""16..24""#);
    let (t0, t1) = (old_cfg.config(), new_cfg.config());
    let changes = ChangeSet::between(t0.tree(), t1.tree()).unwrap();
    assert!(
        changes.list(ListKind::PrefixSetPrefix).count() >= 4,
        "{changes:?}"
    );
    let items: Vec<Item> = changes.lists.iter().filter_map(Item::from_change).collect();
    assert!(
        items.iter().all(|i| *i == Item::PrefixSet("ps".into())),
        "{items:?}"
    );
    let updated = old.update(t1.tree(), &changes).unwrap();
    let full = new_cfg.compile();
    for item in full.items() {
        assert_eq!(
            updated.fingerprint(&item),
            full.fingerprint(&item),
            "{item:?}"
        );
    }
    assert!(std::sync::Arc::ptr_eq(
        updated.prefix_set("unused").unwrap(),
        old.prefix_set("unused").unwrap()
    ));
    let ps = updated.prefix_set("ps").unwrap();
    assert!(ps.contains(&"198.51.100.0/24".parse().unwrap()));
    assert!(!ps.contains(&"192.0.2.0/24".parse().unwrap()));
    assert!(!ps.contains(&"10.0.0.0/8".parse().unwrap()));
    assert!(ps.contains(&"10.1.0.0/16".parse().unwrap()));
    // Policies use the patched set.
    let chain = updated
        .chain(&["mid".to_string()], DefaultPolicy::Reject)
        .unwrap();
    let mut b = Bench::new();
    let a = b.attrs(|_| {});
    assert!(b.run_on(&chain, "198.51.100.0/24", &a).is_accept());
    assert!(!b.run_on(&chain, "192.0.2.0/24", &a).is_accept());
    // Only prefix-set entries changed: routes outside them keep their
    // outcome, and the engine re-runs import policy only within them.
    let mut within: Vec<String> = updated
        .changed_within(&old)
        .expect("entries only")
        .iter()
        .map(|n| n.to_string())
        .collect();
    within.sort();
    within.dedup();
    // (10.0.0.0/8's range changed from 8..24 to 16..24.)
    assert_eq!(within, ["10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"]);
    // Against any other starting point it says nothing.
    assert!(updated.changed_within(&updated).is_none());
    assert!(updated.changed_within(&full).is_none());
}

#[test]
fn an_update_beyond_prefix_set_entries_may_change_any_route() {
    let old_cfg = base();
    let old = old_cfg.compile();
    for change in [
        |c: &mut Cfg| c.community[0] = c.community[0].replace("65000:1", "65000:2"),
        |c: &mut Cfg| drop(c.prefix.pop()),
    ] {
        let mut new_cfg = base();
        change(&mut new_cfg);
        let (t0, t1) = (old_cfg.config(), new_cfg.config());
        let changes = ChangeSet::between(t0.tree(), t1.tree()).unwrap();
        let updated = old.update(t1.tree(), &changes).unwrap();
        assert!(updated.changed_within(&old).is_none(), "{changes:?}");
    }
}

#[test]
fn update_reloads_other_sets_and_drops_removed_ones() {
    let old_cfg = base();
    let old = old_cfg.compile();
    let mut new_cfg = base();
    new_cfg.community[0] = new_cfg.community[0].replace("65000:1", "65000:2");
    new_cfg.prefix.pop();
    let (t0, t1) = (old_cfg.config(), new_cfg.config());
    let changes = ChangeSet::between(t0.tree(), t1.tree()).unwrap();
    let updated = old.update(t1.tree(), &changes).unwrap();
    let full = new_cfg.compile();
    assert_eq!(updated.items(), full.items());
    for item in full.items() {
        assert_eq!(
            updated.fingerprint(&item),
            full.fingerprint(&item),
            "{item:?}"
        );
    }
    assert_eq!(
        updated.changed_since(&old).into_iter().collect::<Vec<_>>(),
        vec!["other"]
    );
}

#[test]
fn no_routing_policy_means_no_policies() {
    let p = Policies::compile(ocbgp_models::config::Config::empty().tree()).unwrap();
    assert!(p.items().is_empty());
}

#[test]
fn batch_cache_gives_the_same_answers_and_hits() {
    let chain = base().chain(&["other"], DefaultPolicy::Reject);
    let mut b = Bench::new();
    let yes = b.attrs(|a| {
        a.attrs.communities = vec![c(65000, 1)];
        a.attrs.as_path = Some(AsPath::from_sequence([65001, 65002]));
    });
    let no = b.attrs(|a| a.attrs.communities = vec![c(65000, 1)]);
    let no2 = b.attrs(|a| a.attrs.as_path = Some(AsPath::from_sequence([65002, 65003])));
    let mut cache = EvalCache::new(1024);
    for i in 0..10u8 {
        for (attrs, want) in [(&yes, true), (&no, true), (&no2, false)] {
            let prefix = format!("10.{i}.0.0/16").parse().unwrap();
            let route = RouteIn {
                prefix,
                attrs,
                source: &b.source,
                target: None,
                local_asn: 65000,
                vrps: None,
            };
            let v = chain.evaluate_with(&route, &mut b.interner, &mut cache);
            assert_eq!(v.is_accept(), want);
        }
    }
    let (hits, misses) = cache.stats();
    assert!(misses <= 6 && hits >= 20, "hits {hits} misses {misses}");
    // A tiny cache starts over instead of growing.
    let mut tiny = EvalCache::new(1);
    for attrs in [&yes, &no, &no2] {
        let route = RouteIn {
            prefix: b.prefix,
            attrs,
            source: &b.source,
            target: None,
            local_asn: 65000,
            vrps: None,
        };
        chain.evaluate_with(&route, &mut b.interner, &mut tiny);
    }
    assert_eq!(tiny.len(), 1);
}

#[test]
fn action_results_are_memoised_per_attribute_set_and_inputs() {
    let body = and(&[
        &result("ACCEPT_ROUTE"),
        &bgpa(r#""config":{"set-local-pref":70,"set-next-hop":"PEER_ADDRESS"}"#),
    ]);
    let chain = Cfg::new()
        .policy("p", &[stmt("s", "", &body)])
        .chain(&["p"], DefaultPolicy::Reject);
    let mut b = Bench::new();
    let input = b.attrs(|_| {});
    let mut cache = EvalCache::new(16);
    let eval = |b: &mut Bench, source: &PeerInfo, cache: &mut EvalCache| {
        let route = RouteIn {
            prefix: b.prefix,
            attrs: &input,
            source,
            target: None,
            local_asn: 65000,
            vrps: None,
        };
        chain
            .evaluate_with(&route, &mut b.interner, cache)
            .accepted()
            .unwrap()
    };
    let p1 = peer(SourceKind::External, "192.0.2.1", 65001);
    let p2 = peer(SourceKind::External, "192.0.2.2", 65001);
    let x = eval(&mut b, &p1, &mut cache);
    let before = cache.stats();
    let y = eval(&mut b, &p1, &mut cache);
    assert!(Arc::ptr_eq(&x, &y));
    assert_eq!(cache.stats().0, before.0 + 1, "served from the memo");
    let z = eval(&mut b, &p2, &mut cache);
    assert_eq!(
        z.next_hop,
        Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 2))),
        "the neighbor is part of the key"
    );
    assert_eq!(x.next_hop, Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))));
    // The memo holds its results weakly: once dropped they are computed again.
    drop((x, y));
    b.interner.sweep();
    let again = eval(&mut b, &p1, &mut cache);
    assert_eq!(again.attrs.local_pref, Some(70));
}

#[test]
fn deferred_actions_are_applied_before_conditions_that_read_attributes() {
    // s1 sets MED 5 (queued), s2 matches MED 5: the queue must be applied
    // first. s3 would reject a route whose local-pref is 10.
    let chain = Cfg::new()
        .policy(
            "p",
            &[
                stmt(
                    "s1",
                    "",
                    &bgpa(r#""config":{"set-med":5,"set-med-action":"SET","set-local-pref":10}"#),
                ),
                stmt(
                    "s2",
                    &bgpc(r#""config":{"med-eq":5}"#),
                    &bgpa(r#""config":{"set-local-pref":20}"#),
                ),
                stmt(
                    "s3",
                    &bgpc(r#""config":{"local-pref-eq":10}"#),
                    &result("REJECT_ROUTE"),
                ),
                stmt("s4", "", &result("ACCEPT_ROUTE")),
            ],
        )
        .chain(&["p"], DefaultPolicy::Reject);
    let mut b = Bench::new();
    for _ in 0..3 {
        let a = b.out(&chain, |_| {});
        assert_eq!((a.attrs.med, a.attrs.local_pref), (Some(5), Some(20)));
    }
}
