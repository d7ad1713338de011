//! gNMI server.
