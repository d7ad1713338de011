//! What a test says about a BGP speaker, independent of the daemon: local
//! AS and router id, neighbors, originated routes. Each daemon helper turns
//! it into its own configuration format; settings a daemon cannot express
//! are documented on that helper.

use std::net::{IpAddr, Ipv4Addr};

use super::route::{Family, Origin};

/// Anything that names an IP address: `IpAddr`, `Ipv4Addr`, `Ipv6Addr` or a
/// string (parsed; panics if it is not an address).
pub trait IntoIp {
    /// The address.
    fn into_ip(self) -> IpAddr;
}

impl IntoIp for IpAddr {
    fn into_ip(self) -> IpAddr {
        self
    }
}
impl IntoIp for Ipv4Addr {
    fn into_ip(self) -> IpAddr {
        IpAddr::V4(self)
    }
}
impl IntoIp for std::net::Ipv6Addr {
    fn into_ip(self) -> IpAddr {
        IpAddr::V6(self)
    }
}
impl IntoIp for &str {
    fn into_ip(self) -> IpAddr {
        self.parse()
            .unwrap_or_else(|_| panic!("{self:?} is not an IP address"))
    }
}
impl IntoIp for &String {
    fn into_ip(self) -> IpAddr {
        self.as_str().into_ip()
    }
}

/// A BGP speaker's configuration, shared by all daemon helpers.
///
/// ```ignore
/// let cfg = BgpConfig::new(65001, r1.ipv4())
///     .neighbor(Neighbor::new(r2.ipv4(), 65002).timers(3, 1))
///     .route(Originated::new("198.51.100.0/24").med(10).community("65000:1"));
/// ```
#[derive(Clone, Debug)]
pub struct BgpConfig {
    /// Local AS.
    pub asn: u32,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Configured neighbors.
    pub neighbors: Vec<Neighbor>,
    /// Routes the speaker announces by itself.
    pub routes: Vec<Originated>,
}

