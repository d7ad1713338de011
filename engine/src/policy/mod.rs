//! Routing policy: the OpenConfig `routing-policy` tree compiled into
//! structures that evaluate a route in well under a microsecond.
//!
//! * [`Policies::compile`] reads every defined set and policy definition of
//!   a configuration tree; [`Policies::update`] does the same reusing the
//!   sets a change set did not touch (a one-entry change to a 100,000-entry
//!   prefix set patches a copy instead of reading the tree again).
//! * [`Policies::chain`] builds a [`Chain`]: an import or export policy
//!   list with its default (`default-import-policy` /
//!   `default-export-policy`). A chain holds `Arc`s of everything it uses,
//!   so it stays valid and unchanged while newer compiles come and go.
//! * [`Chain::evaluate`] runs a [`RouteIn`] through the chain and returns a
//!   [`Verdict`]: accepted with the (interned) attributes, or rejected.
//!
//! # Evaluation (OpenConfig semantics)
//!
//! Policies run in chain order, statements in configured order. A
//! statement whose conditions all hold (no conditions: always) applies its
//! actions, then its `policy-result` decides: `ACCEPT_ROUTE` and
//! `REJECT_ROUTE` end the whole chain; `NEXT_STATEMENT` (the default) goes
//! on with the next statement. A policy whose statements run out hands the
//! route, with every change made so far, to the next policy; when the chain
//! runs out, the chain's default decides. Changes made by statements that
//! matched before the final decision all apply.
//!
//! `call-policy` runs the named policy as a condition, first among the
//! statement's conditions: it holds if that policy accepts the route (or
//! ends without a decision while the chain's default is accept), and the
//! called policy's changes stay on the route whatever it decides. Call
//! loops, and call chains deeper than [`MAX_CALL_DEPTH`], are compile
//! errors.
//!
//! # What the conditions look at
//!
//! * `match-neighbor-set`: the target peer's address when
//!   [`RouteIn::target`] is set (export), otherwise the source peer's
//!   (import). An export chain that uses it answers true to
//!   [`Chain::depends_on_target`] and must be evaluated per target.
//! * `install-protocol-eq`: `BGP` for routes learned from peers, `STATIC`
//!   for the routes we originate (`ocbgp:originated-routes`); other
//!   protocols never match.
//! * `route-type`: `INTERNAL` / `EXTERNAL` by the source peer's kind; our
//!   own routes are neither.
//! * `afi-safi-in`: `IPV4_UNICAST` or `IPV6_UNICAST` from the prefix.
//! * `med-eq`, `local-pref-eq`: an absent attribute never equals.
//! * `match-tag-set`: routes carry no tags on the wire; a tag exists only
//!   when a `set-tag` earlier in the same evaluation set it, so ANY never
//!   matches an untagged route and INVERT always does.
//! * Community, extended community and AS-path sets: see [`sets`] for the
//!   member forms and the AS-path regular-expression dialect.
//!
//! # Actions
//!
//! Applied in this order within a statement: origin, local-pref, MED, next
//! hop, AS-path prepend, communities, extended communities, tag.
//!
//! * `set-next-hop` `SELF` clears the next hop (`PathAttrs::next_hop =
//!   None`), the RIB's marker for "this speaker's own address": export
//!   must put the session's local address there. On import it makes the
//!   route behave like one of ours, advertised with next-hop-self to every
//!   peer. `PEER_ADDRESS` writes the neighbor's address (target on
//!   export, source on import) and also makes the chain target-dependent.
//! * `set-med`: `SET`, `ADD` or `SUBTRACT` the operand (saturating at 0 and
//!   2^32-1; an absent MED counts as 0). `IGP` is refused at compile time:
//!   ocbgp knows no IGP metric.
//! * `set-as-path-prepend`: `asn`, else the first AS of the path with
//!   `use-last-as` (nothing is prepended to an empty path), else our AS;
//!   `repeat-n` times (default 1).
//! * `set-community` / `set-ext-community` / `ocbgp:set-large-community`:
//!   `ADD` appends what is missing,
//!   `REMOVE` takes off every community matching a member (regular
//!   expressions included; with a set whose deprecated
//!   `match-set-options` is `INVERT`, every community *not* matching),
//!   `REPLACE` makes the given communities the only ones. `ADD` and
//!   `REPLACE` with a regular-expression member are compile errors.
//!   Each touches its own kind of community only.
//! * `set-tag` is recorded for the rest of the evaluation (for
//!   `match-tag-set`); it has no effect on the wire.
//! * `set-aigp` is not in the schema (ocbgp-deviations): ocbgp does not
//!   carry AIGP.
//!
//! # Caching
//!
//! Most routes share their attribute set with others (about seven routes
//! per set in a full table). Results of regular-expression and community
//! set matches depend on the attributes only, and an [`EvalCache`] keeps
//! them per attribute set (keyed by the `Arc`'s address, which a weak
//! reference pins). [`Chain::evaluate`] uses a small cache of its own;
//! batch callers (soft reconfiguration) pass a larger one to
//! [`Chain::evaluate_with`]. Evaluation that changes nothing allocates
//! nothing and returns the same `Arc`.
//!
//! # State
//!
//! OpenConfig's routing-policy model has no counters or other operational
//! state beyond the `state` mirrors of the configuration, so there are
//! none here.

