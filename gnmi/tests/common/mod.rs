//! A gNMI server on a datastore in a temporary directory, with a small
//! OpenConfig BGP configuration and a fake state provider that writes each
//! neighbor's session-state and counters.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ocbgp_gnmi::proto::gnmi::gnmi_client::GnmiClient;
use ocbgp_gnmi::proto::gnmi::typed_value::Value;
use ocbgp_gnmi::proto::gnmi::{Path, TypedValue};
use ocbgp_gnmi::{GnmiServerConfig, GnmiService, SubscribeOptions};
use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::datastore::{Datastore, Options, StateProvider};
use ocbgp_models::ModelError;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use yang2::data::DataTree;

pub const BGP: &str = "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']\
                       /protocols/protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp";

/// The same, as a gNMI path.
pub const BGP_GNMI: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

pub const START: &str = r#"{
  "openconfig-network-instance:network-instances": {"network-instance": [{
    "name": "DEFAULT",
    "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
    "protocols": {"protocol": [{
      "identifier": "openconfig-policy-types:BGP", "name": "BGP",
      "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP"},
      "bgp": {"global": {"config": {"as": 65001, "router-id": "192.0.2.1"}},
              "peer-groups": {"peer-group": [{"peer-group-name": "ix",
                 "config": {"peer-group-name": "ix", "peer-as": 65010}}]},
              "neighbors": {"neighbor": [
                 {"neighbor-address": "192.0.2.2",
                  "config": {"neighbor-address": "192.0.2.2", "peer-as": 65002, "description": "first"}},
                 {"neighbor-address": "192.0.2.3",
                  "config": {"neighbor-address": "192.0.2.3", "peer-group": "ix"}}]}}
    }]}
  }]}
}"#;

/// A temporary state directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ocbgp-gnmi-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the fake engine reports per neighbor.
#[derive(Debug, Clone)]
pub struct NeighborFacts {
    pub session_state: String,
    pub established_transitions: u64,
    pub updates_received: u64,
}

/// A state provider with neighbor facts the test controls.
#[derive(Default)]
pub struct FakeState {
    pub neighbors: Mutex<BTreeMap<String, NeighborFacts>>,
}

impl FakeState {
    pub fn set(&self, addr: &str, state: &str, transitions: u64, updates: u64) {
        self.neighbors.lock().unwrap().insert(
            addr.to_string(),
            NeighborFacts {
                session_state: state.to_string(),
                established_transitions: transitions,
                updates_received: updates,
            },
        );
    }

    pub fn remove(&self, addr: &str) {
        self.neighbors.lock().unwrap().remove(addr);
    }
}

/// Whether a read of `path` wants the subtree at `subtree`.
fn wants(path: &str, subtree: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.is_empty() || subtree.starts_with(path) || path.starts_with(subtree)
}

impl StateProvider for FakeState {
    fn write_state(&self, tree: &mut DataTree<'static>, path: &str) -> Result<(), ModelError> {
        let neighbors = self.neighbors.lock().unwrap().clone();
        for (addr, facts) in neighbors {
            let at = format!("{BGP}/neighbors/neighbor[neighbor-address='{addr}']");
            if !wants(path, &at) {
                continue;
            }
            for (leaf, value) in [
                ("state/neighbor-address", addr.clone()),
                ("state/session-state", facts.session_state.clone()),
                (
                    "state/established-transitions",
                    facts.established_transitions.to_string(),
                ),
                (
                    "state/messages/received/UPDATE",
                    facts.updates_received.to_string(),
                ),
            ] {
                tree.new_path(&format!("{at}/{leaf}"), Some(&value), false)?;
            }
        }
        Ok(())
    }
}

/// A running server with its datastore.
pub struct Harness {
    pub dir: TempDir,
    pub store: Arc<Datastore>,
    pub state: Arc<FakeState>,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), ocbgp_gnmi::ServeError>>>,
}

/// Subscription options fast enough for tests.
pub fn fast_options() -> SubscribeOptions {
    SubscribeOptions {
        min_sample_interval: std::time::Duration::from_millis(200),
        state_poll_interval: std::time::Duration::from_millis(100),
        target_defined_sample: std::time::Duration::from_millis(600),
        ..SubscribeOptions::default()
    }
}

impl Harness {
    /// A server with the default options.
    pub async fn start(name: &str) -> Harness {
        Self::start_with(name, SubscribeOptions::default(), None).await
    }

    pub async fn start_with(
        name: &str,
        options: SubscribeOptions,
        users: Option<Arc<dyn ocbgp_gnmi::Authenticator>>,
    ) -> Harness {
        let dir = TempDir::new(name);
        let config = Config::parse(START, Encoding::Json).expect("start configuration");
        let (store, _) =
            Datastore::open(Options::new(&dir.0), config, false).expect("open datastore");
        let store = Arc::new(store);
        let state = Arc::new(FakeState::default());
        state.set("192.0.2.2", "ESTABLISHED", 1, 10);
        store.set_state_provider(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let service = GnmiService::new(store.clone()).with_subscribe_options(options);
        let config = GnmiServerConfig {
            addr,
            tls: None,
            tls_client_ca: None,
            users,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(ocbgp_gnmi::serve_listener(
            service,
            listener,
            config,
            async {
                let _ = stopped.await;
            },
        ));
        Harness {
            dir,
            store,
            state,
            addr,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub async fn client(&self) -> GnmiClient<Channel> {
        ocbgp_gnmi::connect(&self.addr.to_string())
            .await
            .expect("connect")
    }

    /// The running configuration as printed JSON.
    pub fn running(&self) -> String {
        self.store
            .running()
            .print(Encoding::Json)
            .expect("print running")
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ends cleanly");
        }
    }
}

/// Parses a gNMI path in text form.
pub fn path(text: &str) -> Path {
    ocbgp_gnmi::path::parse_text(text).expect("path text")
}

/// Text of a gNMI path.
pub fn text(path: &Path) -> String {
    ocbgp_gnmi::path::to_text(path)
}

/// A JSON_IETF value.
pub fn json_ietf(value: &str) -> TypedValue {
    TypedValue {
        value: Some(Value::JsonIetfVal(value.as_bytes().to_vec())),
    }
}

/// The JSON inside a JSON or JSON_IETF value, parsed.
pub fn json_of(value: &TypedValue) -> serde_json::Value {
    match &value.value {
        Some(Value::JsonIetfVal(b)) | Some(Value::JsonVal(b)) => {
            serde_json::from_slice(b).expect("JSON value")
        }
        other => panic!("not a JSON value: {other:?}"),
    }
}
