//! Rust generated at build time from `yang/` (see `models/build.rs`): the
//! schema has one source, and a changed leaf in `yang/` changes this code.
//!
//! * [`paths`]: the schema path of every data node, config and state, as
//!   nested modules mirroring the tree (`paths::network_instances::
//!   network_instance::protocols::protocol::bgp::neighbors::neighbor::config::PEER_AS`).
//!   Each container and list module has `PATH`; list modules also have
//!   `KEYS` and `entry(..)`, the data path of one entry.
//! * [`types`]: every enumeration and identity base leaves use, as Rust
//!   enums with `as_str()`, `FromStr`, `Display` and `ALL`. Identities
//!   print as `module:IDENTITY` (RFC 7951) and parse from that or the bare
//!   name. Enumerations inside unions are not generated unless named by a
//!   typedef; a leaf of a union type is its canonical text.
//! * [`config`]: typed structs of the configuration, [`FromNode`] for each,
//!   and [`config::Root`] for a whole tree.
//! * [`state`]: typed records of the state the engine serves, with
//!   `write()` to put them into a tree.
//! * [`changes`](mod@changes): what a diff between two configurations touched, by list
//!   entry and container ([`ChangeSet`]).
//!
//! # Decisions
//!
//! **Defaults.** A config leaf with a YANG default reads as its default
//! when the tree does not hold it: the generated code carries the default,
//! so typed values are the same whether or not a tree has libyang's
//! implicit default nodes (validated trees do; diffs and trees built with
//! `new_path` do not). A leaf under a `when` has no default in Rust (it is
//! `Option`), since its default applies only while the condition holds.
//! Leaf-list defaults are not applied (`yang/` has none).
//!
//! **Order.** A `Vec` holds entries and values in the tree's order: libyang
//! keeps lists and leaf-lists that are not `ordered-by user` sorted by
//! value; user-ordered ones (policy statements) keep their order.
//!
//! **Config structs.** Keys and mandatory leaves are `T`, leaves with a
//! default `T`, other leaves `Option<T>`, leaf-lists `Vec<T>`, `empty`
//! leaves `bool`. Containers are plain fields holding their defaults when
//! absent, and `Option` only for presence containers and containers with a
//! `when` (the `bgp` of a protocol, the `ipv4-unicast` of an afi-safi).
//! OpenConfig's plural containers holding just a list (`neighbors`,
//! `afi-safis`, `prefixes`) are flattened into a `Vec` of entries. Types
//! of typedefs: `ip-address`, `ipv4-address`, `ipv6-address`, `dotted-quad`
//! → `std::net` addresses, `ip-prefix`, `ipv4-prefix`, `ipv6-prefix` →
//! `ipnet` prefixes; leafrefs take their target's type. Structurally
//! identical subtrees are one type (the `Timers`, `Transport` or
//! `ApplyPolicy` of neighbors and peer groups), named after the nodes they
//! stand for, with parents' names in front only where two types would
//! otherwise share a name.
//!
//! **State structs.** Generated for every config-false container that
//! hangs off the config tree and has no list below it (`neighbor/state`
//! with its message counters, `afi-safi/state` with `prefixes`,
//! `global/state`, `timers/state`, ...). Every leaf is `Option<T>` and the
//! structs derive `Default`: the engine fills in what it knows and calls
//! `write(tree, path)`. Config-false lists (the RIB under `bgp/rib`, the
//! commit history) get paths and enums but no structs: they are streamed
//! from the engine's tables, never built as one giant value.
//!
//! **Cost.** Reading a typed struct costs the size of its subtree, one
//! pass over each node's children. The engine should not read
//! [`config::Root`] per commit: it takes a [`ChangeSet`] (cost in
//! proportion to the diff) and reads only the touched entries and
//! containers ([`ListChange::read`], [`FromNode::from_tree`]).
//!
//! # Example
//!
//! ```
//! use ocbgp_models::config::{Config, Encoding};
//! use ocbgp_models::gen::{config::Neighbor, paths, types, FromNode};
//!
//! let text = r#"{"openconfig-network-instance:network-instances": {"network-instance": [{
//!   "name": "DEFAULT", "config": {"name": "DEFAULT"},
//!   "protocols": {"protocol": [{"identifier": "openconfig-policy-types:BGP", "name": "BGP",
//!     "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP"},
//!     "bgp": {"global": {"config": {"as": 65001}},
//!             "neighbors": {"neighbor": [{"neighbor-address": "192.0.2.1",
//!               "config": {"neighbor-address": "192.0.2.1", "peer-as": 65002}}]}}}]}}]}}"#;
//! let config = Config::parse(text, Encoding::Json).unwrap();
//!
//! use paths::network_instances::network_instance as ni;
//! let instance = ni::entry(["DEFAULT"]);
//! let protocol = ni::protocols::protocol::entry(&instance, ["openconfig-policy-types:BGP", "BGP"]);
//! let path = ni::protocols::protocol::bgp::neighbors::neighbor::entry(&protocol, ["192.0.2.1"]);
//!
//! let neighbor = Neighbor::from_tree(config.tree(), &path).unwrap();
//! assert_eq!(neighbor.config.peer_as, Some(65002));
//! assert_eq!(neighbor.timers.config.hold_time, 90); // the YANG default
//! assert_eq!(neighbor.config.peer_type, None);
//! assert_eq!("IPV4_UNICAST".parse::<types::AfiSafiType>().unwrap().as_str(),
//!            "openconfig-bgp-types:IPV4_UNICAST");
//! ```

#[macro_use]
mod macros;
pub mod changes;
pub mod rt;

/// Schema paths of every data node (generated).
#[allow(missing_docs)]
pub mod paths {
    include!(concat!(env!("OUT_DIR"), "/gen/paths.rs"));
}

/// Enumerations and identities (generated).
pub mod types {
    include!(concat!(env!("OUT_DIR"), "/gen/types.rs"));
}

/// Typed config structs (generated). See the [module docs](super) for the
/// rules.
#[allow(missing_docs, clippy::single_match)]
pub mod config {
    use super::rt::{self, FromNode};
    use super::types;
    use crate::ModelError;
    use yang2::data::{DataNodeRef, DataTree};

    include!(concat!(env!("OUT_DIR"), "/gen/config.rs"));
}

/// Typed state records (generated). See the [module docs](super) for the
/// rules.
#[allow(missing_docs, clippy::single_match)]
pub mod state {
    use super::rt::{self, FromNode};
    use super::types;
    use crate::ModelError;
    use yang2::data::{DataNodeRef, DataTree};

    include!(concat!(env!("OUT_DIR"), "/gen/state.rs"));
}

pub use changes::{changes, ChangeSet, ContainerChange, ContainerKind, ListChange, ListKind, Op};
pub use rt::{FromNode, YangValue};
