//! The BGP speaker. It knows nothing of gNMI or NETCONF: it takes typed
//! configuration changes and serves state.

pub mod rib;
pub mod wire;
