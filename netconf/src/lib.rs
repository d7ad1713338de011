//! ocbgp's NETCONF server: RFC 6241 operations over SSH (RFC 6242).
//!
//! Like the gNMI server it is a thin door onto the datastore of
//! `ocbgp-models`; it owns only what is NETCONF's: message framing, the
//! XML of RPCs and replies, and sessions.

pub mod framing;
