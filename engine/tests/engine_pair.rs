//! Two engines on loopback, configured through the model as the daemon
//! configures them: the session comes up, routes flow both ways with their
//! attributes, state shows in the model's leaves, a withdraw and a
//! neighbor removal clean up, and a transaction reaches the engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ocbgp_engine::config::Northbound;
use ocbgp_engine::engine::Engine;
use ocbgp_engine::state::EngineState;
use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::datastore::{Datastore, Options, Origin, Requester};
use ocbgp_models::edit::{Edit, Operation};

const BGP: &str = "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']\
                   /protocols/protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp";

fn config(asn: u32, me: &str, peer: &str, peer_as: u32, port: u16, routes: &[&str]) -> String {
    let routes: Vec<String> = routes
        .iter()
        .map(|p| format!(r#"{{"prefix": "{p}", "config": {{"prefix": "{p}", "med": 7, "community": ["65000:42"]}}}}"#))
        .collect();
    format!(
        r#"{{"openconfig-network-instance:network-instances": {{"network-instance": [{{"name": "DEFAULT",
  "config": {{"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}},
  "protocols": {{"protocol": [{{"identifier": "openconfig-policy-types:BGP", "name": "BGP",
    "config": {{"identifier": "openconfig-policy-types:BGP", "name": "BGP"}},
    "bgp": {{"global": {{"config": {{"as": {asn}, "router-id": "{me}"}},
       "ocbgp:listen": {{"config": {{"address": ["{me}"], "port": {port}}}}},
       "ocbgp:originated-routes": {{"route": [{routes}]}}}},
      "neighbors": {{"neighbor": [{{"neighbor-address": "{peer}",
         "config": {{"neighbor-address": "{peer}", "peer-as": {peer_as}, "neighbor-port": {port}}},
         "timers": {{"config": {{"connect-retry": 1}}}},
         "transport": {{"config": {{"local-address": "{me}"}}}}}}]}}}}}}]}}}}]}}}}"#,
        routes = routes.join(",")
    )
}

