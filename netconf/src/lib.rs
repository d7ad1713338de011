//! ocbgp's NETCONF server: RFC 6241 operations over SSH (RFC 6242).
//!
//! Like the gNMI server it is a thin door onto the datastore of
//! `ocbgp-models`; it owns only what is NETCONF's: message framing, the
//! XML of RPCs and replies, and sessions.
//!
//! Start it with [`serve`] (or [`serve_listener`] on a bound socket) and a
//! [`NetconfConfig`], for example from [`NetconfConfig::from_running`].
//! Users log in with the passwords or SSH keys of
//! `/ocbgp:management/users` ([`auth`]). The capabilities it announces are
//! [`capabilities::server_capabilities`].

#![warn(missing_docs)]

pub mod auth;
pub mod capabilities;
pub mod confirm;
pub mod edit;
pub mod error;
pub mod filter;
pub mod framing;
pub mod monitoring;
pub mod rib;
pub mod rpc;
pub mod server;
pub mod session;
pub mod shared;
pub mod xml;
pub mod yang;
pub mod yang_library;

/// An SSH host key, as [`load_or_create_host_key`] returns it.
pub use russh::keys::PrivateKey as HostKey;
pub use server::{
    load_or_create_host_key, serve, serve_listener, serve_prepared, NetconfConfig, ServeError,
    DEFAULT_PORT,
};
pub use session::set_after_streamed;
pub use shared::Limits;
