//! ocbgp's gNMI (gRPC Network Management Interface, version 0.10.0):
//! the protocol messages, the server on the models crate's datastore
//! (Capabilities, Get, Set, Subscribe; TLS and user authentication), a
//! client for the CLI, and conversion between gNMI paths and the models
//! crate's data paths; and the gNOI BGP service on the same server. The crate's README documents the behaviour and the
//! choices the specification leaves to the target.

#![warn(missing_docs)]

pub mod admission;
pub mod auth;
pub mod client;
mod data;
mod decode;
mod encode;
pub mod ext;
mod get;
pub mod gnoi;
pub mod path;
pub mod server;
mod set;
mod streamed;
pub mod subscribe;

pub use auth::{Authenticator, ConfigUsers};
pub use client::{channel, connect, connect_tls, gnmi_client, tls_config, ConnectError};
pub use gnoi::{BgpControl, ClearError, ClearMode};
pub use path::PathError;
pub use server::{
    serve, serve_listener, serve_prepared, set_after_set, GnmiServerConfig, GnmiService,
    ServeError, TlsIdentity,
};
pub use set::failure_details;
pub use subscribe::SubscribeOptions;

/// The gNMI version ocbgp implements (also the `gnmi_service` option of
/// `proto/gnmi.proto`).
pub const GNMI_VERSION: &str = "0.10.0";

/// Largest gRPC message sent (1 GiB), and accepted by [`connect`]'s
/// clients: a Get of a full-table Loc-RIB (1,000,000 routes) is one
/// response of about 300 MB. Clients reading such tables need a limit as
/// large (or use Subscribe ONCE).
pub const MAX_MESSAGE_SIZE: usize = 1024 * 1024 * 1024;

/// Largest gRPC message the server accepts (64 MiB): a SetRequest holds
/// configuration, which is far smaller than that even for a full
/// configuration of thousands of neighbors and prefix sets; a larger
/// request is refused (by tonic, `OutOfRange`) before it is decoded, so a
/// client cannot make the daemon hold gigabytes. A Set of this size peaks
/// at a few times its size in memory (see docs/benchmarks.md).
pub const MAX_REQUEST_SIZE: usize = 64 * 1024 * 1024;

/// Generated gNMI protocol code.
///
/// The service is named `gNMI` on the wire, which prost turns into
/// `g_nmi_server::GNmi`; `gnmi_server` and `gnmi_client` re-export the
/// generated items under readable names.
#[allow(deprecated, missing_docs, clippy::all)]
pub mod proto {
    /// The `gnmi` package: messages and the `gNMI` service.
    pub mod gnmi {
        tonic::include_proto!("gnmi");

        /// Server side of the `gNMI` service.
        pub mod gnmi_server {
            pub use super::g_nmi_server::{GNmi as Gnmi, GNmiServer as GnmiServer, SERVICE_NAME};
        }

        /// Client side of the `gNMI` service.
        pub mod gnmi_client {
            pub use super::g_nmi_client::GNmiClient as GnmiClient;
        }
    }

    /// The `gnmi_ext` package: request and response extensions.
    pub mod gnmi_ext {
        tonic::include_proto!("gnmi_ext");
    }

    /// The `gnoi.bgp` package: the gNOI BGP service (`ClearBGPNeighbor`).
    pub mod gnoi_bgp {
        tonic::include_proto!("gnoi.bgp");
    }

    /// The `ocbgp_ext` package: ocbgp's own Set extension (rollback),
    /// carried in a `gnmi_ext.RegisteredExtension` with id
    /// `EID_EXPERIMENTAL`.
    pub mod ocbgp_ext {
        tonic::include_proto!("ocbgp_ext");
    }
}

#[cfg(test)]
mod tests {
    /// The proto file declares the version Capabilities reports.
    #[test]
    fn proto_declares_gnmi_version() {
        let proto = include_str!("../proto/gnmi.proto");
        let option = format!("option (gnmi_service) = \"{}\";", super::GNMI_VERSION);
        assert!(proto.contains(&option));
    }
}
