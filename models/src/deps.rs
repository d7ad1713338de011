//! What reads what in the schema: the nodes each `must`, `when`, leafref
//! path and `unique` statement reads, computed once from the compiled
//! schema. A transaction uses it to validate and diff only the part of the
//! tree its edits reach (see `datastore/scope.rs`) and still check every
//! rule the change can break.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use yang2::ffi;
use yang2::schema::SchemaNode;

use crate::schema;

/// A rule that reads a node: the node the rule sits on, and whether it is
/// a `when` (a `when` deletes data when it turns false, so a change it
/// reads reaches wherever its node is).
#[derive(Debug, Clone, Copy)]
struct Reader {
    definer: usize,
    when: bool,
}

/// The dependencies of the process-wide schema. Nodes and modules are
/// keyed by their compiled schema address, stable for the context's life.
pub(crate) struct Deps {
    /// Node → the rules that read it.
    readers: HashMap<usize, Vec<Reader>>,
    /// Nodes with a rule of their own (`must`, `when`, a leafref or
    /// instance-identifier type).
    ruled: HashSet<usize>,
    /// Node → what its rules read.
    reads: HashMap<usize, Vec<usize>>,
    /// Nodes with a `when` of their own.
    whens: HashSet<usize>,
    /// Top-level module → the top-level modules whose rules read its data.
    dependents: HashMap<usize, HashSet<usize>>,
    /// An instance-identifier can point anywhere: with one in the schema
    /// nothing is scoped.
    unscoped: bool,
    /// [`Deps::contained`] answers, by node.
    contained: Mutex<HashMap<usize, bool>>,
    /// [`Deps::self_contained`] answers, by node.
    self_contained: Mutex<HashMap<usize, bool>>,
}

/// The elements of a libyang sized array (`LY_ARRAY`): its count sits in
/// the 8 octets before the first element.
///
/// # Safety
/// `array` is NULL or a libyang sized array of `T`.
unsafe fn ly_array<'a, T>(array: *const T) -> &'a [T] {
    if array.is_null() {
        return &[];
    }
    let count = *(array as *const u64).sub(1) as usize;
    std::slice::from_raw_parts(array, count)
}

/// The schema nodes an expression reads.
///
/// # Safety
/// The arguments come from one compiled schema node of the context.
unsafe fn atoms(
    ctx_node: *const ffi::lysc_node,
    module: *const ffi::lys_module,
    expr: *const ffi::lyxp_expr,
    prefixes: *const ffi::lysc_prefix,
) -> Vec<usize> {
    let mut set: *mut ffi::ly_set = std::ptr::null_mut();
    let ret = ffi::lys_find_expr_atoms(ctx_node, module, expr, prefixes, 0, &mut set);
    if set.is_null() {
        return Vec::new();
    }
    let found = if ret == ffi::LY_ERR::LY_SUCCESS && (*set).count > 0 {
        std::slice::from_raw_parts((*set).__bindgen_anon_1.snodes, (*set).count as usize)
            .iter()
            .map(|&n| n as usize)
            .collect()
    } else {
        Vec::new()
    };
    ffi::ly_set_free(set, None);
    found
}

/// The top-level module a schema node's data belongs to (that of its
/// top-level ancestor): the unit libyang validates a tree by.
///
/// # Safety
/// `node` is a compiled schema node.
unsafe fn owner(mut node: *const ffi::lysc_node) -> usize {
    while !(*node).parent.is_null() {
        node = (*node).parent;
    }
    (*node).module as usize
}

/// Whether `node` is `ancestor` or below it.
///
/// # Safety
/// `node` is a compiled schema node.
unsafe fn within(mut node: *const ffi::lysc_node, ancestor: usize) -> bool {
    while !node.is_null() {
        if node as usize == ancestor {
            return true;
        }
        node = (*node).parent;
    }
    false
}