struct Speaker {
    store: Arc<Datastore>,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn speaker(name: &str, text: &str) -> (Speaker, Engine) {
    let dir = std::env::temp_dir().join(format!("ocbgp-pair-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::parse(text, Encoding::Json).expect("valid config");
    let (store, _) = Datastore::open(Options::new(&dir), config, true).unwrap();
    let store = Arc::new(store);
    let engine = Engine::new(tokio::runtime::Handle::current());
    let nb = Arc::new(Northbound::new(engine.clone()));
    nb.sync(&store.running()).unwrap();
    store.add_consumer(nb);
    store.set_state_provider(Arc::new(EngineState::new(engine.clone())));
    (
        Speaker {
            store,
            _dir: tempdir::Dir(dir),
        },
        engine,
    )
}

/// Reads one leaf of the operational datastore (in a blocking thread, as
/// the management doors do); leaves of the RIB from its stream.
async fn leaf(s: &Speaker, path: &str) -> Option<String> {
    let store = s.store.clone();
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        if path.contains("/bgp/rib/") {
            return rib_leaf(&store, &path);
        }
        let tree = store.operational(&path).ok()?;
        use yang2::data::Data;
        tree.find_path(&path).ok()?.value_canonical()
    })
    .await
    .unwrap()
}

/// A leaf inside a streamed RIB entry.
fn rib_leaf(store: &Datastore, path: &str) -> Option<String> {
    use ocbgp_models::datastore::StreamNode;
    let found = |e: &ocbgp_models::datastore::StreamEntry| {
        let rest = path.strip_prefix(&entry_data_path(&e.path()))?;
        let names: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let mut nodes = &e.children;
        for (i, seg) in names.iter().enumerate() {
            // `name` or `name[key='value']` (one key).
            let (n, key) = match seg.split_once('[') {
                Some((n, pred)) => {
                    let (k, v) = pred.trim_end_matches(']').split_once('=')?;
                    (n, Some((k, v.trim_matches('\''))))
                }
                None => (*seg, None),
            };
            match (nodes.iter().find(|c| c.name() == n)?, key) {
                (StreamNode::Container(_, c), None) => nodes = c,
                (StreamNode::List(_, _, entries), Some((k, v))) => {
                    nodes = entries.iter().find(|children| {
                        children
                            .iter()
                            .any(|c| matches!(c, StreamNode::Leaf(name, x) if *name == k && x.text() == v))
                    })?;
                }
                (StreamNode::Leaf(_, v), None) if i + 1 == names.len() => return Some(v.text()),
                _ => return None,
            }
        }
        None
    };
    store.stream_state(path)?.find_map(|e| found(&e))
}

/// A key value as a data path or JSON has it: the identity keys (given
/// bare in a stream's path) with their module.
fn qualified(key: &str, v: &str) -> String {
    match ocbgp_models::schema::identity_module(v) {
        Some(m) if matches!(key, "identifier" | "afi-safi-name" | "origin") => {
            format!("{}:{v}", m.name)
        }
        _ => v.to_string(),
    }
}

/// The data path of a streamed entry.
fn entry_data_path(path: &[ocbgp_models::datastore::StreamElem]) -> String {
    let mut out = format!("{BGP}/rib");
    for e in &path[6..] {
        out.push('/');
        out.push_str(&e.name);
        for (k, v) in &e.keys {
            out.push_str(&format!("[{k}='{}']", qualified(k, v)));
        }
    }
    out
}

/// A streamed entry as a whole RFC 7951 document (the path above it with
/// its keys, then its JSON).
fn entry_document(e: &ocbgp_models::datastore::StreamEntry) -> String {
    let path = e.path();
    let (mut open, mut close) = (String::from("{"), String::from("}"));
    for (i, el) in path.iter().enumerate() {
        let name = if i == 0 {
            format!("openconfig-network-instance:{}", el.name)
        } else {
            el.name.clone()
        };
        let list = !el.keys.is_empty();
        open.push_str(&format!("\"{name}\":"));
        if i + 1 == path.len() {
            if list {
                open.push_str(&format!("[{}]", e.json()));
            } else {
                open.push_str(&e.json());
            }
        } else if list {
            open.push_str("[{");
            for (k, v) in &el.keys {
                open.push_str(&format!("\"{k}\":\"{}\",", qualified(k, v)));
            }
            close.insert_str(0, "}]");
        } else {
            open.push('{');
            close.insert(0, '}');
        }
    }
    open + &close
}

/// Every streamed entry is data of the model: libyang reads it at its
/// path (names, keys and types strict) and prints the same JSON back.
fn stream_matches_model(store: &Datastore) {
    use ocbgp_models::config::parse_tree;
    use yang2::data::{Data, DataParserFlags, DataPrinterFlags, DataValidationFlags};
    let rib = format!("{BGP}/rib");
    let entries: Vec<_> = store.stream_state(&rib).expect("the RIB streams").collect();
    let mut routes = 0;
    for e in &entries {
        let at = entry_data_path(&e.path());
        let doc = entry_document(e);
        let tree = parse_tree(
            &doc,
            Encoding::Json,
            DataParserFlags::STRICT | DataParserFlags::NO_VALIDATION,
            DataValidationFlags::empty(),
        )
        .unwrap_or_else(|err| panic!("{at}: {err}: {doc}"));
        let node = tree
            .find_path(&at)
            .unwrap_or_else(|_| panic!("{at} in {doc}"));
        let printed = ocbgp_models::ly::print_json(
            &node,
            DataPrinterFlags::SHRINK | DataPrinterFlags::WD_ALL,
        )
        .unwrap();
        let printed: serde_json::Value = serde_json::from_str(&printed).unwrap();
        let (_, value) = printed.as_object().unwrap().iter().next().unwrap();
        let value = value.as_array().map_or(value, |a| &a[0]);
        let streamed: serde_json::Value = serde_json::from_str(&e.json()).unwrap();
        assert_eq!(value, &streamed, "entry {at}");
        routes += usize::from(e.elem.name == "route");
    }
    assert!(
        routes >= 4,
        "loc-rib, adj-rib-in and adj-rib-out routes: {routes}"
    );

    // Sets read by index, all in one go, are the sets of the whole read;
    // an index no route uses has no entry.
    let sets: Vec<_> = entries
        .iter()
        .filter(|e| e.elem.keys.iter().any(|(k, _)| k == "index"))
        .collect();
    assert!(
        sets.iter().any(|e| e.elem.name == "attr-set")
            && sets.iter().any(|e| e.elem.name == "community")
    );
    let mut paths: Vec<String> = sets
        .iter()
        .map(|e| {
            format!(
                "{rib}/{}/{}[index='{}']",
                e.parent.last().unwrap().name,
                e.elem.name,
                e.elem.keys[0].1
            )
        })
        .collect();
    paths.push(format!("{rib}/attr-sets/attr-set[index='12345']"));
    let mut found: Vec<Vec<_>> = store
        .stream_states(&paths)
        .into_iter()
        .map(|s| s.expect("sets stream").collect())
        .collect();
    assert_eq!(found.len(), paths.len());
    assert!(found.pop().unwrap().is_empty(), "no set has index 12345");
    for (want, got) in sets.iter().zip(found) {
        assert_eq!(got.len(), 1, "{}", want.json());
        assert_eq!(got[0].json(), want.json());
    }
    // A route's prefix narrows the read to that prefix.
    let net = "198.51.100.0/24";
    let loc = format!(
        "{rib}/afi-safis/afi-safi[afi-safi-name='openconfig-bgp-types:IPV4_UNICAST']/ipv4-unicast/loc-rib/routes/route[prefix='{net}']"
    );
    let narrowed: Vec<_> = store
        .stream_state(&loc)
        .expect("the RIB streams")
        .filter(|e| e.elem.name == "route")
        .collect();
    assert!(!narrowed.is_empty());
    assert!(narrowed
        .iter()
        .all(|e| e.elem.keys.iter().any(|(k, v)| k == "prefix" && v == net)));
}

async fn wait_for(s: &Speaker, path: &str, want: Option<&str>, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let got = leaf(s, path).await;
        if got.as_deref() == want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_exchange_routes_and_show_state() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("info")
        .try_init();
    let port = 20179 + (std::process::id() % 500) as u16;
    let (a, _ea) = speaker(
        "a",
        &config(
            65001,
            "127.0.0.2",
            "127.0.0.3",
            65002,
            port,
            &["198.51.100.0/24"],
        ),
    );
    let (b, _eb) = speaker(
        "b",
        &config(
            65002,
            "127.0.0.3",
            "127.0.0.2",
            65001,
            port,
            &["203.0.113.0/24"],
        ),
    );

    let nb = |addr: &str| format!("{BGP}/neighbors/neighbor[neighbor-address='{addr}']");
    let state = format!("{}/state/session-state", nb("127.0.0.3"));
    assert_eq!(
        wait_for(&a, &state, Some("ESTABLISHED"), Duration::from_secs(15))
            .await
            .as_deref(),
        Some("ESTABLISHED")
    );
    let b_state = format!("{}/state/session-state", nb("127.0.0.2"));
    assert_eq!(
        wait_for(&b, &b_state, Some("ESTABLISHED"), Duration::from_secs(5))
            .await
            .as_deref(),
        Some("ESTABLISHED")
    );

    // A's route arrives at B with A's AS in front and its MED and community.
    let prefixes = format!(
        "{}/afi-safis/afi-safi[afi-safi-name='openconfig-bgp-types:IPV4_UNICAST']/state/prefixes",
        nb("127.0.0.2")
    );
    assert_eq!(
        wait_for(
            &b,
            &format!("{prefixes}/received"),
            Some("1"),
            Duration::from_secs(5)
        )
        .await
        .as_deref(),
        Some("1")
    );
    assert_eq!(
        leaf(&b, &format!("{prefixes}/installed")).await.as_deref(),
        Some("1")
    );
    assert_eq!(
        leaf(&b, &format!("{prefixes}/sent")).await.as_deref(),
        Some("1")
    );
    assert_eq!(
        leaf(
            &b,
            &format!("{}/state/established-transitions", nb("127.0.0.2"))
        )
        .await
        .as_deref(),
        Some("1")
    );
    let updates = leaf(
        &b,
        &format!("{}/state/messages/received/UPDATE", nb("127.0.0.2")),
    )
    .await;
    assert!(updates.is_some_and(|u| u.parse::<u64>().unwrap() >= 1));
    assert_eq!(
        leaf(
            &b,
            &format!("{}/timers/state/negotiated-hold-time", nb("127.0.0.2"))
        )
        .await
        .as_deref(),
        Some("90")
    );

    let rib = format!("{BGP}/rib/afi-safis/afi-safi[afi-safi-name='openconfig-bgp-types:IPV4_UNICAST']/ipv4-unicast");
    let route = format!("{rib}/loc-rib/routes/route[prefix='198.51.100.0/24'][origin='127.0.0.2'][path-id='0']/state/attr-index");
    let index = leaf(&b, &route).await.expect("route in B's loc-rib");
    let set = format!("{BGP}/rib/attr-sets/attr-set[index='{index}']");
    assert_eq!(
        leaf(&b, &format!("{set}/state/med")).await.as_deref(),
        Some("7")
    );
    assert_eq!(
        leaf(&b, &format!("{set}/state/next-hop")).await.as_deref(),
        Some("127.0.0.2")
    );
    assert_eq!(
        leaf(
            &b,
            &format!("{set}/as-path/as-segment[index='0']/state/type")
        )
        .await
        .as_deref(),
        Some("AS_SEQ")
    );
    let pre = format!("{rib}/neighbors/neighbor[neighbor-address='127.0.0.2']/adj-rib-in-pre/routes/route[prefix='198.51.100.0/24'][path-id='0']/state/valid-route");
    assert_eq!(leaf(&b, &pre).await.as_deref(), Some("true"));
    let out = format!("{rib}/neighbors/neighbor[neighbor-address='127.0.0.2']/adj-rib-out-post/routes/route[prefix='203.0.113.0/24'][path-id='0']/state/attr-index");
    assert!(
        leaf(&b, &out).await.is_some(),
        "B's own route in its adj-rib-out-post to A"
    );

    // The streamed RIB (what both doors read) is data of the model.
    let store = b.store.clone();
    tokio::task::spawn_blocking(move || stream_matches_model(&store))
        .await
        .unwrap();

    // A transaction on A withdraws its route: B sees it go.
    let who = Requester::internal(Origin::Gnmi);
    let del = Edit::delete(
        Operation::Delete,
        format!("{BGP}/global/ocbgp:originated-routes/route[prefix='198.51.100.0/24']"),
    );
    let store = a.store.clone();
    tokio::task::spawn_blocking(move || store.edit_running(&[del], &who))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        wait_for(
            &b,
            &format!("{prefixes}/received"),
            Some("0"),
            Duration::from_secs(5)
        )
        .await
        .as_deref(),
        Some("0")
    );

