//! Set over gRPC: one transaction per request, in the specification's order,
//! with running untouched (byte for byte) on every kind of failure.

mod common;

use std::sync::Arc;

use common::{json_ietf, path, text, Harness, BGP, BGP_GNMI};
use ocbgp_gnmi::proto::gnmi::typed_value::Value;
use ocbgp_gnmi::proto::gnmi::update_result::Operation as Op;
use ocbgp_gnmi::proto::gnmi::{ScalarArray, SetRequest, SetResponse, TypedValue, Update};
use ocbgp_models::datastore::{ConfigConsumer, Refusal, Target, Transaction};
use tonic::Code;

fn update(p: &str, val: TypedValue) -> Update {
    Update {
        path: Some(path(p)),
        val: Some(val),
        ..Default::default()
    }
}

fn neighbor(addr: &str) -> String {
    format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address={addr}]")
}

fn value(h: &Harness, leaf: &str) -> Option<String> {
    h.store.running().value(&format!("{BGP}/{leaf}"))
}

async fn set(h: &Harness, request: SetRequest) -> Result<SetResponse, tonic::Status> {
    h.client().await.set(request).await.map(|r| r.into_inner())
}

/// Runs a failing Set: running must be byte-identical afterwards.
async fn fails(h: &Harness, request: SetRequest) -> tonic::Status {
    let before = h.running();
    let saved = || {
        let mut files = std::fs::read(h.dir.0.join("running.json")).expect("saved running");
        files.extend(std::fs::read(h.dir.0.join("running.journal")).unwrap_or_default());
        files
    };
    let file = saved();
    let err = set(h, request).await.expect_err("the Set must fail");
    eprintln!("{:?}: {}", err.code(), err.message());
    assert_eq!(h.running(), before, "running changed after {err:?}");
    assert_eq!(saved(), file, "saved running changed");
    err
}

#[tokio::test]
async fn update_replace_delete_in_one_transaction() {
    let h = Harness::start("set-ok").await;
    let request = SetRequest {
        delete: vec![path(&neighbor("192.0.2.3"))],
        replace: vec![update(
            &format!("{}/config", neighbor("192.0.2.2")),
            json_ietf(r#"{"neighbor-address": "192.0.2.2", "peer-as": 65020}"#),
        )],
        update: vec![
            update(
                &neighbor("192.0.2.4"),
                json_ietf(r#"{"config": {"neighbor-address": "192.0.2.4", "peer-group": "ix"}}"#),
            ),
            update(
                &format!("{BGP_GNMI}/global/config/router-id"),
                json_ietf(r#""192.0.2.10""#),
            ),
        ],
        ..Default::default()
    };
    let response = set(&h, request).await.expect("Set");
    assert!(response.timestamp > 0);
    let ops: Vec<(i32, String)> = response
        .response
        .iter()
        .map(|r| (r.op, text(r.path.as_ref().unwrap())))
        .collect();
    assert_eq!(
        ops,
        vec![
            (Op::Delete as i32, neighbor("192.0.2.3")),
            (
                Op::Replace as i32,
                format!("{}/config", neighbor("192.0.2.2"))
            ),
            (Op::Update as i32, neighbor("192.0.2.4")),
            (
                Op::Update as i32,
                format!("{BGP_GNMI}/global/config/router-id")
            ),
        ]
    );
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.3']/config/peer-group"
        ),
        None
    );
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.2']/config/peer-as"
        )
        .as_deref(),
        Some("65020")
    );
    // Replace dropped what the value lacks.
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.2']/config/description"
        ),
        None
    );
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.4']/config/peer-group"
        )
        .as_deref(),
        Some("ix")
    );
    assert_eq!(
        value(&h, "global/config/router-id").as_deref(),
        Some("192.0.2.10")
    );
    // One commit, by gNMI.
    let history = h.store.history();
    assert_eq!(history.len(), 2, "{history:?}");
    h.stop().await;
}

