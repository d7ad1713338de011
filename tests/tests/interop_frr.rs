//! ocbgpd against FRR bgpd in network namespaces: sessions over IPv4 and IPv6,
//! routes both ways with their attributes (seen by a gobgpd observer that
//! ocbgpd re-advertises to), withdrawals, the peer restarting, and
//! hold-timer expiry on a silently cut link. The scenarios live in
//! `interop_support`; see there for the topology.

mod interop_support;

use ocbgp_tests::lab::Frr;

#[test]
fn frr_sessions_routes_restart_and_withdraws() {
    interop_support::sessions_routes_restart_withdraw::<Frr>("frr_routes");
}

#[test]
fn frr_hold_timer_expiry() {
    interop_support::hold_timer_expiry::<Frr>("frr_hold");
}
