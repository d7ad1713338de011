//! Get over gRPC: data types, wildcards, encodings and errors.

mod common;

use common::{json_of, path, text, Harness, BGP_GNMI};
use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use ocbgp_gnmi::proto::gnmi::typed_value::Value;
use ocbgp_gnmi::proto::gnmi::{Encoding, GetRequest, GetResponse, Path};
use serde_json::json;
use tonic::Code;

fn request(paths: &[&str], data_type: DataType, encoding: Encoding) -> GetRequest {
    GetRequest {
        path: paths.iter().map(|p| path(p)).collect(),
        r#type: data_type as i32,
        encoding: encoding as i32,
        ..Default::default()
    }
}

async fn get(
    h: &Harness,
    paths: &[&str],
    data_type: DataType,
) -> Result<GetResponse, tonic::Status> {
    let mut client = h.client().await;
    client
        .get(request(paths, data_type, Encoding::JsonIetf))
        .await
        .map(|r| r.into_inner())
}

fn updates(response: &GetResponse) -> Vec<(String, serde_json::Value)> {
    response
        .notification
        .iter()
        .flat_map(|n| &n.update)
        .map(|u| {
            (
                text(u.path.as_ref().unwrap()),
                json_of(u.val.as_ref().unwrap()),
            )
        })
        .collect()
}

#[tokio::test]
async fn config_of_one_neighbor() {
    let h = Harness::start("get-config").await;
    let p = format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.2]/config");
    let response = get(&h, &[&p], DataType::Config).await.expect("Get");
    assert_eq!(response.notification.len(), 1);
    assert!(response.notification[0].timestamp > 1_600_000_000_000_000_000);
    let got = updates(&response);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, p);
    let value = &got[0].1;
    assert_eq!(value["neighbor-address"], "192.0.2.2");
    assert_eq!(value["peer-as"], 65002);
    assert_eq!(value["description"], "first");
    // Defaults are reported (the configuration in effect).
    assert_eq!(value["enabled"], true);
    // CONFIG has no state.
    let state = format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.2]/state");
    let err = get(&h, &[&state], DataType::Config)
        .await
        .expect_err("no config under state");
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn leaf_values_are_rfc7951() {
    let h = Harness::start("get-leaf").await;
    let response = get(
        &h,
        &[
            &format!("{BGP_GNMI}/global/config/as"),
            &format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.2]/state/established-transitions"),
            "/network-instances/network-instance[name=DEFAULT]/config/type",
        ],
        DataType::All,
    )
    .await
    .expect("Get");
    // One notification per path.
    assert_eq!(response.notification.len(), 3);
    let got = updates(&response);
    assert_eq!(got[0].1, json!(65001));
    // 64-bit numbers are strings; identities carry their module.
    assert_eq!(got[1].1, json!("1"));
    assert_eq!(
        got[2].1,
        json!("openconfig-network-instance-types:DEFAULT_INSTANCE")
    );
    h.stop().await;
}

#[tokio::test]
async fn state_has_only_state_and_keys() {
    let h = Harness::start("get-state").await;
    let p = format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.2]");
    let response = get(&h, &[&p], DataType::State).await.expect("Get");
    let got = updates(&response);
    assert_eq!(got.len(), 1);
    let value = &got[0].1;
    assert_eq!(value["neighbor-address"], "192.0.2.2", "the key stays");
    assert_eq!(value["state"]["session-state"], "ESTABLISHED");
    assert_eq!(value["state"]["messages"]["received"]["UPDATE"], "10");
    assert!(value.get("config").is_none(), "no config: {value}");
    // The settings in effect are state too (mirrored from configuration).
    assert_eq!(value["timers"]["state"]["hold-time"], 90, "{value}");
    assert!(
        value["timers"].get("config").is_none(),
        "config goes: {value}"
    );

    // OPERATIONAL is the same for ocbgp.
    let response = get(&h, &[&p], DataType::Operational).await.expect("Get");
    assert_eq!(updates(&response)[0].1, *value);

    // A neighbor without a session has its settings in effect, no more.
    let other = format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.3]");
    let response = get(&h, &[&other], DataType::State).await.expect("Get");
    let value = &updates(&response)[0].1;
    assert!(value["state"].get("session-state").is_none(), "{value}");
    assert_eq!(value["timers"]["state"]["hold-time"], 90, "{value}");
    h.stop().await;
}

#[tokio::test]
async fn all_has_config_and_state() {
    let h = Harness::start("get-all").await;
    let p = format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.2]");
    let response = get(&h, &[&p], DataType::All).await.expect("Get");
    let value = &updates(&response)[0].1;
    assert_eq!(value["config"]["peer-as"], 65002);
    assert_eq!(value["state"]["session-state"], "ESTABLISHED");
    h.stop().await;
}

