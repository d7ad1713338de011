//! The RIB's view of routing policy: something that takes a route and
//! returns the attributes to use, or rejects it. The policy engine
//! ([`crate::policy`]) implements it; the RIB only calls it.

use std::sync::Arc;

use ipnet::IpNet;

use super::attrs::{Attrs, Interner};
use super::path::PeerInfo;

/// A route as a policy sees it.
pub struct PolicyRoute<'a> {
    /// The prefix.
    pub prefix: IpNet,
    /// Its attributes (received ones on import, export's on export).
    pub attrs: &'a Attrs,
    /// Where it came from.
    pub source: &'a PeerInfo,
    /// Where it goes (export only).
    pub target: Option<&'a PeerInfo>,
    /// Our AS.
    pub local_asn: u32,
    /// The VRPs in force (origin validation of the route).
    pub vrps: &'a crate::rpki::Vrps,
}

/// Import or export policy of a peer or update group.
pub trait RoutePolicy: Send + Sync {
    /// The attributes to use for `route`, or `None` to reject it.
    fn apply(&self, route: &PolicyRoute<'_>, interner: &mut Interner) -> Option<Attrs>;

    /// Whether the outcome depends on the target peer (a neighbor-set
    /// condition on export): such a policy cannot be shared by a group.
    fn depends_on_target(&self) -> bool {
        false
    }
}

/// A policy shared between the RIB and its owner, with an identity: two
/// handles are the same policy only if they point to the same object.
#[derive(Clone)]
pub struct SharedPolicy(pub Arc<dyn RoutePolicy>);

impl SharedPolicy {
    /// An identity for group keys.
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }
}

/// The policies of one peer, as the RIB runs them.
#[derive(Clone, Debug, Default)]
pub struct PeerPolicies {
    /// Import policy; `None`: every route is accepted as received.
    pub import: Option<SharedPolicy>,
    /// Export policy; `None`: every route is sent.
    pub export: Option<SharedPolicy>,
    /// Add-path eligible-prefix policy, IPv4 and IPv6 unicast: the
    /// prefixes it accepts get several paths; `None`: every prefix does.
    pub add_path_eligible: [Option<SharedPolicy>; 2],
    /// Which stored routes the import policy is run again over: `None`
    /// all of them; `Some(prefixes)` only those within (empty: none, the
    /// import policy behaves as before).
    pub import_within: Option<Arc<[IpNet]>>,
}

impl std::fmt::Debug for SharedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedPolicy({:#x})", self.id())
    }
}

impl PartialEq for SharedPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for SharedPolicy {}
