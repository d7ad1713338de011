//! The management servers: gNMI and NETCONF, both doors onto the same
//! datastore, following `/ocbgp:management` in the running configuration
//! as a consumer of every transaction ([`Management`]).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use ocbgp_engine::engine::{ClearMode as EngineClear, Engine, EngineError};
use ocbgp_gnmi::{
    Authenticator, BgpControl, ClearError, ClearMode, ConfigUsers, GnmiServerConfig, GnmiService,
    TlsIdentity,
};
use ocbgp_models::config::Config;
use ocbgp_models::datastore::{ConfigConsumer, Datastore, Refusal, Transaction};
use ocbgp_netconf::HostKey as PrivateKey;
use ocbgp_netconf::NetconfConfig;
use tokio::sync::{mpsc, watch};

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
        tls_client_ca: leaf("tls-client-ca").map(Into::into),
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

/// Where the gNMI settings live, for refusals.
const GNMI_ADDRESS: &str = "/ocbgp:management/gnmi/config/address";
const NETCONF_ADDRESS: &str = "/ocbgp:management/netconf/config/address";
const METRICS_ADDRESS: &str = "/ocbgp:management/metrics/config/address";

fn refusal(path: &str, reason: impl Into<String>) -> Refusal {
    Refusal {
        path: Some(path.to_string()),
        reason: reason.into(),
    }
}

/// The gNMI server as a configuration wants it, checked and with its TLS
/// files read: `None` when gNMI is disabled. Refused: a non-loopback
/// address without TLS and at least one user (the server would refuse to
/// serve it), a TLS certificate without its key or the other way round,
/// TLS files that cannot be read or do not parse (only looked at with
/// `read_tls`: a file checked for another host leaves them out).
fn gnmi_settings(config: &Config, read_tls: bool) -> Result<Option<GnmiSettings>, Refusal> {
    let cfg = match gnmi_config(config) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => return Ok(None),
        Err(e) => return Err(refusal(GNMI_ADDRESS, format!("{e:#}"))),
    };
    let leaf = |name: &str| config.value(&format!("{GNMI_CONFIG}/{name}"));
    let (cert, key) = (leaf("tls-certificate"), leaf("tls-key"));
    if cert.is_some() != key.is_some() {
        let missing = if cert.is_none() {
            "tls-certificate"
        } else {
            "tls-key"
        };
        return Err(refusal(
            &format!("{GNMI_CONFIG}/{missing}"),
            "gNMI TLS needs both tls-certificate and tls-key",
        ));
    }
    if cert.is_none() && cfg.tls_client_ca.is_some() {
        return Err(refusal(
            &format!("{GNMI_CONFIG}/tls-client-ca"),
            "client certificates need TLS: tls-certificate and tls-key",
        ));
    }
    let tls = match &cfg.tls {
        Some(_) if !read_tls => None,
        Some((cert, key)) => {
            let identity = TlsIdentity::load(cert, key).map_err(|e| {
                let leaf = match &e {
                    ocbgp_gnmi::ServeError::TlsFile { path, .. } if path == key => "tls-key",
                    _ => "tls-certificate",
                };
                refusal(&format!("{GNMI_CONFIG}/{leaf}"), e.to_string())
            })?;
            match &cfg.tls_client_ca {
                Some(ca) => Some(identity.with_client_ca(ca).map_err(|e| {
                    refusal(&format!("{GNMI_CONFIG}/tls-client-ca"), e.to_string())
                })?),
                None => Some(identity),
            }
        }
        None => None,
    };
    if !cfg.addr.ip().to_canonical().is_loopback()
        && (cfg.tls.is_none() || ocbgp_models::users::names(config).is_empty())
    {
        return Err(refusal(
            GNMI_ADDRESS,
            format!(
                "gNMI on {} (not loopback) needs TLS (tls-certificate and tls-key) and at least one user in /ocbgp:management/users",
                cfg.addr.ip()
            ),
        ));
    }
    Ok(Some(GnmiSettings {
        addr: cfg.addr,
        tls,
    }))
}

/// Users' passwords must be of a form a login can match, their SSH keys
/// must parse.
fn check_users(config: &Config) -> Result<(), Refusal> {
    ocbgp_models::users::check_passwords(config)
        .and_then(|()| ocbgp_netconf::auth::check_keys(config))
        .map_err(|(path, reason)| refusal(&path, reason))
}

