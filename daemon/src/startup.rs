//! Start-up: the configuration the daemon comes up with, and the servers it
//! starts from it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use ocbgp_engine::config::Northbound;
use ocbgp_engine::engine::Engine;
use ocbgp_engine::state::EngineState;
use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::datastore::{Datastore, Options, Startup};

/// The configuration used when no file is given: one BGP instance that
/// listens on loopback only, and the management servers on loopback.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.json");

/// `ocbgpd --check`: the file parses and validates, and passes the checks
/// a commit goes through as far as they can be made without the live
/// daemon (see [`ocbgp_engine::config::check`] and
/// [`crate::servers::check`]); what only the live daemon can check is
/// returned as notes.
/// With `host` false, what depends on this host is left out (`--no-host`).
pub fn check_file(path: &Path, state_dir: &Path, host: bool) -> Result<Vec<&'static str>> {
    let config = load_file(path)?;
    ocbgp_engine::config::check(&config, host)
        .map_err(|p| anyhow::anyhow!("{}: cannot run the configuration: {p}", path.display()))?;
    crate::servers::check(&config, state_dir, host)
        .map_err(|r| anyhow::anyhow!("{}: cannot run the configuration: {r}", path.display()))?;
    if !host {
        return Ok(vec![
            "not checked (--no-host): listen addresses, ports, TLS files and the NETCONF host key",
        ]);
    }
    Ok(vec![
        "not checked without the live daemon: that the BGP, gNMI, NETCONF and metrics ports are free to bind (addresses were checked to exist on this host)",
    ])
}

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

/// Opens the datastore: a configuration file given on the command line
/// replaces the saved running configuration; without one, the saved
/// running configuration is used, or the embedded default the first time.
fn open_datastore(config_file: Option<&Path>, state_dir: &Path) -> Result<Datastore> {
    let config = initial_config(config_file)?;
    let (store, startup) = Datastore::open(Options::new(state_dir), config, config_file.is_some())?;
    let source = match (startup, config_file) {
        (Startup::Saved(path), _) => path.display().to_string(),
        (Startup::Given, Some(path)) => path.display().to_string(),
        (Startup::Given, None) => "embedded default".to_string(),
    };
    tracing::info!(%source, state_dir = %state_dir.display(), "configuration loaded");
    Ok(store)
}

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn run(config_file: Option<&Path>, state_dir: &Path) -> Result<()> {
    let hangup = crate::reload::hangup();
    let store = Arc::new(open_datastore(config_file, state_dir)?);
    let config = store.running();

    // The engine follows the configuration: first all of it, then every
    // transaction through the datastore.
    let engine = Engine::new(tokio::runtime::Handle::current());
    // Graceful restart (RFC 4724 4.1): a start soon after the last run is
    // a restart, which the engine must know before it starts sessions.
    if let Some(window) = ocbgp_engine::config::graceful_restart_window(config.tree()) {
        if crate::restart::restarted(state_dir, window) {
            tracing::info!(window_s = window.as_secs(), "graceful restart: ocbgpd ran within the restart time, starting as a restarting speaker");
            engine.restarted();
        }
    }
    let northbound = Arc::new(Northbound::new(engine.clone()));
    northbound
        .sync(&config)
        .map_err(|p| anyhow::anyhow!("cannot run the configuration: {p}"))?;
    store.add_consumer(northbound);
    store.set_state_provider(Arc::new(EngineState::new(engine.clone())));

    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    // The management servers follow the configuration the same way.
    let metrics = Arc::new(crate::metrics::Metrics::new(engine.clone(), store.clone()));
    let (management, mut failures) = crate::servers::Management::new(
        store.clone(),
        engine.clone(),
        metrics.clone(),
        state_dir,
        stop_rx.clone(),
    );
    let management = Arc::new(management);
    management
        .sync(&config)
        .map_err(|r| anyhow::anyhow!("cannot run the configuration: {r}"))?;
    store.add_consumer(management);
    // A snapshot held here would make every commit copy running.
    drop(config);
    // Parsing and validating the configuration left garbage on this
    // thread (the file's text, libyang's parse): hand it back now.
    crate::release_freed_memory();
    let metrics_task = tokio::spawn(crate::metrics::run(metrics, store.clone(), stop_rx.clone()));
    let heartbeat = tokio::spawn(crate::restart::heartbeat(
        state_dir.to_path_buf(),
        stop_rx.clone(),
    ));
    let file = config_file.map(Path::to_path_buf);
    let reload_task =
        hangup.map(|hup| tokio::spawn(crate::reload::watch(hup, store.clone(), file)));
    let (failed, graceful) = tokio::select! {
        graceful = shutdown_signal() => (None, graceful),
        Some(error) = failures.recv() => (Some(error), false),
    };
    let _ = stop.send(true);
    if let Some(task) = reload_task {
        task.abort();
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), metrics_task).await;
    let _ = heartbeat.await;
    // Stations hear Termination before the sessions go down.
    engine.stop_bmp(std::time::Duration::from_secs(2)).await;
    engine.stop_mrt(std::time::Duration::from_secs(5)).await;
    if graceful {
        // Peers with graceful restart keep our routes until we are back.
        engine.stop_graceful();
    } else {
        crate::restart::forget(state_dir);
        engine.stop();
    }
    // Let the sessions send their NOTIFICATIONs (or close) before exit.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // One complete running.json for whoever looks at the state directory.
    if let Err(e) = store.compact() {
        tracing::warn!(%e, "cannot fold the commit journal into running.json");
    }
    if let Some(error) = failed {
        return Err(error);
    }
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM (a service stop or restart: true, the stop is
/// graceful, peers with graceful restart keep our routes for our restart
/// time) or SIGINT (false: a hard stop, every session ends with a Cease).
async fn shutdown_signal() -> bool {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return false;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("SIGINT received, stopping");
            false
        }
        _ = term.recv() => {
            tracing::info!("SIGTERM received, stopping (graceful restart peers keep our routes)");
            true
        }
    }
}
