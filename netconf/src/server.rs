//! The SSH side (RFC 6242): the listener, host key, user authentication,
//! and the `netconf` subsystem, each of whose channels is one NETCONF
//! session.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ocbgp_models::config::Config;
use ocbgp_models::datastore::Datastore;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::ssh_key::LineEnding;
use russh::keys::PrivateKey;
use russh::server::{Auth, Handler, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth;
use crate::session::{self, End};
use crate::shared::{Limits, SessionInfo, Shared};
use ocbgp_models::pre_auth::PreAuth;

/// The NETCONF port of RFC 6242.
pub const DEFAULT_PORT: u16 = 830;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct NetconfConfig {
    /// Where to listen (`/ocbgp:management/netconf/config/{address,port}`,
    /// 127.0.0.1:830 by default).
    pub addr: SocketAddr,
    /// The SSH host key (OpenSSH format); an ed25519 key is generated and
    /// written there, mode 0600, when the file does not exist.
    pub host_key_path: PathBuf,
    /// Session and message limits.
    pub limits: Limits,
    /// How long a failed authentication takes (russh's constant-time
    /// rejection).
    pub auth_rejection_time: Duration,
}

impl NetconfConfig {
    /// A configuration with default limits.
    pub fn new(addr: SocketAddr, host_key_path: impl Into<PathBuf>) -> NetconfConfig {
        NetconfConfig {
            addr,
            host_key_path: host_key_path.into(),
            limits: Limits::default(),
            auth_rejection_time: Duration::from_secs(1),
        }
    }

    /// The server as the running configuration wants it, with the host key
    /// `netconf_host_key` in `state_dir`; `None` when
    /// `/ocbgp:management/netconf/config/enabled` is false.
    pub fn from_running(running: &Config, state_dir: &Path) -> Option<NetconfConfig> {
        const BASE: &str = "/ocbgp:management/netconf/config";
        if running.value(&format!("{BASE}/enabled")).as_deref() == Some("false") {
            return None;
        }
        let address = running
            .value(&format!("{BASE}/address"))
            .and_then(|a| a.parse::<IpAddr>().ok())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let port = running
            .value(&format!("{BASE}/port"))
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(DEFAULT_PORT);
        Some(NetconfConfig::new(
            SocketAddr::new(address, port),
            state_dir.join("netconf_host_key"),
        ))
    }
}

/// Why the server did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr} for NETCONF: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The host key could not be read or created.
    #[error("NETCONF host key {path}: {message}")]
    HostKey {
        /// The key file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Loads the SSH host key at `path`, generating an ed25519 key there (mode
/// 0600) when there is none.
pub fn load_or_create_host_key(path: &Path) -> Result<PrivateKey, ServeError> {
    let err = |message: String| ServeError::HostKey {
        path: path.to_path_buf(),
        message,
    };
    if path.exists() {
        return russh::keys::load_secret_key(path, None).map_err(|e| err(e.to_string()));
    }
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed))
        .map_err(|e| err(format!("no randomness: {e}")))?;
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let text = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| err(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| err(e.to_string()))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| err(e.to_string()))?;
    tracing::info!(path = %path.display(), "generated the NETCONF SSH host key");
    Ok(key)
}

/// Serves NETCONF over SSH on `config.addr` until `shutdown` completes.
pub async fn serve(
    store: Arc<Datastore>,
    config: NetconfConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    serve_listener(store, listener, config, shutdown).await
}

/// Serves NETCONF over SSH on a bound listener (`config.addr` is not
/// used) until `shutdown` completes; then every session is ended.
pub async fn serve_listener(
    store: Arc<Datastore>,
    listener: TcpListener,
    config: NetconfConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let key = load_or_create_host_key(&config.host_key_path)?;
    serve_prepared(store, listener, config, key, shutdown).await;
    Ok(())
}