/// What a server listens with, compared to see whether it must restart.
#[derive(Clone, PartialEq)]
struct GnmiSettings {
    addr: SocketAddr,
    tls: Option<TlsIdentity>,
}

/// A management server running.
struct RunningServer<S> {
    settings: S,
    /// The listening socket (a duplicate of the server's), so that a
    /// restart on the same address reuses it instead of binding again.
    socket: std::net::TcpListener,
    /// Stops this server (the daemon's shutdown stops it too).
    stop: watch::Sender<bool>,
}

/// What a transaction does to one server, with what it needs acquired.
enum Step<S, X> {
    /// Nothing changes.
    Keep,
    /// The server stops.
    Stop,
    /// The server (re)starts with these settings on this socket.
    Start(Started<S, X>),
}

struct Started<S, X> {
    settings: S,
    listener: tokio::net::TcpListener,
    keep: std::net::TcpListener,
    extra: X,
}

/// Binds `addr` for a server (or takes a duplicate of the socket `current`
/// has there) and registers it with the runtime: everything that can fail
/// about a listening socket, done ahead.
fn acquire_socket(
    runtime: &tokio::runtime::Handle,
    addr: SocketAddr,
    current: Option<&std::net::TcpListener>,
) -> std::io::Result<(tokio::net::TcpListener, std::net::TcpListener)> {
    let same = current.filter(|s| addr.port() != 0 && s.local_addr().ok() == Some(addr));
    let socket = match same {
        Some(s) => s.try_clone()?,
        None => std::net::TcpListener::bind(addr)?,
    };
    socket.set_nonblocking(true)?;
    let keep = socket.try_clone()?;
    let _rt = runtime.enter();
    Ok((tokio::net::TcpListener::from_std(socket)?, keep))
}

type GnmiStep = Step<GnmiSettings, ()>;
type NetconfStep = Step<SocketAddr, (NetconfConfig, PrivateKey)>;

/// What a transaction does to the management servers, acquired in
/// prepare.
struct Prepared {
    gnmi: GnmiStep,
    netconf: NetconfStep,
    metrics: Step<SocketAddr, ()>,
}

#[derive(Default)]
struct Current {
    gnmi: Option<RunningServer<GnmiSettings>>,
    netconf: Option<RunningServer<SocketAddr>>,
    metrics: Option<RunningServer<SocketAddr>>,
}

/// The management servers (gNMI with gNOI BGP, NETCONF, metrics) as a consumer of
/// configuration transactions: every commit's `/ocbgp:management` is
/// checked and what it needs acquired in prepare (listening sockets bound,
/// TLS files read and parsed, the NETCONF host key loaded), then put in
/// force in apply (a server whose address or TLS changed restarts on the
/// new socket; its old sessions end) or released in abort. Users are read
/// at each login from running (shared by both doors, see
/// [`ocbgp_models::users`]), so they need nothing here; NETCONF closes the
/// sessions of removed users itself.
pub struct Management {
    store: Arc<Datastore>,
    state_dir: PathBuf,
    runtime: tokio::runtime::Handle,
    /// The daemon's shutdown.
    shutdown: watch::Receiver<bool>,
    /// A server that failed while running, for the daemon to stop on.
    failed: mpsc::UnboundedSender<anyhow::Error>,
    users: Arc<dyn Authenticator>,
    /// The gNMI service every gNMI server runs a fresh copy of: made once,
    /// since making one takes a datastore session, which cannot be done
    /// inside a transaction.
    gnmi: GnmiService,
    metrics: Arc<crate::metrics::Metrics>,
    current: Mutex<Current>,
    pending: Mutex<Option<(u64, Prepared)>>,
}