#[tokio::test]
async fn scalar_and_loose_json_values() {
    let h = Harness::start("set-values").await;
    let n = neighbor("192.0.2.2");
    let request = SetRequest {
        update: vec![
            update(
                &format!("{n}/config/peer-as"),
                TypedValue {
                    value: Some(Value::UintVal(65030)),
                },
            ),
            update(
                &format!("{n}/config/description"),
                TypedValue {
                    value: Some(Value::StringVal("typed".into())),
                },
            ),
            update(
                &format!("{n}/timers/config/hold-time"),
                TypedValue {
                    value: Some(Value::UintVal(45)),
                },
            ),
            update(
                &format!("{n}/config/enabled"),
                TypedValue {
                    value: Some(Value::BoolVal(false)),
                },
            ),
            // JSON as OpenConfig tools write it: bare identities, numbers as
            // strings, no module on an augmented member.
            update(
                &format!("{n}/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]"),
                TypedValue {
                    value: Some(Value::JsonVal(
                        br#"{"config": {"afi-safi-name": "IPV4_UNICAST", "enabled": "true"}}"#
                            .to_vec(),
                    )),
                },
            ),
            update(
                &format!("{BGP_GNMI}/global/listen/config/address"),
                TypedValue {
                    value: Some(Value::LeaflistVal(ScalarArray {
                        element: vec![
                            TypedValue {
                                value: Some(Value::StringVal("127.0.0.1".into())),
                            },
                            TypedValue {
                                value: Some(Value::StringVal("::1".into())),
                            },
                        ],
                    })),
                },
            ),
        ],
        ..Default::default()
    };
    set(&h, request).await.expect("Set");
    let at = "neighbors/neighbor[neighbor-address='192.0.2.2']";
    assert_eq!(
        value(&h, &format!("{at}/config/peer-as")).as_deref(),
        Some("65030")
    );
    assert_eq!(
        value(&h, &format!("{at}/config/description")).as_deref(),
        Some("typed")
    );
    assert_eq!(
        value(&h, &format!("{at}/timers/config/hold-time")).as_deref(),
        Some("45")
    );
    assert_eq!(
        value(&h, &format!("{at}/config/enabled")).as_deref(),
        Some("false")
    );
    assert_eq!(
        value(
            &h,
            &format!("{at}/afi-safis/afi-safi[afi-safi-name='openconfig-bgp-types:IPV4_UNICAST']/config/enabled")
        )
        .as_deref(),
        Some("true")
    );
    assert!(h.running().contains("::1"));
    h.stop().await;
}

#[tokio::test]
async fn deletes_of_missing_nodes_and_wildcards() {
    let h = Harness::start("set-delete").await;
    // Deleting what is not there is accepted.
    set(
        &h,
        SetRequest {
            delete: vec![path(&neighbor("192.0.2.99"))],
            ..Default::default()
        },
    )
    .await
    .expect("Set");
    // A wildcard delete removes every match.
    set(
        &h,
        SetRequest {
            delete: vec![path(&format!(
                "{BGP_GNMI}/neighbors/neighbor[neighbor-address=*]/config/description"
            ))],
            ..Default::default()
        },
    )
    .await
    .expect("Set");
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.2']/config/description"
        ),
        None
    );
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.2']/config/peer-as"
        )
        .as_deref(),
        Some("65002")
    );
    h.stop().await;
}