#![warn(missing_docs)]

mod actions;
mod compile;
mod conditions;
mod eval;
mod rib;
pub mod sets;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use ocbgp_models::gen::types::DefaultPolicyType;

pub use compile::{Item, Policies, ROUTING_POLICY_PATH};
pub use eval::{Chain, EvalCache};

use crate::rib::{Attrs, PeerInfo};

/// How deep `call-policy` may nest.
pub const MAX_CALL_DEPTH: usize = 32;

/// A route as a policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct RouteIn<'a> {
    /// The prefix.
    pub prefix: IpNet,
    /// Its attributes: as received on import, as they would be sent on
    /// export.
    pub attrs: &'a Attrs,
    /// The peer the route came from (the local entry for our own routes).
    pub source: &'a PeerInfo,
    /// The peer the route goes to, on export. `None` on import, and on
    /// export for chains that do not [depend on the
    /// target](Chain::depends_on_target).
    pub target: Option<&'a PeerInfo>,
    /// Our AS (the default AS to prepend).
    pub local_asn: u32,
    /// The VRPs in force, for conditions on origin validation (`None`:
    /// every route is NOT_FOUND).
    pub vrps: Option<&'a crate::rpki::Vrps>,
}

impl RouteIn<'_> {
    /// The route's origin validation state (RFC 6811).
    pub fn validation(&self) -> crate::rpki::Validation {
        match self.vrps {
            Some(v) if !v.is_empty() => v.validate(
                self.prefix,
                crate::rpki::origin_as(self.attrs.attrs.as_path.as_ref(), self.local_asn),
            ),
            _ => crate::rpki::Validation::NotFound,
        }
    }
}

impl RouteIn<'_> {
    /// The peer `match-neighbor-set` and `PEER_ADDRESS` look at.
    pub fn neighbor(&self) -> &PeerInfo {
        self.target.unwrap_or(self.source)
    }

    /// The neighbor's address.
    pub fn neighbor_address(&self) -> IpAddr {
        self.neighbor().address
    }
}

/// The outcome of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted, with these attributes (interned; the input `Arc` itself
    /// when nothing changed).
    Accept(Attrs),
    /// Rejected.
    Reject,
}

impl Verdict {
    /// The attributes, if accepted.
    pub fn accepted(self) -> Option<Attrs> {
        match self {
            Verdict::Accept(a) => Some(a),
            Verdict::Reject => None,
        }
    }

    /// Whether the route was accepted.
    pub fn is_accept(&self) -> bool {
        matches!(self, Verdict::Accept(_))
    }
}

/// A chain's default decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultPolicy {
    /// ACCEPT_ROUTE.
    Accept,
    /// REJECT_ROUTE (the model's default).
    Reject,
}

impl From<DefaultPolicyType> for DefaultPolicy {
    fn from(t: DefaultPolicyType) -> DefaultPolicy {
        match t {
            DefaultPolicyType::AcceptRoute => DefaultPolicy::Accept,
            DefaultPolicyType::RejectRoute => DefaultPolicy::Reject,
        }
    }
}

/// What a statement does after its actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Accept,
    Reject,
    Next,
}

/// A compiled statement.
#[derive(Debug)]
pub(crate) struct Statement {
    /// Unique per compiled statement (process-wide): the memo of changed
    /// attributes is keyed by the statements whose actions ran.
    pub(crate) id: u64,
    pub(crate) name: String,
    /// Conditions in evaluation order (call-policy first, cheap ones next).
    pub(crate) conditions: Vec<conditions::Condition>,
    pub(crate) actions: Vec<actions::Action>,
    pub(crate) outcome: Outcome,
}

/// A compiled policy definition.
#[derive(Debug)]
pub struct Policy {
    pub(crate) name: String,
    pub(crate) statements: Vec<Statement>,
    /// Digest of the definition and, transitively, of everything it uses.
    pub(crate) fingerprint: u64,
    /// Sets and policies used directly.
    pub(crate) uses: Vec<Item>,
    /// Uses the target peer (neighbor sets, PEER_ADDRESS), directly or
    /// through call-policy.
    pub(crate) uses_neighbor: bool,
}

impl Policy {
    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Names of its statements, in order.
    pub fn statement_names(&self) -> impl Iterator<Item = &str> {
        self.statements.iter().map(|s| s.name.as_str())
    }

    /// Digest of the definition and of every set and policy it uses,
    /// transitively: equal fingerprints mean equal behaviour.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The sets and policies the definition names directly.
    pub fn uses(&self) -> &[Item] {
        &self.uses
    }
}

/// Shorthand used across the module.
pub(crate) type PolicyRef = Arc<Policy>;
