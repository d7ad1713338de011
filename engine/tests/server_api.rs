//! The library API ([`BgpServer`]) between two speakers on loopback: the
//! peer watch reports the session's states, the route watch and every
//! table listing show the routes with their attributes, a withdrawn route
//! and a removed peer are reported, and the API refuses what it cannot do.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use ocbgp_engine::engine::EngineError;
use ocbgp_engine::server::*;

/// Bound of every wait for the other speaker.
const WAIT: Duration = Duration::from_secs(30);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn server(asn: u32, me: IpAddr, port: u16) -> BgpServer {
    let IpAddr::V4(router_id) = me else {
        unreachable!()
    };
    let mut global = GlobalSettings::new(asn, router_id);
    global.listen = ListenSettings {
        enabled: true,
        addresses: vec![me],
        port,
    };
    BgpServer::start(global).expect("start")
}

/// The first state change of `peer` to `state`, within [`WAIT`].
async fn wait_state(watch: &mut PeerWatch, peer: IpAddr, state: SessionState) -> StateChange {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(event) = watch.recv().await {
            if let PeerEvent::State(c) = event {
                if c.peer == peer && c.state == state {
                    return Some(c);
                }
            }
        }
        None
    })
    .await;
    found
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{peer} did not reach {state:?} within {WAIT:?}"))
}

/// The first route event for `prefix` that `pick` takes, within [`WAIT`].
async fn wait_route<T>(
    watch: &mut RouteWatch,
    prefix: &str,
    mut pick: impl FnMut(RouteEvent) -> Option<T>,
) -> T {
    let prefix = net(prefix);
    let found = tokio::time::timeout(WAIT, async {
        while let Some(event) = watch.recv().await {
            let of_prefix = match &event {
                RouteEvent::Updated(u) => u.prefix == prefix,
                RouteEvent::Withdrawn { prefix: p, .. } => *p == prefix,
                RouteEvent::Lagged => panic!("route watch lagged"),
            };
            if of_prefix {
                if let Some(t) = pick(event) {
                    return Some(t);
                }
            }
        }
        None
    })
    .await;
    found
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no expected event for {prefix} within {WAIT:?}"))
}

