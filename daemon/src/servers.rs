//! The management servers: gNMI and NETCONF, both doors onto the same
//! datastore, started from `/ocbgp:management` in the running
//! configuration.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use ocbgp_engine::engine::{ClearMode as EngineClear, Engine, EngineError};
use ocbgp_gnmi::{
    Authenticator, BgpControl, ClearError, ClearMode, ConfigUsers, GnmiServerConfig, GnmiService,
};
use ocbgp_models::config::Config;
use ocbgp_models::datastore::Datastore;
use tokio::sync::watch;
use tokio::task::JoinSet;

const GNMI_CONFIG: &str = "/ocbgp:management/gnmi/config";

/// Resolves when `stop` turns true.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The gNMI server's settings, if it is enabled.
fn gnmi_config(config: &Config) -> Result<Option<GnmiServerConfig>> {
    let leaf = |name: &str| config.value(&format!("{GNMI_CONFIG}/{name}"));
    if leaf("enabled").as_deref() == Some("false") {
        return Ok(None);
    }
    let ip: IpAddr = leaf("address")
        .as_deref()
        .unwrap_or("127.0.0.1")
        .parse()
        .context("gNMI address")?;
    let port: u16 = leaf("port")
        .as_deref()
        .unwrap_or("9339")
        .parse()
        .context("gNMI port")?;
    let tls = match (leaf("tls-certificate"), leaf("tls-key")) {
        (Some(cert), Some(key)) => Some((cert.into(), key.into())),
        _ => None,
    };
    Ok(Some(GnmiServerConfig {
        addr: SocketAddr::new(ip, port),
        tls,
        users: None,
    }))
}

/// The engine as the gNOI BGP service sees it.
struct EngineControl(Engine);

impl BgpControl for EngineControl {
    fn clear_neighbor(&self, address: IpAddr, mode: ClearMode) -> Result<(), ClearError> {
        let mode = match mode {
            ClearMode::Soft => EngineClear::SoftOut,
            ClearMode::SoftIn => EngineClear::SoftIn,
            ClearMode::Hard => EngineClear::Hard,
        };
        self.0.clear_neighbor(address, mode).map_err(|e| match e {
            EngineError::UnknownNeighbor(a) => ClearError::UnknownNeighbor(a),
            _ => ClearError::NotRunning,
        })
    }
}

/// Starts the configured servers on `tasks`; they stop when `stop` turns
/// true. A server that cannot start is an error (the operator asked for
/// it). gNMI serves gNOI BGP on `engine` too.
pub async fn start(
    store: &Arc<Datastore>,
    engine: &Engine,
    state_dir: &Path,
    stop: &watch::Receiver<bool>,
    tasks: &mut JoinSet<Result<()>>,
) -> Result<()> {
    let config = store.running();
    if let Some(mut cfg) = gnmi_config(&config)? {
        let has_users = ocbgp_models::ly::find(config.tree(), "/ocbgp:management/users/user")
            .map(|u| !u.is_empty());
        if has_users.unwrap_or(false) {
            cfg.users = Some(Arc::new(ConfigUsers::new(store.clone())) as Arc<dyn Authenticator>);
        }
        let listener = tokio::net::TcpListener::bind(cfg.addr)
            .await
            .with_context(|| format!("cannot listen for gNMI on {}", cfg.addr))?;
        let service = GnmiService::new(store.clone())
            .with_bgp_control(Arc::new(EngineControl(engine.clone())));
        let stop = stop.clone();
        tasks.spawn(async move {
            ocbgp_gnmi::serve_listener(service, listener, cfg, stopped(stop))
                .await
                .context("gNMI server")
        });
    }
    if let Some(cfg) = ocbgp_netconf::NetconfConfig::from_running(&config, state_dir) {
        let listener = tokio::net::TcpListener::bind(cfg.addr)
            .await
            .with_context(|| format!("cannot listen for NETCONF on {}", cfg.addr))?;
        tracing::info!(addr = %cfg.addr, "NETCONF server listening");
        let store = store.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            ocbgp_netconf::serve_listener(store, listener, cfg, stopped(stop))
                .await
                .context("NETCONF server")
        });
    }
    Ok(())
}