impl BgpConfig {
    /// A speaker in `asn` with BGP identifier `router_id` (an IPv4 address).
    pub fn new(asn: u32, router_id: impl IntoIp) -> BgpConfig {
        let router_id = match router_id.into_ip() {
            IpAddr::V4(v4) => v4,
            other => panic!("router id must be an IPv4 address, not {other}"),
        };
        BgpConfig {
            asn,
            router_id,
            neighbors: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Adds a neighbor.
    pub fn neighbor(mut self, neighbor: Neighbor) -> BgpConfig {
        self.neighbors.push(neighbor);
        self
    }

    /// Adds an originated route.
    pub fn route(mut self, route: Originated) -> BgpConfig {
        self.routes.push(route);
        self
    }

    /// Whether a neighbor is internal (same AS).
    pub fn is_ibgp(&self, neighbor: &Neighbor) -> bool {
        neighbor.peer_as == self.asn
    }

    /// The configured neighbor with this address, if any.
    pub fn find_neighbor(&self, addr: IpAddr) -> Option<&Neighbor> {
        self.neighbors.iter().find(|n| n.address == addr)
    }
}

/// One configured neighbor.
#[derive(Clone, Debug)]
pub struct Neighbor {
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's AS.
    pub peer_as: u32,
    /// Free text.
    pub description: Option<String>,
    /// TCP-MD5 password.
    pub password: Option<String>,
    /// Only accept connections, never open one.
    pub passive: bool,
    /// Source address of the session.
    pub local_address: Option<IpAddr>,
    /// eBGP multihop TTL, when enabled.
    pub multihop: Option<u8>,
    /// (hold time, keepalive interval) in seconds; None keeps the daemon's.
    pub timers: Option<(u16, u16)>,
    /// Seconds between connection attempts (as far as the daemon allows:
    /// gobgpd waits 5–10 s before its first attempt whatever is set).
    pub connect_retry: u16,
    /// Families enabled on the session (default: both unicast families).
    pub families: Vec<Family>,
    /// Graceful restart (RFC 4724) and long-lived graceful restart
    /// (RFC 9494) with this neighbor; None leaves the daemon's default.
    pub graceful_restart: Option<GracefulRestart>,
    /// ADD-PATH (RFC 7911) on every enabled family; None: off.
    pub add_paths: Option<AddPaths>,
}

impl Neighbor {
    /// A neighbor at `address` in `peer_as`, with IPv4 and IPv6 unicast,
    /// the daemon's default timers and a 1 s connect-retry.
    pub fn new(address: impl IntoIp, peer_as: u32) -> Neighbor {
        Neighbor {
            address: address.into_ip(),
            peer_as,
            description: None,
            password: None,
            passive: false,
            local_address: None,
            multihop: None,
            timers: None,
            connect_retry: 1,
            families: Family::ALL.to_vec(),
            graceful_restart: None,
            add_paths: None,
        }
    }

    /// Sets a description.
    pub fn description(mut self, text: &str) -> Neighbor {
        self.description = Some(text.to_string());
        self
    }

    /// Sets a TCP-MD5 password.
    pub fn password(mut self, password: &str) -> Neighbor {
        self.password = Some(password.to_string());
        self
    }

    /// Makes the session passive.
    pub fn passive(mut self) -> Neighbor {
        self.passive = true;
        self
    }

    /// Sets the session's source address.
    pub fn local_address(mut self, addr: impl IntoIp) -> Neighbor {
        self.local_address = Some(addr.into_ip());
        self
    }

    /// Enables eBGP multihop with this TTL.
    pub fn multihop(mut self, ttl: u8) -> Neighbor {
        self.multihop = Some(ttl);
        self
    }

    /// Sets hold time and keepalive interval (seconds).
    pub fn timers(mut self, hold: u16, keepalive: u16) -> Neighbor {
        self.timers = Some((hold, keepalive));
        self
    }

    /// Sets the connect-retry interval (seconds).
    pub fn connect_retry(mut self, seconds: u16) -> Neighbor {
        self.connect_retry = seconds;
        self
    }

    /// Sets the enabled families.
    pub fn families(mut self, families: &[Family]) -> Neighbor {
        self.families = families.to_vec();
        self
    }

    /// Whether `family` is enabled.
    pub fn has(&self, family: Family) -> bool {
        self.families.contains(&family)
    }

    /// Enables graceful restart with this neighbor (for every enabled
    /// family), as [`GracefulRestart`] says.
    pub fn graceful_restart(mut self, gr: GracefulRestart) -> Neighbor {
        self.graceful_restart = Some(gr);
        self
    }

    /// Enables ADD-PATH with this neighbor (for every enabled family).
    pub fn add_paths(mut self, add_paths: AddPaths) -> Neighbor {
        self.add_paths = Some(add_paths);
        self
    }
}

/// ADD-PATH settings of a neighbor (RFC 7911): receiving several paths per
/// prefix; sending several, at most `send_max` where the daemon has such a
/// limit (gobgpd, ocbgpd; BIRD and FRR send every path).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AddPaths {
    /// Negotiate receiving several paths.
    pub receive: bool,
    /// Negotiate sending several paths.
    pub send: bool,
    /// At most this many per prefix; None: the daemon's default (all).
    pub send_max: Option<u8>,
}

impl AddPaths {
    /// Receive only.
    pub fn receive() -> AddPaths {
        AddPaths {
            receive: true,
            ..AddPaths::default()
        }
    }

    /// Send every path (as many as the daemon sends without a maximum).
    pub fn send_all() -> AddPaths {
        AddPaths {
            send: true,
            ..AddPaths::default()
        }
    }

    /// Send up to `max` paths per prefix.
    pub fn send(max: u8) -> AddPaths {
        AddPaths {
            send: true,
            send_max: Some(max),
            ..AddPaths::default()
        }
    }
}

/// Graceful restart settings of a neighbor: RFC 4724 (restart time, helper
/// only), RFC 8538 (the N bit: graceful restart also after a NOTIFICATION
/// or hold-timer expiry) and RFC 9494 (long-lived stale time). Every enabled
/// family of the neighbor is put in the capabilities.
///
/// ```ignore
/// Neighbor::new(r2.ipv4(), 65002)
///     .graceful_restart(GracefulRestart::new(30).notification().long_lived(120))
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestart {
    /// Restart Time advertised (seconds, 0..=4095).
    pub restart_time: u16,
    /// RFC 8538 "notification" support (the N bit), where the daemon has it
    /// (gobgpd, FRR; BIRD 2.0 and ocbgpd: see their helpers).
    pub notification: bool,
    /// Only help restarting peers: no forwarding state kept over an own
    /// restart (gobgpd `helper-only`, BIRD `graceful restart aware`, FRR
    /// `neighbor X graceful-restart-helper`, ocbgpd `helper-only`).
    pub helper_only: bool,
    /// Long-lived graceful restart with this long-lived stale time
    /// (seconds, at most 16777215); None: no LLGR.
    pub long_lived_stale_time: Option<u32>,
    /// How long a restarting peer's routes are kept stale at most, where
    /// the daemon has such a setting (ocbgpd `stale-routes-time`, FRR
    /// `bgp graceful-restart stalepath-time`, gobgpd `stale-routes-time`
    /// is not implemented by gobgpd and not written).
    pub stale_routes_time: Option<u16>,
}

impl GracefulRestart {
    /// Graceful restart with `restart_time` seconds, no N bit, no LLGR.
    pub fn new(restart_time: u16) -> GracefulRestart {
        assert!(
            restart_time < 4096,
            "the restart time is a 12-bit field: {restart_time}"
        );
        GracefulRestart {
            restart_time,
            notification: false,
            helper_only: false,
            long_lived_stale_time: None,
            stale_routes_time: None,
        }
    }

