//! The code generated from `yang/`: path constants, enums and identities,
//! typed config and state structs, and change classification.

use std::net::{IpAddr, Ipv4Addr};

use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::gen::config::{Neighbor, PrefixSet, Root, TimersConfig};
use ocbgp_models::gen::paths::network_instances::network_instance as ni;
use ocbgp_models::gen::paths::routing_policy;
use ocbgp_models::gen::state::NeighborState;
use ocbgp_models::gen::types::{
    AfiSafiType, CommunityType, DefaultPolicyType, NeighborSessionState, PeerType, PolicyResultType,
};
use ocbgp_models::gen::{paths, rt, ChangeSet, ContainerKind, FromNode, ListKind, Op};
use ocbgp_models::schema;
use yang2::data::{Data, DataDiffFlags, DataTree};

const CONFIG: &str = r#"{
  "openconfig-network-instance:network-instances": {"network-instance": [{
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
             "config": {"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST", "enabled": true}},
            {"afi-safi-name": "openconfig-bgp-types:IPV6_UNICAST",
             "config": {"afi-safi-name": "openconfig-bgp-types:IPV6_UNICAST", "enabled": true}}
          ]}
        },
        "peer-groups": {"peer-group": [
          {"peer-group-name": "transit",
           "config": {"peer-group-name": "transit", "peer-as": 64500, "peer-type": "EXTERNAL"},
           "timers": {"config": {"hold-time": 180, "keepalive-interval": 60}},
           "apply-policy": {"config": {"import-policy": ["import-transit"]}}},
          {"peer-group-name": "ibgp",
           "config": {"peer-group-name": "ibgp", "peer-as": 65001, "peer-type": "INTERNAL"},
           "transport": {"config": {"local-address": "192.0.2.1"}}}
        ]},
        "neighbors": {"neighbor": [
          {"neighbor-address": "192.0.2.2",
           "config": {"neighbor-address": "192.0.2.2", "peer-group": "transit", "description": "transit A"},
           "timers": {"config": {"hold-time": 90, "keepalive-interval": 30}},
           "transport": {"config": {"passive-mode": true, "tcp-mss": 1400}},
           "apply-policy": {"config": {"import-policy": ["import-transit"], "export-policy": ["export-all"],
                                       "default-export-policy": "ACCEPT_ROUTE"}},
           "afi-safis": {"afi-safi": [
             {"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST",
              "config": {"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST", "enabled": true},
              "ipv4-unicast": {"prefix-limit": {"config": {"max-prefixes": 1000}}}}
           ]}},
          {"neighbor-address": "2001:db8::2",
           "config": {"neighbor-address": "2001:db8::2", "peer-as": 64501,
                      "send-community-type": ["STANDARD", "LARGE"]},
           "afi-safis": {"afi-safi": [
             {"afi-safi-name": "openconfig-bgp-types:IPV6_UNICAST",
              "config": {"afi-safi-name": "openconfig-bgp-types:IPV6_UNICAST", "enabled": true}}
           ]}},
          {"neighbor-address": "192.0.2.3",
           "config": {"neighbor-address": "192.0.2.3", "peer-group": "ibgp", "enabled": false}}
        ]}
      }
    }]}
  }]},
  "openconfig-routing-policy:routing-policy": {
    "defined-sets": {
      "prefix-sets": {"prefix-set": [{
        "name": "bogons", "config": {"name": "bogons", "mode": "IPV4"},
        "prefixes": {"prefix": [
          {"ip-prefix": "10.0.0.0/8", "masklength-range": "8..32",
           "config": {"ip-prefix": "10.0.0.0/8", "masklength-range": "8..32"}},
          {"ip-prefix": "192.168.0.0/16", "masklength-range": "exact",
           "config": {"ip-prefix": "192.168.0.0/16", "masklength-range": "exact"}}
        ]}
      }]},
      "openconfig-bgp-policy:bgp-defined-sets": {
        "community-sets": {"community-set": [{
          "community-set-name": "blackhole",
          "config": {"community-set-name": "blackhole",
                     "community-member": ["65001:666", "openconfig-bgp-types:NO_EXPORT"]}
        }]}
      }
    },
    "policy-definitions": {"policy-definition": [
      {"name": "import-transit", "config": {"name": "import-transit"},
       "statements": {"statement": [
         {"name": "deny-bogons", "config": {"name": "deny-bogons"},
          "conditions": {"match-prefix-set": {"config": {"prefix-set": "bogons"}}},
          "actions": {"config": {"policy-result": "REJECT_ROUTE"}}},
         {"name": "blackhole", "config": {"name": "blackhole"},
          "conditions": {"openconfig-bgp-policy:bgp-conditions": {
            "match-community-set": {"config": {"community-set": "blackhole"}}}},
          "actions": {"config": {"policy-result": "ACCEPT_ROUTE"},
            "openconfig-bgp-policy:bgp-actions": {
              "config": {"set-local-pref": 50},
              "set-community": {"config": {"method": "INLINE", "options": "ADD"},
                                "inline": {"config": {"communities": ["65001:100"]}}}}}}
       ]}},
      {"name": "export-all", "config": {"name": "export-all"},
       "statements": {"statement": [
         {"name": "accept", "config": {"name": "accept"},
          "actions": {"config": {"policy-result": "ACCEPT_ROUTE"}}}
       ]}}
    ]}
  }
}"#;

