//! Authorization: the access control model of RFC 8341 (NACM),
//! `/ietf-netconf-acm:nacm` in the running configuration, judged here for
//! every door alike (gNMI and gNOI, NETCONF, the CLI over gNMI).
//!
//! [`Nacm`] is the running configuration's rules, compiled once per commit
//! that changes them; [`Access`] is one user's share of them (the rule
//! lists of the user's groups, in order). An access is judged by the first
//! rule that matches, in rule-list order and then rule order; without one,
//! a node marked `nacm:default-deny-all` (passwords, the NACM rules
//! themselves) or `nacm:default-deny-write` is denied, and otherwise the
//! global default decides (`read-default`, `write-default`,
//! `exec-default`).
//!
//! - Reads ([`Access::filter`], [`Access::readable`]): a node the user may
//!   not read is left out with everything below it, silently.
//! - Writes ([`Access::check_diff`]): every node a commit creates, changes
//!   or removes is judged (the datastore does it for every transaction, so
//!   Set, edit-config, commit, copy-config and rollback are judged alike);
//!   the first refused one names the path in the error.
//! - Protocol operations ([`Access::exec`]): by module and operation name.
//!
//! A requester that did not authenticate (the configuration file, internal
//! undo, a door while no user is configured) is not judged: that is the
//! recovery path RFC 8341 asks for.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use yang2::data::{Data, DataNodeRef, DataTree};
use yang2::iter::NodeIterable;
use yang2::schema::SchemaNode;

use crate::ModelError;

/// The root of the NACM configuration.
pub const ROOT: &str = "/ietf-netconf-acm:nacm";

/// The NACM module's name, the module of a node under [`ROOT`].
const MODULE: &str = "ietf-netconf-acm";

/// A kind of access (RFC 8341 `access-operations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Creating a data node.
    Create,
    /// Reading a data node.
    Read,
    /// Changing an existing data node.
    Update,
    /// Removing a data node.
    Delete,
    /// Running a protocol operation.
    Exec,
}

impl Op {
    fn bit(self) -> u8 {
        match self {
            Op::Create => 1,
            Op::Read => 2,
            Op::Update => 4,
            Op::Delete => 8,
            Op::Exec => 16,
        }
    }

    /// The RFC's name of the access.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Read => "read",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Exec => "exec",
        }
    }
}

/// An access refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Denied {
    /// The user refused.
    pub user: String,
    /// What the user tried.
    pub op: Op,
    /// The data path, or `module:operation` for a protocol operation.
    pub path: String,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            Op::Exec => write!(
                f,
                "access denied: user {} may not run {}",
                self.user, self.path
            ),
            op => write!(
                f,
                "access denied: user {} may not {} {}",
                self.user,
                op.as_str(),
                self.path
            ),
        }
    }
}

/// Requests refused since the daemon started, for the state leaves.
static DENIED_OPERATIONS: AtomicU32 = AtomicU32::new(0);
static DENIED_WRITES: AtomicU32 = AtomicU32::new(0);

/// One step of a rule's path: a node name, its module, list keys.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    module: String,
    name: String,
    /// Key leaf name and value; `.` for a leaf-list entry's value.
    keys: Vec<(String, String)>,
}

/// What a rule matches besides the module.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// No rule-type: every operation, notification and data node.
    Any,
    /// A protocol operation by name (`None`: every one).
    Rpc(Option<String>),
    /// A data node and everything below it.
    Path(Vec<Step>),
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// `None`: every module.
    module: Option<String>,
    target: Target,
    /// [`Op::bit`]s.
    ops: u8,
    permit: bool,
}

impl Rule {
    /// Whether the rule can decide `op` on a node of `module`, before its
    /// path is looked at.
    fn about(&self, op: Op, module: &str) -> bool {
        self.ops & op.bit() != 0 && self.module.as_deref().is_none_or(|m| m == module)
    }
}

/// The NACM configuration of running, compiled.
#[derive(Debug, Clone)]
pub struct Nacm {
    enabled: bool,
    read_default: bool,
    write_default: bool,
    exec_default: bool,
    /// Group name and its users.
    groups: Vec<(String, Vec<String>)>,
    /// Rule lists in order: their groups (`*` for everyone) and rules.
    lists: Vec<(Vec<String>, Vec<Rule>)>,
}

