//! Large communities: `ocbgp:large-community-sets`,
//! `ocbgp:match-large-community-set`, `ocbgp:set-large-community`.

use ocbgp_models::gen::ChangeSet;

use super::*;
use crate::policy::Item;
use crate::wire::LargeCommunity;

fn l(a: u32, b: u32, c: u32) -> LargeCommunity {
    LargeCommunity {
        global_admin: a,
        local_data1: b,
        local_data2: c,
    }
}

fn large_cond(set: &str, opt: &str) -> String {
    bgpc(&format!(
        r#""ocbgp:match-large-community-set":{{"config":{{"large-community-set":{set:?},"match-set-options":{opt:?}}}}}"#
    ))
}

fn set_large(method: &str, options: &str, body: &str) -> String {
    bgpa(&format!(
        r#""ocbgp:set-large-community":{{"config":{{"method":{method:?},"options":{options:?}}},{body}}}"#
    ))
}

fn inline(list: &[&str]) -> String {
    format!(
        r#""inline":{{"config":{{"communities":[{}]}}}}"#,
        super::list(list)
    )
}

fn refs(sets: &[&str]) -> String {
    format!(
        r#""reference":{{"config":{{"large-community-set-refs":[{}]}}}}"#,
        super::list(sets)
    )
}

#[test]
fn match_large_community_set_any_all_invert() {
    let cfg = Cfg::new().large_community_set("ls", &["65000:1:2", "^4200000000:7:[0-9]+$"]);
    let any = matcher(cfg.clone(), &large_cond("ls", "ANY"));
    let all = matcher(cfg.clone(), &large_cond("ls", "ALL"));
    let inv = matcher(cfg, &large_cond("ls", "INVERT"));
    let mut b = Bench::new();
    for (what, larges, std, want) in [
        ("literal", vec![l(65000, 1, 2)], vec![], (true, false)),
        ("regex", vec![l(4_200_000_000, 7, 5)], vec![], (true, false)),
        (
            "regex, other local data",
            vec![l(4_200_000_000, 8, 5)],
            vec![],
            (false, false),
        ),
        (
            "standard communities are not looked at",
            vec![],
            vec![c(65000, 1)],
            (false, false),
        ),
        ("none", vec![l(1, 1, 1)], vec![], (false, false)),
        (
            "all",
            vec![l(4_200_000_000, 7, 1), l(9, 9, 9), l(65000, 1, 2)],
            vec![],
            (true, true),
        ),
    ] {
        let f = |a: &mut PathAttrs| {
            a.attrs.large_communities = larges.clone();
            a.attrs.communities = std.clone();
        };
        assert_eq!(b.accepts(&any, f), want.0, "ANY {what}");
        assert_eq!(b.accepts(&all, f), want.1, "ALL {what}");
        assert_eq!(b.accepts(&inv, f), !want.0, "INVERT {what}");
    }
}

#[test]
fn set_large_community_inline() {
    let mut b = Bench::new();
    let start = |a: &mut PathAttrs| {
        a.attrs.large_communities = vec![l(1, 1, 1), l(2, 2, 2)];
        a.attrs.communities = vec![c(5, 5)];
    };
    let add = actor(
        Cfg::new(),
        &set_large("INLINE", "ADD", &inline(&["1:1:1", "3:3:3"])),
    );
    let a = b.out(&add, start);
    assert_eq!(
        a.attrs.large_communities,
        vec![l(1, 1, 1), l(2, 2, 2), l(3, 3, 3)]
    );
    assert_eq!(
        a.attrs.communities,
        vec![c(5, 5)],
        "standard communities are left alone"
    );
    let rm = actor(
        Cfg::new(),
        &set_large("INLINE", "REMOVE", &inline(&["1:1:1"])),
    );
    assert_eq!(b.out(&rm, start).attrs.large_communities, vec![l(2, 2, 2)]);
    let rep = actor(
        Cfg::new(),
        &set_large("INLINE", "REPLACE", &inline(&["4294967295:0:9"])),
    );
    assert_eq!(
        b.out(&rep, start).attrs.large_communities,
        vec![l(4_294_967_295, 0, 9)]
    );
    let clear = actor(Cfg::new(), &set_large("INLINE", "REPLACE", &inline(&[])));
    assert!(b.out(&clear, start).attrs.large_communities.is_empty());
    // Nothing to change: the same attribute set comes back.
    let already = b.attrs(|a| a.attrs.large_communities = vec![l(2, 2, 2)]);
    let out = b.run_on(&rm, "10.0.0.0/8", &already).accepted().unwrap();
    assert!(std::sync::Arc::ptr_eq(&out, &already));
}

