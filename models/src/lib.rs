//! ocbgp's models: the YANG schema the whole daemon is built on, and the
//! configuration it validates.
//!
//! The schema has one source, the modules in the workspace's `yang/` folder.
//! They are embedded at build time ([`schema::MODULES`]) and loaded into one
//! libyang context for the life of the process ([`schema::context`]).

pub mod audit;
pub mod config;
pub mod datastore;
mod deps;
pub mod edit;
pub mod error;
pub mod gen;
pub mod inherit;
pub mod ly;
pub mod nacm;
pub mod path;
pub mod pre_auth;
pub mod schema;
pub mod support;
pub mod users;

pub use error::ModelError;