impl Default for Nacm {
    /// RFC 8341's defaults with no group or rule.
    fn default() -> Nacm {
        Nacm {
            enabled: true,
            read_default: true,
            write_default: false,
            exec_default: true,
            groups: Vec::new(),
            lists: Vec::new(),
        }
    }
}

/// The value of `leaf` under `node`, canonical.
fn child_value(node: &DataNodeRef<'_, '_>, leaf: &str) -> Option<String> {
    node.children()
        .find(|c| c.schema().name() == leaf)
        .and_then(|c| c.value_canonical())
}

/// The values of a leaf-list under `node`.
fn child_values(node: &DataNodeRef<'_, '_>, leaf: &str) -> Vec<String> {
    node.children()
        .filter(|c| c.schema().name() == leaf)
        .filter_map(|c| c.value_canonical())
        .collect()
}

impl Nacm {
    /// Compiles the NACM configuration of `tree`. A rule path that is not
    /// a plain data path of the schema is an error naming the rule.
    pub fn from_tree(tree: &DataTree<'static>) -> Result<Nacm, ModelError> {
        let mut nacm = Nacm::default();
        let Some(root) = crate::ly::find(tree, ROOT)
            .map_err(ModelError::general)?
            .into_iter()
            .next()
        else {
            return Ok(nacm);
        };
        let permit =
            |leaf: &str, default: bool| child_value(&root, leaf).map_or(default, |v| v == "permit");
        nacm.enabled = child_value(&root, "enable-nacm").is_none_or(|v| v == "true");
        nacm.read_default = permit("read-default", true);
        nacm.write_default = permit("write-default", false);
        nacm.exec_default = permit("exec-default", true);
        for node in root.children() {
            match node.schema().name() {
                "groups" => {
                    for group in node.children() {
                        if let Some(name) = child_value(&group, "name") {
                            nacm.groups.push((name, child_values(&group, "user-name")));
                        }
                    }
                }
                "rule-list" => {
                    let groups = child_values(&node, "group");
                    let mut rules = Vec::new();
                    for rule in node.children().filter(|c| c.schema().name() == "rule") {
                        rules.push(compile_rule(&rule)?);
                    }
                    nacm.lists.push((groups, rules));
                }
                _ => {}
            }
        }
        Ok(nacm)
    }

    /// `user`'s access; `None` is a requester that did not authenticate,
    /// which is not judged.
    pub fn access(&self, user: Option<&str>) -> Access {
        let Some(user) = user.filter(|_| self.enabled) else {
            return Access::unrestricted();
        };
        let groups: HashSet<&str> = self
            .groups
            .iter()
            .filter(|(_, users)| users.iter().any(|u| u == user))
            .map(|(g, _)| g.as_str())
            .collect();
        let rules = self
            .lists
            .iter()
            .filter(|(gs, _)| gs.iter().any(|g| g == "*" || groups.contains(g.as_str())))
            .flat_map(|(_, rules)| rules.iter().cloned())
            .collect();
        Access {
            user: Some(user.to_string()),
            rules,
            read_default: self.read_default,
            write_default: self.write_default,
            exec_default: self.exec_default,
        }
    }
}

fn compile_rule(rule: &DataNodeRef<'_, '_>) -> Result<Rule, ModelError> {
    let name = child_value(rule, "name").unwrap_or_default();
    let any = |v: Option<String>| v.filter(|v| v != "*");
    let module = any(child_value(rule, "module-name"));
    let target = if let Some(path) = child_value(rule, "path") {
        Target::Path(parse_path(&path).map_err(|e| {
            ModelError::at(
                crate::ly::node_path(rule) + "/path",
                format!("rule {name}: {e}"),
            )
        })?)
    } else if rule.children().any(|c| c.schema().name() == "rpc-name") {
        Target::Rpc(any(child_value(rule, "rpc-name")))
    } else {
        // (notification-name is deviated: ocbgpd sends no notifications.)
        Target::Any
    };
    let ops = match child_value(rule, "access-operations").as_deref() {
        None | Some("*") => 0x1f,
        Some(bits) => bits
            .split_whitespace()
            .map(|b| match b {
                "create" => Op::Create.bit(),
                "read" => Op::Read.bit(),
                "update" => Op::Update.bit(),
                "delete" => Op::Delete.bit(),
                "exec" => Op::Exec.bit(),
                _ => 0,
            })
            .fold(0, |a, b| a | b),
    };
    Ok(Rule {
        module,
        target,
        ops,
        permit: child_value(rule, "action").as_deref() == Some("permit"),
    })
}

