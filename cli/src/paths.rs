//! The model paths the verbs read and write.

/// The BGP instance ocbgp runs.
pub const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// A path key value with `]` and `\` escaped (gNMI path strings).
pub fn key(value: &str) -> String {
    value.replace('\\', "\\\\").replace(']', "\\]")
}

/// The neighbor list, or one neighbor.
pub fn neighbor(addr: Option<&str>) -> String {
    match addr {
        Some(a) => format!("{BGP}/neighbors/neighbor[neighbor-address={}]", key(a)),
        None => format!("{BGP}/neighbors"),
    }
}

/// One originated route (ocbgp's extension).
pub fn originated(prefix: &str) -> String {
    format!(
        "{BGP}/global/ocbgp:originated-routes/route[prefix={}]",
        key(prefix)
    )
}

/// An address family's RIB container, `ipv4-unicast` or `ipv6-unicast`.
pub fn family_rib(family: Family) -> String {
    format!(
        "{BGP}/rib/afi-safis/afi-safi[afi-safi-name={}]/{}",
        family.identity(),
        family.container()
    )
}

/// The address families the CLI knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    /// IPv4 unicast.
    Ipv4,
    /// IPv6 unicast.
    Ipv6,
}

impl Family {
    /// The OpenConfig identity (without module).
    pub fn identity(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPV4_UNICAST",
            Family::Ipv6 => "IPV6_UNICAST",
        }
    }

    /// The RIB container name.
    pub fn container(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4-unicast",
            Family::Ipv6 => "ipv6-unicast",
        }
    }

    /// The family of an address.
    pub fn of(addr: std::net::IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }

    /// The families to show: the one asked for, or both.
    pub fn selected(f: Option<Family>) -> Vec<Family> {
        f.map_or_else(|| vec![Family::Ipv4, Family::Ipv6], |f| vec![f])
    }
}
