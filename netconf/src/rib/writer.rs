//! Streamed entries written as nested XML below the reply's `bgp`
//! element.

use std::sync::Arc;

use ocbgp_models::datastore::{StateStream, StreamElem, StreamEntry};

use super::emit::{self, Namespaces};
use super::plan::{self, Plan};
use super::{elements, KeyKinds, NI_NS, PIECE};
use crate::filter;
use crate::xml::{self, Element, WriteOptions};

/// Writes entries as nested XML, keeping elements open while the next
/// entries are inside them.
pub(super) struct Writer {
    /// The elements open in the output, from the top: the head opened the
    /// first `base` (down to `bgp`).
    open: Vec<StreamElem>,
    base: usize,
    /// A path whose elements are the first of `open` (the parent of the
    /// last entry written): an entry below it has those in common.
    open_parent: Option<Arc<[StreamElem]>>,
    /// The subtree filter each entry goes through.
    filter: Element,
    /// The plan of the last shape of entry: its parent, its name.
    plan: Option<(Arc<[StreamElem]>, String, Plan)>,
    /// Whether plans are used; `false`: every entry goes through the
    /// filter as a tree (what the tests compare the plans with).
    pub(super) planned: bool,
    pending: Option<StreamEntry>,
    stream: StateStream,
    keys: KeyKinds,
    ns: Namespaces,
}

/// What is written of an entry.
enum Selected {
    /// All of it, from its stream nodes.
    Whole,
    /// Part of it, as the filter left its element.
    Part(Element),
}

impl Writer {
    /// A writer below the elements `open` (the head's), `first` and then
    /// `rest` through `filter`.
    pub(super) fn new(
        open: Vec<StreamElem>,
        filter: Element,
        first: StreamEntry,
        rest: StateStream,
        keys: KeyKinds,
    ) -> Writer {
        Writer {
            base: open.len(),
            open,
            open_parent: None,
            filter,
            plan: None,
            planned: true,
            pending: Some(first),
            stream: rest,
            keys,
            ns: Namespaces::default(),
        }
    }

    pub(super) fn fill(&mut self, out: &mut String) -> bool {
        while out.len() < PIECE {
            let Some(entry) = self.pending.take().or_else(|| self.stream.next()) else {
                self.close_to(self.base, out);
                return false;
            };
            self.entry(entry, out);
        }
        true
    }

    fn close_to(&mut self, depth: usize, out: &mut String) {
        while self.open.len() > depth {
            let e = self.open.pop().expect("deeper than depth");
            out.push_str("</");
            out.push_str(&e.name);
            out.push('>');
        }
    }

    /// The filter's plan for entries shaped as `entry`.
    fn plan(&mut self, entry: &StreamEntry) -> &Plan {
        let known = self.plan.as_ref().is_some_and(|(parent, name, _)| {
            (Arc::ptr_eq(parent, &entry.parent) || *parent == entry.parent)
                && *name == entry.elem.name
        });
        if !known {
            let above = &self.open[..self.base];
            let p = if self.planned {
                plan::plan(
                    &self.filter,
                    &entry.parent,
                    &entry.elem.name,
                    above,
                    &mut self.keys,
                )
            } else if plan::outside(&entry.parent, above) {
                Plan::Nothing
            } else {
                Plan::PerEntry
            };
            self.plan = Some((entry.parent.clone(), entry.elem.name.clone(), p));
        }
        &self.plan.as_ref().expect("just set").2
    }

    /// What the filter leaves of `entry`, or `None` if it selects nothing
    /// of it.
    fn select(&mut self, entry: &StreamEntry) -> Option<Selected> {
        match self.plan(entry) {
            Plan::Nothing => return None,
            Plan::Whole(checks) => {
                return plan::leaves_match(checks, entry).then_some(Selected::Whole)
            }
            Plan::PerEntry => {}
        }
        self.selected(entry).map(Selected::Part)
    }

    /// The entry's element as the filter leaves it, or `None` if it
    /// selects nothing of it.
    fn selected(&mut self, entry: &StreamEntry) -> Option<Element> {
        let mut own = Element::new(&entry.elem.name, Some(NI_NS));
        elements(&entry.children, &mut own.children);
        // The entry with the path above it, keys included, for the filter.
        let path = &entry.parent;
        let mut e = own;
        for (depth, elem) in path.iter().enumerate().rev() {
            e = self.keys.element(&path[..depth], elem, vec![e]);
        }
        let mut selected = filter::subtree(&[e], &self.filter).into_iter().next()?;
        for elem in path[1..].iter().chain([&entry.elem]) {
            // Keys are leaves: they never share a name with the way down.
            let i = selected.children.iter().position(|c| c.name == elem.name)?;
            selected = selected.children.swap_remove(i);
        }
        Some(selected)
    }

    /// How many of the open elements `entry`'s path starts with.
    fn common(&self, entry: &StreamEntry) -> usize {
        let parent = entry.parent.len();
        if self
            .open_parent
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, &entry.parent))
        {
            // The open elements start with the parent's (see `entry`).
            return parent + usize::from(self.open.get(parent) == Some(&entry.elem));
        }
        self.open
            .iter()
            .enumerate()
            .take_while(|(i, open)| *i < entry.depth() && *open == entry.path_elem(*i))
            .count()
    }

    fn entry(&mut self, entry: StreamEntry, out: &mut String) {
        let Some(selected) = self.select(&entry) else {
            return;
        };
        let here = entry.depth();
        let common = self.common(&entry);
        if common == here && self.open.len() >= here {
            // Opened for earlier entries inside it: its keys are written.
            self.close_to(here, out);
            let keys = &entry.elem.keys;
            let is_key = |name: &str| keys.iter().any(|(k, _)| k == name);
            match &selected {
                Selected::Whole => {
                    for n in &entry.children {
                        if !is_key(self.ns.element_name(n.name()).0) {
                            emit::node(out, &mut self.ns, n);
                        }
                    }
                }
                Selected::Part(e) => {
                    for c in e.children.iter().filter(|c| !is_key(&c.name)) {
                        xml::write(out, c, &inner_options());
                    }
                }
            }
            self.open_parent = Some(entry.parent.clone());
            return;
        }
        self.close_to(common.max(self.base), out);
        for depth in self.open.len()..here - 1 {
            let elem = entry.parent[depth].clone();
            let opened = self.keys.element(&entry.parent[..depth], &elem, Vec::new());
            self.start(&opened.name, depth, out);
            for k in &opened.children {
                xml::write(out, k, &inner_options());
            }
            self.open.push(elem);
        }
        // The entry stays open: later entries may be inside it.
        self.start(&entry.elem.name, here - 1, out);
        match &selected {
            Selected::Whole => {
                for n in &entry.children {
                    emit::node(out, &mut self.ns, n);
                }
            }
            Selected::Part(e) => {
                for c in &e.children {
                    xml::write(out, c, &inner_options());
                }
            }
        }
        self.open_parent = Some(entry.parent.clone());
        self.open.push(entry.elem);
    }

    /// A start tag; the first element below the head declares the
    /// namespace, whatever the head's default is.
    fn start(&self, name: &str, depth: usize, out: &mut String) {
        out.push('<');
        out.push_str(name);
        if depth == self.base {
            out.push_str(" xmlns=\"");
            out.push_str(NI_NS);
            out.push('"');
        }
        out.push('>');
    }
}

fn inner_options() -> WriteOptions<'static> {
    WriteOptions {
        declare_scope: false,
        ..WriteOptions::default()
    }
}