/// Splits `text` at `sep` where it is outside quotes and brackets.
fn split_outside(text: &str, sep: char) -> Vec<&str> {
    let (mut out, mut start, mut depth, mut quote) = (Vec::new(), 0, 0i32, None);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// A rule's path as steps, every step's module filled in, checked against
/// the schema.
fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    const FORM: &str =
        "a rule path is a data path from the root, /module:node/node[key='value']...";
    let path = path.trim();
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("{FORM}: {path} does not start with /"));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut steps: Vec<Step> = Vec::new();
    for text in split_outside(rest, '/') {
        let (head, preds) = match text.find('[') {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, ""),
        };
        let (module, name) = match head.split_once(':') {
            Some((m, n)) => (m.to_string(), n),
            None => match steps.last() {
                Some(prev) => (prev.module.clone(), head),
                None => return Err(format!("{FORM}: the first step of {path} names no module")),
            },
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !plain(name) || !plain(&module) {
            return Err(format!("{FORM}: {text:?} in {path} is not a node name"));
        }
        let mut keys = Vec::new();
        if !preds.is_empty() {
            let inner = preds
                .strip_prefix('[')
                .and_then(|p| p.strip_suffix(']'))
                .ok_or_else(|| format!("{FORM}: bad predicate {preds:?} in {path}"))?;
            for pred in inner.split("][") {
                let (k, v) = pred
                    .split_once('=')
                    .ok_or_else(|| format!("{FORM}: bad predicate [{pred}] in {path}"))?;
                let v = v.trim();
                let unquoted = v
                    .strip_prefix('\'')
                    .and_then(|v| v.strip_suffix('\''))
                    .or_else(|| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
                    .ok_or_else(|| {
                        format!("{FORM}: the value in [{pred}] of {path} is not quoted")
                    })?;
                let k = k.trim();
                let k = k.rsplit_once(':').map_or(k, |(_, k)| k);
                keys.push((k.to_string(), unquoted.to_string()));
            }
        }
        steps.push(Step {
            module,
            name: name.to_string(),
            keys,
        });
    }
    // The schema node must exist: a typo would otherwise match nothing.
    crate::schema::context()
        .find_path(&schema_path(&steps))
        .map_err(|_| format!("{path} names no node of the schema"))?;
    Ok(steps)
}

/// The schema path of `steps` (each module named where it changes).
fn schema_path(steps: &[Step]) -> String {
    let mut out = String::new();
    let mut last = "";
    for s in steps {
        out.push('/');
        if s.module != last {
            out.push_str(&s.module);
            out.push(':');
            last = &s.module;
        }
        out.push_str(&s.name);
    }
    out
}

/// The top-level nodes of `tree`, in order.
fn top_level<'t>(tree: &'t DataTree<'static>) -> impl Iterator<Item = DataNodeRef<'t, 'static>> {
    std::iter::successors(tree.reference(), |n| n.next_sibling())
}

/// How a rule's path stands against the nodes from the root to one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// The first `n` steps matched the node and its ancestors.
    Partial(usize),
    /// Every step matched: the rule covers this node and all below it.
    Covers,
    /// A step did not match.
    Off,
    /// Not a data-node rule.
    NotPath,
}

/// Where a walk stands: one [`Progress`] per rule.
#[derive(Debug, Clone)]
struct Position(Vec<Progress>);

/// One user's access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `None`: not judged.
    user: Option<String>,
    rules: Vec<Rule>,
    read_default: bool,
    write_default: bool,
    exec_default: bool,
}

/// What a node's schema says when no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marked {
    No,
    DenyWrite,
    DenyAll,
}

