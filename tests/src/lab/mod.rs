//! The end-to-end test lab: real BGP speakers in network namespaces on a
//! private layer-2 segment.
//!
//! - [`Lab`] makes the segment (a bridge in a "switch" namespace) and
//!   [`Host`]s on it (one namespace each, 192.0.2.n/24 and 2001:db8::n/64);
//!   dropping the lab kills everything started in it and deletes the
//!   namespaces, also when the test panics.
//! - [`BgpConfig`], [`Neighbor`] and [`Originated`] describe a speaker
//!   independently of the daemon; [`Gobgp`], [`Bird`], [`Frr`], [`Exabgp`]
//!   and [`Ocbgpd`] start one in a host from it (`Ocbgpd` takes an
//!   [`OcbgpdConfig`], which wraps a `BgpConfig`).
//! - Every speaker implements [`BgpSpeaker`]: session state, routing table
//!   as [`Route`]s, and bounded waits (`wait_established`, `wait_route`, …)
//!   whose panics carry the daemon's log.
//!
//! Needs root, `ip` (iproute2) and the peers (`scripts/install-deps test`).
//! Traffic never leaves the lab's namespaces.
//!
//! ```no_run
//! use std::time::Duration;
//! use ocbgp_tests::lab::*;
//!
//! let lab = Lab::new("example");
//! let (r1, r2) = (lab.host("r1"), lab.host("r2"));
//! let a = Gobgp::start(&r1, &BgpConfig::new(65001, r1.ipv4())
//!     .neighbor(Neighbor::new(r2.ipv4(), 65002))
//!     .route(Originated::new("198.51.100.0/24").med(10).community("65000:1")));
//! let b = Bird::start(&r2, &BgpConfig::new(65002, r2.ipv4())
//!     .neighbor(Neighbor::new(r1.ipv4(), 65001)));
//! b.wait_established(r1.ipv4(), Duration::from_secs(20));
//! let route = b.wait_route("198.51.100.0/24", Duration::from_secs(10));
//! assert_eq!(route.med, Some(10));
//! # drop(a);
//! ```

mod bird;
mod config;
mod exabgp;
mod frr;
mod gobgp;
mod netns;
mod ocbgpd;
mod process;
pub mod raw;
mod route;
mod speaker;
mod tls;

pub use bird::{
    bird_conf, parse_graceful_restart_status, parse_route_change_stats,
    protocol_name as bird_protocol_name, Bird, BirdGracefulRestart,
};
pub use config::{AddPaths, BgpConfig, GracefulRestart, IntoIp, Neighbor, Originated};
pub use exabgp::{Exabgp, ExabgpOptions};
pub use frr::{bgpd_conf, Frr, FrrZebra, FRR_DIR};
pub use gobgp::{gobgp_toml, Gobgp, RibEvent, RibMonitor, GOBGP_API};
pub use netns::{netns_list, Host, Lab, IPV4_PREFIX_LEN, IPV6_PREFIX_LEN, NETNS_PREFIX};
pub use ocbgpd::{
    administrators, check_config_file, check_config_file_elsewhere, gnmi_get_as, gnmi_get_at,
    loc_rib_via, parse_oc_rib, spawn_ocbgpd_json, subscriber_responses, subscriber_saw, AdjRib,
    GlobalGracefulRestart, Ocbgpd, OcbgpdConfig, NACM,
};
pub use process::Process;
pub use raw::RawSpeaker;
pub use route::{
    community_string, describe, normalize_community, pick, Family, Origin, Route, LLGR_STALE,
    NO_LLGR,
};
pub use speaker::{BgpSpeaker, ReceivedCounts, SessionState};
pub use tls::{cert_fingerprint, client_ca, client_cert, self_signed_cert};
