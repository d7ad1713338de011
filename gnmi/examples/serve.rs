//! Runs the gNMI server alone on a datastore of its own, for trying clients
//! against it:
//! `cargo run -p ocbgp-gnmi --example serve -- 127.0.0.1:50051 [STATE_DIR]`
//! (Ctrl-C stops). The datastore starts from a small BGP configuration (or
//! what STATE_DIR saved) and has no BGP engine behind it, so there is no
//! session state; Set, Get and Subscribe work on the configuration.

use std::net::SocketAddr;
use std::sync::Arc;

use ocbgp_gnmi::{GnmiServerConfig, GnmiService};
use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::datastore::{Datastore, Options};

const START: &str = r#"{
  "openconfig-network-instance:network-instances": {"network-instance": [{
    "name": "DEFAULT",
    "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
    "protocols": {"protocol": [{
      "identifier": "openconfig-policy-types:BGP", "name": "BGP",
      "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP"},
      "bgp": {"global": {"config": {"as": 64512, "router-id": "192.0.2.1"}}}
    }]}
  }]}
}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .as_deref()
        .unwrap_or("127.0.0.1:50051")
        .parse()?;
    let state_dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("ocbgp-gnmi-serve-{}", std::process::id()))
        });
    let (store, _) = Datastore::open(
        Options::new(&state_dir),
        Config::parse(START, Encoding::Json)?,
        false,
    )?;
    eprintln!("datastore in {}", state_dir.display());
    let service = GnmiService::new(Arc::new(store));
    ocbgp_gnmi::serve(service, GnmiServerConfig::plain(addr), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