/// The NACM extension on a schema node (libyang's NACM plugin copies it
/// onto every node below the one that has it).
fn marked(schema: &SchemaNode<'_>) -> Marked {
    // SAFETY: a compiled node's `exts` is a libyang sized array (its count
    // just before the first element) or NULL; each instance's definition
    // and its module are live as long as the context.
    unsafe {
        let exts = (*schema.as_raw()).exts;
        if exts.is_null() {
            return Marked::No;
        }
        let count = *(exts as *const u64).offset(-1) as usize;
        for ext in std::slice::from_raw_parts(exts, count) {
            let def = ext.def;
            if def.is_null() || (*def).module.is_null() {
                continue;
            }
            let module = std::ffi::CStr::from_ptr((*(*def).module).name);
            if module.to_bytes() != MODULE.as_bytes() {
                continue;
            }
            match std::ffi::CStr::from_ptr((*def).name).to_bytes() {
                b"default-deny-all" => return Marked::DenyAll,
                b"default-deny-write" => return Marked::DenyWrite,
                _ => {}
            }
        }
    }
    Marked::No
}

/// Schema nodes that are marked or have a marked node below them, by
/// address (the schema lives as long as the process).
fn marked_within() -> &'static HashSet<usize> {
    static SET: OnceLock<HashSet<usize>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut set = HashSet::new();
        for node in crate::schema::context().traverse() {
            if marked(&node) != Marked::No {
                for a in node.inclusive_ancestors() {
                    if !set.insert(a.as_raw() as usize) {
                        break;
                    }
                }
            }
        }
        set
    })
}

/// Whether `node` is what `step` names: its module and name, and the key
/// values the step gives (`.` for a leaf-list entry's value).
fn step_matches(step: &Step, node: &DataNodeRef<'_, '_>) -> bool {
    let schema = node.schema();
    if schema.name() != step.name || schema.module().name() != step.module {
        return false;
    }
    step.keys.iter().all(|(k, v)| {
        let actual = if k == "." {
            node.value_canonical()
        } else {
            node.list_keys()
                .find(|c| c.schema().name() == k)
                .and_then(|c| c.value_canonical())
        };
        actual.as_deref() == Some(v.as_str())
    })
}

/// A verdict on one node, and whether it holds for everything below.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    permit: bool,
    whole: bool,
}

impl Access {
    /// Access that is not judged (recovery: no authenticated user).
    pub fn unrestricted() -> Access {
        Access {
            user: None,
            rules: Vec::new(),
            read_default: true,
            write_default: true,
            exec_default: true,
        }
    }

    /// Whether nothing is judged.
    pub fn is_unrestricted(&self) -> bool {
        self.user.is_none()
    }

    fn denied(&self, op: Op, path: String) -> Denied {
        Denied {
            user: self.user.clone().unwrap_or_default(),
            op,
            path,
        }
    }

    /// Whether a rule lets the user create, change and remove every data
    /// node (before any rule that could refuse one): then no write needs
    /// judging node by node.
    pub fn writes_everything(&self) -> bool {
        self.is_unrestricted()
            || [Op::Create, Op::Update, Op::Delete].iter().all(|op| {
                self.rules
                    .iter()
                    .find(|r| r.ops & op.bit() != 0)
                    .is_some_and(|r| r.permit && r.module.is_none() && r.target == Target::Any)
            })
    }

    /// Whether the user may run `module:operation` (an RPC of NETCONF,
    /// gNMI, gNOI). Counted in `denied-operations` when not.
    pub fn exec(&self, module: &str, operation: &str) -> Result<(), Denied> {
        if self.is_unrestricted() || (module == "ietf-netconf" && operation == "close-session") {
            return Ok(());
        }
        let rule = self.rules.iter().find(|r| {
            r.about(Op::Exec, module)
                && match &r.target {
                    Target::Any => true,
                    Target::Rpc(name) => name.as_deref().is_none_or(|n| n == operation),
                    _ => false,
                }
        });
        let permit = match rule {
            Some(r) => r.permit,
            // ietf-netconf marks these default-deny-all.
            None if module == "ietf-netconf"
                && matches!(operation, "kill-session" | "delete-config") =>
            {
                false
            }
            None => self.exec_default,
        };
        if permit {
            return Ok(());
        }
        DENIED_OPERATIONS.fetch_add(1, Ordering::Relaxed);
        Err(self.denied(Op::Exec, format!("{module}:{operation}")))
    }

    fn start(&self) -> Position {
        Position(
            self.rules
                .iter()
                .map(|r| match &r.target {
                    Target::Path(steps) if steps.is_empty() => Progress::Covers,
                    Target::Path(_) => Progress::Partial(0),
                    _ => Progress::NotPath,
                })
                .collect(),
        )
    }

