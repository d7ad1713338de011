//! A route of our own, as [`BgpServer::add_path`](super::BgpServer::add_path)
//! announces it.

use std::net::IpAddr;

use ipnet::IpNet;

use super::ServerError;
use crate::rib::PathAttrs;
use crate::wire::{AsPath, Community, LargeCommunity, NextHop, Origin};

/// A prefix with the attributes we announce it with (GoBGP's `Path` with
/// its `Pattrs`). [`Route::new`] gives ORIGIN IGP, an empty AS_PATH (our
/// AS goes in front toward external peers) and next hop self; the builder
/// methods set the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The prefix (host bits cleared).
    pub prefix: IpNet,
    /// Its attributes; `next_hop` `None` is next hop self.
    pub attrs: PathAttrs,
}

impl Route {
    /// `prefix` with the defaults above.
    pub fn new(prefix: IpNet) -> Route {
        Route {
            prefix: prefix.trunc(),
            attrs: PathAttrs::originated(Origin::Igp),
        }
    }

    /// The next hop: kept toward external peers too (as GoBGP does). An
    /// IPv4 prefix may have an IPv6 next hop (RFC 8950), not the reverse.
    #[must_use]
    pub fn next_hop(mut self, address: IpAddr) -> Route {
        self.attrs.next_hop = Some(NextHop::from(address));
        self
    }

    /// ORIGIN.
    #[must_use]
    pub fn origin(mut self, origin: Origin) -> Route {
        self.attrs.attrs.origin = Some(origin);
        self
    }

    /// AS_PATH: one AS_SEQUENCE, nearest AS first.
    #[must_use]
    pub fn as_path(mut self, asns: impl IntoIterator<Item = u32>) -> Route {
        self.attrs.attrs.as_path = Some(AsPath::from_sequence(asns));
        self
    }

    /// MULTI_EXIT_DISC.
    #[must_use]
    pub fn med(mut self, med: u32) -> Route {
        self.attrs.attrs.med = Some(med);
        self
    }

    /// LOCAL_PREF (sent to internal peers only).
    #[must_use]
    pub fn local_pref(mut self, local_pref: u32) -> Route {
        self.attrs.attrs.local_pref = Some(local_pref);
        self
    }

    /// Adds standard communities (RFC 1997), e.g. `Community::new(65000, 100)`.
    #[must_use]
    pub fn communities(mut self, communities: impl IntoIterator<Item = Community>) -> Route {
        self.attrs.attrs.communities.extend(communities);
        self
    }

    /// Adds large communities (RFC 8092); duplicates are dropped.
    #[must_use]
    pub fn large_communities(
        mut self,
        communities: impl IntoIterator<Item = LargeCommunity>,
    ) -> Route {
        let list = &mut self.attrs.attrs.large_communities;
        for c in communities {
            if !list.contains(&c) {
                list.push(c);
            }
        }
        self
    }

    /// What cannot be announced.
    pub(super) fn check(&self) -> Result<(), ServerError> {
        match (self.prefix, self.attrs.next_hop) {
            (IpNet::V6(_), Some(NextHop::V4(a))) => Err(ServerError::NextHop {
                prefix: self.prefix,
                next_hop: IpAddr::V4(a),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_the_attributes_and_check_refuses_a_v4_next_hop_for_v6() {
        let r = Route::new("10.0.0.1/24".parse().unwrap())
            .next_hop("192.0.2.1".parse().unwrap())
            .as_path([65001, 65002])
            .med(5)
            .communities([Community::new(65000, 1)])
            .large_communities(
                [LargeCommunity {
                    global_admin: 1,
                    local_data1: 2,
                    local_data2: 3,
                }; 2],
            );
        assert_eq!(r.prefix.to_string(), "10.0.0.0/24");
        assert_eq!(r.attrs.attrs.origin, Some(Origin::Igp));
        assert_eq!(r.attrs.attrs.as_path.as_ref().map(|p| p.length()), Some(2));
        assert_eq!(r.attrs.attrs.large_communities.len(), 1);
        assert!(r.check().is_ok());
        let v6 =
            Route::new("2001:db8::/32".parse().unwrap()).next_hop("192.0.2.1".parse().unwrap());
        assert!(matches!(v6.check(), Err(ServerError::NextHop { .. })));
    }
}
