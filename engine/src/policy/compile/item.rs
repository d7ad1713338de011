//! Names of sets and policies, and their data paths.

use ocbgp_models::gen::{ListChange, ListKind};
use ocbgp_models::path::{quote, DataPath};

/// Data path of the routing-policy container.
pub const ROUTING_POLICY_PATH: &str = "/openconfig-routing-policy:routing-policy";

pub(super) const BGP_SETS: &str = "defined-sets/openconfig-bgp-policy:bgp-defined-sets";

/// The large community sets' container, under [`BGP_SETS`].
pub(super) const LARGE_SETS: &str = "ocbgp:large-community-sets";

/// A defined set or a policy definition, by kind and name (names are
/// unique per kind only).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    /// A prefix-set.
    PrefixSet(String),
    /// A neighbor-set.
    NeighborSet(String),
    /// A tag-set.
    TagSet(String),
    /// A community-set.
    CommunitySet(String),
    /// An ext-community-set.
    ExtCommunitySet(String),
    /// An as-path-set.
    AsPathSet(String),
    /// An `ocbgp:large-community-set`.
    LargeCommunitySet(String),
    /// A policy-definition.
    Policy(String),
}

impl Item {
    /// The item's name.
    pub fn name(&self) -> &str {
        match self {
            Item::PrefixSet(n)
            | Item::NeighborSet(n)
            | Item::TagSet(n)
            | Item::CommunitySet(n)
            | Item::ExtCommunitySet(n)
            | Item::AsPathSet(n)
            | Item::LargeCommunitySet(n)
            | Item::Policy(n) => n,
        }
    }

    /// The item a configuration change touched, for the routing-policy
    /// lists (a prefix entry's set, a statement's policy).
    pub fn from_change(change: &ListChange) -> Option<Item> {
        let key = || change.keys.first().cloned();
        let parent = |list: &str| {
            let path = DataPath::parse(&change.path).ok()?;
            let seg = path.segments.iter().find(|s| s.name == list)?;
            seg.keys.first().map(|(_, v)| v.clone())
        };
        Some(match change.kind {
            ListKind::PrefixSet => Item::PrefixSet(key()?),
            ListKind::PrefixSetPrefix => Item::PrefixSet(parent("prefix-set")?),
            ListKind::NeighborSet => Item::NeighborSet(key()?),
            ListKind::TagSet => Item::TagSet(key()?),
            ListKind::CommunitySet => Item::CommunitySet(key()?),
            ListKind::ExtCommunitySet => Item::ExtCommunitySet(key()?),
            ListKind::AsPathSet => Item::AsPathSet(key()?),
            ListKind::LargeCommunitySet => Item::LargeCommunitySet(key()?),
            ListKind::PolicyDefinition => Item::Policy(key()?),
            ListKind::PolicyDefinitionStatement => Item::Policy(parent("policy-definition")?),
            _ => return None,
        })
    }

    /// The item's data path.
    pub fn path(&self) -> String {
        let q = quote(self.name());
        match self {
            Item::PrefixSet(_) => format!("{ROUTING_POLICY_PATH}/defined-sets/prefix-sets/prefix-set[name={q}]"),
            Item::NeighborSet(_) => {
                format!("{ROUTING_POLICY_PATH}/defined-sets/neighbor-sets/neighbor-set[name={q}]")
            }
            Item::TagSet(_) => format!("{ROUTING_POLICY_PATH}/defined-sets/tag-sets/tag-set[name={q}]"),
            Item::CommunitySet(_) => {
                format!("{ROUTING_POLICY_PATH}/{BGP_SETS}/community-sets/community-set[community-set-name={q}]")
            }
            Item::ExtCommunitySet(_) => format!(
                "{ROUTING_POLICY_PATH}/{BGP_SETS}/ext-community-sets/ext-community-set[ext-community-set-name={q}]"
            ),
            Item::AsPathSet(_) => {
                format!("{ROUTING_POLICY_PATH}/{BGP_SETS}/as-path-sets/as-path-set[as-path-set-name={q}]")
            }
            Item::LargeCommunitySet(_) => format!(
                "{ROUTING_POLICY_PATH}/{BGP_SETS}/{LARGE_SETS}/large-community-set[large-community-set-name={q}]"
            ),
            Item::Policy(_) => format!("{ROUTING_POLICY_PATH}/policy-definitions/policy-definition[name={q}]"),
        }
    }
}

pub(super) fn kind_name(item: &Item) -> &'static str {
    match item {
        Item::PrefixSet(_) => "prefix-set",
        Item::NeighborSet(_) => "neighbor-set",
        Item::TagSet(_) => "tag-set",
        Item::CommunitySet(_) => "community-set",
        Item::ExtCommunitySet(_) => "ext-community-set",
        Item::AsPathSet(_) => "as-path-set",
        Item::LargeCommunitySet(_) => "large-community-set",
        Item::Policy(_) => "policy-definition",
    }
}