    /// Sets the N bit (RFC 8538).
    pub fn notification(mut self) -> GracefulRestart {
        self.notification = true;
        self
    }

    /// Helper mode only.
    pub fn helper_only(mut self) -> GracefulRestart {
        self.helper_only = true;
        self
    }

    /// Enables long-lived graceful restart with this stale time (seconds).
    pub fn long_lived(mut self, stale_time: u32) -> GracefulRestart {
        assert!(
            stale_time > 0 && stale_time < 1 << 24,
            "the long-lived stale time is a 24-bit field above 0: {stale_time}"
        );
        self.long_lived_stale_time = Some(stale_time);
        self
    }

    /// Sets the stale-routes time (seconds).
    pub fn stale_routes_time(mut self, seconds: u16) -> GracefulRestart {
        self.stale_routes_time = Some(seconds);
        self
    }
}

/// A route the speaker announces by itself.
#[derive(Clone, Debug)]
pub struct Originated {
    /// The prefix; its family follows from it.
    pub prefix: String,
    /// NEXT_HOP to announce; None means the daemon's choice (next-hop self).
    pub next_hop: Option<IpAddr>,
    /// ORIGIN; None is the daemon's default (IGP, except gobgp's CLI which
    /// defaults to INCOMPLETE: the gobgp helper always passes it).
    pub origin: Option<Origin>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF (sent to internal peers only).
    pub local_pref: Option<u32>,
    /// Standard communities, "high:low" (65535:65281 for NO_EXPORT).
    pub communities: Vec<String>,
    /// Large communities, "ga:ld1:ld2".
    pub large_communities: Vec<String>,
}

impl Originated {
    /// A route to `prefix` (written canonically, e.g. "198.51.100.0/24").
    pub fn new(prefix: &str) -> Originated {
        assert!(
            prefix.contains('/'),
            "originated route {prefix:?} needs a prefix length"
        );
        Originated {
            prefix: prefix.to_string(),
            next_hop: None,
            origin: None,
            med: None,
            local_pref: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
        }
    }

    /// Sets the next hop.
    pub fn next_hop(mut self, addr: impl IntoIp) -> Originated {
        self.next_hop = Some(addr.into_ip());
        self
    }

    /// Sets ORIGIN.
    pub fn origin(mut self, origin: Origin) -> Originated {
        self.origin = Some(origin);
        self
    }

    /// Sets MED.
    pub fn med(mut self, med: u32) -> Originated {
        self.med = Some(med);
        self
    }

    /// Sets LOCAL_PREF.
    pub fn local_pref(mut self, pref: u32) -> Originated {
        self.local_pref = Some(pref);
        self
    }

    /// Adds a standard community ("65000:1").
    pub fn community(mut self, community: &str) -> Originated {
        self.communities
            .push(super::route::normalize_community(community));
        self
    }

    /// Adds a large community ("65001:1:2").
    pub fn large_community(mut self, community: &str) -> Originated {
        self.large_communities.push(community.to_string());
        self
    }

    /// The route's family.
    pub fn family(&self) -> Family {
        Family::of(&self.prefix)
    }
}

/// Splits "a:b" into two u16-range numbers (for daemons that want them apart).
pub(crate) fn community_parts(community: &str) -> (u32, u32) {
    let mut it = community
        .split(':')
        .map(|p| p.parse::<u32>().expect("numeric community"));
    (it.next().unwrap(), it.next().expect("community high:low"))
}
