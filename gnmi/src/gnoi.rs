//! The gNOI BGP service (`gnoi.bgp.BGP`): `ClearBGPNeighbor`, the hard and
//! soft session resets OpenConfig has no configuration leaf for.
//!
//! The service runs on the gNMI server (same port, TLS and authentication)
//! and calls the BGP speaker through [`BgpControl`], which the daemon
//! implements on its engine: this crate does not know the engine.

use std::net::IpAddr;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use ocbgp_models::datastore::Datastore;

use crate::auth::{authenticate_request, Authenticator};
use crate::proto::gnoi_bgp::bgp_server::{Bgp, BgpServer};
use crate::proto::gnoi_bgp::clear_bgp_neighbor_request::Mode;
use crate::proto::gnoi_bgp::{ClearBgpNeighborRequest, ClearBgpNeighborResponse};

/// The network instance ocbgp runs BGP in; an empty `routing_instance`
/// means it too.
pub const DEFAULT_INSTANCE: &str = "DEFAULT";

/// How a neighbor's session is cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearMode {
    /// gNOI `SOFT`: the session stays up and our routes are sent to the
    /// neighbor again (outbound soft reset, export policy re-run).
    Soft,
    /// gNOI `SOFTIN`: the session stays up and import policy runs again
    /// over the routes received from the neighbor (inbound soft reset).
    SoftIn,
    /// gNOI `HARD`: the session closes with Cease/Administrative Reset and
    /// is set up again.
    Hard,
}

/// Why a clear was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClearError {
    /// No such neighbor is configured.
    #[error("no BGP neighbor {0} is configured")]
    UnknownNeighbor(IpAddr),
    /// BGP is not running.
    #[error("BGP is not running")]
    NotRunning,
}

/// What the gNOI BGP service needs from the BGP speaker.
pub trait BgpControl: Send + Sync + 'static {
    /// Clears the session with `address` as `mode` says. Returns once the
    /// request is queued to the speaker (it completes asynchronously).
    fn clear_neighbor(&self, address: IpAddr, mode: ClearMode) -> Result<(), ClearError>;
}

/// The gNOI BGP service.
#[derive(Clone)]
pub struct GnoiBgpService {
    control: Arc<dyn BgpControl>,
    authenticator: Option<Arc<dyn Authenticator>>,
    /// For access control: who may run ClearBGPNeighbor.
    store: Arc<Datastore>,
}

impl GnoiBgpService {
    /// The service on `control`, checking credentials with `authenticator`
    /// (none: every call is accepted, as on the gNMI service) and access
    /// with the rules of `store`'s running configuration (NACM `exec` of
    /// `gnoi.bgp` `ClearBGPNeighbor`).
    pub fn new(
        control: Arc<dyn BgpControl>,
        authenticator: Option<Arc<dyn Authenticator>>,
        store: Arc<Datastore>,
    ) -> Self {
        GnoiBgpService {
            control,
            authenticator,
            store,
        }
    }
}

/// The request checked: the neighbor address and the mode.
fn parse(request: &ClearBgpNeighborRequest) -> Result<(IpAddr, ClearMode), Status> {
    let instance = request.routing_instance.as_str();
    if !(instance.is_empty() || instance == DEFAULT_INSTANCE) {
        return Err(Status::not_found(format!(
            "no routing instance {instance:?}: ocbgp runs BGP in {DEFAULT_INSTANCE:?} only"
        )));
    }
    let address: IpAddr = request.address.trim().parse().map_err(|_| {
        Status::invalid_argument(format!(
            "{:?} is not an IPv4 or IPv6 address",
            request.address
        ))
    })?;
    let mode = match Mode::try_from(request.mode) {
        Ok(Mode::Soft) => ClearMode::Soft,
        Ok(Mode::Softin) => ClearMode::SoftIn,
        Ok(Mode::Hard) => ClearMode::Hard,
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "unknown clear mode {}",
                request.mode
            )))
        }
    };
    Ok((address, mode))
}

#[tonic::async_trait]
impl Bgp for GnoiBgpService {
    async fn clear_bgp_neighbor(
        &self,
        request: Request<ClearBgpNeighborRequest>,
    ) -> Result<Response<ClearBgpNeighborResponse>, Status> {
        let from = request.remote_addr().map(|a| a.ip());
        let login = authenticate_request(self.authenticator.as_ref(), &request).await?;
        login.may_run(&self.store, "gnoi.bgp", "ClearBGPNeighbor")?;
        let (address, mode) = parse(request.get_ref())?;
        tracing::info!(peer = %address, ?mode, user = login.user.as_deref().unwrap_or(""), source = ?from, door = "gNOI", "gNOI ClearBGPNeighbor");
        match self.control.clear_neighbor(address, mode) {
            Ok(()) => {
                ocbgp_models::audit::record(
                    ocbgp_models::audit::Kind::NeighborReset,
                    "GNOI",
                    login.user.as_deref().unwrap_or(""),
                    from,
                    &format!("{address} {mode:?} reset"),
                );
                Ok(Response::new(ClearBgpNeighborResponse {}))
            }
            Err(e @ ClearError::UnknownNeighbor(_)) => Err(Status::not_found(e.to_string())),
            Err(e @ ClearError::NotRunning) => Err(Status::failed_precondition(e.to_string())),
        }
    }
}

/// The gRPC service wrapper, ready for `Server::add_service`.
pub fn grpc_service(service: GnoiBgpService) -> BgpServer<GnoiBgpService> {
    BgpServer::new(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(address: &str, instance: &str, mode: i32) -> ClearBgpNeighborRequest {
        ClearBgpNeighborRequest {
            address: address.into(),
            routing_instance: instance.into(),
            mode,
        }
    }

    #[test]
    fn requests_are_checked() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            parse(&req("192.0.2.1", "", 0)).unwrap(),
            (a, ClearMode::Soft)
        );
        assert_eq!(
            parse(&req("192.0.2.1", "DEFAULT", 1)).unwrap(),
            (a, ClearMode::SoftIn)
        );
        assert_eq!(
            parse(&req("2001:db8::1", "", 2)).unwrap().1,
            ClearMode::Hard
        );
        assert_eq!(
            parse(&req("nope", "", 2)).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            parse(&req("192.0.2.1", "", 7)).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            parse(&req("192.0.2.1", "RED", 0)).unwrap_err().code(),
            tonic::Code::NotFound
        );
    }
}