impl Management {
    /// The management side of `store`; no server runs until
    /// [`Management::sync`]. A server that fails later is reported on the
    /// returned receiver.
    pub fn new(
        store: Arc<Datastore>,
        engine: Engine,
        metrics: Arc<crate::metrics::Metrics>,
        state_dir: &Path,
        shutdown: watch::Receiver<bool>,
    ) -> (Management, mpsc::UnboundedReceiver<anyhow::Error>) {
        let (failed, failures) = mpsc::unbounded_channel();
        let users = Arc::new(ConfigUsers::new(store.clone())) as Arc<dyn Authenticator>;
        let gnmi = GnmiService::new(store.clone())
            .with_bgp_control(Arc::new(EngineControl(engine.clone())));
        let management = Management {
            gnmi,
            metrics,
            store,
            state_dir: state_dir.to_path_buf(),
            runtime: tokio::runtime::Handle::current(),
            shutdown,
            failed,
            users,
            current: Mutex::new(Current::default()),
            pending: Mutex::new(None),
        };
        (management, failures)
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the servers `config` asks for (at start-up).
    pub fn sync(&self, config: &Config) -> Result<(), Refusal> {
        let prepared = self.prepare_config(config)?;
        self.execute(prepared);
        Ok(())
    }

    /// Checks `config`'s management settings against what runs and
    /// acquires what they need.
    fn prepare_config(&self, config: &Config) -> Result<Prepared, Refusal> {
        check_users(config)?;
        let current = self.current();
        let gnmi = match gnmi_settings(config, true)? {
            None if current.gnmi.is_none() => Step::Keep,
            None => Step::Stop,
            Some(s) if current.gnmi.as_ref().is_some_and(|c| c.settings == s) => Step::Keep,
            Some(settings) => {
                let (listener, keep) = acquire_socket(
                    &self.runtime,
                    settings.addr,
                    current.gnmi.as_ref().map(|c| &c.socket),
                )
                .map_err(|e| {
                    refusal(
                        GNMI_ADDRESS,
                        format!("cannot listen for gNMI on {}: {e}", settings.addr),
                    )
                })?;
                Step::Start(Started {
                    settings,
                    listener,
                    keep,
                    extra: (),
                })
            }
        };
        let netconf = match NetconfConfig::from_running(config, &self.state_dir) {
            None if current.netconf.is_none() => Step::Keep,
            None => Step::Stop,
            Some(cfg)
                if current
                    .netconf
                    .as_ref()
                    .is_some_and(|c| c.settings == cfg.addr) =>
            {
                Step::Keep
            }
            Some(cfg) => {
                let key = ocbgp_netconf::load_or_create_host_key(&cfg.host_key_path)
                    .map_err(|e| refusal(NETCONF_ADDRESS, e.to_string()))?;
                let (listener, keep) = acquire_socket(
                    &self.runtime,
                    cfg.addr,
                    current.netconf.as_ref().map(|c| &c.socket),
                )
                .map_err(|e| {
                    refusal(
                        NETCONF_ADDRESS,
                        format!("cannot listen for NETCONF on {}: {e}", cfg.addr),
                    )
                })?;
                Step::Start(Started {
                    settings: cfg.addr,
                    listener,
                    keep,
                    extra: (cfg, key),
                })
            }
        };
        let metrics = match crate::metrics::endpoint(config) {
            None if current.metrics.is_none() => Step::Keep,
            None => Step::Stop,
            Some(addr) if current.metrics.as_ref().is_some_and(|c| c.settings == addr) => {
                Step::Keep
            }
            Some(addr) => {
                let (listener, keep) = acquire_socket(
                    &self.runtime,
                    addr,
                    current.metrics.as_ref().map(|c| &c.socket),
                )
                .map_err(|e| {
                    refusal(
                        METRICS_ADDRESS,
                        format!("cannot listen for metrics on {addr}: {e}"),
                    )
                })?;
                Step::Start(Started {
                    settings: addr,
                    listener,
                    keep,
                    extra: (),
                })
            }
        };
        Ok(Prepared {
            gnmi,
            netconf,
            metrics,
        })
    }

    /// Puts prepared changes in force. Cannot fail.
    fn execute(&self, prepared: Prepared) {
        let mut current = self.current();
        match prepared.gnmi {
            Step::Keep => {}
            Step::Stop => {
                if let Some(old) = current.gnmi.take() {
                    old.stop.send_replace(true);
                    tracing::info!(addr = %old.settings.addr, "gNMI server stopped");
                }
            }
            Step::Start(s) => {
                if let Some(old) = current.gnmi.take() {
                    old.stop.send_replace(true);
                }
                let (stop, stopped_rx) = watch::channel(false);
                let service = self.gnmi.fresh();
                let shutdown = either_stopped(stopped_rx, self.shutdown.clone());
                let failed = self.failed.clone();
                let (tls, users) = (s.settings.tls.clone(), Some(self.users.clone()));
                self.runtime.spawn(async move {
                    if let Err(e) =
                        ocbgp_gnmi::serve_prepared(service, s.listener, tls, users, shutdown).await
                    {
                        let _ = failed.send(anyhow::Error::new(e).context("gNMI server"));
                    }
                });
                current.gnmi = Some(RunningServer {
                    settings: s.settings,
                    socket: s.keep,
                    stop,
                });
            }
        }
        match prepared.netconf {
            Step::Keep => {}
            Step::Stop => {
                if let Some(old) = current.netconf.take() {
                    old.stop.send_replace(true);
                    tracing::info!(addr = %old.settings, "NETCONF server stopped");
                }
            }
            Step::Start(s) => {
                if let Some(old) = current.netconf.take() {
                    old.stop.send_replace(true);
                }
                let (stop, stopped_rx) = watch::channel(false);
                let shutdown = either_stopped(stopped_rx, self.shutdown.clone());
                let store = self.store.clone();
                let (cfg, key) = s.extra;
                tracing::info!(addr = %s.settings, "NETCONF server listening");
                self.runtime.spawn(ocbgp_netconf::serve_prepared(
                    store, s.listener, cfg, key, shutdown,
                ));
                current.netconf = Some(RunningServer {
                    settings: s.settings,
                    socket: s.keep,
                    stop,
                });
            }
        }
        match prepared.metrics {
            Step::Keep => {}
            Step::Stop => {
                if let Some(old) = current.metrics.take() {
                    old.stop.send_replace(true);
                }
            }
            Step::Start(s) => {
                if let Some(old) = current.metrics.take() {
                    old.stop.send_replace(true);
                }
                let (stop, stopped_rx) = watch::channel(false);
                let shutdown = either_stopped(stopped_rx, self.shutdown.clone());
                self.runtime.spawn(crate::metrics::serve(
                    self.metrics.clone(),
                    s.listener,
                    shutdown,
                ));
                current.metrics = Some(RunningServer {
                    settings: s.settings,
                    socket: s.keep,
                    stop,
                });
            }
        }
    }
}

/// Resolves when either the server's own stop or the daemon's shutdown
/// turns true.
async fn either_stopped(own: watch::Receiver<bool>, daemon: watch::Receiver<bool>) {
    tokio::select! {
        _ = stopped(own) => {}
        _ = stopped(daemon) => {}
    }
}

impl ConfigConsumer for Management {
    fn prepare(&self, tx: &Transaction<'_>) -> Result<(), Refusal> {
        let prepared = self.prepare_config(tx.new)?;
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some((tx.id, prepared));
        Ok(())
    }