fn config() -> Config {
    Config::parse(CONFIG, Encoding::Json).expect("sample config is valid")
}

fn protocol_path() -> String {
    let instance = ni::entry(["DEFAULT"]);
    ni::protocols::protocol::entry(&instance, ["openconfig-policy-types:BGP", "BGP"])
}

fn neighbor_path(address: &str) -> String {
    ni::protocols::protocol::bgp::neighbors::neighbor::entry(&protocol_path(), [address])
}

// ---- paths ----

#[test]
fn path_constants() {
    assert_eq!(
        ni::protocols::protocol::bgp::neighbors::neighbor::config::PEER_AS,
        "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/config/peer-as"
    );
    assert_eq!(
        ni::protocols::protocol::bgp::global::listen::config::PORT,
        "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/global/ocbgp:listen/config/port"
    );
    assert_eq!(
        routing_policy::defined_sets::bgp_defined_sets::community_sets::community_set::PATH,
        "/openconfig-routing-policy:routing-policy/defined-sets/openconfig-bgp-policy:bgp-defined-sets/community-sets/community-set"
    );
    assert_eq!(
        paths::management::gnmi::config::PATH,
        "/ocbgp:management/gnmi/config"
    );
    // State and the RIB have paths too.
    assert!(
        ni::protocols::protocol::bgp::neighbors::neighbor::state::SESSION_STATE
            .ends_with("/state/session-state")
    );
    assert!(ni::protocols::protocol::bgp::rib::PATH.ends_with("/bgp/rib"));
    assert_eq!(ni::protocols::protocol::KEYS, &["identifier", "name"]);
}

#[test]
fn entry_paths_quote_keys() {
    assert_eq!(
        neighbor_path("192.0.2.1"),
        "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/protocols/\
         protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp/neighbors/neighbor[neighbor-address='192.0.2.1']"
    );
    let set = routing_policy::defined_sets::prefix_sets::prefix_set::entry(["it's"]);
    assert!(set.ends_with("prefix-set[name=\"it's\"]"), "{set}");
    assert_eq!(rt::quote("a\"b"), "'a\"b'");
    // The paths the helpers build are the paths libyang finds.
    let config = config();
    let node = config
        .tree()
        .find_path(&neighbor_path("2001:db8::2"))
        .expect("entry found");
    assert_eq!(node.path(), neighbor_path("2001:db8::2"));
}

// ---- enums and identities ----

#[test]
fn identities_round_trip() {
    let v4: AfiSafiType = "openconfig-bgp-types:IPV4_UNICAST".parse().unwrap();
    assert_eq!(v4, AfiSafiType::Ipv4Unicast);
    assert_eq!(v4.as_str(), "openconfig-bgp-types:IPV4_UNICAST");
    assert_eq!(v4.name(), "IPV4_UNICAST");
    assert_eq!(v4.to_string(), "openconfig-bgp-types:IPV4_UNICAST");
    assert_eq!("IPV4_UNICAST".parse::<AfiSafiType>().unwrap(), v4);
    assert_eq!(
        "oc-bgp-types:L3VPN_IPV6_UNICAST"
            .parse::<AfiSafiType>()
            .unwrap(),
        AfiSafiType::L3vpnIpv6Unicast
    );
    assert!("IPV5_UNICAST".parse::<AfiSafiType>().is_err());
    assert!(AfiSafiType::ALL.len() >= 12);
    for t in AfiSafiType::ALL {
        assert_eq!(t.as_str().parse::<AfiSafiType>().unwrap(), *t);
    }
}

