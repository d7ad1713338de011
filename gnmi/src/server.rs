//! The gNMI service and the gRPC server that runs it.
//!
//! [`GnmiService`] answers from a [`Datastore`]: Capabilities from the
//! embedded schema, Get (`get.rs`), Set (`set.rs`) and Subscribe
//! ([`crate::subscribe`]). Blocking datastore work runs in
//! `spawn_blocking`. [`serve`] runs it with TLS and authentication from a
//! [`GnmiServerConfig`]; plain text without authentication is for loopback
//! addresses only. With a [`BgpControl`] the gNOI BGP service
//! ([`crate::gnoi`]) runs on the same server.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use crate::admission::Limits;
use ocbgp_models::datastore::{Datastore, Origin, Requester, SessionId};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

use crate::auth::{authenticate_request, Authenticator, Login};
use crate::gnoi::{BgpControl, GnoiBgpService};
use crate::proto::gnmi::gnmi_server::{Gnmi, GnmiServer};
use crate::proto::gnmi::{
    CapabilityRequest, CapabilityResponse, Encoding, GetRequest, GetResponse, ModelData,
    SetRequest, SetResponse, SubscribeRequest, SubscribeResponse,
};
use crate::subscribe::{self, SubscribeOptions};
use crate::{GNMI_VERSION, MAX_MESSAGE_SIZE, MAX_REQUEST_SIZE};

/// The encodings ocbgp serves, in order of preference.
pub const SUPPORTED_ENCODINGS: [Encoding; 3] =
    [Encoding::JsonIetf, Encoding::Json, Encoding::Proto];

/// Why the gNMI server did not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr} for gNMI: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A non-loopback address without both TLS and authentication.
    #[error(
        "refusing to serve gNMI on {addr} without TLS and user authentication: \
         plain text or unauthenticated gNMI is for loopback addresses only"
    )]
    Insecure {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The TLS certificate or key file could not be read.
    #[error("cannot read gNMI TLS file {path}: {source}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The gRPC transport failed (including TLS set-up).
    #[error("gNMI server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// ocbgp's implementation of the gNMI service.
#[derive(Clone)]
pub struct GnmiService {
    store: Arc<Datastore>,
    session: SessionId,
    authenticator: Option<Arc<dyn Authenticator>>,
    subscribe: SubscribeOptions,
    /// Set when the server stops: ends the subscriptions (which would
    /// otherwise keep a graceful shutdown waiting forever).
    stop: Arc<watch::Sender<bool>>,
    /// The BGP speaker, for the gNOI BGP service served alongside.
    bgp: Option<Arc<dyn BgpControl>>,
}

impl fmt::Debug for GnmiService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GnmiService")
            .field("session", &self.session)
            .field("authenticated", &self.authenticator.is_some())
            .field("subscribe", &self.subscribe)
            .finish()
    }
}

impl GnmiService {
    /// A service on `store`, without authentication. Its Sets commit as one
    /// management session of the datastore (so a NETCONF lock on running
    /// holds them off).
    pub fn new(store: Arc<Datastore>) -> Self {
        let session = store.new_session();
        let (stop, _) = watch::channel(false);
        GnmiService {
            store,
            session,
            authenticator: None,
            subscribe: SubscribeOptions::default(),
            stop: Arc::new(stop),
            bgp: None,
        }
    }

    /// A copy for a new server: the same datastore session, authenticator
    /// and options, with subscriptions of its own (ended by its own
    /// [`GnmiService::shutdown_subscriptions`]). Takes no datastore lock,
    /// so a configuration transaction can start a server.
    pub fn fresh(&self) -> GnmiService {
        let (stop, _) = watch::channel(false);
        GnmiService {
            stop: Arc::new(stop),
            ..self.clone()
        }
    }

    /// Serves the gNOI BGP service (`ClearBGPNeighbor`) next to gNMI, on
    /// `control`, with the same authentication.
    pub fn with_bgp_control(mut self, control: Arc<dyn BgpControl>) -> Self {
        self.bgp = Some(control);
        self
    }

    /// The gNOI BGP service, when a [`BgpControl`] was given.
    pub fn gnoi_bgp(&self) -> Option<GnoiBgpService> {
        let control = self.bgp.clone()?;
        Some(GnoiBgpService::new(
            control,
            self.authenticator.clone(),
            self.store.clone(),
        ))
    }