    /// Where the walk stands one node down from `at`, given whether that
    /// node is what a rule's next step names (`matches`: `None` when it
    /// cannot tell, and then neither can this).
    fn advance(&self, at: &Position, matches: impl Fn(&Step) -> Option<bool>) -> Option<Position> {
        let mut next = Vec::with_capacity(at.0.len());
        for (p, r) in at.0.iter().zip(&self.rules) {
            next.push(match (p, &r.target) {
                (Progress::Partial(n), Target::Path(steps)) => match matches(&steps[*n])? {
                    true if n + 1 == steps.len() => Progress::Covers,
                    true => Progress::Partial(n + 1),
                    false => Progress::Off,
                },
                (p, _) => *p,
            });
        }
        Some(Position(next))
    }

    /// Where the walk stands at `node`, a child of where `at` stood.
    fn step(&self, at: &Position, node: &DataNodeRef<'_, '_>) -> Position {
        self.advance(at, |s| Some(step_matches(s, node)))
            .expect("a node always tells")
    }

    /// The verdict for `op` on a node of schema `schema`, reached with
    /// `at`.
    fn verdict(&self, op: Op, schema: &SchemaNode<'_>, at: &Position) -> Verdict {
        let module = schema.module();
        let module = module.name();
        // Whether a rule not deciding here may decide a node below.
        let mut open = false;
        for (r, p) in self.rules.iter().zip(&at.0) {
            if r.ops & op.bit() == 0 {
                continue;
            }
            let covers = match (&r.target, p) {
                (Target::Any, _) | (Target::Path(_), Progress::Covers) => true,
                (Target::Path(_), Progress::Partial(_)) => {
                    open = true;
                    false
                }
                _ => false,
            };
            if !covers {
                continue;
            }
            if r.module.as_deref().is_none_or(|m| m == module) {
                return Verdict {
                    permit: r.permit,
                    whole: !open && r.module.is_none(),
                };
            }
            // A rule of another module: nodes below may be of it.
            open = true;
        }
        let mark = marked(schema);
        let permit = match (op, mark) {
            (_, Marked::DenyAll) => false,
            (Op::Read, _) => self.read_default,
            (_, Marked::DenyWrite) => false,
            _ => self.write_default,
        };
        let below = marked_within().contains(&(schema.as_raw() as usize));
        Verdict {
            permit,
            whole: !open && (!below || mark != Marked::No),
        }
    }

    /// The nodes of `tree` the user may not read (none below another),
    /// by data path.
    fn unreadable(&self, tree: &DataTree<'static>) -> Vec<String> {
        let mut out = Vec::new();
        if self.is_unrestricted() {
            return out;
        }
        let start = self.start();
        for node in top_level(tree) {
            self.unreadable_below(&node, &start, &mut out);
        }
        out
    }

    fn unreadable_below(
        &self,
        node: &DataNodeRef<'_, '_>,
        parent: &Position,
        out: &mut Vec<String>,
    ) {
        let at = self.step(parent, node);
        let v = self.verdict(Op::Read, &node.schema(), &at);
        if !v.permit {
            out.push(crate::ly::node_path(node));
            return;
        }
        if v.whole {
            return;
        }
        for child in node.children() {
            // A list entry's keys go with it.
            if !child.schema().is_list_key() {
                self.unreadable_below(&child, &at, out);
            }
        }
    }

    /// Takes out of `tree` what the user may not read; how many subtrees
    /// it took out.
    pub fn filter(&self, tree: &mut DataTree<'static>) -> usize {
        let gone = self.unreadable(tree);
        for path in &gone {
            let _ = crate::ly::remove(tree, path);
        }
        gone.len()
    }

