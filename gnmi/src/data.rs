//! Reading the datastore for gNMI: compiled path queries, snapshots of the
//! running or operational tree, and selection restricted to configuration
//! or state.
//!
//! Every function here blocks (the datastore and the state provider do):
//! async callers run them in `spawn_blocking`.

use std::collections::HashMap;
use std::sync::Arc;

use ocbgp_models::config::Config;
use ocbgp_models::datastore::Datastore;
use ocbgp_models::nacm::Access;
use tonic::Status;
use yang2::data::{DataNodeRef, DataTree};
use yang2::schema::SchemaNodeKind;

use crate::encode::{Leaves, Namer};
use crate::path::{self, schema::descendants, PathError};
use crate::proto::gnmi::{Path, PathElem};
use ocbgp_models::ly;

/// Which nodes a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// Configuration and state.
    All,
    /// Configuration only, from running.
    Config,
    /// State only (`config false`), with the list keys that address it.
    State,
}

/// One gNMI path compiled for reading.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    /// The joined path's elements, wildcards included.
    pub elems: Vec<PathElem>,
    /// libyang XPath selecting every node the path names.
    pub xpath: String,
    /// The joined path's origin.
    origin: String,
    /// Whether the selected subtrees can hold state (`config false`) nodes.
    pub has_state: bool,
}

impl Query {
    /// Compiles prefix + path.
    pub(crate) fn new(prefix: Option<&Path>, path: &Path) -> Result<Query, PathError> {
        let ctx = ocbgp_models::schema::context();
        let joined = path::join(prefix, path)?;
        let (xpath, nodes) = path::to_xpath_nodes(ctx, None, &joined)?;
        let has_state = match &nodes {
            None => true,
            Some(set) => {
                set.iter().any(|n| !n.is_config())
                    || descendants(ctx, Some(set)).iter().any(|n| !n.is_config())
            }
        };
        Ok(Query {
            origin: joined.origin,
            elems: joined.elem,
            xpath,
            has_state,
        })
    }

    /// The joined path (prefix + path) in text form, for messages.
    pub(crate) fn text(&self) -> String {
        path::to_text(&self.path(self.elems.len()))
    }

    /// The path of the first `k` elements.
    fn path(&self, k: usize) -> Path {
        Path {
            origin: self.origin.clone(),
            elem: self.elems[..k].to_vec(),
            ..Default::default()
        }
    }

    /// The longest wildcard-free leading part of the path as a data path:
    /// what the state provider is asked to write.
    pub(crate) fn root(&self) -> String {
        fixed_root(&self.path(self.elems.len()))
    }

    /// The path up to its first wildcard element, as an XPath without the
    /// keys the path leaves out or wildcards: what a streamed read is asked
    /// for, so that it can narrow itself by the keys given (a route's
    /// prefix without its origin, a set's index).
    pub(crate) fn stream_root(&self) -> String {
        let k = self
            .elems
            .iter()
            .position(|e| e.name == "*" || e.name == "...");
        match k {
            // No wildcard element: the query's own XPath (the common case,
            // converted once).
            None => self.xpath.clone(),
            Some(k) => path::to_xpath(ocbgp_models::schema::context(), None, &self.path(k))
                .unwrap_or_else(|_| "/".to_string()),
        }
    }
}

/// The data path of the longest leading part of `joined` that names one
/// node (no wildcard, every key given); `/` if there is none.
fn fixed_root(joined: &Path) -> String {
    let ctx = ocbgp_models::schema::context();
    (0..=joined.elem.len())
        .rev()
        .find_map(|k| {
            let p = Path {
                origin: joined.origin.clone(),
                elem: joined.elem[..k].to_vec(),
                ..Default::default()
            };
            path::to_data_path(ctx, None, &p).ok()
        })
        .unwrap_or_else(|| "/".to_string())
}

/// A tree to read from: running (shared, cheap) or an operational snapshot.
pub(crate) enum Snapshot {
    /// The running configuration.
    Running(Arc<Config>),
    /// Running with the state provider's nodes under some path.
    Operational(DataTree<'static>),
}

impl Snapshot {
    /// Takes the snapshot a read of `query` for `part` needs, without what
    /// `access` may not read.
    pub(crate) fn take(
        store: &Datastore,
        query: &Query,
        part: Part,
        access: &Access,
    ) -> Result<Snapshot, Status> {
        let snapshot = match part {
            Part::Config => Snapshot::Running(store.running()),
            Part::All if !query.has_state => Snapshot::Running(store.running()),
            _ => store
                .operational(&query.root())
                .map(Snapshot::Operational)
                .map_err(|e| {
                    Status::internal(format!("cannot read state at {}: {e}", query.text()))
                })?,
        };
        let denied = |e| Status::internal(format!("cannot apply access rules: {e}"));
        Ok(match snapshot {
            Snapshot::Running(c) => match access
                .readable_at(c.tree(), &query.root())
                .map_err(denied)?
            {
                Some(copy) => Snapshot::Operational(copy),
                None => Snapshot::Running(c),
            },
            Snapshot::Operational(mut t) => {
                access.filter(&mut t);
                Snapshot::Operational(t)
            }
        })
    }

