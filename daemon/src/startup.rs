//! Start-up: the configuration the daemon comes up with, and the servers it
//! starts from it.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::{Context as _, Result};
use ocbgp_models::config::{Config, Encoding};

/// The configuration used when no file is given: one BGP instance that
/// listens on loopback only, and the management servers on loopback.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.json");

const GNMI_CONFIG: &str = "/ocbgp:management/gnmi/config";

/// Loads and validates a configuration file (JSON or XML, by content).
pub fn load_file(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    Config::parse(&text, Encoding::sniff(&text))
        .with_context(|| format!("invalid configuration in {}", path.display()))
}

/// Loads the configuration the daemon starts with.
fn initial_config(file: Option<&Path>) -> Result<Config> {
    match file {
        Some(path) => load_file(path),
        None => Config::parse(DEFAULT_CONFIG, Encoding::Json)
            .context("the embedded default configuration is invalid"),
    }
}

/// Where the gNMI server listens, if it is enabled.
fn gnmi_address(config: &Config) -> Result<Option<SocketAddr>> {
    let leaf = |name: &str| config.value(&format!("{GNMI_CONFIG}/{name}"));
    if leaf("enabled").as_deref() == Some("false") {
        return Ok(None);
    }
    let ip: IpAddr = leaf("address")
        .as_deref()
        .unwrap_or("127.0.0.1")
        .parse()
        .context("gNMI address")?;
    let port: u16 = leaf("port").as_deref().unwrap_or("9339").parse().context("gNMI port")?;
    Ok(Some(SocketAddr::new(ip, port)))
}

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn run(config_file: Option<&Path>) -> Result<()> {
    let config = initial_config(config_file)?;
    tracing::info!(
        source = config_file.map(|p| p.display().to_string()).unwrap_or_else(|| "embedded default".into()),
        "configuration loaded"
    );

    let shutdown = shutdown_signal();
    match gnmi_address(&config)? {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for gNMI on {addr}"))?;
            tracing::info!(%addr, "gNMI server listening");
            ocbgp_gnmi::serve_listener(listener, shutdown).await.context("gNMI server")?;
        }
        None => shutdown.await,
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, stopping"),
        _ = term.recv() => tracing::info!("SIGTERM received, stopping"),
    }
}