#[test]
fn set_large_community_by_reference() {
    let cfg = Cfg::new()
        .large_community_set("rx", &["^65100:"])
        .large_community_set("lit", &["7:7:7", "8:8:8"]);
    let start = |a: &mut PathAttrs| {
        a.attrs.large_communities = vec![l(65100, 1, 1), l(65100, 2, 2), l(1, 1, 1)]
    };
    let mut b = Bench::new();
    let rm = actor(
        cfg.clone(),
        &set_large("REFERENCE", "REMOVE", &refs(&["rx"])),
    );
    assert_eq!(b.out(&rm, start).attrs.large_communities, vec![l(1, 1, 1)]);
    let add = actor(cfg.clone(), &set_large("REFERENCE", "ADD", &refs(&["lit"])));
    assert_eq!(b.out(&add, start).attrs.large_communities.len(), 5);
    let rep = actor(
        cfg.clone(),
        &set_large("REFERENCE", "REPLACE", &refs(&["lit"])),
    );
    assert_eq!(
        b.out(&rep, start).attrs.large_communities,
        vec![l(7, 7, 7), l(8, 8, 8)]
    );
    // ADD and REPLACE cannot use regular expressions.
    let bad = cfg.policy(
        "p",
        &[stmt(
            "s",
            "",
            &set_large("REFERENCE", "ADD", &refs(&["rx"])),
        )],
    );
    let e = bad.try_compile().unwrap_err();
    assert!(e.reason.contains("regular expressions"), "{e}");
    assert!(e
        .path
        .unwrap()
        .ends_with("ocbgp:set-large-community/reference/config/large-community-set-refs"));
}

#[test]
fn bad_members_are_refused_with_their_path() {
    let e = Cfg::new()
        .large_community_set("ls", &["4294967296:1:1"])
        .try_compile()
        .unwrap_err();
    assert!(e.reason.contains("4294967295"), "{e}");
    assert!(e.path.unwrap().ends_with(
        "large-community-set[large-community-set-name='ls']/config/large-community-member"
    ));
    // A large community in a standard community-set says where it belongs.
    let e = Cfg::new()
        .community_set("cs", &["65000:1:2"])
        .try_compile()
        .unwrap_err();
    assert!(e.reason.contains("ocbgp:large-community-set"), "{e}");
    // A reference to a missing set is a leafref error the model reports.
    let text = Cfg::new()
        .policy(
            "p",
            &[stmt(
                "s",
                &large_cond("missing", "ANY"),
                &result("ACCEPT_ROUTE"),
            )],
        )
        .json();
    let e = ocbgp_models::config::Config::parse(&text, ocbgp_models::config::Encoding::Json)
        .unwrap_err();
    assert!(
        format!("{e:?}").contains("ocbgp:match-large-community-set"),
        "{e:?}"
    );
}

#[test]
fn large_sets_are_items_with_dependencies_and_updates() {
    let cfg = |member: &str| {
        Cfg::new()
            .large_community_set("ls", &[member])
            .policy(
                "p",
                &[stmt("s", &large_cond("ls", "ANY"), &result("ACCEPT_ROUTE"))],
            )
            .policy("q", &[stmt("s", "", &result("ACCEPT_ROUTE"))])
    };
    let (c0, c1) = (cfg("1:2:3"), cfg("1:2:4"));
    let old = c0.compile();
    let item = Item::LargeCommunitySet("ls".into());
    assert!(old.items().contains(&item));
    assert_eq!(
        old.depends_on(&item).into_iter().collect::<Vec<_>>(),
        vec!["p"]
    );
    let (t0, t1) = (c0.config(), c1.config());
    let changes = ChangeSet::between(t0.tree(), t1.tree()).unwrap();
    let touched: Vec<Item> = changes.lists.iter().filter_map(Item::from_change).collect();
    assert!(touched.contains(&item), "{changes:?}");
    let updated = old.update(t1.tree(), &changes).unwrap();
    assert_eq!(updated.fingerprint(&item), c1.compile().fingerprint(&item));
    assert_ne!(updated.fingerprint(&item), old.fingerprint(&item));
    assert_eq!(
        updated.changed_since(&old).into_iter().collect::<Vec<_>>(),
        vec!["p"]
    );
    let chain = updated
        .chain(&["p".to_string()], DefaultPolicy::Reject)
        .unwrap();
    let mut b = Bench::new();
    assert!(b.accepts(&chain, |a| a.attrs.large_communities = vec![l(1, 2, 4)]));
    assert!(!b.accepts(&chain, |a| a.attrs.large_communities = vec![l(1, 2, 3)]));
}
