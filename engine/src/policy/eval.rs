//! Chains and their evaluation.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};

use smallvec::SmallVec;

use super::actions::Action;
use super::sets::{digest_hash, FastBuild, Tag};
use super::{DefaultPolicy, Outcome, Policy, PolicyRef, RouteIn, Statement, Verdict};
use crate::rib::{Attrs, Interner, PathAttrs};

/// Capacity of the cache a chain keeps for [`Chain::evaluate`].
const CHAIN_CACHE: usize = 64;

/// Per attribute set results, for a batch of evaluations:
///
/// * attribute-only matches (community, extended community and AS-path
///   sets), keyed by the set;
/// * the attributes a chain's actions produced, keyed by the statements
///   whose actions ran (and our AS and the neighbor, which some actions
///   read): the next route with the same attribute set and the same
///   statements gets the same interned result without copying anything.
///
/// Entries are keyed by the address of the attributes' `Arc` and hold a
/// weak reference, which keeps the allocation (not the attributes) alive
/// so the address cannot be reused by another set while the entry exists;
/// results are weak too, so the cache never keeps attributes alive.
/// Keys are process-wide unique per compiled set and statement, so one
/// cache can serve any chain and outlive recompiles. When `capacity`
/// entries are held, the cache starts over.
#[derive(Debug)]
pub struct EvalCache {
    map: HashMap<usize, Entry, FastBuild>,
    capacity: usize,
    scratch: String,
    hits: u64,
    misses: u64,
}

/// What makes the actions' result: the statements that ran them, our AS,
/// the neighbor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MemoKey {
    statements: SmallVec<[u64; 4]>,
    local_asn: u32,
    neighbor: IpAddr,
}

#[derive(Debug)]
struct Entry {
    _pin: Weak<PathAttrs>,
    results: SmallVec<[(u64, bool); 2]>,
    outputs: Vec<(MemoKey, Weak<PathAttrs>)>,
}

impl Default for EvalCache {
    fn default() -> Self {
        EvalCache::new(1 << 16)
    }
}

impl EvalCache {
    /// A cache holding up to `capacity` attribute sets (0: no caching).
    pub fn new(capacity: usize) -> EvalCache {
        EvalCache {
            map: HashMap::default(),
            capacity,
            scratch: String::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// Forgets every entry (and releases the allocations they pin).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Number of attribute sets held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no attribute set is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// (hits, misses) so far, matches and action results together.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// The entry for `attrs`, made if new (starting over when full).
    fn entry(&mut self, attrs: &Attrs) -> &mut Entry {
        let ptr = Arc::as_ptr(attrs) as usize;
        if self.map.len() >= self.capacity && !self.map.contains_key(&ptr) {
            self.map.clear();
        }
        self.map.entry(ptr).or_insert_with(|| Entry {
            _pin: Arc::downgrade(attrs),
            results: SmallVec::new(),
            outputs: Vec::new(),
        })
    }

    /// The result for (`attrs`, `key`), computing it with `f` when new.
    fn get_or(
        &mut self,
        attrs: &Attrs,
        key: u64,
        f: impl FnOnce(&PathAttrs, &mut String) -> bool,
    ) -> bool {
        if self.capacity == 0 {
            return f(attrs, &mut self.scratch);
        }
        if let Some(e) = self.map.get(&(Arc::as_ptr(attrs) as usize)) {
            if let Some(&(_, v)) = e.results.iter().find(|(k, _)| *k == key) {
                self.hits += 1;
                return v;
            }
        }
        self.misses += 1;
        let v = f(attrs, &mut self.scratch);
        self.entry(attrs).results.push((key, v));
        v
    }

    /// The remembered output of the actions `key` on `attrs`, if it is
    /// still alive.
    fn output(&mut self, attrs: &Attrs, key: &MemoKey) -> Option<Attrs> {
        if self.capacity == 0 {
            return None;
        }
        let e = self.map.get(&(Arc::as_ptr(attrs) as usize))?;
        let out = e
            .outputs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, w)| w.upgrade());
        match out {
            Some(_) => self.hits += 1,
            None => self.misses += 1,
        }
        out
    }