#[test]
fn enumerations_round_trip() {
    assert_eq!(
        "ESTABLISHED".parse::<NeighborSessionState>().unwrap(),
        NeighborSessionState::Established
    );
    assert_eq!(NeighborSessionState::Opensent.as_str(), "OPENSENT");
    assert_eq!(NeighborSessionState::ALL.len(), 6);
    assert_eq!(
        PolicyResultType::NextStatement.to_string(),
        "NEXT_STATEMENT"
    );
    assert_eq!(
        "REJECT_ROUTE".parse::<PolicyResultType>().unwrap(),
        PolicyResultType::RejectRoute
    );
    for t in CommunityType::ALL {
        assert_eq!(t.as_str().parse::<CommunityType>().unwrap(), *t);
    }
    assert_eq!(CommunityType::None.as_str(), "NONE");
    let err = "standard".parse::<CommunityType>().unwrap_err();
    assert!(err.message.contains("community-type"), "{err}");
}

// ---- typed config ----

#[test]
fn typed_config() {
    let config = config();
    let root = Root::from_tree(config.tree()).expect("typed config");

    assert_eq!(root.network_instances.len(), 1);
    let instance = &root.network_instances[0];
    assert_eq!(instance.name, "DEFAULT");
    let protocol = &instance.protocols[0];
    assert_eq!(protocol.identifier.name(), "BGP");
    let bgp = protocol.bgp.as_ref().expect("bgp container");

    // Global.
    assert_eq!(bgp.global.config.r#as, 65001);
    assert_eq!(
        bgp.global.config.router_id,
        Some(Ipv4Addr::new(192, 0, 2, 1))
    );
    let afis: Vec<AfiSafiType> = bgp
        .global
        .afi_safis
        .iter()
        .map(|a| a.afi_safi_name)
        .collect();
    assert_eq!(afis, [AfiSafiType::Ipv4Unicast, AfiSafiType::Ipv6Unicast]);
    assert!(bgp.global.afi_safis[0].config.enabled);
    // Defaults of containers absent from the input.
    assert_eq!(bgp.global.graceful_restart.config.enabled, None);
    assert!(bgp.global.listen.config.enabled);
    assert_eq!(bgp.global.listen.config.port, 179);
    assert!(
        bgp.global
            .route_selection_options
            .config
            .external_compare_router_id
    );

    // Peer groups.
    assert_eq!(bgp.peer_groups.len(), 2);
    // libyang keeps system-ordered lists sorted by key.
    let names: Vec<&str> = bgp
        .peer_groups
        .iter()
        .map(|p| p.peer_group_name.as_str())
        .collect();
    assert_eq!(names, ["ibgp", "transit"]);
    let transit = &bgp.peer_groups[1];
    assert_eq!(transit.config.peer_type, Some(PeerType::External));
    assert_eq!(transit.timers.config.hold_time, 180);
    assert_eq!(transit.timers.config.connect_retry, 30); // default
    assert_eq!(
        transit.apply_policy.config.import_policy,
        ["import-transit"]
    );
    assert_eq!(
        transit.apply_policy.config.default_import_policy,
        DefaultPolicyType::RejectRoute
    );
    assert_eq!(
        bgp.peer_groups[0].transport.config.local_address.as_deref(),
        Some("192.0.2.1")
    );

    // Neighbors: timers and transport are the peer groups' types.
    assert_eq!(bgp.neighbors.len(), 3);
    let neighbor = |address: &str| {
        let address: IpAddr = address.parse().unwrap();
        bgp.neighbors
            .iter()
            .find(|n| n.neighbor_address == address)
            .expect("neighbor")
    };
    let a = neighbor("192.0.2.2");
    assert_eq!(a.neighbor_address, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(a.config.peer_group.as_deref(), Some("transit"));
    assert_eq!(a.config.peer_as, None);
    assert_eq!(a.config.neighbor_port, 179);
    assert!(a.config.enabled);
    assert_eq!(a.config.description.as_deref(), Some("transit A"));
    let timers: &TimersConfig = &a.timers.config;
    assert_eq!((timers.hold_time, timers.keepalive_interval), (90, 30));
    assert_eq!(timers.minimum_advertisement_interval, 30);
    assert!(a.transport.config.passive_mode);
    assert_eq!(a.transport.config.tcp_mss, Some(1400));
    assert_eq!(a.apply_policy.config.export_policy, ["export-all"]);
    assert_eq!(
        a.apply_policy.config.default_export_policy,
        DefaultPolicyType::AcceptRoute
    );
    assert_eq!(a.afi_safis.len(), 1);
    let v4 = &a.afi_safis[0];
    assert_eq!(v4.afi_safi_name, AfiSafiType::Ipv4Unicast);
    assert_eq!(v4.config.enabled, Some(true));
    let unicast = v4
        .ipv4_unicast
        .as_ref()
        .expect("ipv4-unicast applies to IPV4_UNICAST");
    assert_eq!(unicast.prefix_limit.config.max_prefixes, Some(1000));
    assert!(v4.ipv6_unicast.is_none(), "its `when` is false");

    let b = neighbor("2001:db8::2");
    assert_eq!(b.config.peer_as, Some(64501));
    // Leaf-lists that are not ordered-by user come sorted too.
    assert_eq!(
        b.config.send_community_type,
        [CommunityType::Large, CommunityType::Standard]
    );
    assert_eq!(b.timers.config.hold_time, 90); // default
    assert!(!neighbor("192.0.2.3").config.enabled);
    assert!(neighbor("192.0.2.3").afi_safis.is_empty());

    // Routing policy.
    let sets = &root.routing_policy.defined_sets;
    assert_eq!(sets.prefix_sets.len(), 1);
    let bogons = &sets.prefix_sets[0];
    assert_eq!(bogons.config.mode.map(|m| m.as_str()), Some("IPV4"));
    assert_eq!(bogons.prefixes.len(), 2);
    assert_eq!(
        bogons.prefixes[0].ip_prefix,
        "10.0.0.0/8".parse::<ipnet::IpNet>().unwrap()
    );
    assert_eq!(bogons.prefixes[1].masklength_range, "exact");
    let communities = &sets.bgp_defined_sets.community_sets[0].config;
    assert_eq!(
        communities.community_member,
        ["openconfig-bgp-types:NO_EXPORT", "65001:666"]
    );

    let policies = &root.routing_policy.policy_definitions;
    assert_eq!(policies.len(), 2);
    let import = policies
        .iter()
        .find(|p| p.name == "import-transit")
        .unwrap();
    // Statements are ordered by the user: input order.
    let statements = &import.statements;
    let names: Vec<&str> = statements.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["deny-bogons", "blackhole"]);
    assert_eq!(
        statements[0]
            .conditions
            .match_prefix_set
            .config
            .prefix_set
            .as_deref(),
        Some("bogons")
    );
    assert_eq!(
        statements[0]
            .conditions
            .match_prefix_set
            .config
            .match_set_options
            .as_str(),
        "ANY"
    );
    assert_eq!(
        statements[0].actions.config.policy_result,
        PolicyResultType::RejectRoute
    );
    let bgp_actions = &statements[1].actions.bgp_actions;
    assert_eq!(bgp_actions.config.set_local_pref, Some(50));
    let inline = bgp_actions
        .set_community
        .inline
        .as_ref()
        .expect("inline method");
    assert_eq!(inline.config.communities, ["65001:100"]);
    assert!(bgp_actions.set_community.reference.is_none());
    assert_eq!(
        statements[1]
            .conditions
            .bgp_conditions
            .match_community_set
            .config
            .community_set
            .as_deref(),
        Some("blackhole")
    );

    // Management defaults, with nothing configured.
    assert_eq!(root.management.gnmi.config.port, 9339);
    let empty = Root::from_tree(Config::empty().tree()).unwrap();
    assert!(empty.network_instances.is_empty());
    assert_eq!(empty.management, root.management);
    assert_eq!(
        root.management.gnmi.config.address,
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    );
    assert!(!root.management.metrics.config.enabled);
}

#[test]
fn one_entry_from_a_tree() {
    let config = config();
    let neighbor = Neighbor::from_tree(config.tree(), &neighbor_path("192.0.2.2")).unwrap();
    assert_eq!(neighbor.config.description.as_deref(), Some("transit A"));
    // The same struct as in the whole-tree read.
    let root = Root::from_tree(config.tree()).unwrap();
    let bgp = root.network_instances[0].protocols[0].bgp.as_ref().unwrap();
    assert!(bgp.neighbors.contains(&neighbor));
    let err = Neighbor::from_tree(config.tree(), &neighbor_path("192.0.2.99")).unwrap_err();
    assert!(err.path.unwrap().contains("192.0.2.99"));
}

#[test]
fn defaults_without_implicit_nodes() {
    // A tree built edit by edit has no implicit default nodes; the typed
    // view still holds the YANG defaults.
    let mut tree = DataTree::new(schema::context());
    let path = neighbor_path("192.0.2.7");
    tree.new_path(&format!("{path}/config/peer-as"), Some("65007"), false)
        .unwrap();
    let neighbor = Neighbor::from_tree(&tree, &path).unwrap();
    assert_eq!(neighbor.config.peer_as, Some(65007));
    assert_eq!(neighbor.timers.config.hold_time, 90);
    assert_eq!(
        neighbor.apply_policy.config.default_import_policy,
        DefaultPolicyType::RejectRoute
    );
    assert_eq!(neighbor.config.neighbor_port, 179);
}

// ---- typed state ----

#[test]
fn state_records_write_and_read_back() {
    let state = NeighborState {
        session_state: Some(NeighborSessionState::Established),
        peer_as: Some(64500),
        neighbor_address: Some("192.0.2.2".parse().unwrap()),
        supported_capabilities: vec![
            "MPBGP".parse().unwrap(),
            "openconfig-bgp-types:ROUTE_REFRESH".parse().unwrap(),
        ],
        ..Default::default()
    };
    let mut messages = state.clone();
    messages.messages.received.update = Some(42);

    let mut tree = DataTree::new(schema::context());
    let path = format!("{}/state", neighbor_path("192.0.2.2"));
    messages.write(&mut tree, &path).unwrap();
    let node = tree.find_path(&format!("{path}/session-state")).unwrap();
    assert_eq!(node.value_canonical().as_deref(), Some("ESTABLISHED"));

    let back = NeighborState::from_tree(&tree, &path).unwrap();
    assert_eq!(back, messages);
    assert_eq!(back.messages.received.update, Some(42));
}

// ---- change classification ----

/// Applies `edit` to a copy of `old` and classifies the difference.
fn change(
    old: &DataTree<'static>,
    edit: impl FnOnce(&mut DataTree<'static>),
) -> (DataTree<'static>, ChangeSet) {
    let mut new = old.duplicate().unwrap();
    edit(&mut new);
    // With DEFAULTS: see `change_over_an_implicit_default`.
    let diff = old.diff(&new, DataDiffFlags::DEFAULTS).unwrap();
    let set = ocbgp_models::gen::changes(&diff);
    (new, set)
}

fn lists(set: &ChangeSet) -> Vec<(ListKind, Vec<String>, Op)> {
    set.lists
        .iter()
        .map(|c| (c.kind, c.keys.clone(), c.op))
        .collect()
}

fn keys(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn bgp_keys() -> Vec<String> {
    keys(&["openconfig-policy-types:BGP", "BGP"])
}

#[test]
fn change_add_neighbor() {
    let config = config();
    let path = neighbor_path("192.0.2.9");
    let (new, set) = change(config.tree(), |t| {
        t.new_path(&format!("{path}/config/peer-as"), Some("65009"), false)
            .unwrap();
        t.new_path(
            &format!("{path}/timers/config/hold-time"),
            Some("30"),
            false,
        )
        .unwrap();
    });
    assert_eq!(
        lists(&set),
        [
            (ListKind::NetworkInstance, keys(&["DEFAULT"]), Op::Modified),
            (ListKind::NetworkInstanceProtocol, bgp_keys(), Op::Modified),
            (ListKind::BgpNeighbor, keys(&["192.0.2.9"]), Op::Created),
        ]
    );
    assert!(set.containers.is_empty(), "{:?}", set.containers);
    let added = set.list(ListKind::BgpNeighbor).next().unwrap();
    assert_eq!(added.path, path);
    let neighbor: Neighbor = added.read(&new).unwrap();
    assert_eq!(neighbor.config.peer_as, Some(65009));
    assert_eq!(neighbor.timers.config.hold_time, 30);
}

#[test]
fn change_delete_neighbor() {
    let config = config();
    let (_, set) = change(config.tree(), |t| {
        t.remove(&neighbor_path("192.0.2.2")).unwrap()
    });
    assert_eq!(
        lists(&set),
        [
            (ListKind::NetworkInstance, keys(&["DEFAULT"]), Op::Modified),
            (ListKind::NetworkInstanceProtocol, bgp_keys(), Op::Modified),
            // Its afi-safis go with it, unlisted.
            (ListKind::BgpNeighbor, keys(&["192.0.2.2"]), Op::Deleted),
        ]
    );
    assert!(set.containers.is_empty());
}

#[test]
fn change_one_timer() {
    let config = config();
    let path = neighbor_path("192.0.2.2");
    let (new, set) = change(config.tree(), |t| {
        t.new_path(
            &format!("{path}/timers/config/hold-time"),
            Some("60"),
            false,
        )
        .unwrap();
    });
    assert_eq!(
        lists(&set),
        [
            (ListKind::NetworkInstance, keys(&["DEFAULT"]), Op::Modified),
            (ListKind::NetworkInstanceProtocol, bgp_keys(), Op::Modified),
            (ListKind::BgpNeighbor, keys(&["192.0.2.2"]), Op::Modified),
        ]
    );
    assert_eq!(set.containers.len(), 1);
    let timers = &set.containers[0];
    assert_eq!(
        (timers.kind, timers.op),
        (ContainerKind::BgpNeighborTimersConfig, Op::Modified)
    );
    assert_eq!(timers.path, format!("{path}/timers/config"));
    let read: TimersConfig = timers.read(&new).unwrap();
    assert_eq!(read.hold_time, 60);
}

#[test]
fn change_over_an_implicit_default() {
    // hold-time of 2001:db8::2 is an implicit default node (90) in the
    // validated tree. `new_path` sets it, but leaves its NP parents flagged
    // default, and libyang's diff without `DEFAULTS` then skips them: the
    // change would be lost. `ChangeSet::between` diffs with `DEFAULTS`.
    let config = config();
    let path = neighbor_path("2001:db8::2");
    let mut new = config.tree().duplicate().unwrap();
    new.new_path(
        &format!("{path}/timers/config/hold-time"),
        Some("30"),
        false,
    )
    .unwrap();
    let missed = config.tree().diff(&new, DataDiffFlags::empty()).unwrap();
    assert!(
        ocbgp_models::gen::changes(&missed).is_empty(),
        "libyang behaves as documented here"
    );
    let set = ChangeSet::between(config.tree(), &new).unwrap();
    assert_eq!(
        set.list(ListKind::BgpNeighbor).next().map(|c| c.op),
        Some(Op::Modified)
    );
    assert_eq!(set.containers.len(), 1);
    assert_eq!(
        set.containers[0].kind,
        ContainerKind::BgpNeighborTimersConfig
    );
}

#[test]
fn change_inside_afi_safi_marks_every_enclosing_entry() {
    let config = config();
    let afi = ni::protocols::protocol::bgp::neighbors::neighbor::afi_safis::afi_safi::entry(
        &neighbor_path("192.0.2.2"),
        ["openconfig-bgp-types:IPV4_UNICAST"],
    );
    let (_, set) = change(config.tree(), |t| {
        t.new_path(
            &format!("{afi}/ipv4-unicast/prefix-limit/config/max-prefixes"),
            Some("2000"),
            false,
        )
        .unwrap();
    });
    let kinds: Vec<(ListKind, Op)> = set.lists.iter().map(|c| (c.kind, c.op)).collect();
    assert_eq!(
        kinds,
        [
            (ListKind::NetworkInstance, Op::Modified),
            (ListKind::NetworkInstanceProtocol, Op::Modified),
            (ListKind::BgpNeighbor, Op::Modified),
            (ListKind::BgpNeighborAfiSafi, Op::Modified),
        ]
    );
    assert_eq!(set.lists[3].keys, ["openconfig-bgp-types:IPV4_UNICAST"]);
    // Inside an afi-safi (no lists below it), the entry is the finest grain.
    assert!(set.containers.is_empty(), "{:?}", set.containers);
}

#[test]
fn change_global_as() {
    let config = config();
    let global = ni::protocols::protocol::bgp::global::config::PATH;
    let (_, set) = change(config.tree(), |t| {
        let path = format!("{}/bgp/global/config/as", protocol_path());
        t.new_path(&path, Some("65002"), false).unwrap();
    });
    assert_eq!(
        lists(&set),
        [
            (ListKind::NetworkInstance, keys(&["DEFAULT"]), Op::Modified),
            (ListKind::NetworkInstanceProtocol, bgp_keys(), Op::Modified),
        ]
    );
    assert_eq!(set.containers.len(), 1);
    assert_eq!(
        (set.containers[0].kind, set.containers[0].op),
        (ContainerKind::BgpGlobalConfig, Op::Modified)
    );
    assert_eq!(ContainerKind::BgpGlobalConfig.schema_path(), global);
    assert_eq!(
        ContainerKind::BgpGlobalConfig.list(),
        Some(ListKind::NetworkInstanceProtocol)
    );
}

#[test]
fn change_one_prefix_of_a_large_set() {
    // A prefix set of 10,000 prefixes; adding one reports the set and the prefix.
    let mut prefixes = String::new();
    for i in 0..10_000u32 {
        let p = format!("10.{}.{}.0/24", i / 256, i % 256);
        if i > 0 {
            prefixes.push(',');
        }
        prefixes.push_str(&format!(
            r#"{{"ip-prefix": "{p}", "masklength-range": "exact", "config": {{"ip-prefix": "{p}", "masklength-range": "exact"}}}}"#
        ));
    }
    let text = format!(
        r#"{{"openconfig-routing-policy:routing-policy": {{"defined-sets": {{"prefix-sets": {{"prefix-set": [
             {{"name": "big", "config": {{"name": "big"}}, "prefixes": {{"prefix": [{prefixes}]}}}}]}}}}}}}}"#
    );
    let config = Config::parse(&text, Encoding::Json).unwrap();
    let set_path = routing_policy::defined_sets::prefix_sets::prefix_set::entry(["big"]);
    let prefix = routing_policy::defined_sets::prefix_sets::prefix_set::prefixes::prefix::entry(
        &set_path,
        ["192.0.2.0/24", "exact"],
    );
    let (_, set) = change(config.tree(), |t| {
        t.new_path(
            &format!("{prefix}/config/ip-prefix"),
            Some("192.0.2.0/24"),
            false,
        )
        .unwrap();
    });
    assert_eq!(
        lists(&set),
        [
            (ListKind::PrefixSet, keys(&["big"]), Op::Modified),
            (
                ListKind::PrefixSetPrefix,
                keys(&["192.0.2.0/24", "exact"]),
                Op::Created
            ),
        ]
    );
    assert!(set.containers.is_empty());
    assert_eq!(set.lists[1].path, prefix);

    // The whole set, typed.
    let big = PrefixSet::from_tree(config.tree(), &set_path).unwrap();
    assert_eq!(big.prefixes.len(), 10_000);
}

