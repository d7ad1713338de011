//! GoBGP's embedding example with ocbgp's engine as the library: a speaker
//! in AS 65003 that does not listen, one peer in AS 65002, an IPv4 route
//! with an AS path and an IPv6 route with communities, the peers' state
//! changes watched (GoBGP's `MonitorPeer`) and the tables listed (its
//! `ListPath`). Route changes are watched too.
//!
//! ```text
//! cargo run -p ocbgp-engine --example embed -- \
//!     --router-id 192.0.2.1 --neighbor 192.0.2.2 [--peer-as 65002] \
//!     [--next-hop 192.0.2.1] [--next-hop6 2001:db8::1] [--seconds 180]
//! ```
//!
//! It prints one line per event, for people and for the end-to-end test
//! (`tests/tests/library_e2e.rs`):
//!
//! ```text
//! peer 192.0.2.2 OPENCONFIRM -> ESTABLISHED
//! list ipv4-unicast 10.0.0.0/24 from local best next-hop 10.0.0.1 origin Igp as-path [6762 39919 65000 35753 65000]
//! route + 198.51.100.0/24 from 192.0.2.2 best next-hop 192.0.2.2 origin Igp as-path [65002] communities 65002:7
//! route - 198.51.100.0/24 from 192.0.2.2
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ocbgp_engine::server::*;

/// The command line, with the example's defaults.
struct Args {
    router_id: Ipv4Addr,
    neighbor: IpAddr,
    peer_as: u32,
    next_hop: IpAddr,
    next_hop6: IpAddr,
    seconds: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        neighbor: IpAddr::from([192, 0, 2, 2]),
        peer_as: 65002,
        next_hop: IpAddr::from([10, 0, 0, 1]),
        next_hop6: "2001:db8::1".parse().map_err(|e| format!("{e}"))?,
        seconds: 180,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--router-id" => a.router_id = value.parse().map_err(|e| bad(&e))?,
            "--neighbor" => a.neighbor = value.parse().map_err(|e| bad(&e))?,
            "--peer-as" => a.peer_as = value.parse().map_err(|e| bad(&e))?,
            "--next-hop" => a.next_hop = value.parse().map_err(|e| bad(&e))?,
            "--next-hop6" => a.next_hop6 = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => a.seconds = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;

    // Global configuration: AS 65003, not listening (GoBGP's ListenPort -1).
    let mut global = GlobalSettings::new(65003, args.router_id);
    global.listen = ListenSettings::disabled();
    let server = BgpServer::start(global)?;

    // Watch the peers' state (MonitorPeer) and the tables, before there is
    // anything to miss.
    let mut peers = server.watch_peers();
    let mut routes = server.watch_routes().await?;

    // The neighbor, with both families: the IPv6 route goes over it too.
    server.add_peer(
        &PeerSettings::new(args.neighbor, args.peer_as)
            .families([Family::IPV4_UNICAST, Family::IPV6_UNICAST])
            .connect_retry(1),
    )?;

    // An IPv4 route with an AS path, and an IPv6 route with communities.
    server.add_path(
        &Route::new("10.0.0.0/24".parse()?)
            .origin(Origin::Igp)
            .next_hop(args.next_hop)
            .as_path([6762, 39919, 65000, 35753, 65000]),
    )?;
    server.add_path(
        &Route::new("2001:db8:1::/64".parse()?)
            .origin(Origin::Igp)
            .next_hop(args.next_hop6)
            .communities([Community(100), Community(200)]),
    )?;

    // ListPath of the IPv6 table, as the GoBGP example does.
    print_table(&server, Family::IPV6_UNICAST).await?;

    let deadline = tokio::time::sleep(Duration::from_secs(args.seconds));
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(deadline, interrupted);
    loop {
        tokio::select! {
            Some(event) = peers.recv() => match event {
                PeerEvent::State(c) => {
                    println!("peer {} {} -> {}", c.peer, c.previous.as_str(), c.state.as_str());
                    if c.state == SessionState::Established {
                        // Both tables once the session is up.
                        print_table(&server, Family::IPV4_UNICAST).await?;
                        print_table(&server, Family::IPV6_UNICAST).await?;
                    }
                }
                PeerEvent::Lagged(n) => println!("peer watch lagged: {n} changes lost"),
            },
            Some(event) = routes.recv() => match event {
                RouteEvent::Updated(u) => {
                    let attrs = u.accepted.as_ref().unwrap_or(&u.received);
                    println!(
                        "route + {} from {}{} {}",
                        u.prefix,
                        source(u.source),
                        if u.best { " best" } else { "" },
                        describe(attrs)
                    );
                }
                RouteEvent::Withdrawn { prefix, source: s, .. } => {
                    println!("route - {prefix} from {}", source(s));
                }
                RouteEvent::Lagged => println!("route watch lagged: list the tables again"),
            },
            _ = &mut deadline => break,
            _ = &mut interrupted => break,
        }
    }
    server.stop();
    Ok(())
}

/// Prints the Loc-RIB of `family`, a line per path.
async fn print_table(server: &BgpServer, family: Family) -> Result<(), ServerError> {
    for dest in server.list_paths(Table::Global, family).await? {
        for p in &dest.paths {
            println!(
                "list {family} {} from {}{} {}",
                dest.prefix,
                source(p.source),
                if p.best { " best" } else { "" },
                describe(&p.attrs)
            );
        }
    }
    Ok(())
}

fn source(s: PathSource) -> String {
    match s {
        PathSource::Local => "local".into(),
        PathSource::Peer(a) => a.to_string(),
    }
}

/// The attributes in one line.
fn describe(a: &PathAttrs) -> String {
    let mut out = String::new();
    if let Some(nh) = &a.next_hop {
        out += &format!("next-hop {}", nh.address());
    }
    let attrs = &a.attrs;
    if let Some(origin) = attrs.origin {
        out += &format!(" origin {origin:?}");
    }
    if let Some(path) = &attrs.as_path {
        let asns: Vec<String> = path
            .segments
            .iter()
            .flat_map(|s| &s.asns)
            .map(u32::to_string)
            .collect();
        out += &format!(" as-path [{}]", asns.join(" "));
    }
    if let Some(med) = attrs.med {
        out += &format!(" med {med}");
    }
    if !attrs.communities.is_empty() {
        let list: Vec<String> = attrs.communities.iter().map(|c| c.to_string()).collect();
        out += &format!(" communities {}", list.join(" "));
    }
    out
}