    /// Requires every RPC to carry `username` and `password` metadata that
    /// `authenticator` accepts.
    pub fn with_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.authenticator = Some(authenticator);
        self
    }

    /// Changes the subscription limits and intervals.
    pub fn with_subscribe_options(mut self, options: SubscribeOptions) -> Self {
        self.subscribe = options;
        self
    }

    /// Ends every subscription of this service (and of its clones) with
    /// `Unavailable`, and refuses new ones: for a server that stops.
    /// [`serve`] and [`serve_listener`] call it when their shutdown future
    /// completes; a caller running the service in a server of its own calls
    /// it before waiting for that server to stop.
    pub fn shutdown_subscriptions(&self) {
        self.stop.send_replace(true);
    }

    /// The datastore session the service's Sets commit as.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The Capabilities answer: every embedded YANG module, the supported
    /// encodings and gNMI version 0.10.0.
    pub fn capabilities() -> CapabilityResponse {
        let supported_models = ocbgp_models::schema::modules()
            .map(|m| ModelData {
                name: m.name.to_string(),
                organization: m.organization.unwrap_or_default().to_string(),
                version: m.version().to_string(),
            })
            .collect();
        CapabilityResponse {
            supported_models,
            supported_encodings: SUPPORTED_ENCODINGS.iter().map(|&e| e as i32).collect(),
            g_nmi_version: GNMI_VERSION.to_string(),
            extension: Vec::new(),
        }
    }

    /// Authenticates a request and checks its user may run `rpc`.
    async fn login<T>(&self, request: &Request<T>, rpc: &str) -> Result<Login, Status> {
        let login = authenticate_request(self.authenticator.as_ref(), request).await?;
        login.may_run(&self.store, "gnmi", rpc)?;
        Ok(login)
    }
}

/// The Subscribe response stream.
pub type SubscribeStream =
    Pin<Box<dyn Stream<Item = Result<SubscribeResponse, Status>> + Send + 'static>>;

/// Runs blocking datastore work off the async runtime.
static AFTER_SET: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Registers `f`, called on the thread that served a Set once it is done:
/// the program can hand back to the system the memory the request and the
/// configuration it replaced took (ocbgpd: mimalloc's `mi_collect`, which
/// works on the calling thread's heap). Set once; later calls are ignored.
pub fn set_after_set(f: fn()) {
    let _ = AFTER_SET.set(f);
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Status::internal(format!("gNMI request failed: {e}")))?
}