    /// `tree` as the user may read it: `None` when it may read all of it,
    /// else a copy without what it may not.
    pub fn readable(
        &self,
        tree: &DataTree<'static>,
    ) -> Result<Option<DataTree<'static>>, ModelError> {
        self.readable_at(tree, "/")
    }

    /// [`Access::readable`] for a read of the subtree at the data path
    /// `root`: `None` also when what the user may not read is elsewhere,
    /// so a shared tree is copied only when the read would show some of
    /// it.
    pub fn readable_at(
        &self,
        tree: &DataTree<'static>,
        root: &str,
    ) -> Result<Option<DataTree<'static>>, ModelError> {
        let mut gone = self.unreadable(tree);
        gone.retain(|p| crate::datastore::reaches(root, p));
        if gone.is_empty() {
            return Ok(None);
        }
        let mut copy = tree.duplicate()?;
        for path in &gone {
            let _ = crate::ly::remove(&mut copy, path);
        }
        Ok(Some(copy))
    }

    /// Whether the user may read everything at and below the data path
    /// `path` (`Some(true)`), nothing there (`Some(false)`), or some of it
    /// (`None`): for reads that stream a table rather than build a tree.
    /// A list step without its keys stands for every entry, so a rule
    /// about some entries makes the answer `None`.
    pub fn reads_subtree(&self, path: &str) -> Option<bool> {
        if self.is_unrestricted() {
            return Some(true);
        }
        let steps = parse_path(path).ok()?;
        let ctx = crate::schema::context();
        let mut at = self.start();
        for (i, step) in steps.iter().enumerate() {
            let schema = ctx.find_path(&schema_path(&steps[..=i])).ok()?;
            at = self.advance(&at, |s| {
                let given = |k: &str| step.keys.iter().find(|(sk, _)| sk == k).map(|(_, v)| v);
                if s.name != step.name
                    || s.module != step.module
                    || s.keys.iter().any(|(k, v)| given(k).is_some_and(|g| g != v))
                {
                    Some(false)
                } else if s.keys.iter().all(|(k, _)| given(k).is_some()) {
                    Some(true)
                } else {
                    // A key the path leaves open: some entries.
                    None
                }
            })?;
            let v = self.verdict(Op::Read, &schema, &at);
            if !v.permit {
                return Some(false);
            }
            if v.whole {
                return Some(true);
            }
        }
        None
    }

    /// Whether the user may read the top-level data of `module` whole
    /// (for data written outside the schema's trees: NETCONF's own
    /// monitoring and yang-library). A rule about some node inside it
    /// counts as a refusal.
    pub fn reads_module(&self, module: &str) -> bool {
        if self.is_unrestricted() {
            return true;
        }
        for r in &self.rules {
            if !r.about(Op::Read, module) {
                continue;
            }
            match &r.target {
                Target::Any => return r.permit,
                Target::Path(steps) if steps.first().is_some_and(|s| s.module == module) => {
                    return r.permit && steps.len() == 1;
                }
                Target::Path(steps) if steps.is_empty() => return r.permit,
                _ => {}
            }
        }
        self.read_default
    }

    /// Whether the user may make the changes of a libyang diff (created,
    /// changed, removed nodes); the first it may not, as the error.
    /// Counted in `denied-data-writes` when refused.
    pub fn check_diff(&self, diff: &yang2::data::DataDiff<'static>) -> Result<(), Denied> {
        if self.writes_everything() {
            return Ok(());
        }
        let start = self.start();
        top_level(diff.tree())
            .try_for_each(|node| self.check_write(&node, None, &start))
            .inspect_err(|_| {
                DENIED_WRITES.fetch_add(1, Ordering::Relaxed);
            })
    }

    /// Judges one diff node and below; `inherited` is the operation of a
    /// created or removed ancestor.
    fn check_write(
        &self,
        node: &DataNodeRef<'_, '_>,
        inherited: Option<Op>,
        parent: &Position,
    ) -> Result<(), Denied> {
        let own = node
            .meta()
            .find(|m| m.name() == "operation")
            .and_then(|m| match m.value() {
                "create" => Some(Op::Create),
                "delete" => Some(Op::Delete),
                "replace" => Some(Op::Update),
                _ => None,
            });
        let op = own.or(inherited);
        let at = self.step(parent, node);
        if let Some(op) = op {
            let v = self.verdict(op, &node.schema(), &at);
            if !v.permit {
                return Err(self.denied(op, crate::ly::node_path(node)));
            }
            if v.whole && op != Op::Update {
                return Ok(());
            }
        }
        let below = op.filter(|o| *o != Op::Update);
        for child in node.children() {
            self.check_write(&child, below, &at)?;
        }
        Ok(())
    }
}