    /// Remembers the output of the actions `key` on `attrs`.
    fn remember(&mut self, attrs: &Attrs, key: MemoKey, out: &Attrs) {
        if self.capacity == 0 {
            return;
        }
        let outputs = &mut self.entry(attrs).outputs;
        outputs.retain(|(k, _)| *k != key);
        outputs.push((key, Arc::downgrade(out)));
    }
}

/// The state of one evaluation.
///
/// Actions are not applied when their statement matches: the statement is
/// queued, and the queue is applied to a copy of the attributes only when
/// something needs them (a later condition that reads attributes, or the
/// final acceptance, unless the memo knows the result). A route that is
/// rejected after its attributes were "changed" never copies them.
pub(crate) struct Ctx<'a> {
    pub(crate) route: &'a RouteIn<'a>,
    /// The attributes once actions were applied to them.
    owned: Option<PathAttrs>,
    /// Statements whose attribute actions are yet to be applied.
    pending: SmallVec<[&'a Statement; 4]>,
    /// Ids of every statement whose attribute actions ran or are pending.
    fired: SmallVec<[u64; 4]>,
    /// Tags set by set-tag in this evaluation.
    pub(crate) tags: SmallVec<[Tag; 2]>,
    cache: &'a mut EvalCache,
    /// The chain's default (what a called policy without a decision means).
    pub(crate) default: DefaultPolicy,
}

impl<'a> Ctx<'a> {
    /// The attributes as the applied actions left them (for actions).
    #[inline]
    pub(crate) fn attrs(&self) -> &PathAttrs {
        self.owned.as_ref().unwrap_or(self.route.attrs)
    }

    /// The current attributes, pending actions applied (for conditions).
    #[inline]
    pub(crate) fn current(&mut self) -> &PathAttrs {
        if !self.pending.is_empty() {
            self.materialize();
        }
        self.attrs()
    }

    /// Applies the pending statements' attribute actions.
    fn materialize(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for st in pending {
            for a in &st.actions {
                if !matches!(a, Action::Tags(_)) {
                    a.apply(self);
                }
            }
        }
    }

    /// The attributes, copied on the first change.
    pub(crate) fn make_mut(&mut self) -> &mut PathAttrs {
        let route = self.route;
        self.owned
            .get_or_insert_with(|| PathAttrs::clone(route.attrs))
    }

    /// The current attributes and the scratch string.
    pub(crate) fn parts(&mut self) -> (&PathAttrs, &mut String) {
        (
            self.owned.as_ref().unwrap_or(self.route.attrs),
            &mut self.cache.scratch,
        )
    }

    /// The attributes for changing, and the scratch string.
    pub(crate) fn parts_mut(&mut self) -> (&mut PathAttrs, &mut String) {
        let route = self.route;
        (
            self.owned
                .get_or_insert_with(|| PathAttrs::clone(route.attrs)),
            &mut self.cache.scratch,
        )
    }

    /// An attribute-only match, cached while the attributes are the
    /// shared, unchanged ones.
    pub(crate) fn cached(
        &mut self,
        key: u64,
        f: impl FnOnce(&PathAttrs, &mut String) -> bool,
    ) -> bool {
        if !self.pending.is_empty() {
            self.materialize();
        }
        match &self.owned {
            Some(owned) => f(owned, &mut self.cache.scratch),
            None => self.cache.get_or(self.route.attrs, key, f),
        }
    }

    /// Queues a matched statement's actions.
    fn fire(&mut self, st: &'a Statement) {
        let mut attr_actions = false;
        for a in &st.actions {
            match a {
                Action::Tags(tags) => {
                    self.tags.clear();
                    self.tags.extend(tags.iter().cloned());
                }
                _ => attr_actions = true,
            }
        }
        if attr_actions {
            self.pending.push(st);
            self.fired.push(st.id);
        }
    }

    /// The final attributes of an accepted route.
    fn finish(mut self, interner: &mut Interner) -> Attrs {
        let input = self.route.attrs;
        if self.fired.is_empty() {
            return input.clone();
        }
        let key = MemoKey {
            statements: std::mem::take(&mut self.fired),
            local_asn: self.route.local_asn,
            neighbor: self.route.neighbor_address(),
        };
        if let Some(out) = self.cache.output(input, &key) {
            return out;
        }
        self.materialize();
        let out = match self.owned.take() {
            Some(attrs) if attrs != **input => interner.intern(attrs),
            _ => input.clone(),
        };
        self.cache.remember(input, key, &out);
        out
    }
}