#[tonic::async_trait]
impl Gnmi for GnmiService {
    async fn capabilities(
        &self,
        request: Request<CapabilityRequest>,
    ) -> Result<Response<CapabilityResponse>, Status> {
        self.login(&request, "Capabilities").await?;
        tracing::debug!(peer = ?request.remote_addr(), "gNMI Capabilities");
        Ok(Response::new(Self::capabilities()))
    }

    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let login = self.login(&request, "Get").await?;
        let store = self.store.clone();
        let request = request.into_inner();
        let response = blocking(move || {
            let access = store.access(login.judged());
            crate::get::get(&store, &request, &access)
        })
        .await?;
        Ok(Response::new(response))
    }

    async fn set(&self, request: Request<SetRequest>) -> Result<Response<SetResponse>, Status> {
        let login = self.login(&request, "Set").await?;
        let who = Requester {
            origin: Origin::Gnmi,
            session: self.session,
            user: login.user,
            source: request.remote_addr().map(|a| a.ip()),
            authenticated: login.authenticated,
            comment: None,
        };
        let store = self.store.clone();
        let request = request.into_inner();
        let response = blocking(move || {
            let response = crate::set::set(&store, &who, request);
            if let Some(after) = AFTER_SET.get() {
                after();
            }
            response
        })
        .await?;
        Ok(Response::new(response))
    }

    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        request: Request<Streaming<SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let login = self.login(&request, "Subscribe").await?;
        if *self.stop.borrow() {
            return Err(Status::unavailable("the gNMI server is shutting down"));
        }
        let ended = Arc::new(std::sync::OnceLock::new());
        let stop = match (login.judged(), self.authenticator.as_ref()) {
            (Some(user), Some(auth)) => until_access_changes(
                self.store.clone(),
                auth.clone(),
                user.to_string(),
                self.stop.subscribe(),
                ended.clone(),
            ),
            _ => self.stop.subscribe(),
        };
        let (tx, rx) = mpsc::channel(self.subscribe.queue_len.max(1));
        let ctx = subscribe::Context {
            store: self.store.clone(),
            options: self.subscribe.clone(),
            stop,
            ended,
            login,
        };
        tokio::spawn(subscribe::run(ctx, request.into_inner(), tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// A stop signal for one subscription of `user`: it turns true when the
/// server stops (`server`), when a commit removes the user (asked of
/// `auth` after every commit) or when a commit changes what the user may
/// do (the access control rules that apply to it), so a subscription never
/// outlives the rules it was opened under: the client subscribes again,
/// under the new ones. Why it ended goes in `ended`.
fn until_access_changes(
    store: Arc<Datastore>,
    auth: Arc<dyn Authenticator>,
    user: String,
    mut server: watch::Receiver<bool>,
    ended: Arc<std::sync::OnceLock<Status>>,
) -> watch::Receiver<bool> {
    use tokio::sync::broadcast::error::RecvError;
    let (tx, rx) = watch::channel(false);
    let mut commits = store.subscribe();
    let access = store.access(Some(&user));
    tokio::spawn(async move {
        let mut commits_open = true;
        loop {
            tokio::select! {
                // The subscription ended.
                _ = tx.closed() => return,
                _ = async { let _ = server.wait_for(|s| *s).await; } => break,
                event = commits.recv(), if commits_open => match event {
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        let (a, u) = (auth.clone(), user.clone());
                        let valid = tokio::task::spawn_blocking(move || a.still_valid(&u))
                            .await
                            .unwrap_or(false);
                        if !valid {
                            tracing::info!(%user, "gNMI subscription closed: its user was removed");
                            let _ = ended.set(Status::unauthenticated("the subscription's user was removed"));
                            break;
                        }
                        if store.access(Some(&user)) != access {
                            tracing::info!(%user, "gNMI subscription closed: the access rules for its user changed");
                            let _ = ended.set(Status::permission_denied(
                                "the access control rules for this user changed: subscribe again",
                            ));
                            break;
                        }
                    }
                    Err(RecvError::Closed) => commits_open = false,
                },
            }
        }
        let _ = tx.send(true);
    });
    rx
}

/// The gRPC service wrapper with ocbgp's message size limits, ready for
/// `tonic::transport::Server::add_service`.
pub fn grpc_service(service: GnmiService) -> GnmiServer<GnmiService> {
    GnmiServer::new(service)
        .max_decoding_message_size(MAX_REQUEST_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

/// How the gNMI server is exposed.
#[derive(Clone)]
pub struct GnmiServerConfig {
    /// Where to listen ([`serve`]; [`serve_listener`] takes the listener's).
    pub addr: SocketAddr,
    /// TLS: PEM certificate chain file and PEM private key file.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// With TLS, a PEM file of the authorities whose client certificates
    /// log in (see [`TlsIdentity::with_client_ca`]).
    pub tls_client_ca: Option<PathBuf>,
    /// Who may use the server; `None` accepts every RPC.
    pub users: Option<Arc<dyn Authenticator>>,
}

impl fmt::Debug for GnmiServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GnmiServerConfig")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .field("tls_client_ca", &self.tls_client_ca)
            .field("users", &self.users.is_some())
            .finish()
    }
}

impl GnmiServerConfig {
    /// Plain text, no authentication: for loopback addresses.
    pub fn plain(addr: SocketAddr) -> GnmiServerConfig {
        GnmiServerConfig {
            addr,
            tls: None,
            tls_client_ca: None,
            users: None,
        }
    }
}

/// Refuses to expose gNMI beyond the machine without TLS and users.
fn check_exposure(
    addr: SocketAddr,
    tls: bool,
    users: Option<&Arc<dyn Authenticator>>,
) -> Result<(), ServeError> {
    let loopback = addr.ip().to_canonical().is_loopback();
    if !loopback && (!tls || !users.is_some_and(|u| u.enforced())) {
        return Err(ServeError::Insecure { addr });
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::TlsFile {
        path: path.to_path_buf(),
        source,
    })
}

/// A TLS certificate chain and private key, read and checked (both parse,
/// as the server will use them) ahead of serving: a server started with
/// one cannot fail on its TLS set-up.
#[derive(Clone)]
pub struct TlsIdentity {
    cert: Vec<u8>,
    key: Vec<u8>,
    /// PEM certificates of the authorities that sign client certificates.
    client_ca: Option<Vec<u8>>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl PartialEq for TlsIdentity {
    fn eq(&self, other: &TlsIdentity) -> bool {
        self.cert == other.cert && self.key == other.key && self.client_ca == other.client_ca
    }
}

impl TlsIdentity {
    /// Reads PEM files: the certificate chain and the private key.
    pub fn load(cert: &Path, key: &Path) -> Result<TlsIdentity, ServeError> {
        TlsIdentity::from_pem(read_file(cert)?, read_file(key)?)
    }

    /// Takes PEM text, checked as the server would take it.
    pub fn from_pem(cert: Vec<u8>, key: Vec<u8>) -> Result<TlsIdentity, ServeError> {
        let identity = TlsIdentity {
            cert,
            key,
            client_ca: None,
        };
        Server::builder().tls_config(identity.config())?;
        Ok(identity)
    }

    /// Asks clients for a certificate signed by one of the authorities in
    /// the PEM file `ca` (read and checked now): a client presenting one
    /// logs in as the user the certificate names (see
    /// [`crate::auth`]); one without logs in with a password.
    pub fn with_client_ca(self, ca: &Path) -> Result<TlsIdentity, ServeError> {
        let identity = TlsIdentity {
            client_ca: Some(read_file(ca)?),
            ..self
        };
        Server::builder().tls_config(identity.config())?;
        Ok(identity)
    }

    fn config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert, &self.key));
        match &self.client_ca {
            Some(ca) => config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(true),
            None => config,
        }
    }
}