/// Writes the counters of refusals into `tree` when a read of `path`
/// reaches them.
pub fn write_state(tree: &mut DataTree<'static>, path: &str) -> Result<(), ModelError> {
    if !crate::datastore::reaches(path, ROOT) {
        return Ok(());
    }
    for (leaf, n) in [
        (
            "denied-operations",
            DENIED_OPERATIONS.load(Ordering::Relaxed),
        ),
        ("denied-data-writes", DENIED_WRITES.load(Ordering::Relaxed)),
    ] {
        tree.new_path(&format!("{ROOT}/{leaf}"), Some(&n.to_string()), false)?;
    }
    Ok(())
}

/// Whether a diff changes the NACM configuration.
pub fn touches(diff: &yang2::data::DataDiff<'static>) -> bool {
    top_level(diff.tree()).any(|n| n.schema().module().name() == MODULE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Encoding};

    const HASH: &str = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";

    fn config(prefix_sets: &str, admin_password: &str) -> Config {
        let user = |n: &str, p: &str| {
            format!(r#"{{"name": "{n}", "config": {{"name": "{n}", "password": "{p}"}}}}"#)
        };
        let text = format!(
            r#"{{
            "ocbgp:management": {{"users": {{"user": [{}, {}, {}]}}}},
            "openconfig-routing-policy:routing-policy": {{"defined-sets": {{"prefix-sets": {{"prefix-set": [{prefix_sets}]}}}}}},
            "ietf-netconf-acm:nacm": {{
              "groups": {{"group": [
                {{"name": "admin", "user-name": ["admin"]}},
                {{"name": "readers", "user-name": ["reader"]}},
                {{"name": "policy", "user-name": ["policy"]}}]}},
              "rule-list": [
                {{"name": "admin", "group": ["admin"], "rule": [
                  {{"name": "all", "action": "permit"}}]}},
                {{"name": "policy", "group": ["policy"], "rule": [
                  {{"name": "no-set-b", "path": "/openconfig-routing-policy:routing-policy/defined-sets/prefix-sets/prefix-set[name='B']", "access-operations": "read", "action": "deny"}},
                  {{"name": "policy", "path": "/openconfig-routing-policy:routing-policy", "action": "permit"}}]}},
                {{"name": "everyone", "group": ["*"], "rule": [
                  {{"name": "no-reboot", "module-name": "gnoi.system", "rpc-name": "Reboot", "access-operations": "exec", "action": "deny"}}]}}]
            }}}}"#,
            user("admin", admin_password),
            user("reader", HASH),
            user("policy", HASH),
        );
        Config::parse(&text, Encoding::Json).unwrap()
    }

    fn set(name: &str) -> String {
        format!(r#"{{"name": "{name}", "config": {{"name": "{name}", "mode": "IPV4"}}}}"#)
    }

    fn paths(tree: &DataTree<'static>) -> Vec<String> {
        tree.traverse().map(|n| crate::ly::node_path(&n)).collect()
    }

    #[test]
    fn reads_leave_out_what_a_rule_or_a_default_deny_all_refuses() {
        let running = config(&set("A"), HASH);
        let nacm = Nacm::from_tree(running.tree()).unwrap();
        let all = paths(running.tree());
        assert!(all.iter().any(|p| p.ends_with("/password")));

        // The administrators' permit-all rule overrides default-deny-all.
        assert_eq!(
            nacm.access(Some("admin"))
                .readable(running.tree())
                .unwrap()
                .map(|t| paths(&t)),
            None
        );

        // A reader sees users but no password, and no NACM rules.
        let reader = nacm
            .access(Some("reader"))
            .readable(running.tree())
            .unwrap()
            .unwrap();
        let seen = paths(&reader);
        assert!(seen
            .iter()
            .any(|p| p.ends_with("user[name='reader']/config/name")));
        assert!(!seen.iter().any(|p| p.contains("password")), "{seen:?}");
        assert!(!seen.iter().any(|p| p.contains("nacm")), "{seen:?}");
        assert!(seen.iter().any(|p| p.contains("prefix-set[name='A']")));

        // A rule on one list entry (before the group's permit): that entry
        // is left out, not the others.
        let two = config(&format!("{},{}", set("A"), set("B")), HASH);
        let policy = nacm
            .access(Some("policy"))
            .readable(two.tree())
            .unwrap()
            .unwrap();
        let seen = paths(&policy);
        assert!(seen.iter().any(|p| p.contains("prefix-set[name='A']")));
        assert!(
            !seen.iter().any(|p| p.contains("prefix-set[name='B']")),
            "{seen:?}"
        );

        // Not judged: no authenticated user.
        assert!(nacm
            .access(None)
            .readable(running.tree())
            .unwrap()
            .is_none());
        let subtree = "/openconfig-routing-policy:routing-policy/defined-sets";
        assert_eq!(
            nacm.access(Some("reader")).reads_subtree(subtree),
            Some(true)
        );
        assert_eq!(nacm.access(Some("policy")).reads_subtree(subtree), None);
        let entry = |name: &str| format!("{subtree}/prefix-sets/prefix-set[name='{name}']");
        assert_eq!(
            nacm.access(Some("policy")).reads_subtree(&entry("A")),
            Some(true)
        );
        assert_eq!(
            nacm.access(Some("policy")).reads_subtree(&entry("B")),
            Some(false)
        );
        assert_eq!(
            nacm.access(Some("reader"))
                .reads_subtree("/ietf-netconf-acm:nacm/groups"),
            Some(false)
        );
    }

    fn diff(old: &Config, new: &Config) -> yang2::data::DataDiff<'static> {
        old.tree()
            .diff(new.tree(), yang2::data::DataDiffFlags::DEFAULTS)
            .unwrap()
    }

    #[test]
    fn writes_are_judged_node_by_node() {
        let before = config(&set("A"), HASH);
        let nacm = Nacm::from_tree(before.tree()).unwrap();
        let new_set = config(&format!("{},{}", set("A"), set("C")), HASH);
        let d = diff(&before, &new_set);
        assert!(nacm.access(Some("admin")).check_diff(&d).is_ok());
        assert!(nacm.access(Some("policy")).check_diff(&d).is_ok());
        let refused = nacm.access(Some("reader")).check_diff(&d).unwrap_err();
        assert_eq!(refused.op, Op::Create);
        assert!(refused.path.contains("prefix-set[name='C']"), "{refused}");
        assert!(refused
            .to_string()
            .starts_with("access denied: user reader may not create"));

        // A password (default-deny-all): not even the policy group.
        let other = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
        let d = diff(&before, &config(&set("A"), other));
        let refused = nacm.access(Some("policy")).check_diff(&d).unwrap_err();
        assert_eq!(refused.op, Op::Update);
        assert!(
            refused.path.ends_with("user[name='admin']/config/password"),
            "{refused}"
        );
        assert!(nacm.access(Some("admin")).check_diff(&d).is_ok());

        // Removing an entry.
        let d = diff(&before, &config("", HASH));
        let refused = nacm.access(Some("reader")).check_diff(&d).unwrap_err();
        assert_eq!(refused.op, Op::Delete);
    }

    #[test]
    fn operations_and_bad_paths() {
        let nacm = Nacm::from_tree(config("", HASH).tree()).unwrap();
        let reader = nacm.access(Some("reader"));
        assert!(reader.exec("gnmi", "Get").is_ok());
        assert!(reader.exec("gnoi.system", "Reboot").is_err());
        assert!(reader.exec("ietf-netconf", "kill-session").is_err());
        assert!(reader.exec("ietf-netconf", "close-session").is_ok());
        assert!(nacm
            .access(Some("admin"))
            .exec("ietf-netconf", "kill-session")
            .is_ok());
        assert!(nacm.access(Some("admin")).writes_everything());
        assert!(!nacm.access(Some("policy")).writes_everything());
        assert!(!reader.writes_everything());
        assert!(nacm.access(None).writes_everything());

        let bad = r#"{"ietf-netconf-acm:nacm": {"rule-list": [{"name": "l", "group": ["*"],
            "rule": [{"name": "typo", "path": "/openconfig-routing-policy:routing-policy/defined-set", "action": "deny"}]}]}}"#;
        // libyang checks the path names schema nodes.
        let e = Config::parse(bad, Encoding::Json).unwrap_err();
        assert!(e.to_string().contains("rule[name='typo']/path"), "{e}");
        assert!(parse_path("/openconfig-routing-policy:routing-policy/defined-set").is_err());
        assert!(parse_path("//defined-sets").is_err());
        let steps = parse_path("/ietf-netconf-acm:nacm/rule-list[name='a b']/rule").unwrap();
        assert_eq!(steps[1].keys, vec![("name".to_string(), "a b".to_string())]);
        assert_eq!(steps[2].module, "ietf-netconf-acm");
    }
}
