//! From the `routing-policy` tree to compiled sets and policies.

mod actions;
mod item;
mod policy;

pub use item::{Item, ROUTING_POLICY_PATH};
use item::{BGP_SETS, LARGE_SETS};
use policy::Compiler;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ipnet::IpNet;
use ocbgp_models::gen::config as cfg;
use ocbgp_models::gen::types::{MatchSetOptionsType, PrefixSetMode};
use ocbgp_models::gen::{ChangeSet, FromNode, ListChange, ListKind, Op};
use ocbgp_models::path::quote;
use ocbgp_models::ModelError;
use yang2::data::{Data, DataTree};

use super::sets::aspath::AsPathSet;
use super::sets::community::{CommunitySet, ExtCommunitySet};
use super::sets::large::LargeCommunitySet;
use super::sets::prefix::{Mode, PrefixSet};
use super::sets::{NeighborSet, Tag, TagSet};
use super::{Chain, DefaultPolicy, Policy};
use crate::config::Problem;

pub(super) fn problem(path: impl Into<String>, reason: impl Into<String>) -> Problem {
    Problem {
        path: Some(path.into()),
        reason: reason.into(),
    }
}

fn model(e: ModelError) -> Problem {
    Problem {
        path: e.path.clone(),
        reason: e.message,
    }
}

/// Every compiled set and policy of one configuration.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    generation: u64,
    prefix_sets: BTreeMap<String, Arc<PrefixSet>>,
    neighbor_sets: BTreeMap<String, Arc<NeighborSet>>,
    tag_sets: BTreeMap<String, Arc<TagSet>>,
    community_sets: BTreeMap<String, Arc<CommunitySet>>,
    ext_community_sets: BTreeMap<String, Arc<ExtCommunitySet>>,
    as_path_sets: BTreeMap<String, Arc<AsPathSet>>,
    large_community_sets: BTreeMap<String, Arc<LargeCommunitySet>>,
    policies: BTreeMap<String, Arc<Policy>>,
    /// When [`Policies::update`] changed nothing but prefix-set entries:
    /// the generation it started from and the entries' prefixes.
    entries_changed: Option<(u64, Arc<[IpNet]>)>,
}

fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The entries of the list at `xpath` (none if the list is absent).
fn entries<T: FromNode>(tree: &DataTree<'static>, xpath: &str) -> Result<Vec<T>, Problem> {
    // ly::find frees libyang's result set (yang2's find_xpath leaks it).
    let Ok(set) = ocbgp_models::ly::find(tree, xpath) else {
        return Ok(Vec::new());
    };
    set.iter().map(|n| T::from_node(n).map_err(model)).collect()
}

/// One entry at `path`, or `None` if it is not in the tree.
fn entry<T: FromNode>(tree: &DataTree<'static>, path: &str) -> Result<Option<T>, Problem> {
    match tree.find_path(path) {
        Ok(node) => T::from_node(&node).map(Some).map_err(model),
        Err(_) => Ok(None),
    }
}

impl Policies {
    /// No sets, no policies.
    pub fn empty() -> Policies {
        Policies {
            generation: next_generation(),
            ..Policies::default()
        }
    }