    // Removing the neighbor on A ends the session; B's table is clean.
    let who = Requester::internal(Origin::Gnmi);
    let rm = Edit::delete(Operation::Delete, nb("127.0.0.3"));
    let store = a.store.clone();
    tokio::task::spawn_blocking(move || store.edit_running(&[rm], &who))
        .await
        .unwrap()
        .unwrap();
    let down = wait_for(&b, &b_state, Some("ACTIVE"), Duration::from_secs(5)).await;
    assert_ne!(down.as_deref(), Some("ESTABLISHED"));
    let last = leaf(
        &b,
        &format!(
            "{}/state/messages/received/last-notification-error-subcode",
            nb("127.0.0.2")
        ),
    )
    .await;
    assert_eq!(
        last.as_deref(),
        Some("openconfig-bgp-types:PEER_DE_CONFIGURED")
    );
}

async fn edit(s: &Speaker, edits: Vec<Edit>) {
    let store = s.store.clone();
    let who = Requester::internal(Origin::Gnmi);
    tokio::task::spawn_blocking(move || store.edit_running(&edits, &who))
        .await
        .unwrap()
        .expect("edit commits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_edits_take_effect_without_a_session_reset() {
    let port = 21179 + (std::process::id() % 500) as u16;
    let (a, ea) = speaker(
        "pa",
        &config(
            65001,
            "127.0.0.4",
            "127.0.0.5",
            65002,
            port,
            &["198.51.100.0/24", "203.0.113.0/24"],
        ),
    );
    let (b, _eb) = speaker(
        "pb",
        &config(65002, "127.0.0.5", "127.0.0.4", 65001, port, &[]),
    );
    let nb = format!("{BGP}/neighbors/neighbor[neighbor-address='127.0.0.4']");
    let prefixes = format!(
        "{nb}/afi-safis/afi-safi[afi-safi-name='openconfig-bgp-types:IPV4_UNICAST']/state/prefixes"
    );
    assert_eq!(
        wait_for(
            &b,
            &format!("{prefixes}/received"),
            Some("2"),
            Duration::from_secs(15)
        )
        .await
        .as_deref(),
        Some("2")
    );

    // A prefix-set and an import policy rejecting what is in it.
    let rp = "/openconfig-routing-policy:routing-policy";
    edit(
        &b,
        vec![
            Edit::json(
                Operation::Merge,
                rp,
                r#"{"defined-sets": {"prefix-sets": {"prefix-set": [{"name": "blocked",
                      "config": {"name": "blocked", "mode": "IPV4"},
                      "prefixes": {"prefix": [{"ip-prefix": "198.51.100.0/24", "masklength-range": "exact",
                        "config": {"ip-prefix": "198.51.100.0/24", "masklength-range": "exact"}}]}}]}},
                    "policy-definitions": {"policy-definition": [{"name": "in", "config": {"name": "in"},
                      "statements": {"statement": [{"name": "1", "config": {"name": "1"},
                        "conditions": {"match-prefix-set": {"config": {"prefix-set": "blocked"}}},
                        "actions": {"config": {"policy-result": "REJECT_ROUTE"}}}]}}]}}"#,
            ),
            Edit::json(
                Operation::Merge,
                format!("{nb}/apply-policy/config"),
                r#"{"import-policy": ["in"], "default-import-policy": "ACCEPT_ROUTE"}"#,
            ),
        ],
    )
    .await;
    assert_eq!(
        wait_for(
            &b,
            &format!("{prefixes}/received"),
            Some("1"),
            Duration::from_secs(5)
        )
        .await
        .as_deref(),
        Some("1")
    );
    assert_eq!(
        leaf(&b, &format!("{prefixes}/received-pre-policy"))
            .await
            .as_deref(),
        Some("2")
    );
    let applied = format!("{nb}/apply-policy/state");
    assert_eq!(
        leaf(&b, &format!("{applied}/default-import-policy"))
            .await
            .as_deref(),
        Some("ACCEPT_ROUTE")
    );
    assert_eq!(
        leaf(&b, &format!("{applied}/import-policy[.='in']"))
            .await
            .as_deref(),
        Some("in")
    );

    // Editing the set moves the rejection to the other prefix.
    edit(
        &b,
        vec![
            Edit::delete(
                Operation::Delete,
                format!("{rp}/defined-sets/prefix-sets/prefix-set[name='blocked']/prefixes/prefix[ip-prefix='198.51.100.0/24'][masklength-range='exact']"),
            ),
            Edit::json(
                Operation::Merge,
                format!("{rp}/defined-sets/prefix-sets/prefix-set[name='blocked']/prefixes/prefix[ip-prefix='203.0.113.0/24'][masklength-range='exact']"),
                r#"{"config": {"ip-prefix": "203.0.113.0/24", "masklength-range": "exact"}}"#,
            ),
        ],
    )
    .await;
    let rib = format!("{BGP}/rib/afi-safis/afi-safi[afi-safi-name='openconfig-bgp-types:IPV4_UNICAST']/ipv4-unicast/loc-rib/routes");
    let route = |p: &str| {
        format!("{rib}/route[prefix='{p}'][origin='127.0.0.4'][path-id='0']/state/valid-route")
    };
    assert_eq!(
        wait_for(
            &b,
            &route("198.51.100.0/24"),
            Some("true"),
            Duration::from_secs(5)
        )
        .await
        .as_deref(),
        Some("true")
    );
    assert_eq!(leaf(&b, &route("203.0.113.0/24")).await, None);
    // Soft reconfiguration: the session never went down.
    assert_eq!(
        leaf(&b, &format!("{nb}/state/established-transitions"))
            .await
            .as_deref(),
        Some("1")
    );

    // A route added through the Rust API shows up at the peer.
    use ocbgp_engine::rib::PathAttrs;
    use ocbgp_engine::wire::{AsPath, Attributes, Origin as BgpOrigin};
    let attrs = PathAttrs {
        attrs: Attributes {
            origin: Some(BgpOrigin::Igp),
            as_path: Some(AsPath::default()),
            ..Attributes::default()
        },
        next_hop: None,
    };
    ea.add_path("192.0.2.128/25".parse().unwrap(), attrs)
        .unwrap();
    let api_route = format!(
        "{rib}/route[prefix='192.0.2.128/25'][origin='127.0.0.4'][path-id='0']/state/valid-route"
    );
    assert_eq!(
        wait_for(&b, &api_route, Some("true"), Duration::from_secs(5))
            .await
            .as_deref(),
        Some("true")
    );
    let own = format!("{rib}/route[prefix='192.0.2.128/25'][origin='openconfig-policy-types:STATIC'][path-id='0']/state/valid-route");
    assert_eq!(
        leaf(&a, &own).await.as_deref(),
        Some("true"),
        "in A's own loc-rib"
    );
    ea.delete_path("192.0.2.128/25".parse().unwrap()).unwrap();
    assert_eq!(
        wait_for(&b, &api_route, None, Duration::from_secs(5)).await,
        None
    );
}