/// Serves NETCONF over SSH on a bound listener with a host key loaded
/// beforehand (see [`load_or_create_host_key`]) until `shutdown`
/// completes; then every session is ended. Cannot fail: for a caller that
/// acquires everything first (the daemon, in a configuration
/// transaction). After every commit, the sessions of users it removed are
/// closed.
pub async fn serve_prepared(
    store: Arc<Datastore>,
    listener: TcpListener,
    config: NetconfConfig,
    key: PrivateKey,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut commits = store.subscribe();
    let mut commits_open = true;
    let ssh = Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard(
            format!("SSH-2.0-ocbgp_{}", env!("CARGO_PKG_VERSION")).into(),
        ),
        methods: MethodSet::from(&[MethodKind::Password, MethodKind::PublicKey][..]),
        auth_rejection_time: config.auth_rejection_time,
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        inactivity_timeout: config.limits.idle_timeout,
        nodelay: true,
        ..Default::default()
    });
    let shared = Shared::new(store, config.limits.clone());
    let local = listener.local_addr().ok();
    tracing::info!(addr = ?local, "NETCONF server listening");
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let max_connections = config.limits.max_sessions * 2 + 4;
    // At most max_sessions connections wait to log in; more push the
    // oldest out, so they never fill the connection slots.
    let pre_auth = Arc::new(PreAuth::new(config.limits.max_sessions));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            event = commits.recv(), if commits_open => match event {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    shared.kill_removed_users();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => commits_open = false,
            },
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors and the like: wait, retry.
                        tracing::warn!("NETCONF accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let mut evicted = pre_auth.admit();
                if connections.len() >= max_connections {
                    tracing::warn!(%peer, "NETCONF connection refused: too many connections");
                    continue;
                }
                let _ = socket.set_nodelay(true);
                let logged_in = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let handler = Connection { shared: shared.clone(), peer, user: None, channels: HashMap::new(), logged_in: logged_in.clone() };
                let ssh = ssh.clone();
                let mut stop = stop_rx.clone();
                connections.spawn(async move {
                    // A connection that does not get through the SSH
                    // handshake in time goes: idle sockets must not hold
                    // the connection slots.
                    let set_up = tokio::time::timeout(LOGIN_GRACE, russh::server::run_stream(ssh, socket, handler));
                    let set_up = tokio::select! {
                        r = set_up => r,
                        _ = &mut evicted => {
                            tracing::info!(%peer, "NETCONF connection closed: pushed out by newer connections not logged in");
                            return;
                        }
                    };
                    let running = match set_up {
                        Ok(Ok(r)) => r,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "NETCONF SSH set-up failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::info!(%peer, "NETCONF connection closed: no SSH handshake in time");
                            return;
                        }
                    };
                    let handle = running.handle();
                    // Not logged in within the grace time: closed.
                    let grace = async {
                        tokio::time::sleep(LOGIN_GRACE).await;
                        if logged_in.load(std::sync::atomic::Ordering::Relaxed) {
                            std::future::pending::<()>().await;
                        }
                    };
                    // Pushed out while not logged in yet: closed.
                    let pushed_out = async {
                        if evicted.await.is_ok() && !logged_in.load(std::sync::atomic::Ordering::Relaxed) {
                            return;
                        }
                        std::future::pending::<()>().await;
                    };
                    tokio::select! {
                        r = running => if let Err(e) = r {
                            tracing::debug!(%peer, "NETCONF SSH connection ended: {e}");
                        },
                        _ = pushed_out => {
                            tracing::info!(%peer, "NETCONF connection closed: pushed out by newer connections not logged in");
                            let _ = handle
                                .disconnect(russh::Disconnect::ByApplication, "too many connections not logged in".into(), "en".into())
                                .await;
                        }
                        _ = grace => {
                            tracing::info!(%peer, "NETCONF connection closed: no login in time");
                            let _ = handle
                                .disconnect(russh::Disconnect::ByApplication, "no login in time".into(), "en".into())
                                .await;
                        }
                        _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                            let _ = handle
                                .disconnect(russh::Disconnect::ByApplication, "server shutting down".into(), "en".into())
                                .await;
                        }
                    }
                });
            }
        }
    }
    tracing::info!("NETCONF server stopping");
    shared.kill_all();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