    fn apply(&self, tx: &Transaction<'_>) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((id, prepared)) = pending {
            if id == tx.id {
                self.execute(prepared);
            }
        }
    }

    fn abort(&self, _tx: &Transaction<'_>) {
        // Dropping what was prepared closes the sockets it bound.
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

/// Checks `config`'s management settings as far as possible without the
/// live daemon (for `ocbgpd --check`): gNMI exposure and TLS files (read
/// and parsed), and that the gNMI, NETCONF and metrics addresses are the
/// host's.
/// The NETCONF host key in `state_dir` is parsed when it exists. Whether
/// the ports are free is known only to the live daemon. `host` false
/// checks only what does not depend on this host (users, gNMI exposure).
pub fn check(config: &Config, state_dir: &Path, host: bool) -> Result<(), Refusal> {
    check_users(config)?;
    let gnmi = gnmi_settings(config, host)?;
    if !host {
        return Ok(());
    }
    if let Some(g) = gnmi {
        ocbgp_engine::transport::address_present(g.addr.ip()).map_err(|e| {
            refusal(
                GNMI_ADDRESS,
                format!("cannot listen on {}: {e}", g.addr.ip()),
            )
        })?;
    }
    if let Some(cfg) = NetconfConfig::from_running(config, state_dir) {
        ocbgp_engine::transport::address_present(cfg.addr.ip()).map_err(|e| {
            refusal(
                NETCONF_ADDRESS,
                format!("cannot listen on {}: {e}", cfg.addr.ip()),
            )
        })?;
        if cfg.host_key_path.exists() {
            ocbgp_netconf::load_or_create_host_key(&cfg.host_key_path)
                .map_err(|e| refusal(NETCONF_ADDRESS, e.to_string()))?;
        }
    }
    if let Some(addr) = crate::metrics::endpoint(config) {
        ocbgp_engine::transport::address_present(addr.ip()).map_err(|e| {
            refusal(
                METRICS_ADDRESS,
                format!("cannot listen on {}: {e}", addr.ip()),
            )
        })?;
    }
    Ok(())
}