    /// Compiles every set and policy definition under
    /// `/openconfig-routing-policy:routing-policy` of `tree`. A problem
    /// names the data path at fault.
    pub fn compile(tree: &DataTree<'static>) -> Result<Policies, Problem> {
        let mut p = Policies::empty();
        let root = ROUTING_POLICY_PATH;
        let sets = format!("{root}/{BGP_SETS}");
        for s in
            entries::<cfg::PrefixSet>(tree, &format!("{root}/defined-sets/prefix-sets/prefix-set"))?
        {
            p.prefix_sets
                .insert(s.name.clone(), Arc::new(prefix_set(&s)?));
        }
        for s in entries::<cfg::NeighborSet>(
            tree,
            &format!("{root}/defined-sets/neighbor-sets/neighbor-set"),
        )? {
            p.neighbor_sets.insert(
                s.name.clone(),
                Arc::new(NeighborSet::new(&s.name, s.config.address.clone())),
            );
        }
        for s in entries::<cfg::TagSet>(tree, &format!("{root}/defined-sets/tag-sets/tag-set"))? {
            p.tag_sets.insert(s.name.clone(), Arc::new(tag_set(&s)?));
        }
        for s in
            entries::<cfg::CommunitySet>(tree, &format!("{sets}/community-sets/community-set"))?
        {
            p.community_sets
                .insert(s.community_set_name.clone(), Arc::new(community_set(&s)?));
        }
        for s in entries::<cfg::ExtCommunitySet>(
            tree,
            &format!("{sets}/ext-community-sets/ext-community-set"),
        )? {
            p.ext_community_sets.insert(
                s.ext_community_set_name.clone(),
                Arc::new(ext_community_set(&s)?),
            );
        }
        for s in entries::<cfg::AsPathSet>(tree, &format!("{sets}/as-path-sets/as-path-set"))? {
            p.as_path_sets
                .insert(s.as_path_set_name.clone(), Arc::new(as_path_set(&s)?));
        }
        for s in entries::<cfg::LargeCommunitySet>(
            tree,
            &format!("{sets}/{LARGE_SETS}/large-community-set"),
        )? {
            p.large_community_sets.insert(
                s.large_community_set_name.clone(),
                Arc::new(large_community_set(&s)?),
            );
        }
        p.compile_policies(tree)?;
        Ok(p)
    }

    /// Compiles `tree` reusing the sets of `self` that `changes` (the
    /// change set from `self`'s tree to `tree`) did not touch. Entries
    /// added to or removed from a prefix set are applied to a copy of the
    /// compiled set. Policy definitions are always compiled again (they
    /// are small). The result is what [`Policies::compile`] would give.
    pub fn update(
        &self,
        tree: &DataTree<'static>,
        changes: &ChangeSet,
    ) -> Result<Policies, Problem> {
        let mut p = self.clone();
        p.generation = next_generation();
        // Whether the change is prefix-set entries and nothing else of
        // routing policy (see `changed_within`).
        let mut entries_only = !changes
            .containers
            .iter()
            .any(|c| c.path.starts_with(ROUTING_POLICY_PATH));
        // Prefix sets: whole-set changes, and entry deltas per set.
        let mut whole: BTreeSet<Item> = BTreeSet::new();
        let mut deltas: BTreeMap<String, Vec<&ListChange>> = BTreeMap::new();
        for c in &changes.lists {
            let Some(item) = Item::from_change(c) else {
                entries_only &= !c.path.starts_with(ROUTING_POLICY_PATH);
                continue;
            };
            match (c.kind, c.op) {
                (ListKind::PrefixSetPrefix, _) => {
                    deltas.entry(item.name().to_string()).or_default().push(c)
                }
                (ListKind::PrefixSet, Op::Modified) => {
                    // Entry changes mark the set modified too; only a
                    // changed mode needs the whole set read again.
                    let mode =
                        entry::<cfg::PrefixSetConfig>(tree, &format!("{}/config", item.path()))?
                            .and_then(|c| c.mode);
                    match p.prefix_sets.get(item.name()) {
                        Some(old) if old.mode() == mode_of(mode) => {}
                        _ => {
                            whole.insert(item);
                        }
                    }
                }
                (ListKind::PolicyDefinition | ListKind::PolicyDefinitionStatement, _) => {
                    entries_only = false;
                }
                _ => {
                    whole.insert(item);
                }
            }
        }
        let mut nets = Vec::new();
        for (name, list) in deltas {
            let item = Item::PrefixSet(name.clone());
            if whole.contains(&item) {
                continue;
            }
            let Some(old) = p.prefix_sets.get(&name) else {
                whole.insert(item);
                continue;
            };
            let mut set = PrefixSet::clone(old);
            for c in list {
                let (Some(prefix), Some(range)) = (
                    c.keys.first().and_then(|k| k.parse::<IpNet>().ok()),
                    c.keys.get(1),
                ) else {
                    whole.insert(item.clone());
                    break;
                };
                nets.push(prefix.trunc());
                let done = match c.op {
                    Op::Created => set.insert(prefix, range),
                    Op::Deleted => set.remove(prefix, range),
                    Op::Modified => Ok(()),
                };
                done.map_err(|e| problem(c.path.clone(), e.to_string()))?;
            }
            if !whole.contains(&item) {
                p.prefix_sets.insert(name, Arc::new(set));
            }
        }
        p.entries_changed =
            (entries_only && whole.is_empty()).then(|| (self.generation, Arc::from(nets)));
        for item in whole {
            p.reload_set(tree, &item)?;
        }
        p.policies.clear();
        p.compile_policies(tree)?;
        Ok(p)
    }