#[tokio::test]
async fn wildcards_select_every_match() {
    let h = Harness::start("get-wild").await;
    h.state.set("192.0.2.3", "ACTIVE", 0, 0);
    // `*` key value and a missing key both select every neighbor.
    for p in [
        format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=*]/state/session-state"),
        format!("{BGP_GNMI}/neighbors/neighbor/state/session-state"),
        "/network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/state/session-state".to_string(),
    ] {
        let response = get(&h, &[&p], DataType::All).await.expect("Get");
        assert_eq!(response.notification.len(), 1);
        let got = updates(&response);
        assert_eq!(
            got,
            vec![
                (format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.2]/state/session-state"), json!("ESTABLISHED")),
                (format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.3]/state/session-state"), json!("ACTIVE")),
            ],
            "{p}"
        );
    }
    // `*` names and `...`.
    let response = get(
        &h,
        &[&format!("{BGP_GNMI}/neighbors/neighbor/*/peer-as")],
        DataType::Config,
    )
    .await
    .expect("Get");
    let got = updates(&response);
    assert_eq!(got.len(), 1, "only 192.0.2.2 sets peer-as: {got:?}");
    assert_eq!(got[0].1, json!(65002));
    let response = get(
        &h,
        &["/network-instances/.../peer-group-name"],
        DataType::Config,
    )
    .await
    .expect("Get");
    let names: Vec<_> = updates(&response).into_iter().map(|(_, v)| v).collect();
    assert!(names.contains(&json!("ix")), "{names:?}");
    h.stop().await;
}

#[tokio::test]
async fn prefix_target_and_root() {
    let h = Harness::start("get-prefix").await;
    let mut client = h.client().await;
    let mut prefix = path(BGP_GNMI);
    prefix.target = "r1".to_string();
    let response = client
        .get(GetRequest {
            prefix: Some(prefix),
            path: vec![path("global/config/router-id")],
            encoding: Encoding::Json as i32,
            ..Default::default()
        })
        .await
        .expect("Get")
        .into_inner();
    let n = &response.notification[0];
    assert_eq!(n.prefix.as_ref().map(|p| p.target.as_str()), Some("r1"));
    let u = &n.update[0];
    assert_eq!(
        text(u.path.as_ref().unwrap()),
        format!("{BGP_GNMI}/global/config/router-id")
    );
    assert!(matches!(
        u.val.as_ref().unwrap().value,
        Some(Value::JsonVal(_))
    ));
    assert_eq!(json_of(u.val.as_ref().unwrap()), json!("192.0.2.1"));

    // The root: every top-level node, module-qualified as RFC 7951 wants.
    let response = client
        .get(GetRequest {
            path: vec![Path::default()],
            r#type: DataType::Config as i32,
            ..Default::default()
        })
        .await
        .expect("Get root")
        .into_inner();
    let got = updates(&response);
    assert!(got
        .iter()
        .any(|(p, v)| p == "/network-instances" && v["network-instance"][0]["name"] == "DEFAULT"));
    h.stop().await;
}

#[tokio::test]
async fn proto_encoding_gives_typed_leaves() {
    let h = Harness::start("get-proto").await;
    let mut client = h.client().await;
    let p = format!("{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.2]/state");
    let response = client
        .get(request(&[&p], DataType::All, Encoding::Proto))
        .await
        .expect("Get")
        .into_inner();
    let leaves: Vec<(String, Option<Value>)> = response.notification[0]
        .update
        .iter()
        .map(|u| (text(u.path.as_ref().unwrap()), u.val.clone().unwrap().value))
        .collect();
    let find = |suffix: &str| {
        leaves
            .iter()
            .find(|(p, _)| p.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} missing from {leaves:?}"))
            .1
            .clone()
    };
    assert_eq!(
        find("/state/session-state"),
        Some(Value::StringVal("ESTABLISHED".into()))
    );
    assert_eq!(
        find("/state/established-transitions"),
        Some(Value::UintVal(1))
    );
    assert_eq!(find("/received/UPDATE"), Some(Value::UintVal(10)));
    h.stop().await;
}

#[tokio::test]
async fn errors_have_their_codes() {
    let h = Harness::start("get-errors").await;
    let mut client = h.client().await;
    // Not in the schema.
    let err = get(&h, &[&format!("{BGP_GNMI}/colour")], DataType::All)
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("colour"), "{}", err.message());
    // Keys on a container.
    let err = get(&h, &[&format!("{BGP_GNMI}/global[x=1]")], DataType::All)
        .await
        .expect_err("bad key");
    assert_eq!(err.code(), Code::InvalidArgument);
    // Valid path, no data.
    let err = get(
        &h,
        &[&format!(
            "{BGP_GNMI}/neighbors/neighbor[neighbor-address=192.0.2.99]"
        )],
        DataType::All,
    )
    .await
    .expect_err("no data");
    assert_eq!(err.code(), Code::NotFound);
    // Unsupported encoding.
    let err = client
        .get(request(&[BGP_GNMI], DataType::All, Encoding::Ascii))
        .await
        .expect_err("ASCII");
    assert_eq!(err.code(), Code::Unimplemented);
    assert!(err.message().contains("ASCII"), "{}", err.message());
    // A NUL in a key value never reaches libyang.
    let mut nul = path(&format!("{BGP_GNMI}/neighbors/neighbor"));
    nul.elem
        .last_mut()
        .unwrap()
        .key
        .insert("neighbor-address".into(), "a\0b".into());
    let err = client
        .get(GetRequest {
            path: vec![nul],
            ..Default::default()
        })
        .await
        .expect_err("NUL");
    assert_eq!(err.code(), Code::InvalidArgument);
    h.stop().await;
}