/// Runs one policy: `Some` decision if a statement accepted or rejected,
/// `None` if its statements ran out.
pub(crate) fn run_policy<'a>(policy: &'a Policy, ctx: &mut Ctx<'a>) -> Option<Outcome> {
    for st in &policy.statements {
        if !st.conditions.iter().all(|c| c.holds(ctx)) {
            continue;
        }
        ctx.fire(st);
        if st.outcome != Outcome::Next {
            return Some(st.outcome);
        }
    }
    None
}

/// An import or export policy chain with its default decision.
#[derive(Debug)]
pub struct Chain {
    policies: Vec<PolicyRef>,
    default: DefaultPolicy,
    fingerprint: u64,
    uses_neighbor: bool,
    cache: Mutex<EvalCache>,
}

impl Clone for Chain {
    fn clone(&self) -> Self {
        Chain::new(self.policies.clone(), self.default)
    }
}

impl PartialEq for Chain {
    /// Same policies (by name and behaviour) and default.
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
            && self.default == other.default
            && self.policies.len() == other.policies.len()
            && self
                .policies
                .iter()
                .zip(&other.policies)
                .all(|(a, b)| a.name == b.name)
    }
}

impl Eq for Chain {}

impl Chain {
    /// A chain of compiled `policies` (see [`Policies::chain`](super::Policies::chain)).
    pub fn new(policies: Vec<Arc<Policy>>, default: DefaultPolicy) -> Chain {
        let fingerprint = digest_hash(&(
            policies
                .iter()
                .map(|p| (p.name.as_str(), p.fingerprint))
                .collect::<Vec<_>>(),
            default,
        ));
        let uses_neighbor = policies.iter().any(|p| p.uses_neighbor);
        Chain {
            policies,
            default,
            fingerprint,
            uses_neighbor,
            cache: Mutex::new(EvalCache::new(CHAIN_CACHE)),
        }
    }

    /// A chain without policies: the default decides every route.
    pub fn only_default(default: DefaultPolicy) -> Chain {
        Chain::new(Vec::new(), default)
    }

    /// The policies, in order.
    pub fn policies(&self) -> &[Arc<Policy>] {
        &self.policies
    }

    /// Names of the policies, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.iter().map(|p| p.name.as_str())
    }

    /// The default decision.
    pub fn default_policy(&self) -> DefaultPolicy {
        self.default
    }

    /// Digest of the policy names, their behaviour (every set and called
    /// policy, transitively) and the default: an unchanged fingerprint
    /// means routes need not be evaluated again.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Whether some policy looks at the neighbor (match-neighbor-set,
    /// set-next-hop PEER_ADDRESS): on export such a chain must be given
    /// the target peer, so it cannot be shared by an update group.
    pub fn depends_on_target(&self) -> bool {
        self.uses_neighbor
    }

    /// Evaluates `route`, caching attribute-only matches in the chain's
    /// own small cache (skipped when another thread holds it).
    pub fn evaluate(&self, route: &RouteIn<'_>, interner: &mut Interner) -> Verdict {
        match self.cache.try_lock() {
            Ok(mut cache) => self.evaluate_with(route, interner, &mut cache),
            Err(_) => self.evaluate_with(route, interner, &mut EvalCache::new(0)),
        }
    }

    /// Evaluates `route` with the caller's cache (batches: keep one cache
    /// for the whole batch).
    pub fn evaluate_with(
        &self,
        route: &RouteIn<'_>,
        interner: &mut Interner,
        cache: &mut EvalCache,
    ) -> Verdict {
        let mut ctx = Ctx {
            route,
            owned: None,
            pending: SmallVec::new(),
            fired: SmallVec::new(),
            tags: SmallVec::new(),
            cache,
            default: self.default,
        };
        let mut decision = None;
        for p in &self.policies {
            if let Some(d) = run_policy(p, &mut ctx) {
                decision = Some(d);
                break;
            }
        }
        let accept = match decision {
            Some(d) => d == Outcome::Accept,
            None => self.default == DefaultPolicy::Accept,
        };
        if !accept {
            return Verdict::Reject;
        }
        Verdict::Accept(ctx.finish(interner))
    }
}
