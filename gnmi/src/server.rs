//! The gNMI service and the gRPC server that runs it.
//!
//! Capabilities is complete. Get, Set and Subscribe answer `UNIMPLEMENTED`
//! until the configuration datastore is connected.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::net::TcpListener;
use tokio_stream::Stream;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::gnmi::gnmi_server::{Gnmi, GnmiServer};
use crate::proto::gnmi::{
    CapabilityRequest, CapabilityResponse, Encoding, GetRequest, GetResponse, ModelData,
    SetRequest, SetResponse, SubscribeRequest, SubscribeResponse,
};
use crate::{GNMI_VERSION, MAX_MESSAGE_SIZE};

/// The encodings ocbgp serves, in order of preference.
pub const SUPPORTED_ENCODINGS: [Encoding; 3] =
    [Encoding::JsonIetf, Encoding::Json, Encoding::Proto];

/// Why the gNMI server stopped with an error.
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
    /// The gRPC transport failed.
    #[error("gNMI server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// ocbgp's implementation of the gNMI service.
#[derive(Debug, Clone, Default)]
pub struct GnmiService {}

impl GnmiService {
    /// A service answering from the embedded schema.
    pub fn new() -> Self {
        GnmiService {}
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
}

/// The Subscribe response stream.
pub type SubscribeStream =
    Pin<Box<dyn Stream<Item = Result<SubscribeResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Gnmi for GnmiService {
    async fn capabilities(
        &self,
        request: Request<CapabilityRequest>,
    ) -> Result<Response<CapabilityResponse>, Status> {
        tracing::debug!(peer = ?request.remote_addr(), "gNMI Capabilities");
        Ok(Response::new(Self::capabilities()))
    }

    async fn get(&self, _request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        Err(Status::unimplemented(
            "gNMI Get is not available yet: it arrives with the configuration datastore",
        ))
    }

    async fn set(&self, _request: Request<SetRequest>) -> Result<Response<SetResponse>, Status> {
        Err(Status::unimplemented(
            "gNMI Set is not available yet: it arrives with the configuration datastore",
        ))
    }

    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        _request: Request<Streaming<SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        Err(Status::unimplemented(
            "gNMI Subscribe is not available yet: it arrives with the configuration datastore",
        ))
    }
}

/// The gRPC service wrapper with ocbgp's message size limits, ready for
/// `tonic::transport::Server::add_service` (the daemon adds TLS there).
pub fn grpc_service(service: GnmiService) -> GnmiServer<GnmiService> {
    GnmiServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

/// Runs a plain-text gNMI server on `addr` until `shutdown` completes.
pub async fn serve(addr: SocketAddr, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve_listener(listener, shutdown).await
}

/// Runs a plain-text gNMI server on a bound listener until `shutdown`
/// completes. Binding first lets callers use port 0 and learn the port.
pub async fn serve_listener(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "gNMI server listening");
    }
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(grpc_service(GnmiService::new()))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