/// A speaker with no neighbor but dynamic-neighbor ranges: `(prefix, peer
/// group, peer-as)`.
fn dynamic_config(asn: u32, me: &str, port: u16, ranges: &[(&str, &str, u32)]) -> String {
    let groups: Vec<String> = ranges
        .iter()
        .map(|(_, g, asn)| format!(r#"{{"peer-group-name": "{g}", "config": {{"peer-group-name": "{g}", "peer-as": {asn}}}}}"#))
        .collect();
    let prefixes: Vec<String> = ranges
        .iter()
        .map(|(p, g, _)| {
            format!(r#"{{"prefix": "{p}", "config": {{"prefix": "{p}", "peer-group": "{g}"}}}}"#)
        })
        .collect();
    format!(
        r#"{{"openconfig-network-instance:network-instances": {{"network-instance": [{{"name": "DEFAULT",
  "config": {{"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}},
  "protocols": {{"protocol": [{{"identifier": "openconfig-policy-types:BGP", "name": "BGP",
    "config": {{"identifier": "openconfig-policy-types:BGP", "name": "BGP"}},
    "bgp": {{"global": {{"config": {{"as": {asn}, "router-id": "{me}"}},
       "ocbgp:listen": {{"config": {{"address": ["{me}"], "port": {port}}}}},
       "ocbgp:originated-routes": {{"route": [{{"prefix": "198.51.100.0/24", "config": {{"prefix": "198.51.100.0/24"}}}}]}},
       "dynamic-neighbor-prefixes": {{"dynamic-neighbor-prefix": [{prefixes}]}}}},
      "peer-groups": {{"peer-group": [{groups}]}}}}}}]}}}}]}}}}"#,
        prefixes = prefixes.join(","),
        groups = groups.join(",")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_neighbor_comes_from_the_longest_range_and_goes_with_its_session() {
    let port = 22179 + (std::process::id() % 500) as u16;
    // 127.0.0.0/24 would make the peer AS 65099 (its OPEN would fail);
    // the longer 127.0.0.0/29 makes it 65002.
    let (a, ea) = speaker(
        "da",
        &dynamic_config(
            65001,
            "127.0.0.6",
            port,
            &[
                ("127.0.0.0/24", "wide", 65099),
                ("127.0.0.0/29", "near", 65002),
            ],
        ),
    );
    let (b, eb) = speaker(
        "db",
        &config(
            65002,
            "127.0.0.7",
            "127.0.0.6",
            65001,
            port,
            &["203.0.113.0/24"],
        ),
    );
    // Outside every range: refused.
    let (_c, ec) = speaker(
        "dc",
        &config(65003, "127.0.1.9", "127.0.0.6", 65001, port, &[]),
    );

    let nb = |addr: &str| format!("{BGP}/neighbors/neighbor[neighbor-address='{addr}']");
    let state = format!("{}/state/session-state", nb("127.0.0.7"));
    assert_eq!(
        wait_for(&a, &state, Some("ESTABLISHED"), Duration::from_secs(15))
            .await
            .as_deref(),
        Some("ESTABLISHED")
    );
    assert_eq!(
        leaf(
            &a,
            &format!("{}/state/dynamically-configured", nb("127.0.0.7"))
        )
        .await
        .as_deref(),
        Some("true")
    );
    assert_eq!(
        leaf(&a, &format!("{}/state/peer-as", nb("127.0.0.7")))
            .await
            .as_deref(),
        Some("65002")
    );
    // Routes both ways.
    let prefixes = |addr: &str| {
        format!("{}/afi-safis/afi-safi[afi-safi-name='openconfig-bgp-types:IPV4_UNICAST']/state/prefixes", nb(addr))
    };
    assert_eq!(
        wait_for(
            &a,
            &format!("{}/received", prefixes("127.0.0.7")),
            Some("1"),
            Duration::from_secs(5)
        )
        .await
        .as_deref(),
        Some("1")
    );
    assert_eq!(
        wait_for(
            &b,
            &format!("{}/received", prefixes("127.0.0.6")),
            Some("1"),
            Duration::from_secs(5)
        )
        .await
        .as_deref(),
        Some("1")
    );
    // C never got a session, and A made no neighbor for it.
    assert!(ea.neighbor("127.0.1.9".parse().unwrap()).is_none());
    let c_stats = ec
        .neighbor("127.0.0.6".parse().unwrap())
        .expect("C's neighbor")
        .stats;
    assert_eq!(
        c_stats
            .established_transitions
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );

    // B drops its neighbor: the session ends and A's dynamic neighbor goes.
    edit(&b, vec![Edit::delete(Operation::Delete, nb("127.0.0.6"))]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while ea.neighbor("127.0.0.7".parse().unwrap()).is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ea.neighbor("127.0.0.7".parse().unwrap()).is_none(),
        "dynamic neighbor still there"
    );
    drop(eb);
}