    /// Where a route can be judged differently under `self` than under
    /// `before`: `Some(prefixes)` when `self` is `before` updated with
    /// prefix-set entries added or removed and nothing else of routing
    /// policy, as a commit that edits a large set does (only a route
    /// within a changed entry's prefix can change membership, and with it
    /// its outcome); `None`: any route.
    pub fn changed_within(&self, before: &Policies) -> Option<Arc<[IpNet]>> {
        match &self.entries_changed {
            Some((from, nets)) if *from == before.generation => Some(nets.clone()),
            _ => None,
        }
    }

    /// Reads one set again from `tree` (removing it if it is gone).
    fn reload_set(&mut self, tree: &DataTree<'static>, item: &Item) -> Result<(), Problem> {
        let path = item.path();
        let name = item.name().to_string();
        match item {
            Item::PrefixSet(_) => match entry::<cfg::PrefixSet>(tree, &path)? {
                Some(s) => drop(self.prefix_sets.insert(name, Arc::new(prefix_set(&s)?))),
                None => drop(self.prefix_sets.remove(&name)),
            },
            Item::NeighborSet(_) => match entry::<cfg::NeighborSet>(tree, &path)? {
                Some(s) => drop(self.neighbor_sets.insert(
                    name.clone(),
                    Arc::new(NeighborSet::new(&name, s.config.address)),
                )),
                None => drop(self.neighbor_sets.remove(&name)),
            },
            Item::TagSet(_) => match entry::<cfg::TagSet>(tree, &path)? {
                Some(s) => drop(self.tag_sets.insert(name, Arc::new(tag_set(&s)?))),
                None => drop(self.tag_sets.remove(&name)),
            },
            Item::CommunitySet(_) => match entry::<cfg::CommunitySet>(tree, &path)? {
                Some(s) => drop(
                    self.community_sets
                        .insert(name, Arc::new(community_set(&s)?)),
                ),
                None => drop(self.community_sets.remove(&name)),
            },
            Item::ExtCommunitySet(_) => match entry::<cfg::ExtCommunitySet>(tree, &path)? {
                Some(s) => drop(
                    self.ext_community_sets
                        .insert(name, Arc::new(ext_community_set(&s)?)),
                ),
                None => drop(self.ext_community_sets.remove(&name)),
            },
            Item::AsPathSet(_) => match entry::<cfg::AsPathSet>(tree, &path)? {
                Some(s) => drop(self.as_path_sets.insert(name, Arc::new(as_path_set(&s)?))),
                None => drop(self.as_path_sets.remove(&name)),
            },
            Item::LargeCommunitySet(_) => match entry::<cfg::LargeCommunitySet>(tree, &path)? {
                Some(s) => drop(
                    self.large_community_sets
                        .insert(name, Arc::new(large_community_set(&s)?)),
                ),
                None => drop(self.large_community_sets.remove(&name)),
            },
            Item::Policy(_) => {}
        }
        Ok(())
    }

