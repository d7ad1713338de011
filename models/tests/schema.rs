//! The embedded modules load into libyang and validate real configuration.

use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::schema;

const SAMPLE: &str = r#"{
  "openconfig-network-instance:network-instances": {
    "network-instance": [{
      "name": "DEFAULT",
      "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
      "protocols": {"protocol": [{
        "identifier": "openconfig-policy-types:BGP", "name": "BGP",
        "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP"},
        "bgp": {
          "global": {
            "config": {"as": 65001, "router-id": "192.0.2.1"},
            "afi-safis": {"afi-safi": [
              {"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST",
               "config": {"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST", "enabled": true}}
            ]}
          },
          "peer-groups": {"peer-group": [
            {"peer-group-name": "transit",
             "config": {"peer-group-name": "transit", "peer-as": 65002}}
          ]},
          "neighbors": {"neighbor": [
            {"neighbor-address": "192.0.2.2",
             "config": {"neighbor-address": "192.0.2.2", "peer-group": "transit",
                        "description": "test peer"},
             "timers": {"config": {"hold-time": 90, "keepalive-interval": 30}},
             "apply-policy": {"config": {"import-policy": ["deny-bogons"],
                                         "default-import-policy": "ACCEPT_ROUTE"}}}
          ]}
        }
      }]}
    }]
  },
  "openconfig-routing-policy:routing-policy": {
    "defined-sets": {
      "prefix-sets": {"prefix-set": [{
        "name": "bogons",
        "config": {"name": "bogons", "mode": "IPV4"},
        "prefixes": {"prefix": [{
          "ip-prefix": "10.0.0.0/8", "masklength-range": "8..32",
          "config": {"ip-prefix": "10.0.0.0/8", "masklength-range": "8..32"}
        }]}
      }]},
      "openconfig-bgp-policy:bgp-defined-sets": {
        "community-sets": {"community-set": [{
          "community-set-name": "no-export",
          "config": {"community-set-name": "no-export", "community-member": ["65001:666"]}
        }]}
      }
    },
    "policy-definitions": {"policy-definition": [{
      "name": "deny-bogons",
      "config": {"name": "deny-bogons"},
      "statements": {"statement": [{
        "name": "10",
        "config": {"name": "10"},
        "conditions": {"match-prefix-set": {"config": {"prefix-set": "bogons"}}},
        "actions": {"config": {"policy-result": "REJECT_ROUTE"}}
      }]}
    }]}
  }
}"#;

#[test]
fn every_module_loads() {
    let ctx = schema::new_context().expect("modules load");
    for name in [
        "openconfig-network-instance",
        "openconfig-bgp",
        "openconfig-routing-policy",
        "openconfig-bgp-policy",
        "openconfig-rib-bgp",
        "ocbgp",
    ] {
        let m = ctx
            .get_module_implemented(name)
            .unwrap_or_else(|| panic!("{name} not implemented"));
        assert_eq!(m.name(), name);
    }
    let versions: Vec<_> = schema::modules().map(|m| (m.name, m.version())).collect();
    assert!(
        versions.contains(&("openconfig-bgp", "9.9.1")),
        "{versions:?}"
    );
    assert!(
        versions.contains(&("openconfig-network-instance", "4.7.0")),
        "{versions:?}"
    );
}

#[test]
fn sample_config_validates() {
    let config = Config::parse(SAMPLE, Encoding::Json).expect("sample is valid");
    let base = "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']\
                /protocols/protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp";
    assert_eq!(
        config.value(&format!("{base}/global/config/as")).as_deref(),
        Some("65001")
    );
    assert_eq!(
        config
            .value(&format!(
                "{base}/neighbors/neighbor[neighbor-address='192.0.2.2']/config/peer-group"
            ))
            .as_deref(),
        Some("transit")
    );
}

/// Each broken variant of the sample is refused, naming the node at fault.
#[test]
fn invalid_configs_are_refused_with_a_path() {
    let cases = [
        // bad type: AS number out of range
        ("\"as\": 65001", "\"as\": 4294967296", "as"),
        // bad pattern: not an address
        (
            "\"router-id\": \"192.0.2.1\"",
            "\"router-id\": \"192.0.2\"",
            "router-id",
        ),
        // dangling leafref: the peer group does not exist
        (
            "\"peer-group\": \"transit\"",
            "\"peer-group\": \"nope\"",
            "peer-group",
        ),
        // dangling leafref: the policy does not exist
        ("[\"deny-bogons\"]", "[\"no-such-policy\"]", "import-policy"),
        // unknown node
        (
            "\"description\": \"test peer\"",
            "\"colour\": \"blue\"",
            "colour",
        ),
        // bad enumeration
        ("\"REJECT_ROUTE\"", "\"DROP\"", "policy-result"),
    ];
    for (from, to, what) in cases {
        assert!(SAMPLE.contains(from), "test case does not apply: {from}");
        let broken = SAMPLE.replace(from, to);
        let err = Config::parse(&broken, Encoding::Json).expect_err(what);
        let text = err.to_string();
        assert!(
            text.contains(what),
            "error for {what} does not name it: {text}"
        );
    }
}

#[test]
fn state_is_not_config() {
    let with_state = SAMPLE.replace(
        "\"config\": {\"as\": 65001, \"router-id\": \"192.0.2.1\"}",
        "\"config\": {\"as\": 65001, \"router-id\": \"192.0.2.1\"}, \"state\": {\"total-paths\": 3}",
    );
    assert_ne!(with_state, SAMPLE);
    assert!(Config::parse(&with_state, Encoding::Json).is_err());
}

#[test]
fn xml_round_trip() {
    let config = Config::parse(SAMPLE, Encoding::Json).unwrap();
    let xml = config.print(Encoding::Xml).unwrap();
    assert!(
        xml.contains("<network-instances xmlns=\"http://openconfig.net/yang/network-instance\">")
    );
    let again = Config::parse(&xml, Encoding::sniff(&xml)).expect("XML parses back");
    assert_eq!(
        again.print(Encoding::Json).unwrap(),
        config.print(Encoding::Json).unwrap()
    );
}