/// How long a new connection has to complete its SSH handshake.
const LOGIN_GRACE: Duration = Duration::from_secs(30);

/// One SSH connection.
struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    user: Option<String>,
    channels: HashMap<ChannelId, Channel<Msg>>,
    /// Set once a login succeeded (the connection then may stay idle).
    logged_in: Arc<std::sync::atomic::AtomicBool>,
}

impl Connection {
    async fn check(&self, check: impl FnOnce(&Config) -> bool + Send + 'static) -> bool {
        let running = self.shared.store.running();
        tokio::task::spawn_blocking(move || check(&running))
            .await
            .unwrap_or(false)
    }
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let from = Some(self.peer.ip());
        if ocbgp_models::users::locked_out(from) {
            tracing::info!(%user, peer = %self.peer, "NETCONF login refused: source locked out");
            tokio::time::sleep(ocbgp_models::users::LOCKED_OUT_DELAY).await;
            return Ok(Auth::reject());
        }
        let (u, p) = (user.to_string(), password.to_string());
        if self
            .check(move |running| auth::password_ok(running, &u, &p))
            .await
        {
            self.user = Some(user.to_string());
            self.logged_in
                .store(true, std::sync::atomic::Ordering::Relaxed);
            ocbgp_models::users::login_succeeded(user, from);
            tracing::info!(%user, peer = %self.peer, "NETCONF login (password)");
            Ok(Auth::Accept)
        } else {
            // Logged there; guessing is slow (the same delay as gNMI's),
            // on top of the SSH rejection time.
            tokio::time::sleep(ocbgp_models::users::login_failed("NETCONF", user, from)).await;
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        let (u, key) = (user.to_string(), offer.public_key.clone());
        if self
            .check(move |running| auth::key_ok(running, &u, &key))
            .await
        {
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let (u, k) = (user.to_string(), key.public_key.clone());
        if self
            .check(move |running| auth::key_ok(running, &u, &k))
            .await
        {
            self.user = Some(user.to_string());
            self.logged_in
                .store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(%user, peer = %self.peer, "NETCONF login (public key)");
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.channels.len() >= 8 {
            reply
                .reject(russh::ChannelOpenFailure::ResourceShortage)
                .await;
            return Ok(());
        }
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(user) = self.user.clone() else {
            return session.channel_failure(channel);
        };
        // The user may have been removed since the login.
        let u = user.clone();
        if !self
            .check(move |running| ocbgp_models::users::exists(running, &u))
            .await
        {
            return session.channel_failure(channel);
        }
        if name != "netconf" {
            return session.channel_failure(channel);
        }
        let Some(ch) = self.channels.remove(&channel) else {
            return session.channel_failure(channel);
        };
        // The datastore's lock may be held by a transaction for a while.
        let store = self.shared.store.clone();
        let Ok(id) = tokio::task::spawn_blocking(move || store.new_session()).await else {
            return session.channel_failure(channel);
        };
        let (info, killed) = SessionInfo::new(id, user, Some(self.peer.ip()));
        if !self.shared.register(info.clone()) {
            tracing::warn!(peer = %self.peer, "NETCONF session refused: too many sessions");
            return session.channel_failure(channel);
        }
        session.channel_success(channel)?;
        let shared = self.shared.clone();
        let handle = session.handle();
        tokio::spawn(async move {
            tracing::info!(session = id.0, user = %info.user, "NETCONF session started");
            let end = session::run(ch.into_stream(), shared.clone(), info, killed).await;
            if end != End::Closed {
                shared
                    .stats
                    .dropped_sessions
                    .fetch_add(1, Ordering::Relaxed);
            }
            tracing::info!(session = id.0, ?end, "NETCONF session ended");
            let _ = tokio::task::spawn_blocking(move || shared.unregister(id)).await;
            let _ = handle.eof(channel).await;
            let _ = handle.close(channel).await;
        });
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }
}