impl Deps {
    /// The dependencies of [`schema::context`], computed on first use.
    pub(crate) fn get() -> &'static Deps {
        static DEPS: OnceLock<Deps> = OnceLock::new();
        DEPS.get_or_init(Deps::build)
    }

    fn build() -> Deps {
        let mut deps = Deps {
            readers: HashMap::new(),
            ruled: HashSet::new(),
            reads: HashMap::new(),
            whens: HashSet::new(),
            dependents: HashMap::new(),
            unscoped: false,
            contained: Mutex::new(HashMap::new()),
            self_contained: Mutex::new(HashMap::new()),
        };
        for node in schema::context().traverse() {
            // SAFETY: every pointer comes from the compiled schema of the
            // process-wide context, which lives as long as the process.
            unsafe { deps.add(node.as_raw()) };
        }
        deps
    }

    /// Records the rules `node` carries.
    ///
    /// # Safety
    /// `node` is a compiled schema node of the context.
    unsafe fn add(&mut self, node: *const ffi::lysc_node) {
        let module = (*node).module;
        let read = |deps: &mut Deps, found: Vec<usize>, when: bool| {
            deps.ruled.insert(node as usize);
            if when {
                deps.whens.insert(node as usize);
            }
            deps.reads
                .entry(node as usize)
                .or_default()
                .extend(found.iter().copied());
            for atom in found {
                deps.readers.entry(atom).or_default().push(Reader {
                    definer: node as usize,
                    when,
                });
                deps.dependents
                    .entry(owner(atom as *const ffi::lysc_node))
                    .or_default()
                    .insert(owner(node));
            }
        };
        for must in ly_array(ffi::lysc_node_musts(node)) {
            let found = atoms(node, module, must.cond, must.prefixes);
            read(self, found, false);
        }
        for &when in ly_array(ffi::lysc_node_when(node)) {
            let w = &*when;
            let found = atoms(w.context, module, w.cond, w.prefixes);
            read(self, found, true);
        }
        let nodetype = u32::from((*node).nodetype);
        if nodetype & (ffi::LYS_LEAF | ffi::LYS_LEAFLIST) != 0 {
            // Leaf and leaf-list share the layout up to `type_`.
            let ty = (*(node as *const ffi::lysc_node_leaf)).type_;
            let mut paths = Vec::new();
            self.references(ty, &mut paths);
            for (path, prefixes) in paths {
                let found = atoms(node, module, path, prefixes);
                read(self, found, false);
            }
        }
        if nodetype & ffi::LYS_LIST != 0 {
            let list = &*(node as *const ffi::lysc_node_list);
            for &unique in ly_array(list.uniques) {
                let found = ly_array(unique).iter().map(|&l| l as usize).collect();
                read(self, found, false);
            }
        }
    }

    /// The leafref paths of a type (a union's members too); an
    /// instance-identifier makes the schema unscoped.
    ///
    /// # Safety
    /// `ty` is a compiled type.
    unsafe fn references(
        &mut self,
        ty: *const ffi::lysc_type,
        out: &mut Vec<(*const ffi::lyxp_expr, *const ffi::lysc_prefix)>,
    ) {
        if ty.is_null() {
            return;
        }
        match (*ty).basetype {
            ffi::LY_DATA_TYPE::LY_TYPE_LEAFREF => {
                let lref = &*(ty as *const ffi::lysc_type_leafref);
                out.push((lref.path, lref.prefixes));
            }
            ffi::LY_DATA_TYPE::LY_TYPE_UNION => {
                let union = &*(ty as *const ffi::lysc_type_union);
                for &member in ly_array(union.types) {
                    self.references(member, out);
                }
            }
            ffi::LY_DATA_TYPE::LY_TYPE_INST => self.unscoped = true,
            _ => {}
        }
    }

    /// Whether a change of the leaf `node`'s value (or its removal, with
    /// `delete`) needs no validation beyond its type, which the edit's
    /// parse checked: no rule anywhere reads it, it has none of its own,
    /// it is no key, no choice holds it, and removing it leaves no default
    /// or mandatory leaf missing.
    pub(crate) fn leaf_independent(&self, node: &SchemaNode<'_>, delete: bool) -> bool {
        let raw = node.as_raw();
        // SAFETY: a compiled schema node of the context.
        unsafe {
            if self.unscoped || u32::from((*raw).nodetype) != ffi::LYS_LEAF {
                return false;
            }
            let flags = u32::from((*raw).flags);
            if flags & ffi::LYS_KEY != 0 || in_choice(raw) {
                return false;
            }
            if delete && (flags & ffi::LYS_MAND_TRUE != 0 || has_default(raw)) {
                return false;
            }
        }
        !self.ruled.contains(&(raw as usize)) && !self.readers.contains_key(&(raw as usize))
    }

    /// Whether everything a change below `node` can make libyang do stays
    /// below it: no choice around it (a case's nodes delete the other
    /// cases') and no `when` outside it reads anything inside it.
    pub(crate) fn contained(&self, node: &SchemaNode<'_>) -> bool {
        if self.unscoped {
            return false;
        }
        let key = node.as_raw() as usize;
        let mut cache = self.contained.lock().unwrap_or_else(|e| e.into_inner());
        *cache.entry(key).or_insert_with(|| {
            // SAFETY: compiled schema nodes of the context.
            unsafe {
                !in_choice(node.as_raw())
                    && node.traverse().all(|inner| {
                        self.readers
                            .get(&(inner.as_raw() as usize))
                            .into_iter()
                            .flatten()
                            .all(|r| !r.when || within(r.definer as *const _, key))
                    })
            }
        })
    }

    /// Whether an entry of the list `node` can be validated on its own:
    /// the rules inside it read only inside it, no rule outside reads
    /// anything inside it, it has no `when` (which would delete data) and
    /// the list has no `unique` and no bound on its number of entries.
    /// Adding, changing or removing such an entry cannot break anything
    /// else, and nothing else can break it.
    pub(crate) fn self_contained(&self, node: &SchemaNode<'_>) -> bool {
        let raw = node.as_raw();
        // SAFETY: a compiled schema node of the context.
        unsafe {
            if u32::from((*raw).nodetype) != ffi::LYS_LIST {
                return false;
            }
            let list = &*(raw as *const ffi::lysc_node_list);
            if !list.uniques.is_null() || list.min != 0 || list.max != u32::MAX {
                return false;
            }
        }
        if !self.contained(node) {
            return false;
        }
        let key = raw as usize;
        let mut cache = self
            .self_contained
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *cache.entry(key).or_insert_with(|| {
            // SAFETY: compiled schema nodes of the context.
            let inside = |n: usize| unsafe { within(n as *const _, key) };
            node.traverse().all(|inner| {
                let n = inner.as_raw() as usize;
                !self.whens.contains(&n)
                    && self.reads.get(&n).into_iter().flatten().all(|&a| inside(a))
                    && self
                        .readers
                        .get(&n)
                        .into_iter()
                        .flatten()
                        .all(|r| inside(r.definer))
            })
        })
    }

    /// The top-level modules to validate when the data of `changed` (the
    /// owners of the edited nodes) changed: those and, transitively, every
    /// module whose rules read them.
    pub(crate) fn to_validate(&self, changed: &[&SchemaNode<'_>]) -> Vec<*const ffi::lys_module> {
        // SAFETY: compiled schema nodes of the context.
        let mut todo: Vec<usize> = changed
            .iter()
            .map(|n| unsafe { owner(n.as_raw()) })
            .collect();
        let mut seen = HashSet::new();
        while let Some(m) = todo.pop() {
            if seen.insert(m) {
                todo.extend(self.dependents.get(&m).into_iter().flatten().copied());
            }
        }
        seen.into_iter()
            .map(|m| m as *const ffi::lys_module)
            .collect()
    }
}