/// Runs the gNMI server for `service` on `config.addr` until `shutdown`
/// completes.
pub async fn serve(
    service: GnmiService,
    config: GnmiServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    check_exposure(config.addr, config.tls.is_some(), config.users.as_ref())?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    serve_listener(service, listener, config, shutdown).await
}

/// Runs the gNMI server on a bound listener (binding first lets callers use
/// port 0 and learn the port) until `shutdown` completes. `config.addr` is
/// not used; the listener's address is checked instead.
pub async fn serve_listener(
    service: GnmiService,
    listener: TcpListener,
    config: GnmiServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.addr,
        source,
    })?;
    check_exposure(addr, config.tls.is_some(), config.users.as_ref())?;
    let tls = match &config.tls {
        Some((cert, key)) => {
            let identity = TlsIdentity::load(cert, key)?;
            match &config.tls_client_ca {
                Some(ca) => Some(identity.with_client_ca(ca)?),
                None => Some(identity),
            }
        }
        None => None,
    };
    serve_prepared(service, listener, tls, config.users, shutdown).await
}

/// Runs the gNMI server on a bound listener with TLS read beforehand
/// ([`TlsIdentity`]) until `shutdown` completes: for a caller that
/// acquires everything first and then starts the server (the daemon, in a
/// configuration transaction). `users`, when given, authenticates every
/// RPC while it [enforces](Authenticator::enforced) authentication.
pub async fn serve_prepared(
    service: GnmiService,
    listener: TcpListener,
    tls: Option<TlsIdentity>,
    users: Option<Arc<dyn Authenticator>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    check_exposure(addr, tls.is_some(), users.as_ref())?;
    let service = match &users {
        Some(users) => service.with_authenticator(users.clone()),
        None => service,
    };
    let mut builder = Server::builder();
    if let Some(identity) = &tls {
        builder = builder.tls_config(identity.config())?;
    }
    tracing::info!(%addr, tls = tls.is_some(), authentication = users.is_some(), "gNMI server listening");
    let incoming = crate::admission::Incoming::new(listener, Limits::default());
    let stopper = service.clone();
    let shutdown = async move {
        shutdown.await;
        stopper.shutdown_subscriptions();
    };
    let gnoi = service.gnoi_bgp().map(crate::gnoi::grpc_service);
    builder
        .add_service(grpc_service(service))
        .add_optional_service(gnoi)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
