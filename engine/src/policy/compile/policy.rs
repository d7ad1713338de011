//! Compiling policy definitions: statements, conditions, call-policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ocbgp_models::gen::config as cfg;
use ocbgp_models::gen::types::{
    AfiSafiType, AttributeComparison, BgpOriginAttrType, MatchSetOptionsRestrictedType,
    MatchSetOptionsType, PolicyResultType, RouteType,
};
use ocbgp_models::path::quote;

use super::super::actions::{Action, NextHopAction};
use super::super::conditions::{Cmp, Condition, SetMatch};
use super::super::sets::digest;
use super::super::sets::{digest_hash, next_id};
use super::super::{Outcome, Policy, Statement, MAX_CALL_DEPTH};
use super::item::kind_name;
use super::{problem, Item, Policies};
use crate::config::Problem;
use crate::rib::SourceKind;
use crate::wire::Origin;

/// Compiles policy definitions in call order.
pub(super) struct Compiler<'a> {
    pub(super) sets: &'a Policies,
    pub(super) defs: HashMap<&'a str, &'a cfg::PolicyDefinition>,
    pub(super) done: BTreeMap<String, Arc<Policy>>,
    /// Call depth of each compiled policy (1: calls nothing).
    pub(super) depth: HashMap<String, usize>,
    /// Policies being compiled, outermost first (for loop detection).
    pub(super) stack: Vec<String>,
}

fn set_match(o: MatchSetOptionsType) -> SetMatch {
    match o {
        MatchSetOptionsType::Any => SetMatch::Any,
        MatchSetOptionsType::All => SetMatch::All,
        MatchSetOptionsType::Invert => SetMatch::Invert,
    }
}

fn inverted(o: MatchSetOptionsRestrictedType) -> bool {
    o == MatchSetOptionsRestrictedType::Invert
}

fn cmp(c: &cfg::CommunityCountConfig, at: &str) -> Result<Option<(Cmp, u32)>, Problem> {
    count(c.operator, c.value, at)
}

fn count(
    op: Option<AttributeComparison>,
    value: Option<u32>,
    at: &str,
) -> Result<Option<(Cmp, u32)>, Problem> {
    match (op, value) {
        (None, None) => Ok(None),
        (Some(op), Some(v)) => Ok(Some((
            match op {
                AttributeComparison::AttributeEq => Cmp::Eq,
                AttributeComparison::AttributeGe => Cmp::Ge,
                AttributeComparison::AttributeLe => Cmp::Le,
            },
            v,
        ))),
        _ => Err(problem(
            format!("{at}/config"),
            "a comparison needs both operator and value",
        )),
    }
}

pub(super) fn origin(o: BgpOriginAttrType) -> Origin {
    match o {
        BgpOriginAttrType::Igp => Origin::Igp,
        BgpOriginAttrType::Egp => Origin::Egp,
        BgpOriginAttrType::Incomplete => Origin::Incomplete,
    }
}

