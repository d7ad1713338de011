//! The one route shape every daemon helper reports, so a test compares what
//! gobgpd, BIRD, FRR and ocbgpd hold with the same code.

use std::fmt;
use std::net::IpAddr;

/// An address family the lab's speakers exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 unicast (AFI 1, SAFI 1).
    Ipv4Unicast,
    /// IPv6 unicast (AFI 2, SAFI 1).
    Ipv6Unicast,
}

impl Family {
    /// The family of a prefix or address written as text (by its colon).
    pub fn of(prefix: &str) -> Family {
        if prefix.contains(':') {
            Family::Ipv6Unicast
        } else {
            Family::Ipv4Unicast
        }
    }

    /// The family of an address.
    pub fn of_addr(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4Unicast,
            IpAddr::V6(_) => Family::Ipv6Unicast,
        }
    }

    /// Both families.
    pub const ALL: [Family; 2] = [Family::Ipv4Unicast, Family::Ipv6Unicast];
}

/// The ORIGIN attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// IGP (0).
    Igp,
    /// EGP (1).
    Egp,
    /// INCOMPLETE (2).
    Incomplete,
}

impl Origin {
    /// From the attribute's wire value.
    pub fn from_code(code: u64) -> Option<Origin> {
        match code {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }

    /// From the names daemons print ("IGP", "igp", "i", "Incomplete", "?").
    pub fn from_name(name: &str) -> Option<Origin> {
        match name.trim().to_ascii_lowercase().as_str() {
            "igp" | "i" => Some(Origin::Igp),
            "egp" | "e" => Some(Origin::Egp),
            "incomplete" | "?" => Some(Origin::Incomplete),
            _ => None,
        }
    }

    /// The OpenConfig enumeration name (IGP, EGP, INCOMPLETE).
    pub fn openconfig(self) -> &'static str {
        match self {
            Origin::Igp => "IGP",
            Origin::Egp => "EGP",
            Origin::Incomplete => "INCOMPLETE",
        }
    }
}

/// One path to a prefix as a speaker holds it.
///
/// Communities are always numeric `"high:low"` (NO_EXPORT is
/// `"65535:65281"`), large communities `"ga:ld1:ld2"`, whatever the daemon
/// prints; `as_path` flattens all segments in order (AS_SET members too).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    /// The prefix, as the daemon writes it ("198.51.100.0/24").
    pub prefix: String,
    /// NEXT_HOP (or the MP_REACH next hop; the global one for IPv6).
    pub next_hop: Option<IpAddr>,
    /// AS numbers of the AS_PATH, flattened.
    pub as_path: Vec<u32>,
    /// ORIGIN.
    pub origin: Option<Origin>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// Standard communities, numeric "high:low".
    pub communities: Vec<String>,
    /// Large communities "ga:ld1:ld2".
    pub large_communities: Vec<String>,
    /// Whether the daemon marks this path as its best.
    pub best: bool,
    /// The neighbor the path came from; None when locally originated.
    pub from: Option<IpAddr>,
    /// Whether the daemon marks the path stale (graceful restart): gobgpd's
    /// `stale`, ocbgpd's `ocbgp:stale` route state, BIRD's `s` after the
    /// preference (BIRD shows it for long-lived stale paths only, not for
    /// paths kept over a plain graceful restart). Always false for FRR.
    pub stale: bool,
}

/// The LLGR_STALE community (RFC 9494), as [`Route::communities`] has it.
pub const LLGR_STALE: &str = "65535:6";
/// The NO_LLGR community (RFC 9494), as [`Route::communities`] has it.
pub const NO_LLGR: &str = "65535:7";

impl Route {
    /// The route's family (from its prefix).
    pub fn family(&self) -> Family {
        Family::of(&self.prefix)
    }

    /// Whether the path carries the LLGR_STALE community (65535:6).
    pub fn llgr_stale(&self) -> bool {
        self.communities.iter().any(|c| c == LLGR_STALE)
    }

    /// Whether the path carries `community` (any spelling
    /// [`normalize_community`] takes, e.g. "llgr-stale" or "65000:1").
    pub fn has_community(&self, community: &str) -> bool {
        let c = normalize_community(community);
        self.communities.contains(&c)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefix)?;
        if let Some(nh) = self.next_hop {
            write!(f, " nh {nh}")?;
        }
        write!(f, " path {:?}", self.as_path)?;
        if let Some(o) = self.origin {
            write!(f, " origin {}", o.openconfig())?;
        }
        if let Some(m) = self.med {
            write!(f, " med {m}")?;
        }
        if let Some(l) = self.local_pref {
            write!(f, " lp {l}")?;
        }
        if !self.communities.is_empty() {
            write!(f, " comm {}", self.communities.join(","))?;
        }
        if !self.large_communities.is_empty() {
            write!(f, " lcomm {}", self.large_communities.join(","))?;
        }
        if self.best {
            write!(f, " best")?;
        }
        if self.stale {
            write!(f, " stale")?;
        }
        match self.from {
            Some(from) => write!(f, " from {from}"),
            None => write!(f, " local"),
        }
    }
}

/// Formats a community value as "high:low".
pub fn community_string(value: u32) -> String {
    format!("{}:{}", value >> 16, value & 0xffff)
}

/// Normalises a community as daemons print it ("65000:1", "(65000,1)",
/// "no-export", "noExport", "NO_EXPORT", a bare u32) to "high:low".
pub fn normalize_community(text: &str) -> String {
    let t = text.trim().trim_start_matches('(').trim_end_matches(')');
    let key: String = t
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    let well_known = match key.as_str() {
        "noexport" => Some(0xFFFF_FF01),
        "noadvertise" => Some(0xFFFF_FF02),
        "noexportsubconfed" | "localas" => Some(0xFFFF_FF03),
        "nopeer" => Some(0xFFFF_FF04),
        "blackhole" => Some(0xFFFF_029A),
        "gracefulshutdown" => Some(0xFFFF_0000),
        "acceptown" => Some(0xFFFF_0001),
        "llgrstale" => Some(0xFFFF_0006),
        "nollgr" => Some(0xFFFF_0007),
        _ => None,
    };
    if let Some(v) = well_known {
        return community_string(v);
    }
    if let Ok(v) = t.parse::<u32>() {
        return community_string(v);
    }
    t.split([':', ','])
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(":")
}

/// Normalises a large community ("(65002, 3, 4)", "65002:3:4") to "a:b:c".
pub fn normalize_large_community(text: &str) -> String {
    text.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split([':', ','])
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(":")
}

/// Finds the best path to `prefix` (or the first, when none is marked best).
pub fn pick<'a>(routes: &'a [Route], prefix: &str) -> Option<&'a Route> {
    let mut paths = routes.iter().filter(|r| r.prefix == prefix);
    let all: Vec<&Route> = paths.by_ref().collect();
    all.iter().find(|r| r.best).or(all.first()).copied()
}

/// One line per route, for panic messages.
pub fn describe(routes: &[Route]) -> String {
    if routes.is_empty() {
        return "  (no routes)".to_string();
    }
    routes
        .iter()
        .map(|r| format!("  {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_normalise() {
        assert_eq!(normalize_community("(65000,1)"), "65000:1");
        assert_eq!(normalize_community("65000:1"), "65000:1");
        assert_eq!(normalize_community("no-export"), "65535:65281");
        assert_eq!(normalize_community("noExport"), "65535:65281");
        assert_eq!(normalize_community("4294967041"), "65535:65281");
        assert_eq!(community_string(4259840001), "65000:1");
        assert_eq!(normalize_large_community("(65002, 3, 4)"), "65002:3:4");
    }
}
