//! The BGP speaker. It knows nothing of gNMI or NETCONF: it takes typed
//! configuration changes and serves state.
//!
//! Data flows one way: [`wire`] turns bytes into messages, sessions check
//! them and send [`event::RibEvent`]s to the one task that owns the
//! [`rib`], which selects best paths and exports through update groups
//! back to the sessions' writers.

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
pub mod session;
pub mod state;
pub mod stats;
pub mod transport;
pub mod wire;
