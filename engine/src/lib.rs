//! The BGP speaker. It knows nothing of gNMI or NETCONF: it takes typed
//! configuration changes and serves state.
//!
//! Data flows one way: [`wire`] turns bytes into messages, sessions check
//! them and send [`event::RibEvent`]s to the one task that owns the
//! [`rib`], which selects best paths and exports through update groups
//! back to the sessions' writers.
//!
//! # As a library
//!
//! [`server::BgpServer`] embeds the speaker in a program, as GoBGP's
//! server package does: global settings, peers, routes of our own, the
//! tables, and session states and route changes as streams. ocbgpd drives
//! the same [`engine::Engine`] from its OpenConfig configuration.
//!
//! ```no_run
//! use ocbgp_engine::server::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), ServerError> {
//!     let mut global = GlobalSettings::new(65003, "192.0.2.1".parse().unwrap());
//!     global.listen = ListenSettings::disabled();
//!     let server = BgpServer::start(global)?;
//!     let mut peers = server.watch_peers();
//!     server.add_peer(
//!         &PeerSettings::new("192.0.2.2".parse().unwrap(), 65002)
//!             .families([Family::IPV4_UNICAST, Family::IPV6_UNICAST]),
//!     )?;
//!     server.add_path(
//!         &Route::new("2001:db8:1::/64".parse().unwrap())
//!             .next_hop("2001:db8::1".parse().unwrap())
//!             .communities([Community(100), Community(200)]),
//!     )?;
//!     while let Some(event) = peers.recv().await {
//!         println!("{event:?}");
//!     }
//!     Ok(())
//! }
//! ```
//!
//! `examples/embed.rs` is the whole program of GoBGP's embedding example.

#![deny(missing_docs)]

pub mod bmp;
pub mod config;
pub mod engine;
pub mod event;
pub mod fib;
pub mod mrt;
pub mod policy;
pub mod restart;
pub mod rib;
pub mod rib_task;
pub mod rpki;
pub mod server;
pub mod session;
pub mod state;
pub mod stats;
pub mod transport;
pub mod wire;