/// Whether a choice (or case) is among `node`'s ancestors.
///
/// # Safety
/// `node` is a compiled schema node.
unsafe fn in_choice(node: *const ffi::lysc_node) -> bool {
    let mut p = (*node).parent as *const ffi::lysc_node;
    while !p.is_null() {
        if u32::from((*p).nodetype) & (ffi::LYS_CHOICE | ffi::LYS_CASE) != 0 {
            return true;
        }
        p = (*p).parent;
    }
    false
}

/// Whether a leaf has a default value.
///
/// # Safety
/// `node` is a compiled leaf.
unsafe fn has_default(node: *const ffi::lysc_node) -> bool {
    !(*(node as *const ffi::lysc_node_leaf)).dflt.is_null()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str) -> SchemaNode<'static> {
        schema::context().find_path(path).expect(path)
    }

    const NEIGHBOR: &str = "/openconfig-network-instance:network-instances/network-instance\
        /protocols/protocol/bgp/neighbors/neighbor";

    #[test]
    fn a_free_text_leaf_is_independent_a_referenced_one_is_not() {
        let deps = Deps::get();
        assert!(!deps.unscoped, "the schema has an instance-identifier");
        let description = node(&format!("{NEIGHBOR}/config/description"));
        assert!(deps.leaf_independent(&description, false));
        assert!(deps.leaf_independent(&description, true));
        // A key's target is read by the key's leafref.
        let address = node(&format!("{NEIGHBOR}/config/neighbor-address"));
        assert!(!deps.leaf_independent(&address, false));
        // A leafref has a rule of its own.
        let group = node(&format!("{NEIGHBOR}/config/peer-group"));
        assert!(!deps.leaf_independent(&group, false));
        // A policy's name is what apply-policy refers to.
        let policy = node(
            "/openconfig-routing-policy:routing-policy/policy-definitions/policy-definition/config/name",
        );
        assert!(!deps.leaf_independent(&policy, false));
    }

    #[test]
    fn a_neighbor_is_contained_and_policy_changes_reach_the_bgp_module() {
        let deps = Deps::get();
        let neighbor = node(NEIGHBOR);
        assert!(deps.contained(&neighbor));
        let names = |n: &SchemaNode<'_>| {
            let mut names: Vec<String> = deps
                .to_validate(&[n])
                .iter()
                // SAFETY: modules of the context.
                .map(|&m| unsafe { std::ffi::CStr::from_ptr((*m).name) })
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        // Policy names are read by apply-policy's leafrefs; nothing in
        // routing-policy reads the network instances.
        assert_eq!(
            names(&node("/openconfig-routing-policy:routing-policy")),
            ["openconfig-network-instance", "openconfig-routing-policy"]
        );
        assert_eq!(names(&neighbor), ["openconfig-network-instance"]);
    }

    #[test]
    fn a_prefix_set_entry_stands_alone_a_neighbor_does_not() {
        let deps = Deps::get();
        let prefix = node(
            "/openconfig-routing-policy:routing-policy/defined-sets/prefix-sets/prefix-set/prefixes/prefix",
        );
        assert!(deps.self_contained(&prefix));
        // Its set is read by the policies that match on it.
        let set =
            node("/openconfig-routing-policy:routing-policy/defined-sets/prefix-sets/prefix-set");
        assert!(!deps.self_contained(&set));
        // A neighbor refers to its peer group.
        assert!(!deps.self_contained(&node(NEIGHBOR)));
    }
}
