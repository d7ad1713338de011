//! Chain semantics: policy results, defaults, accumulation, call-policy.

use std::sync::Arc;

use super::*;

fn set_lp(v: u32) -> String {
    bgpa(&format!(r#""config":{{"set-local-pref":{v}}}"#))
}

fn set_med(v: u32) -> String {
    bgpa(&format!(
        r#""config":{{"set-med":{v},"set-med-action":"SET"}}"#
    ))
}

fn med_eq(v: u32) -> String {
    bgpc(&format!(r#""config":{{"med-eq":{v}}}"#))
}

#[test]
fn accept_and_reject_end_the_chain() {
    let cfg = Cfg::new()
        .policy("accept", &[stmt("a", "", &result("ACCEPT_ROUTE"))])
        .policy("reject", &[stmt("r", "", &result("REJECT_ROUTE"))]);
    let mut b = Bench::new();
    assert!(b.accepts(
        &cfg.chain(&["accept", "reject"], DefaultPolicy::Reject),
        |_| {}
    ));
    assert!(!b.accepts(
        &cfg.chain(&["reject", "accept"], DefaultPolicy::Accept),
        |_| {}
    ));
}

#[test]
fn defaults_decide_when_the_chain_runs_out() {
    let cfg = Cfg::new().policy(
        "noop",
        &[stmt(
            "n",
            "",
            &and(&[&result("NEXT_STATEMENT"), &set_lp(7)]),
        )],
    );
    let mut b = Bench::new();
    let a = b.out(&cfg.chain(&["noop"], DefaultPolicy::Accept), |_| {});
    assert_eq!(
        a.attrs.local_pref,
        Some(7),
        "changes made before the default decision stay"
    );
    assert!(!b.accepts(&cfg.chain(&["noop"], DefaultPolicy::Reject), |_| {}));
    assert!(b.accepts(&Chain::only_default(DefaultPolicy::Accept), |_| {}));
    assert!(!b.accepts(&Chain::only_default(DefaultPolicy::Reject), |_| {}));
}

#[test]
fn next_statement_goes_on_and_actions_accumulate() {
    let cfg = Cfg::new()
        .policy(
            "p1",
            &[
                stmt("lp", "", &set_lp(200)), // no policy-result: NEXT_STATEMENT
                stmt("skip", &med_eq(99), &result("REJECT_ROUTE")), // does not match
                stmt("med", "", &and(&[&result("NEXT_STATEMENT"), &set_med(5)])),
            ],
        )
        .policy(
            "p2",
            &[stmt("accept-if-med-5", &med_eq(5), &result("ACCEPT_ROUTE"))],
        );
    let mut b = Bench::new();
    let a = b.out(&cfg.chain(&["p1", "p2"], DefaultPolicy::Reject), |_| {});
    assert_eq!((a.attrs.local_pref, a.attrs.med), (Some(200), Some(5)));
    // p2 sees p1's changes: a route with MED 5 set by p1 is accepted by p2.
}

#[test]
fn a_policy_without_a_decision_hands_over_to_the_next() {
    let cfg = Cfg::new()
        .policy(
            "first",
            &[stmt("only-med-1", &med_eq(1), &result("REJECT_ROUTE"))],
        )
        .policy("second", &[stmt("all", "", &result("ACCEPT_ROUTE"))]);
    let chain = cfg.chain(&["first", "second"], DefaultPolicy::Reject);
    let mut b = Bench::new();
    assert!(b.accepts(&chain, |_| {}));
    assert!(!b.accepts(&chain, |a| a.attrs.med = Some(1)));
}

#[test]
fn unchanged_routes_keep_their_attribute_set() {
    let cfg = Cfg::new().policy(
        "p",
        &[stmt(
            "s",
            "",
            &and(&[&result("ACCEPT_ROUTE"), &set_lp(100)]),
        )],
    );
    let chain = cfg.chain(&["p"], DefaultPolicy::Reject);
    let mut b = Bench::new();
    let input = b.attrs(|a| a.attrs.local_pref = Some(100));
    match b.run_on(&chain, "10.0.0.0/8", &input) {
        Verdict::Accept(out) => assert!(Arc::ptr_eq(&out, &input)),
        Verdict::Reject => panic!(),
    }
    // A change gives an interned set: two routes share the result.
    let input = b.attrs(|_| {});
    let x = b.run_on(&chain, "10.0.0.0/8", &input).accepted().unwrap();
    let y = b.run_on(&chain, "10.1.0.0/16", &input).accepted().unwrap();
    assert!(Arc::ptr_eq(&x, &y));
    assert_eq!(x.attrs.local_pref, Some(100));
}

#[test]
fn a_statement_without_conditions_matches_everything() {
    let cfg = Cfg::new().policy("p", &[stmt("s", "", &result("REJECT_ROUTE"))]);
    let mut b = Bench::new();
    assert!(!b.accepts(&cfg.chain(&["p"], DefaultPolicy::Accept), |_| {}));
}

#[test]
fn empty_policies_and_statements_are_no_ops() {
    let cfg = Cfg::new()
        .policy("empty", &[])
        .policy("blank", &[stmt("s", "", "")]);
    let mut b = Bench::new();
    assert!(b.accepts(
        &cfg.chain(&["empty", "blank"], DefaultPolicy::Accept),
        |_| {}
    ));
    assert!(!b.accepts(
        &cfg.chain(&["empty", "blank"], DefaultPolicy::Reject),
        |_| {}
    ));
}

fn call(name: &str) -> String {
    format!(r#""config":{{"call-policy":{name:?}}}"#)
}

#[test]
fn call_policy_is_true_when_the_callee_accepts() {
    let cfg = Cfg::new()
        .policy(
            "callee",
            &[stmt(
                "med1",
                &med_eq(1),
                &and(&[&result("ACCEPT_ROUTE"), &set_lp(50)]),
            )],
        )
        .policy(
            "caller",
            &[stmt(
                "s",
                &call("callee"),
                &and(&[&result("ACCEPT_ROUTE"), &set_med(9)]),
            )],
        );
    let chain = cfg.chain(&["caller"], DefaultPolicy::Reject);
    let mut b = Bench::new();
    let a = b.out(&chain, |a| a.attrs.med = Some(1));
    assert_eq!(
        (a.attrs.local_pref, a.attrs.med),
        (Some(50), Some(9)),
        "callee's and caller's actions"
    );
    assert!(
        !b.accepts(&chain, |a| a.attrs.med = Some(2)),
        "callee ran out: chain default reject → false"
    );
}

#[test]
fn call_policy_rejection_is_false_and_keeps_the_callees_changes() {
    let cfg = Cfg::new()
        .policy(
            "callee",
            &[stmt("s", "", &and(&[&result("REJECT_ROUTE"), &set_lp(50)]))],
        )
        .policy(
            "caller",
            &[
                stmt("s", &call("callee"), &result("REJECT_ROUTE")),
                stmt("rest", "", &result("ACCEPT_ROUTE")),
            ],
        );
    let mut b = Bench::new();
    let a = b.out(&cfg.chain(&["caller"], DefaultPolicy::Reject), |_| {});
    assert_eq!(a.attrs.local_pref, Some(50));
}

#[test]
fn call_policy_without_decision_follows_the_chain_default() {
    let cfg = Cfg::new()
        .policy("callee", &[stmt("s", &med_eq(77), &result("REJECT_ROUTE"))])
        .policy(
            "caller",
            &[stmt(
                "s",
                &call("callee"),
                &and(&[&result("NEXT_STATEMENT"), &set_lp(5)]),
            )],
        );
    let mut b = Bench::new();
    let a = b.out(&cfg.chain(&["caller"], DefaultPolicy::Accept), |_| {});
    assert_eq!(
        a.attrs.local_pref,
        Some(5),
        "default accept: the call is true"
    );
    let a = b.out(&cfg.chain(&["caller"], DefaultPolicy::Accept), |a| {
        a.attrs.med = Some(77)
    });
    assert_eq!(
        a.attrs.local_pref, None,
        "callee rejected: the call is false"
    );
}

#[test]
fn call_policy_loops_are_refused() {
    let cfg = Cfg::new()
        .policy("a", &[stmt("s", &call("b"), "")])
        .policy("b", &[stmt("s", &call("c"), "")])
        .policy("c", &[stmt("s", &call("a"), "")]);
    let e = cfg.try_compile().unwrap_err();
    assert!(
        e.reason.contains("call-policy loop: a -> b -> c -> a"),
        "{e}"
    );
    assert!(e
        .path
        .unwrap()
        .ends_with("statement[name='s']/conditions/config/call-policy"));
    let selfcall = Cfg::new().policy("a", &[stmt("s", &call("a"), "")]);
    assert!(selfcall
        .try_compile()
        .unwrap_err()
        .reason
        .contains("a -> a"));
}

#[test]
fn call_policy_depth_is_limited() {
    let mut cfg = Cfg::new().policy("p0", &[stmt("s", "", &result("ACCEPT_ROUTE"))]);
    for i in 1..=super::super::MAX_CALL_DEPTH {
        cfg = cfg.policy(
            &format!("p{i}"),
            &[stmt("s", &call(&format!("p{}", i - 1)), "")],
        );
    }
    let e = cfg.try_compile().unwrap_err();
    assert!(e.reason.contains("deeper than"), "{e}");
    let mut ok = Cfg::new().policy("p0", &[stmt("s", "", &result("ACCEPT_ROUTE"))]);
    for i in 1..super::super::MAX_CALL_DEPTH {
        ok = ok.policy(
            &format!("p{i}"),
            &[stmt(
                "s",
                &call(&format!("p{}", i - 1)),
                &result("ACCEPT_ROUTE"),
            )],
        );
    }
    let last = format!("p{}", super::super::MAX_CALL_DEPTH - 1);
    let mut b = Bench::new();
    assert!(b.accepts(&ok.chain(&[&last], DefaultPolicy::Reject), |_| {}));
}

#[test]
fn unknown_policy_in_a_chain_is_a_problem() {
    let p = Cfg::new().policy("p", &[]).compile();
    let e = p
        .chain(&["nope".to_string()], DefaultPolicy::Reject)
        .unwrap_err();
    assert!(e.reason.contains("nope"));
}