    /// The tree.
    pub(crate) fn tree(&self) -> &DataTree<'static> {
        match self {
            Snapshot::Running(c) => c.tree(),
            Snapshot::Operational(t) => t,
        }
    }
}

/// Snapshots shared by the reads of one moment (one Get, one round of a
/// subscription), so each operational subtree is asked for once; each
/// without what the reader may not read.
pub(crate) struct Snapshots<'a> {
    taken: HashMap<(String, bool), Snapshot>,
    access: &'a Access,
}

impl<'a> Snapshots<'a> {
    /// Snapshots for a reader with `access`.
    pub(crate) fn new(access: &'a Access) -> Snapshots<'a> {
        Snapshots {
            taken: HashMap::new(),
            access,
        }
    }

    /// The snapshot for `query` and `part`, taken on first use.
    pub(crate) fn get(
        &mut self,
        store: &Datastore,
        query: &Query,
        part: Part,
    ) -> Result<&Snapshot, Status> {
        let running = part == Part::Config || (part == Part::All && !query.has_state);
        let key = (if running { String::new() } else { query.root() }, running);
        if !self.taken.contains_key(&key) {
            let snap = Snapshot::take(store, query, part, self.access)?;
            self.taken.insert(key.clone(), snap);
        }
        Ok(&self.taken[&key])
    }
}

/// One selected node: the node in the snapshot (for its path), and for a
/// state read of a configuration subtree, a copy without the configuration
/// that has no state below it (for its content).
pub(crate) struct Selected<'t> {
    /// The node as selected.
    pub node: DataNodeRef<'t, 'static>,
    /// The pruned copy for state reads, when pruning was needed.
    pub pruned: Option<DataTree<'static>>,
}

impl Selected<'_> {
    /// The node whose subtree is the content: the pruned copy's root, or
    /// the node itself.
    pub(crate) fn content(&self) -> DataNodeRef<'_, 'static> {
        match &self.pruned {
            Some(t) => t.reference().expect("pruned copy has a root"),
            None => self.node.clone(),
        }
    }

    /// The leaves of the content, under the selected node's path.
    pub(crate) fn leaves(&self, namer: &mut Namer, out: &mut Leaves) {
        match &self.pruned {
            None => namer.leaves(&self.node, out),
            Some(t) => {
                let elems = namer.elems(&self.node);
                if let Some(root) = t.reference() {
                    namer.leaves_at(&root, elems, out);
                }
            }
        }
    }
}

/// The nodes of `tree` that `query` selects, restricted to `part`.
pub(crate) fn select<'t>(
    tree: &'t DataTree<'static>,
    query: &Query,
    part: Part,
) -> Result<Vec<Selected<'t>>, Status> {
    let nodes = ly::find(tree, &query.xpath).map_err(Status::internal)?;
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        if part != Part::State || !node.schema().is_config() {
            out.push(Selected { node, pruned: None });
            continue;
        }
        let copy = node
            .duplicate(false)
            .map_err(|e| Status::internal(format!("cannot copy {}: {e}", query.text())))?;
        let keep = copy.reference().is_some_and(|root| keep_state(&root));
        if keep {
            out.push(Selected {
                node,
                pruned: Some(copy),
            });
        }
    }
    Ok(out)
}

/// Frees the configuration below `node` that has no state below it; returns
/// whether anything of `node` remains. List keys stay with their entry.
fn keep_state(node: &DataNodeRef<'_, '_>) -> bool {
    let schema = node.schema();
    if !schema.is_config() {
        return true;
    }
    if !matches!(
        schema.kind(),
        SchemaNodeKind::Container | SchemaNodeKind::List
    ) {
        return false;
    }
    let children: Vec<_> = node.children().collect();
    let mut kept = false;
    for child in children {
        if child.schema().is_list_key() {
            continue;
        }
        if keep_state(&child) {
            kept = true;
        } else {
            ly::free_subtree(child);
        }
    }
    kept
}

/// Nanoseconds since the Unix epoch, for notification timestamps.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