impl Compiler<'_> {
    pub(super) fn policy(
        &mut self,
        name: &str,
        called_at: Option<&str>,
    ) -> Result<Arc<Policy>, Problem> {
        if let Some(p) = self.done.get(name) {
            return Ok(p.clone());
        }
        let path = Item::Policy(name.to_string()).path();
        if let Some(i) = self.stack.iter().position(|n| n == name) {
            let mut cycle: Vec<&str> = self.stack[i..].iter().map(String::as_str).collect();
            cycle.push(name);
            return Err(problem(
                called_at.unwrap_or(&path).to_string(),
                format!("call-policy loop: {}", cycle.join(" -> ")),
            ));
        }
        let def = *self.defs.get(name).ok_or_else(|| {
            problem(
                called_at.unwrap_or(&path).to_string(),
                format!("no policy-definition named {name:?}"),
            )
        })?;
        self.stack.push(name.to_string());
        let mut statements = Vec::with_capacity(def.statements.len());
        let mut uses = Vec::new();
        let mut depth = 1;
        for st in &def.statements {
            let at = format!("{path}/statements/statement[name={}]", quote(&st.name));
            let (s, d) = self.statement(&at, st, &mut uses)?;
            depth = depth.max(d);
            statements.push(s);
        }
        self.stack.pop();
        if depth > MAX_CALL_DEPTH {
            return Err(problem(
                path,
                format!("call-policy nests deeper than {MAX_CALL_DEPTH}"),
            ));
        }
        uses.sort();
        uses.dedup();
        let deps: Vec<(&Item, Option<u64>)> = uses
            .iter()
            .map(|i| {
                let fp = match i {
                    Item::Policy(n) => self.done.get(n).map(|p| p.fingerprint),
                    _ => self.sets.fingerprint(i),
                };
                (i, fp)
            })
            .collect();
        let fingerprint = digest_hash(&(digest(def), deps));
        let uses_neighbor = statements.iter().any(|s| {
            s.conditions.iter().any(|c| c.uses_neighbor())
                || s.actions
                    .iter()
                    .any(|a| matches!(a, Action::NextHop(NextHopAction::Peer)))
        });
        let policy = Arc::new(Policy {
            name: name.to_string(),
            statements,
            fingerprint,
            uses,
            uses_neighbor,
        });
        self.depth.insert(name.to_string(), depth);
        self.done.insert(name.to_string(), policy.clone());
        Ok(policy)
    }

    /// One statement; also returns its call depth.
    fn statement(
        &mut self,
        at: &str,
        st: &cfg::Statement,
        uses: &mut Vec<Item>,
    ) -> Result<(Statement, usize), Problem> {
        let mut conditions = Vec::new();
        let mut depth = 1;
        let c = &st.conditions;
        let cat = format!("{at}/conditions");
        if let Some(callee) = &c.config.call_policy {
            let p = self.policy(callee, Some(&format!("{cat}/config/call-policy")))?;
            depth = 1 + self.depth.get(callee).copied().unwrap_or(1);
            uses.push(Item::Policy(callee.clone()));
            conditions.push(Condition::Call(p));
        }
        if let Some(p) = c.config.install_protocol_eq {
            conditions.push(Condition::InstallProtocol(p));
        }
        if let Some(n) = &c.match_prefix_set.config.prefix_set {
            let set = self.lookup(
                &self.sets.prefix_sets,
                Item::PrefixSet(n.clone()),
                &cat,
                "match-prefix-set",
                uses,
            )?;
            conditions.push(Condition::Prefix(
                set,
                inverted(c.match_prefix_set.config.match_set_options),
            ));
        }
        if let Some(n) = &c.match_neighbor_set.config.neighbor_set {
            let set = self.lookup(
                &self.sets.neighbor_sets,
                Item::NeighborSet(n.clone()),
                &cat,
                "match-neighbor-set",
                uses,
            )?;
            conditions.push(Condition::Neighbor(
                set,
                inverted(c.match_neighbor_set.config.match_set_options),
            ));
        }
        if let Some(n) = &c.match_tag_set.config.tag_set {
            let set = self.lookup(
                &self.sets.tag_sets,
                Item::TagSet(n.clone()),
                &cat,
                "match-tag-set",
                uses,
            )?;
            conditions.push(Condition::Tag(
                set,
                inverted(c.match_tag_set.config.match_set_options),
            ));
        }
        self.bgp_conditions(
            &format!("{cat}/openconfig-bgp-policy:bgp-conditions"),
            &c.bgp_conditions,
            &mut conditions,
            uses,
        )?;
        conditions.sort_by_key(Condition::rank);

        let aat = format!("{at}/actions");
        let outcome = match st.actions.config.policy_result {
            PolicyResultType::AcceptRoute => Outcome::Accept,
            PolicyResultType::RejectRoute => Outcome::Reject,
            PolicyResultType::NextStatement => Outcome::Next,
        };
        let mut actions = self.bgp_actions(
            &format!("{aat}/openconfig-bgp-policy:bgp-actions"),
            &st.actions.bgp_actions,
            uses,
        )?;
        if let Some(tags) = self.set_tag(&format!("{aat}/set-tag"), &st.actions.set_tag, uses)? {
            actions.push(Action::Tags(tags));
        }
        Ok((
            Statement {
                id: next_id(),
                name: st.name.clone(),
                conditions,
                actions,
                outcome,
            },
            depth,
        ))
    }

    /// Looks a set up by name, recording the use.
    pub(super) fn lookup<T>(
        &self,
        table: &BTreeMap<String, Arc<T>>,
        item: Item,
        at: &str,
        leaf: &str,
        uses: &mut Vec<Item>,
    ) -> Result<Arc<T>, Problem> {
        let set = table.get(item.name()).cloned().ok_or_else(|| {
            problem(
                format!("{at}/{leaf}"),
                format!("no {} named {:?}", kind_name(&item), item.name()),
            )
        })?;
        uses.push(item);
        Ok(set)
    }

    fn bgp_conditions(
        &self,
        at: &str,
        b: &cfg::BgpConditions,
        out: &mut Vec<Condition>,
        uses: &mut Vec<Item>,
    ) -> Result<(), Problem> {
        let c = &b.config;
        if let Some(v) = c.med_eq {
            out.push(Condition::MedEq(v));
        }
        if let Some(o) = c.origin_eq {
            out.push(Condition::OriginEq(origin(o)));
        }
        if !c.next_hop_in.is_empty() {
            out.push(Condition::NextHopIn(c.next_hop_in.clone()));
        }
        if !c.afi_safi_in.is_empty() {
            out.push(Condition::Family(
                c.afi_safi_in.contains(&AfiSafiType::Ipv4Unicast),
                c.afi_safi_in.contains(&AfiSafiType::Ipv6Unicast),
            ));
        }
        if let Some(v) = c.local_pref_eq {
            out.push(Condition::LocalPrefEq(v));
        }
        if let Some(v) = c.rpki_validation_result {
            use ocbgp_models::gen::types::RpkiValidationState as S;
            out.push(Condition::Rpki(match v {
                S::Valid => crate::rpki::Validation::Valid,
                S::Invalid => crate::rpki::Validation::Invalid,
                S::NotFound => crate::rpki::Validation::NotFound,
            }));
        }
        if let Some(t) = c.route_type {
            out.push(Condition::RouteType(match t {
                RouteType::Internal => SourceKind::Internal,
                RouteType::External => SourceKind::External,
            }));
        }
        // The deprecated leaves: matched as the set's own (deprecated)
        // match-set-options say.
        if let Some(n) = &c.community_set {
            let set = self.lookup(
                &self.sets.community_sets,
                Item::CommunitySet(n.clone()),
                at,
                "config/community-set",
                uses,
            )?;
            let how = if set.invert_removal {
                SetMatch::Invert
            } else {
                SetMatch::Any
            };
            out.push(Condition::Community(set, how));
        }
        if let Some(n) = &c.ext_community_set {
            let set = self.lookup(
                &self.sets.ext_community_sets,
                Item::ExtCommunitySet(n.clone()),
                at,
                "config/ext-community-set",
                uses,
            )?;
            let how = if set.invert_removal {
                SetMatch::Invert
            } else {
                SetMatch::Any
            };
            out.push(Condition::ExtCommunity(set, how));
        }
        if let Some((op, v)) = cmp(&b.community_count.config, &format!("{at}/community-count"))? {
            out.push(Condition::CommunityCount(op, v));
        }
        let e = &b.ext_community_count.config;
        if let Some((op, v)) = count(e.operator, e.value, &format!("{at}/ext-community-count"))? {
            out.push(Condition::ExtCommunityCount(op, v));
        }
        let l = &b.as_path_length.config;
        if let Some((op, v)) = count(l.operator, l.value, &format!("{at}/as-path-length"))? {
            out.push(Condition::AsPathLength(op, v));
        }
        let m = &b.match_as_path_set.config;
        if let Some(n) = &m.as_path_set {
            let set = self.lookup(
                &self.sets.as_path_sets,
                Item::AsPathSet(n.clone()),
                at,
                "match-as-path-set",
                uses,
            )?;
            out.push(Condition::AsPath(set, set_match(m.match_set_options)));
        }
        let m = &b.match_community_set.config;
        if let Some(n) = &m.community_set {
            let set = self.lookup(
                &self.sets.community_sets,
                Item::CommunitySet(n.clone()),
                at,
                "match-community-set",
                uses,
            )?;
            out.push(Condition::Community(set, set_match(m.match_set_options)));
        }
        let m = &b.match_ext_community_set.config;
        if let Some(n) = &m.ext_community_set {
            let set = self.lookup(
                &self.sets.ext_community_sets,
                Item::ExtCommunitySet(n.clone()),
                at,
                "match-ext-community-set",
                uses,
            )?;
            out.push(Condition::ExtCommunity(set, set_match(m.match_set_options)));
        }
        let m = &b.match_large_community_set.config;
        if let Some(n) = &m.large_community_set {
            let set = self.lookup(
                &self.sets.large_community_sets,
                Item::LargeCommunitySet(n.clone()),
                at,
                "ocbgp:match-large-community-set",
                uses,
            )?;
            out.push(Condition::LargeCommunity(
                set,
                set_match(m.match_set_options),
            ));
        }
        Ok(())
    }
}
