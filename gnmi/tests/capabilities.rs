//! The server answers Capabilities through the generated client, over TCP.

mod common;

use ocbgp_gnmi::proto::gnmi::{CapabilityRequest, Encoding, GetRequest};

#[tokio::test]
async fn capabilities_over_grpc() {
    let h = common::Harness::start("capabilities").await;
    let mut client = h.client().await;
    let caps = client
        .capabilities(CapabilityRequest::default())
        .await
        .expect("Capabilities")
        .into_inner();

    assert_eq!(caps.g_nmi_version, "0.10.0");
    for (name, version) in [
        ("openconfig-bgp", "9.9.1"),
        ("openconfig-network-instance", "4.7.0"),
        ("openconfig-routing-policy", "3.5.0"),
    ] {
        let model = caps
            .supported_models
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} missing from {:?}", caps.supported_models));
        assert_eq!(model.version, version, "{name}");
        let embedded = ocbgp_models::schema::module(name).expect("embedded module");
        assert_eq!(
            model.organization,
            embedded.organization.unwrap_or_default(),
            "{name}"
        );
    }
    assert!(caps.supported_models.iter().any(|m| m.name == "ocbgp"));
    let encodings: Vec<Encoding> = caps
        .supported_encodings
        .iter()
        .map(|&e| Encoding::try_from(e).expect("known encoding"))
        .collect();
    for wanted in [Encoding::Json, Encoding::JsonIetf, Encoding::Proto] {
        assert!(
            encodings.contains(&wanted),
            "{wanted:?} missing from {encodings:?}"
        );
    }

    // The data RPCs answer too.
    client
        .get(GetRequest::default())
        .await
        .expect("Get of the root");
    h.stop().await;
}

#[tokio::test]
async fn connect_reports_bad_targets() {
    assert!(matches!(
        ocbgp_gnmi::connect("http://exa mple:1").await,
        Err(ocbgp_gnmi::ConnectError::InvalidTarget { .. })
    ));
    // Port 9 on localhost: nothing listens there.
    assert!(matches!(
        ocbgp_gnmi::connect("127.0.0.1:9").await,
        Err(ocbgp_gnmi::ConnectError::Connect { .. })
    ));
}