#[tokio::test]
async fn whole_list_replace_and_update() {
    let h = Harness::start("set-list").await;
    let list = format!("{BGP_GNMI}/neighbors/neighbor");
    set(
        &h,
        SetRequest {
            replace: vec![update(
                &list,
                json_ietf(r#"[{"neighbor-address": "192.0.2.5", "config": {"neighbor-address": "192.0.2.5", "peer-group": "ix"}}]"#),
            )],
            ..Default::default()
        },
    )
    .await
    .expect("Set");
    let running = h.running();
    assert!(running.contains("192.0.2.5"));
    assert!(
        !running.contains("192.0.2.2") && !running.contains("192.0.2.3"),
        "{running}"
    );
    set(
        &h,
        SetRequest {
            update: vec![update(
                &list,
                json_ietf(r#"[{"neighbor-address": "192.0.2.6", "config": {"neighbor-address": "192.0.2.6", "peer-group": "ix"}}]"#),
            )],
            ..Default::default()
        },
    )
    .await
    .expect("Set");
    let running = h.running();
    assert!(running.contains("192.0.2.5") && running.contains("192.0.2.6"));
    h.stop().await;
}

#[tokio::test]
async fn union_replace() {
    let h = Harness::start("set-union").await;
    let global = format!("{BGP_GNMI}/global");
    let request = SetRequest {
        union_replace: vec![
            update(
                &global,
                json_ietf(r#"{"config": {"as": 65001, "router-id": "192.0.2.50"}}"#),
            ),
            update(
                &format!("{global}/config/router-id"),
                json_ietf(r#""192.0.2.50""#),
            ),
            update(
                &neighbor("192.0.2.2"),
                json_ietf(r#"{"config": {"neighbor-address": "192.0.2.2", "peer-as": 65002}}"#),
            ),
        ],
        ..Default::default()
    };
    let response = set(&h, request).await.expect("Set");
    assert!(response
        .response
        .iter()
        .all(|r| r.op == Op::UnionReplace as i32));
    assert_eq!(
        value(&h, "global/config/router-id").as_deref(),
        Some("192.0.2.50")
    );
    // The neighbor was replaced: its description went.
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.2']/config/description"
        ),
        None
    );
    // Untouched elsewhere.
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.3']/config/peer-group"
        )
        .as_deref(),
        Some("ix")
    );

    // Two values for one leaf: refused.
    let err = fails(
        &h,
        SetRequest {
            union_replace: vec![
                update(
                    &global,
                    json_ietf(r#"{"config": {"as": 65001, "router-id": "192.0.2.60"}}"#),
                ),
                update(
                    &format!("{global}/config/router-id"),
                    json_ietf(r#""192.0.2.61""#),
                ),
            ],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);
    // Not with other operations.
    let err = fails(
        &h,
        SetRequest {
            union_replace: vec![update(&global, json_ietf(r#"{"config": {"as": 65001}}"#))],
            delete: vec![path(&neighbor("192.0.2.2"))],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);
    h.stop().await;
}

#[tokio::test]
async fn failures_leave_running_untouched() {
    let h = Harness::start("set-fail").await;
    let good = update(
        &format!("{BGP_GNMI}/global/config/router-id"),
        json_ietf(r#""192.0.2.77""#),
    );

    // A bad value, after a good operation: nothing applies.
    let err = fails(
        &h,
        SetRequest {
            update: vec![
                good.clone(),
                update(
                    &format!("{}/config/peer-as", neighbor("192.0.2.2")),
                    json_ietf(r#""not a number""#),
                ),
            ],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("peer-as"), "{}", err.message());
    let details = ocbgp_gnmi::failure_details(&err).expect("per-operation results");
    #[allow(deprecated)]
    let codes: Vec<u32> = details
        .response
        .iter()
        .map(|r| r.message.as_ref().unwrap().code)
        .collect();
    assert_eq!(
        codes,
        vec![Code::Aborted as u32, Code::InvalidArgument as u32],
        "{:?}",
        err.message()
    );

    // Unknown path.
    let err = fails(
        &h,
        SetRequest {
            update: vec![
                good.clone(),
                update(&format!("{BGP_GNMI}/colour"), json_ietf("1")),
            ],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("colour"), "{}", err.message());

    // Malformed path (keys on a container).
    let err = fails(
        &h,
        SetRequest {
            delete: vec![path(&format!("{BGP_GNMI}/global[x=1]"))],
            update: vec![good.clone()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);

    // State is not writable.
    let err = fails(
        &h,
        SetRequest {
            update: vec![
                good.clone(),
                update(
                    &format!("{}/state/description", neighbor("192.0.2.2")),
                    json_ietf(r#""x""#),
                ),
            ],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);

    // The result does not validate: a peer group that does not exist.
    let err = fails(
        &h,
        SetRequest {
            update: vec![
                good.clone(),
                update(
                    &format!("{}/config/peer-group", neighbor("192.0.2.2")),
                    json_ietf(r#""nope""#),
                ),
            ],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let details = ocbgp_gnmi::failure_details(&err).expect("per-operation results");
    #[allow(deprecated)]
    let codes: Vec<u32> = details
        .response
        .iter()
        .map(|r| r.message.as_ref().unwrap().code)
        .collect();
    assert_eq!(
        codes,
        vec![Code::Aborted as u32, Code::InvalidArgument as u32],
        "{:?}",
        err.message()
    );

    // An encoding the server does not take.
    let err = fails(
        &h,
        SetRequest {
            update: vec![update(
                &format!("{BGP_GNMI}/global/config/router-id"),
                TypedValue {
                    value: Some(Value::AsciiVal("x".into())),
                },
            )],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::Unimplemented);

    // Wildcards in an update.
    let err = fails(
        &h,
        SetRequest {
            update: vec![update(
                &format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=*]/config/peer-as"),
                json_ietf("1"),
            )],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);

    // Locked by another (NETCONF) session.
    let netconf = h.store.new_session();
    h.store.lock(Target::Running, netconf).expect("lock");
    let err = fails(
        &h,
        SetRequest {
            update: vec![good.clone()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("locked"), "{}", err.message());
    h.store.unlock(Target::Running, netconf).expect("unlock");

    // Refused by the engine.
    struct Refuser;
    impl ConfigConsumer for Refuser {
        fn prepare(&self, tx: &Transaction<'_>) -> Result<(), Refusal> {
            match tx
                .new
                .value(&format!("{BGP}/global/config/router-id"))
                .as_deref()
            {
                Some("192.0.2.77") => Err(Refusal {
                    path: None,
                    reason: "router id 192.0.2.77 is banned".into(),
                }),
                _ => Ok(()),
            }
        }
        fn apply(&self, _: &Transaction<'_>) {}
    }
    h.store.add_consumer(Arc::new(Refuser));
    let err = fails(
        &h,
        SetRequest {
            update: vec![good.clone()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("banned"), "{}", err.message());

    // And a good Set still works afterwards.
    set(
        &h,
        SetRequest {
            update: vec![update(
                &format!("{BGP_GNMI}/global/config/router-id"),
                json_ietf(r#""192.0.2.78""#),
            )],
            ..Default::default()
        },
    )
    .await
    .expect("Set");
    h.stop().await;
}

#[tokio::test]
async fn root_values_and_unquoted_strings() {
    let h = Harness::start("set-root").await;
    // A whole-tree value with unqualified top-level names.
    set(
        &h,
        SetRequest {
            update: vec![update(
                "/",
                json_ietf(r#"{"network-instances": {"network-instance": [{"name": "DEFAULT", "config": {"type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}}]}}"#),
            )],
            ..Default::default()
        },
    )
    .await
    .expect("Set at the root");
    assert_eq!(
        h.store
            .running()
            .value("/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/config/type")
            .as_deref(),
        Some("openconfig-network-instance-types:DEFAULT_INSTANCE")
    );
    // pygnmi sends string values without JSON quotes.
    set(
        &h,
        SetRequest {
            update: vec![update(
                &format!("{}/config/description", neighbor("192.0.2.2")),
                TypedValue {
                    value: Some(Value::JsonVal(b"no quotes".to_vec())),
                },
            )],
            ..Default::default()
        },
    )
    .await
    .expect("Set");
    assert_eq!(
        value(
            &h,
            "neighbors/neighbor[neighbor-address='192.0.2.2']/config/description"
        )
        .as_deref(),
        Some("no quotes")
    );
    h.stop().await;
}

#[tokio::test]
async fn empty_set_is_fine() {
    let h = Harness::start("set-empty").await;
    let response = set(&h, SetRequest::default()).await.expect("empty Set");
    assert!(response.response.is_empty());
    h.stop().await;
}

/// The values of a leaf-list in running, in order.
fn leaf_list(h: &Harness, at: &str) -> Vec<String> {
    let running = h.store.running();
    ocbgp_models::ly::find(running.tree(), &format!("{BGP}/{at}"))
        .unwrap()
        .iter()
        .filter_map(|n| n.value_canonical())
        .collect()
}

fn policies(names: &[&str]) -> Update {
    let defs: Vec<serde_json::Value> = names
        .iter()
        .map(|n| serde_json::json!({"name": n, "config": {"name": n}}))
        .collect();
    update(
        "/routing-policy/policy-definitions",
        json_ietf(&serde_json::json!({ "policy-definition": defs }).to_string()),
    )
}

#[tokio::test]
async fn leaf_lists_replace_delete_and_update() {
    let h = Harness::start("set-leaflist").await;
    let ip = format!(
        "{}/apply-policy/config/import-policy",
        neighbor("192.0.2.2")
    );
    let at = "neighbors/neighbor[neighbor-address='192.0.2.2']/apply-policy/config/import-policy";
    let request = |replace: Vec<Update>, update: Vec<Update>, delete: Vec<&str>| SetRequest {
        delete: delete.into_iter().map(path).collect(),
        replace,
        update,
        ..Default::default()
    };
    set(
        &h,
        request(
            vec![],
            vec![
                policies(&["P1", "P2", "P3"]),
                update(&ip, json_ietf(r#"["P1"]"#)),
            ],
            vec![],
        ),
    )
    .await
    .expect("Set");
    assert_eq!(leaf_list(&h, at), ["P1"]);
    // Replace: exactly these values, in this order.
    set(
        &h,
        request(
            vec![update(&ip, json_ietf(r#"["P3", "P2"]"#))],
            vec![],
            vec![],
        ),
    )
    .await
    .expect("replace");
    assert_eq!(leaf_list(&h, at), ["P3", "P2"]);
    // Update merges: new values at the end, existing ones stay.
    set(
        &h,
        request(
            vec![],
            vec![update(&ip, json_ietf(r#"["P1", "P3"]"#))],
            vec![],
        ),
    )
    .await
    .expect("update");
    assert_eq!(leaf_list(&h, at), ["P3", "P2", "P1"]);
    // Replace by leaflist_val too.
    let typed = TypedValue {
        value: Some(Value::LeaflistVal(ScalarArray {
            element: ["P2", "P1"]
                .iter()
                .map(|p| TypedValue {
                    value: Some(Value::StringVal(p.to_string())),
                })
                .collect(),
        })),
    };
    set(&h, request(vec![update(&ip, typed)], vec![], vec![]))
        .await
        .expect("replace with leaflist_val");
    assert_eq!(leaf_list(&h, at), ["P2", "P1"]);
    // Delete of one value.
    set(&h, request(vec![], vec![], vec![&format!("{ip}[.=P2]")]))
        .await
        .expect("delete one value");
    assert_eq!(leaf_list(&h, at), ["P1"]);
    // Update of one value by its path: added at the end; another value
    // than the path's is refused.
    set(
        &h,
        request(
            vec![],
            vec![update(&format!("{ip}[.=P3]"), json_ietf(r#""P3""#))],
            vec![],
        ),
    )
    .await
    .expect("update one value");
    assert_eq!(leaf_list(&h, at), ["P1", "P3"]);
    let err = fails(
        &h,
        request(
            vec![],
            vec![update(&format!("{ip}[.=P3]"), json_ietf(r#""P2""#))],
            vec![],
        ),
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    // Delete of the leaf-list: every value.
    set(
        &h,
        request(
            vec![update(&ip, json_ietf(r#"["P3", "P2"]"#))],
            vec![],
            vec![],
        ),
    )
    .await
    .expect("replace");
    set(&h, request(vec![], vec![], vec![&ip]))
        .await
        .expect("delete");
    assert!(leaf_list(&h, at).is_empty());
    // ocbgp:listen addresses, a leaf-list of the ocbgp module.
    let listen = format!("{BGP_GNMI}/global/listen/config/address");
    set(
        &h,
        request(
            vec![],
            vec![update(&listen, json_ietf(r#"["127.0.0.1", "::1"]"#))],
            vec![],
        ),
    )
    .await
    .expect("listen");
    set(&h, request(vec![], vec![], vec![&listen]))
        .await
        .expect("delete listen");
    assert!(
        leaf_list(&h, "global/ocbgp:listen/config/address").is_empty(),
        "{}",
        h.running()
    );
    h.stop().await;
}

#[tokio::test]
async fn values_are_checked_against_the_leaf_type() {
    let h = Harness::start("set-strict").await;
    let n = neighbor("192.0.2.2");
    let one = |p: String, value: Value| SetRequest {
        update: vec![update(&p, TypedValue { value: Some(value) })],
        ..Default::default()
    };
    for (p, value, want) in [
        (
            format!("{n}/config/description"),
            Value::IntVal(5),
            "int_val",
        ),
        (
            format!("{n}/config/peer-as"),
            Value::StringVal("65000".into()),
            "string_val",
        ),
        (
            format!("{n}/config/enabled"),
            Value::StringVal("true".into()),
            "string_val",
        ),
        (
            format!("{n}/timers/config/hold-time"),
            Value::StringVal("45".into()),
            "string_val",
        ),
        (
            format!("{n}/config/peer-as"),
            Value::BoolVal(true),
            "bool_val",
        ),
        // JSON that does not parse.
        (
            format!("{n}/config/peer-as"),
            Value::JsonIetfVal(b"{1".to_vec()),
            "not JSON",
        ),
        (
            format!("{n}/config"),
            Value::JsonVal(b"{\"description\": ".to_vec()),
            "not JSON",
        ),
        // Deeper than the JSON parser goes, at a string leaf: an error,
        // not a string.
        (
            format!("{n}/config/description"),
            Value::JsonIetfVal("[".repeat(100_000).into_bytes()),
            "not JSON",
        ),
    ] {
        let err = fails(&h, one(p.clone(), value)).await;
        assert_eq!(err.code(), Code::InvalidArgument, "{p}: {err:?}");
        let last = p.rsplit('/').next().unwrap();
        assert!(err.message().contains(last), "{}", err.message());
        assert!(err.message().contains(want), "{}", err.message());
    }
    // What the specification allows: string_val for enumerations and
    // identities, int_val or uint_val for an integer.
    set(
        &h,
        SetRequest {
            update: vec![
                update(
                    &format!("{n}/config/peer-type"),
                    TypedValue {
                        value: Some(Value::StringVal("EXTERNAL".into())),
                    },
                ),
                update(
                    &format!("{n}/config/peer-as"),
                    TypedValue {
                        value: Some(Value::IntVal(65100)),
                    },
                ),
                update(
                    &format!("{n}/timers/config/keepalive-interval"),
                    TypedValue {
                        value: Some(Value::UintVal(20)),
                    },
                ),
            ],
            ..Default::default()
        },
    )
    .await
    .expect("Set");
    let at = "neighbors/neighbor[neighbor-address='192.0.2.2']";
    assert_eq!(
        value(&h, &format!("{at}/config/peer-as")).as_deref(),
        Some("65100")
    );
    h.stop().await;
}

#[tokio::test]
async fn failure_status_stays_small() {
    let h = Harness::start("set-bounded").await;
    let n = neighbor("192.0.2.2");
    // Many operations, the last one failing.
    let mut updates: Vec<Update> = (0..60)
        .map(|i| {
            update(
                &format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.{i}]/config/description"),
                json_ietf(r#""x""#),
            )
        })
        .collect();
    updates.push(update(
        &format!("{n}/config/peer-as"),
        json_ietf(r#""abc""#),
    ));
    let err = fails(
        &h,
        SetRequest {
            update: updates,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("peer-as"), "{}", err.message());
    assert!(err.message().len() <= 1200, "{}", err.message().len());
    assert!(err.details().len() <= 4096, "{}", err.details().len());
    let details = ocbgp_gnmi::failure_details(&err).expect("results");
    assert_eq!(details.response.len(), 61);
    #[allow(deprecated)]
    let last = details.response[60].message.as_ref().unwrap();
    assert_eq!(last.code, Code::InvalidArgument as u32);

    // A 1 MB key and a 1 MB value.
    let big = "k".repeat(1 << 20);
    let err = fails(
        &h,
        SetRequest {
            update: vec![
                update(
                    &format!(
                        "{BGP_GNMI}/neighbors/neighbor[neighbor-address={big}]/config/description"
                    ),
                    json_ietf(r#""x""#),
                ),
                update(
                    &format!("{n}/config/peer-as"),
                    json_ietf(&format!("{big:?}")),
                ),
            ],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().len() <= 1200, "{}", err.message().len());
    assert!(err.details().len() <= 4096, "{}", err.details().len());
    assert!(err.message().contains("more bytes"), "{}", err.message());
    h.stop().await;
}

#[tokio::test]
async fn requests_over_the_limit_are_refused() {
    let h = Harness::start("set-limit").await;
    let before = h.running();
    let big = format!("\"{}\"", "d".repeat(ocbgp_gnmi::MAX_REQUEST_SIZE));
    let err = set(
        &h,
        SetRequest {
            update: vec![update(
                &format!("{}/config/description", neighbor("192.0.2.2")),
                json_ietf(&big),
            )],
            ..Default::default()
        },
    )
    .await
    .expect_err("over the limit");
    // tonic refuses it before decoding, with OUT_OF_RANGE.
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert_eq!(h.running(), before);
    h.stop().await;
}