fn as_path(a: &PathAttrs) -> Vec<u32> {
    a.attrs
        .as_path
        .iter()
        .flat_map(|p| &p.segments)
        .flat_map(|s| s.asns.iter().copied())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_exchange_routes_and_report_what_happens() {
    let port = 23179 + (std::process::id() % 500) as u16;
    let (a_ip, b_ip) = (ip("127.0.2.1"), ip("127.0.2.2"));
    let both = [Family::IPV4_UNICAST, Family::IPV6_UNICAST];
    let a = server(65001, a_ip, port);
    let b = server(65002, b_ip, port);
    let mut a_peers = a.watch_peers();
    let mut a_routes = a.watch_routes().await.unwrap();
    let mut b_routes = b.watch_routes().await.unwrap();

    let to_b = PeerSettings::new(b_ip, 65002)
        .port(port)
        .local_address(a_ip)
        .connect_retry(1)
        .families(both);
    a.add_peer(&to_b).unwrap();
    assert!(matches!(a.add_peer(&to_b), Err(ServerError::PeerExists(x)) if x == b_ip));
    b.add_peer(
        &PeerSettings::new(a_ip, 65001)
            .port(port)
            .local_address(b_ip)
            .passive()
            .families(both),
    )
    .unwrap();

    let large = LargeCommunity {
        global_admin: 65002,
        local_data1: 1,
        local_data2: 2,
    };
    b.add_path(
        &Route::new(net("203.0.113.0/24"))
            .next_hop(b_ip)
            .as_path([65010])
            .med(5)
            .communities([Community::new(65002, 1)])
            .large_communities([large]),
    )
    .unwrap();
    b.add_path(
        &Route::new(net("2001:db8:2::/48"))
            .next_hop(ip("2001:db8::2"))
            .communities([Community(100), Community(200)]),
    )
    .unwrap();

    let up = wait_state(&mut a_peers, b_ip, SessionState::Established).await;
    assert_eq!(up.previous, SessionState::OpenConfirm);
    let status = a.peer(b_ip).expect("listed");
    assert_eq!(status.state, SessionState::Established);
    assert_eq!(status.peer_as, 65002);
    assert_eq!(
        status.session.remote_router_id,
        Some("127.0.2.2".parse().unwrap())
    );

    // The route watch: b's routes as received and accepted, best.
    let v4 = wait_route(&mut a_routes, "203.0.113.0/24", |e| match e {
        RouteEvent::Updated(u) => Some(u),
        _ => None,
    })
    .await;
    assert_eq!(v4.source, PathSource::Peer(b_ip));
    assert!(v4.best);
    let accepted = v4.accepted.expect("accepted");
    assert_eq!(as_path(&accepted), [65002, 65010]);
    assert_eq!(accepted.attrs.med, Some(5));
    assert_eq!(accepted.attrs.communities, [Community::new(65002, 1)]);
    assert_eq!(accepted.attrs.large_communities, [large]);
    assert_eq!(accepted.next_hop, Some(NextHop::from(b_ip)));
    let v6 = wait_route(&mut a_routes, "2001:db8:2::/48", |e| match e {
        RouteEvent::Updated(u) => Some(u),
        _ => None,
    })
    .await;
    assert_eq!(
        v6.received.attrs.communities,
        [Community(100), Community(200)]
    );
    assert_eq!(v6.received.next_hop, Some(NextHop::from(ip("2001:db8::2"))));

    // The listings: Loc-RIB and Adj-RIB-In pre and post.
    for table in [
        Table::Global,
        Table::AdjIn {
            neighbor: b_ip,
            post_policy: false,
        },
        Table::AdjIn {
            neighbor: b_ip,
            post_policy: true,
        },
    ] {
        let list = a.list_paths(table, Family::IPV4_UNICAST).await.unwrap();
        assert_eq!(list.len(), 1, "{table:?}: {list:?}");
        assert_eq!(list[0].prefix, net("203.0.113.0/24"));
        let p = &list[0].paths[0];
        assert_eq!((p.source, p.best), (PathSource::Peer(b_ip), true));
        assert_eq!(as_path(&p.attrs), [65002, 65010]);
    }
    let counts = a.prefix_counts(b_ip, Family::IPV4_UNICAST).await.unwrap();
    assert_eq!((counts.received, counts.accepted), (1, 1));

    // A route of a's own: Adj-RIB-Out to b before and after export, and
    // at b with a's AS in front.
    a.add_path(&Route::new(net("198.51.100.0/24")).as_path([65020]))
        .unwrap();
    let out = |post_policy| {
        a.list_paths(
            Table::AdjOut {
                neighbor: b_ip,
                post_policy,
            },
            Family::IPV4_UNICAST,
        )
    };
    let pre = out(false).await.unwrap();
    assert_eq!(pre.len(), 1, "{pre:?}");
    assert_eq!(pre[0].paths[0].source, PathSource::Local);
    assert_eq!(as_path(&pre[0].paths[0].attrs), [65020]);
    assert_eq!(pre[0].paths[0].attrs.next_hop, None);
    let post = out(true).await.unwrap();
    assert_eq!(as_path(&post[0].paths[0].attrs), [65001, 65020]);
    assert_eq!(post[0].paths[0].attrs.next_hop, Some(NextHop::from(a_ip)));
    let at_b = wait_route(&mut b_routes, "198.51.100.0/24", |e| match e {
        RouteEvent::Updated(u) => Some(u),
        _ => None,
    })
    .await;
    assert_eq!(at_b.source, PathSource::Peer(a_ip));
    assert_eq!(as_path(&at_b.received), [65001, 65020]);

    // A withdrawn route and a removed peer are reported.
    b.delete_path(net("203.0.113.0/24")).unwrap();
    let gone = wait_route(&mut a_routes, "203.0.113.0/24", |e| match e {
        RouteEvent::Withdrawn { source, .. } => Some(source),
        _ => None,
    })
    .await;
    assert_eq!(gone, PathSource::Peer(b_ip));
    a.delete_peer(b_ip).unwrap();
    // Straight to Idle: a removed peer is not tried again (no Active).
    let left = tokio::time::timeout(WAIT, a_peers.recv()).await.unwrap();
    assert!(
        matches!(left, Some(PeerEvent::State(c)) if c.peer == b_ip
            && c.previous == SessionState::Established
            && c.state == SessionState::Idle),
        "{left:?}"
    );
    wait_route(&mut a_routes, "2001:db8:2::/48", |e| match e {
        RouteEvent::Withdrawn { .. } => Some(()),
        _ => None,
    })
    .await;
    assert!(a.peers().is_empty());

    // What the API refuses.
    assert!(matches!(
        a.delete_peer(b_ip),
        Err(ServerError::Engine(EngineError::UnknownNeighbor(x))) if x == b_ip
    ));
    assert!(matches!(
        a.list_paths(
            Table::AdjIn {
                neighbor: b_ip,
                post_policy: false
            },
            Family::IPV4_UNICAST
        )
        .await,
        Err(ServerError::Engine(EngineError::UnknownNeighbor(_)))
    ));
    assert!(matches!(
        a.list_paths(Table::Global, Family::IPV4_MULTICAST).await,
        Err(ServerError::Family(_))
    ));
    assert!(matches!(
        a.add_path(&Route::new(net("2001:db8:9::/48")).next_hop(a_ip)),
        Err(ServerError::NextHop { .. })
    ));
    assert!(matches!(
        a.add_peer(&PeerSettings::new(b_ip, 65002).hold_time(2, 1)),
        Err(ServerError::Config(ConfigError::HoldTime(2)))
    ));
    let mut zero = GlobalSettings::new(65001, "0.0.0.0".parse().unwrap());
    zero.listen = ListenSettings::disabled();
    assert!(matches!(
        BgpServer::start(zero),
        Err(ServerError::Config(ConfigError::ZeroRouterId))
    ));
}

#[test]
fn starting_outside_a_runtime_is_an_error() {
    let global = GlobalSettings::new(65001, "192.0.2.1".parse().unwrap());
    assert!(matches!(
        BgpServer::start(global),
        Err(ServerError::NoRuntime)
    ));
}