#[test]
fn change_tables() {
    assert_eq!(ListKind::BgpNeighbor.keys(), &["neighbor-address"]);
    assert_eq!(
        ListKind::BgpNeighborAfiSafi.parent(),
        Some(ListKind::BgpNeighbor)
    );
    assert_eq!(
        ListKind::PrefixSetPrefix.parent(),
        Some(ListKind::PrefixSet)
    );
    assert_eq!(
        ListKind::PolicyDefinitionStatement.parent(),
        Some(ListKind::PolicyDefinition)
    );
    assert_eq!(ListKind::NetworkInstance.parent(), None);
    assert_eq!(
        ListKind::BgpPeerGroup.schema_path(),
        ni::protocols::protocol::bgp::peer_groups::peer_group::PATH
    );
    for kind in [
        ListKind::CommunitySet,
        ListKind::BgpGlobalAfiSafi,
        ListKind::BgpPeerGroupAfiSafi,
    ] {
        assert_eq!(ListKind::ALL.iter().filter(|k| **k == kind).count(), 1);
    }
    assert_eq!(ListKind::BgpNeighbor.to_string(), "BgpNeighbor");
    assert!(ContainerKind::ALL.contains(&ContainerKind::ManagementGnmiConfig));
}

/// Timings at the scale the daemon must handle: 1,000 neighbors and a
/// 100,000-entry prefix set; one leaf changes. Run with
/// `cargo test -p ocbgp-models --release --test gen -- --ignored --nocapture`.
#[test]
#[ignore]
fn scale() {
    use std::time::Instant;
    let mut neighbors = Vec::new();
    for i in 0..1000u32 {
        let a = format!("10.{}.{}.1", i / 256, i % 256);
        neighbors.push(format!(
            r#"{{"neighbor-address": "{a}", "config": {{"neighbor-address": "{a}", "peer-as": {}}},
               "afi-safis": {{"afi-safi": [{{"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST",
                 "config": {{"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST", "enabled": true}}}}]}}}}"#,
            64512 + i
        ));
    }
    let mut prefixes = Vec::new();
    for i in 0..100_000u32 {
        let p = format!("{}.{}.{}.0/24", 11 + i / 65536, (i / 256) % 256, i % 256);
        prefixes.push(format!(
            r#"{{"ip-prefix": "{p}", "masklength-range": "exact", "config": {{"ip-prefix": "{p}", "masklength-range": "exact"}}}}"#
        ));
    }
    let text = format!(
        r#"{{"openconfig-network-instance:network-instances": {{"network-instance": [{{
             "name": "DEFAULT", "config": {{"name": "DEFAULT"}},
             "protocols": {{"protocol": [{{"identifier": "openconfig-policy-types:BGP", "name": "BGP",
               "config": {{"identifier": "openconfig-policy-types:BGP", "name": "BGP"}},
               "bgp": {{"global": {{"config": {{"as": 65001}}}}, "neighbors": {{"neighbor": [{}]}}}}}}]}}}}]}},
           "openconfig-routing-policy:routing-policy": {{"defined-sets": {{"prefix-sets": {{"prefix-set": [
             {{"name": "big", "config": {{"name": "big"}}, "prefixes": {{"prefix": [{}]}}}}]}}}}}}}}"#,
        neighbors.join(","),
        prefixes.join(",")
    );
    let t = Instant::now();
    let config = Config::parse(&text, Encoding::Json).unwrap();
    println!("parse + validate:           {:?}", t.elapsed());
    let t = Instant::now();
    let root = Root::from_tree(config.tree()).unwrap();
    println!("whole typed config:         {:?}", t.elapsed());
    assert_eq!(
        root.network_instances[0].protocols[0]
            .bgp
            .as_ref()
            .unwrap()
            .neighbors
            .len(),
        1000
    );

    let path = neighbor_path("10.1.2.1");
    let mut new = config.tree().duplicate().unwrap();
    new.new_path(
        &format!("{path}/timers/config/hold-time"),
        Some("30"),
        false,
    )
    .unwrap();
    let t = Instant::now();
    let diff = config.tree().diff(&new, DataDiffFlags::DEFAULTS).unwrap();
    println!("libyang diff of two trees:  {:?}", t.elapsed());
    let t = Instant::now();
    let set = ocbgp_models::gen::changes(&diff);
    println!("classify the diff:          {:?}", t.elapsed());
    let t = Instant::now();
    let neighbor: Neighbor = set
        .list(ListKind::BgpNeighbor)
        .next()
        .unwrap()
        .read(&new)
        .unwrap();
    println!("read the touched neighbor:  {:?}", t.elapsed());
    assert_eq!(neighbor.timers.config.hold_time, 30);
    assert_eq!(set.lists.len(), 3);
}