    fn compile_policies(&mut self, tree: &DataTree<'static>) -> Result<(), Problem> {
        let defs: Vec<cfg::PolicyDefinition> = entries(
            tree,
            &format!("{ROUTING_POLICY_PATH}/policy-definitions/policy-definition"),
        )?;
        let mut c = Compiler {
            sets: self,
            defs: defs.iter().map(|d| (d.name.as_str(), d)).collect(),
            done: BTreeMap::new(),
            depth: HashMap::new(),
            stack: Vec::new(),
        };
        for d in &defs {
            c.policy(&d.name, None)?;
        }
        let done = c.done;
        self.policies = done;
        Ok(())
    }

    /// A chain of the named policies (in order) with `default`. Every name
    /// must be a compiled policy.
    pub fn chain(&self, names: &[String], default: DefaultPolicy) -> Result<Chain, Problem> {
        let policies = names
            .iter()
            .map(|n| {
                self.policies.get(n).cloned().ok_or_else(|| {
                    problem(
                        Item::Policy(n.clone()).path(),
                        format!("no policy-definition named {n:?}"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Chain::new(policies, default))
    }

    /// A number unique to this compile (each [`Policies::compile`] and
    /// [`Policies::update`] result has its own).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The compiled policy `name`.
    pub fn policy(&self, name: &str) -> Option<&Arc<Policy>> {
        self.policies.get(name)
    }

    /// Names of the policy definitions, sorted.
    pub fn policy_names(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }

    /// The compiled prefix-set `name`.
    pub fn prefix_set(&self, name: &str) -> Option<&Arc<PrefixSet>> {
        self.prefix_sets.get(name)
    }

    /// Every set and policy, sets first, each kind sorted by name.
    pub fn items(&self) -> Vec<Item> {
        let mut out = Vec::new();
        out.extend(self.prefix_sets.keys().cloned().map(Item::PrefixSet));
        out.extend(self.neighbor_sets.keys().cloned().map(Item::NeighborSet));
        out.extend(self.tag_sets.keys().cloned().map(Item::TagSet));
        out.extend(self.community_sets.keys().cloned().map(Item::CommunitySet));
        out.extend(
            self.ext_community_sets
                .keys()
                .cloned()
                .map(Item::ExtCommunitySet),
        );
        out.extend(self.as_path_sets.keys().cloned().map(Item::AsPathSet));
        out.extend(
            self.large_community_sets
                .keys()
                .cloned()
                .map(Item::LargeCommunitySet),
        );
        out.extend(self.policies.keys().cloned().map(Item::Policy));
        out
    }

    /// Whether `item` exists.
    pub fn contains(&self, item: &Item) -> bool {
        self.fingerprint(item).is_some()
    }

    /// A digest of `item`'s contents (for a policy: of its definition and,
    /// transitively, everything it uses); `None` if it does not exist.
    pub fn fingerprint(&self, item: &Item) -> Option<u64> {
        let n = item.name();
        match item {
            Item::PrefixSet(_) => self.prefix_sets.get(n).map(|s| s.fingerprint()),
            Item::NeighborSet(_) => self.neighbor_sets.get(n).map(|s| s.fingerprint),
            Item::TagSet(_) => self.tag_sets.get(n).map(|s| s.fingerprint),
            Item::CommunitySet(_) => self.community_sets.get(n).map(|s| s.fingerprint),
            Item::ExtCommunitySet(_) => self.ext_community_sets.get(n).map(|s| s.fingerprint),
            Item::AsPathSet(_) => self.as_path_sets.get(n).map(|s| s.fingerprint),
            Item::LargeCommunitySet(_) => self.large_community_sets.get(n).map(|s| s.fingerprint),
            Item::Policy(_) => self.policies.get(n).map(|p| p.fingerprint),
        }
    }

    /// Names of the policies that use `item`, directly or through
    /// call-policy (a policy item counts itself). Chains holding one of
    /// them must be evaluated again when `item` changes.
    pub fn depends_on(&self, item: &Item) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Item::Policy(n) = item {
            if self.policies.contains_key(n) {
                out.insert(n.clone());
            }
        }
        let mut frontier = vec![item.clone()];
        while let Some(it) = frontier.pop() {
            for p in self.policies.values() {
                if p.uses.contains(&it) && out.insert(p.name.clone()) {
                    frontier.push(Item::Policy(p.name.clone()));
                }
            }
        }
        out
    }

    /// Names of the policies whose behaviour differs between `old` and
    /// `self`: added, removed, or with a different fingerprint.
    pub fn changed_since(&self, old: &Policies) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (n, p) in &self.policies {
            if old.policies.get(n).map(|o| o.fingerprint) != Some(p.fingerprint) {
                out.insert(n.clone());
            }
        }
        out.extend(
            old.policies
                .keys()
                .filter(|n| !self.policies.contains_key(*n))
                .cloned(),
        );
        out
    }
}

fn mode_of(mode: Option<PrefixSetMode>) -> Mode {
    match mode {
        Some(PrefixSetMode::Ipv4) => Mode::V4,
        Some(PrefixSetMode::Ipv6) => Mode::V6,
        Some(PrefixSetMode::Mixed) | None => Mode::Mixed,
    }
}

fn prefix_set(s: &cfg::PrefixSet) -> Result<PrefixSet, Problem> {
    let mut set = PrefixSet::new(&s.name, mode_of(s.config.mode));
    let base = Item::PrefixSet(s.name.clone()).path();
    for p in &s.prefixes {
        set.insert(p.ip_prefix, &p.masklength_range).map_err(|e| {
            problem(
                format!(
                    "{base}/prefixes/prefix[ip-prefix={}][masklength-range={}]",
                    quote(&p.ip_prefix.to_string()),
                    quote(&p.masklength_range)
                ),
                e.to_string(),
            )
        })?;
    }
    Ok(set)
}

fn tag_set(s: &cfg::TagSet) -> Result<TagSet, Problem> {
    let tags = s
        .config
        .tag_value
        .iter()
        .map(|t| {
            Tag::parse(t).ok_or_else(|| {
                problem(
                    format!("{}/config/tag-value", Item::TagSet(s.name.clone()).path()),
                    format!("{t:?} is not a tag"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TagSet::new(&s.name, tags))
}

fn community_set(s: &cfg::CommunitySet) -> Result<CommunitySet, Problem> {
    let invert = s.config.match_set_options == MatchSetOptionsType::Invert;
    CommunitySet::new(&s.community_set_name, &s.config.community_member, invert).map_err(|e| {
        problem(
            format!(
                "{}/config/community-member",
                Item::CommunitySet(s.community_set_name.clone()).path()
            ),
            e,
        )
    })
}

fn ext_community_set(s: &cfg::ExtCommunitySet) -> Result<ExtCommunitySet, Problem> {
    let invert = s.config.match_set_options == MatchSetOptionsType::Invert;
    let name = &s.ext_community_set_name;
    ExtCommunitySet::new(name, &s.config.ext_community_member, invert).map_err(|e| {
        problem(
            format!(
                "{}/config/ext-community-member",
                Item::ExtCommunitySet(name.clone()).path()
            ),
            e,
        )
    })
}

fn large_community_set(s: &cfg::LargeCommunitySet) -> Result<LargeCommunitySet, Problem> {
    let name = &s.large_community_set_name;
    LargeCommunitySet::new(name, &s.config.large_community_member).map_err(|e| {
        problem(
            format!(
                "{}/config/large-community-member",
                Item::LargeCommunitySet(name.clone()).path()
            ),
            e,
        )
    })
}

fn as_path_set(s: &cfg::AsPathSet) -> Result<AsPathSet, Problem> {
    let name = &s.as_path_set_name;
    AsPathSet::new(name, &s.config.as_path_set_member).map_err(|e| {
        problem(
            format!(
                "{}/config/as-path-set-member",
                Item::AsPathSet(name.clone()).path()
            ),
            e,
        )
    })
}
