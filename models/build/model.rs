//! Schema walk: loads `yang/` into libyang through yang2 and turns the
//! compiled schema into the small intermediate model the emitters read
//! (nodes, leaf types, enumerations and identities). Nothing here knows
//! about particular schema nodes; the only hand-kept knowledge is the table
//! of typedefs that map onto Rust types ([`TYPEDEFS`]).

use std::collections::HashMap;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::path::Path;

use yang2::context::{Context, ContextFlags};
use yang2::ffi;
use yang2::schema::{DataValueType, SchemaLeafType, SchemaNode, SchemaNodeKind, SchemaPathFormat};

/// Typedefs (by name) whose values have a better Rust type than their YANG
/// base type. The base type must be a string or a union of strings.
pub const TYPEDEFS: &[(&str, &str)] = &[
    ("ip-address", "std::net::IpAddr"),
    ("ipv4-address", "std::net::Ipv4Addr"),
    ("ipv6-address", "std::net::Ipv6Addr"),
    ("ip-prefix", "ipnet::IpNet"),
    ("ipv4-prefix", "ipnet::Ipv4Net"),
    ("ipv6-prefix", "ipnet::Ipv6Net"),
    ("dotted-quad", "std::net::Ipv4Addr"),
];

/// Index of a node in [`Schema::nodes`].
pub type NodeId = usize;

/// The data tree of every module in `yang/` (choice and case flattened away,
/// RPCs, actions and notifications left out).
pub struct Schema {
    /// All data nodes, parents before children, in schema order.
    pub nodes: Vec<Node>,
    /// Top-level data nodes.
    pub roots: Vec<NodeId>,
    /// Every enumeration and identity base some leaf uses.
    pub enums: Vec<EnumType>,
}

/// One data node.
pub struct Node {
    pub name: String,
    /// Module the node is defined in (differs from its parent's for augments).
    pub module: String,
    /// Schema path in libyang's data form (module prefix where it changes).
    pub path: String,
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    pub kind: Kind,
    pub config: bool,
    /// Has a `when` condition: the node may be absent although its parent is not.
    pub when: bool,
}

/// What a node is; leaves carry their value type.
pub enum Kind {
    Container { presence: bool },
    List { keys: Vec<String> },
    Leaf(Leaf),
    LeafList(Leaf),
}

/// What a leaf or leaf-list holds.
pub struct Leaf {
    pub ty: LeafType,
    /// Canonical default value, if the schema gives one.
    pub default: Option<String>,
    pub mandatory: bool,
    pub key: bool,
}

/// Value type of a leaf, as the emitters map it to Rust.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum LeafType {
    Uint(u8),
    Int(u8),
    Bool,
    Empty,
    Decimal,
    /// Strings, unions, binary, bits and instance-identifiers: canonical text.
    String,
    /// Index into [`Schema::enums`].
    Enum(usize),
    /// Index into [`Schema::enums`].
    Identity(usize),
    /// A Rust type from [`TYPEDEFS`].
    Mapped(&'static str),
}

/// An enumeration type or an identity base with everything derived from it.
pub struct EnumType {
    pub kind: EnumKind,
    /// The YANG name: typedef, leaf (inline enumerations) or base identity.
    pub yang_name: String,
    pub values: Vec<EnumValue>,
    /// Leaves using it, first use first (names inline enumerations).
    pub uses: Vec<NodeId>,
    /// Rust type name, assigned by the enum emitter.
    pub rust_name: String,
    /// Rust variant names, one per value, assigned by the enum emitter.
    pub variants: Vec<String>,
}

/// Where an enum type comes from.
pub enum EnumKind {
    Enumeration { typedef: bool },
    Identity { module: String },
}

pub struct EnumValue {
    /// The value as it appears in data: `NAME` or, for identities, `module:NAME`.
    pub text: String,
    /// The bare name.
    pub name: String,
}

impl Schema {
    /// Children of `id` that belong to the config tree (`config` only) or to
    /// the whole tree.
    pub fn children(&self, id: NodeId, config_only: bool) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes[id]
            .children
            .iter()
            .copied()
            .filter(move |&c| !config_only || self.nodes[c].config)
    }

    /// Whether `id` is a list.
    pub fn is_list(&self, id: NodeId) -> bool {
        matches!(self.nodes[id].kind, Kind::List { .. })
    }

    /// Whether `id` is a container.
    pub fn is_container(&self, id: NodeId) -> bool {
        matches!(self.nodes[id].kind, Kind::Container { .. })
    }

    /// A wrapper is OpenConfig's plural container around a list
    /// (`neighbors` around `neighbor`): a plain container whose only child
    /// in the view is one list. Typed structs flatten it into a `Vec`.
    pub fn wrapped_list(&self, id: NodeId, config_only: bool) -> Option<NodeId> {
        let node = &self.nodes[id];
        if !matches!(node.kind, Kind::Container { presence: false }) || node.when {
            return None;
        }
        let mut children = self.children(id, config_only);
        match (children.next(), children.next()) {
            (Some(list), None) if self.is_list(list) => Some(list),
            _ => None,
        }
    }

    /// The nearest list ancestor of `id` (not `id` itself).
    pub fn enclosing_list(&self, id: NodeId) -> Option<NodeId> {
        let mut cur = self.nodes[id].parent;
        while let Some(p) = cur {
            if self.is_list(p) {
                return Some(p);
            }
            cur = self.nodes[p].parent;
        }
        None
    }

    /// Ancestors of `id`, outermost first, without `id`.
    pub fn ancestors(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut cur = self.nodes[id].parent;
        while let Some(p) = cur {
            out.push(p);
            cur = self.nodes[p].parent;
        }
        out.reverse();
        out
    }

    /// `name` or `module:name`: how `id` is written as a path step below its parent.
    pub fn step(&self, id: NodeId) -> String {
        let node = &self.nodes[id];
        match node.parent {
            Some(p) if self.nodes[p].module == node.module => node.name.clone(),
            _ => format!("{}:{}", node.module, node.name),
        }
    }

    /// Whether any descendant of `id` is a list of the view.
    pub fn has_list_below(&self, id: NodeId, config_only: bool) -> bool {
        self.children(id, config_only)
            .any(|c| self.is_list(c) || self.has_list_below(c, config_only))
    }
}

/// Builds a libyang context holding `modules` (top-level module names), found
/// in `yang_dir`, all implemented, as the runtime context does.
pub fn load_context(yang_dir: &Path, modules: &[String]) -> Context {
    let mut ctx = Context::new(
        ContextFlags::ALL_IMPLEMENTED
            | ContextFlags::NO_YANGLIBRARY
            | ContextFlags::DISABLE_SEARCHDIR_CWD,
    )
    .expect("libyang context");
    ctx.set_searchdir(yang_dir).expect("yang/ as search dir");
    for name in modules {
        if let Err(e) = ctx.load_module(name, None, &[]) {
            panic!("YANG module {name} does not load: {e:?}");
        }
    }
    ctx
}

/// Walks the data nodes of `modules` into a [`Schema`].
pub fn walk(ctx: &Context, modules: &[String]) -> Schema {
    let mut w = Walker {
        schema: Schema {
            nodes: vec![],
            roots: vec![],
            enums: vec![],
        },
        enum_index: HashMap::new(),
    };
    for name in modules {
        let module = ctx.get_module_implemented(name).expect("module loaded");
        for top in module.data() {
            w.add(&top, None);
        }
    }
    w.schema
}

struct Walker {
    schema: Schema,
    /// Enum identity → index in `schema.enums`.
    enum_index: HashMap<String, usize>,
}

impl Walker {
    fn add(&mut self, s: &SchemaNode, parent: Option<NodeId>) {
        let kind = match s.kind() {
            SchemaNodeKind::Choice | SchemaNodeKind::Case => {
                // Choice and case have no data nodes: their children belong to the parent.
                for child in s.children() {
                    self.add(&child, parent);
                }
                return;
            }
            SchemaNodeKind::Container => Kind::Container {
                presence: !s.is_np_container(),
            },
            SchemaNodeKind::List => Kind::List {
                keys: s.list_keys().map(|k| k.name().to_string()).collect(),
            },
            SchemaNodeKind::Leaf | SchemaNodeKind::LeafList => {
                let id = self.schema.nodes.len();
                let leaf = self.leaf(s, id);
                if s.kind() == SchemaNodeKind::Leaf {
                    Kind::Leaf(leaf)
                } else {
                    Kind::LeafList(leaf)
                }
            }
            // RPCs, actions, notifications and anydata are not part of the data tree.
            _ => return,
        };
        let id = self.schema.nodes.len();
        self.schema.nodes.push(Node {
            name: s.name().to_string(),
            module: s.module().name().to_string(),
            path: s.path(SchemaPathFormat::DATA),
            parent,
            children: vec![],
            kind,
            config: s.is_config(),
            when: s.whens().next().is_some(),
        });
        match parent {
            Some(p) => self.schema.nodes[p].children.push(id),
            None => self.schema.roots.push(id),
        }
        for child in s.children() {
            self.add(&child, Some(id));
        }
    }

    fn leaf(&mut self, s: &SchemaNode, id: NodeId) -> Leaf {
        let ty = s.leaf_type().expect("leaf has a type");
        let ty = self.leaf_type(&ty, s.name(), id);
        // `default_value_canonical` dereferences the default unchecked;
        // `default_value` checks it exists first.
        let default = match s.default_value() {
            Some(_) => s.default_value_canonical().map(str::to_string),
            None => None,
        };
        if s.kind() == SchemaNodeKind::LeafList {
            // Leaf-list defaults are not carried into Rust (`yang/` has none).
            let dflts = unsafe { (*(s.as_raw() as *const ffi::lysc_node_leaflist)).dflts };
            if unsafe { array_len(dflts) } > 0 {
                println!(
                    "cargo:warning=leaf-list {} has defaults; the typed structs ignore them",
                    s.name()
                );
            }
        }
        Leaf {
            ty,
            default,
            mandatory: s.is_mandatory(),
            key: s.is_list_key(),
        }
    }

    fn leaf_type(&mut self, ty: &SchemaLeafType, leaf: &str, id: NodeId) -> LeafType {
        if let Some(real) = ty.leafref_real_type() {
            return self.leaf_type(&real, leaf, id);
        }
        let base = ty.base_type();
        if let Some(name) = ty.typedef_name() {
            if let Some((_, rust)) = TYPEDEFS.iter().find(|(t, _)| *t == name) {
                if matches!(base, DataValueType::String | DataValueType::Union) {
                    return LeafType::Mapped(rust);
                }
            }
        }
        match base {
            DataValueType::Uint8 => LeafType::Uint(8),
            DataValueType::Uint16 => LeafType::Uint(16),
            DataValueType::Uint32 => LeafType::Uint(32),
            DataValueType::Uint64 => LeafType::Uint(64),
            DataValueType::Int8 => LeafType::Int(8),
            DataValueType::Int16 => LeafType::Int(16),
            DataValueType::Int32 => LeafType::Int(32),
            DataValueType::Int64 => LeafType::Int(64),
            DataValueType::Bool => LeafType::Bool,
            DataValueType::Empty => LeafType::Empty,
            DataValueType::Dec64 => LeafType::Decimal,
            DataValueType::Enum => {
                let values = unsafe { enum_values(ty.as_raw()) };
                LeafType::Enum(self.enumeration(ty.typedef_name(), leaf, values, id))
            }
            DataValueType::IdentityRef => match unsafe { identity_bases(ty.as_raw()) }.as_slice() {
                [base] => LeafType::Identity(self.identity(base, id)),
                // Several bases: no single Rust enum fits; keep the text.
                _ => LeafType::String,
            },
            DataValueType::Union => {
                // The value stays text, but enum types named inside the union
                // (well-known communities, ...) are still generated.
                unsafe { self.union_members(ty.as_raw(), id) };
                LeafType::String
            }
            DataValueType::String
            | DataValueType::Binary
            | DataValueType::Bits
            | DataValueType::InstanceId => LeafType::String,
            other => panic!("leaf {leaf}: unsupported YANG type {other:?}"),
        }
    }

    fn enumeration(
        &mut self,
        typedef: Option<String>,
        leaf: &str,
        values: Vec<String>,
        id: NodeId,
    ) -> usize {
        // Typedefs are one type wherever used; inline enumerations are one
        // type per leaf name and value set (the config and state copies of a
        // leaf share it).
        let key = match &typedef {
            Some(t) => format!("typedef {t} {values:?}"),
            None => format!("inline {leaf} {values:?}"),
        };
        let values = values
            .into_iter()
            .map(|v| EnumValue {
                text: v.clone(),
                name: v,
            })
            .collect();
        let kind = EnumKind::Enumeration {
            typedef: typedef.is_some(),
        };
        let name = typedef.unwrap_or_else(|| leaf.to_string());
        self.register(key, kind, name, values, id)
    }

    fn identity(&mut self, base: &Ident, id: NodeId) -> usize {
        let key = format!("identity {}:{}", base.module, base.name);
        let values = base
            .derived
            .iter()
            .map(|d| EnumValue {
                text: format!("{}:{}", d.module, d.name),
                name: d.name.clone(),
            })
            .collect();
        let kind = EnumKind::Identity {
            module: base.module.clone(),
        };
        self.register(key, kind, base.name.clone(), values, id)
    }

    fn register(
        &mut self,
        key: String,
        kind: EnumKind,
        yang_name: String,
        values: Vec<EnumValue>,
        id: NodeId,
    ) -> usize {
        if let Some(&i) = self.enum_index.get(&key) {
            self.schema.enums[i].uses.push(id);
            return i;
        }
        let i = self.schema.enums.len();
        self.schema.enums.push(EnumType {
            kind,
            yang_name,
            values,
            uses: vec![id],
            rust_name: String::new(),
            variants: vec![],
        });
        self.enum_index.insert(key, i);
        i
    }

    /// Registers the named enumerations and identity bases inside a union.
    unsafe fn union_members(&mut self, ty: *mut ffi::lysc_type, id: NodeId) {
        let union = ty as *const ffi::lysc_type_union;
        let types = (*union).types;
        for i in 0..array_len(types) {
            let member = *types.add(i);
            match (*member).basetype {
                ffi::LY_DATA_TYPE::LY_TYPE_UNION => self.union_members(member, id),
                ffi::LY_DATA_TYPE::LY_TYPE_IDENT => {
                    if let [base] = identity_bases(member).as_slice() {
                        self.identity(base, id);
                    }
                }
                ffi::LY_DATA_TYPE::LY_TYPE_ENUM => {
                    // Only named enumerations: an inline one-value enumeration
                    // inside a union (`IGP`, `SELF`) is no useful type.
                    if let Some(name) = opt_str((*member).name) {
                        let values = enum_values(member);
                        self.enumeration(Some(name.clone()), &name, values, id);
                    }
                }
                _ => {}
            }
        }
    }
}

/// An identity base with every identity derived from it, transitively.
struct Ident {
    module: String,
    name: String,
    derived: Vec<Ident>,
}

// ---- libyang structures the safe API does not reach ----
//
// libyang "sized arrays" keep their element count (a u64) in the 8 bytes
// before element 0; a null pointer is an empty array.

unsafe fn array_len<T>(array: *const T) -> usize {
    if array.is_null() {
        0
    } else {
        *(array as *const u64).offset(-1) as usize
    }
}

unsafe fn opt_str(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

/// Names of the values of an enumeration type, in schema order.
unsafe fn enum_values(ty: *mut ffi::lysc_type) -> Vec<String> {
    let items = (*(ty as *const ffi::lysc_type_enum)).enums;
    (0..array_len(items))
        .map(|i| opt_str((*items.add(i)).name).unwrap_or_default())
        .collect()
}

/// The bases of an identityref type, each with its derived identities.
unsafe fn identity_bases(ty: *mut ffi::lysc_type) -> Vec<Ident> {
    let bases = (*(ty as *const ffi::lysc_type_identityref)).bases;
    (0..array_len(bases))
        .map(|i| ident(*bases.add(i)))
        .collect()
}

unsafe fn ident(id: *const ffi::lysc_ident) -> Ident {
    let mut derived = Vec::new();
    collect_derived(id, &mut derived);
    Ident {
        module: opt_str((*(*id).module).name).unwrap_or_default(),
        name: opt_str((*id).name).unwrap_or_default(),
        derived,
    }
}

/// Every identity derived from `id`, depth first, each once.
unsafe fn collect_derived(id: *const ffi::lysc_ident, out: &mut Vec<Ident>) {
    let derived = (*id).derived;
    for i in 0..array_len(derived) {
        let d = *derived.add(i);
        let module = opt_str((*(*d).module).name).unwrap_or_default();
        let name = opt_str((*d).name).unwrap_or_default();
        if !out.iter().any(|o| o.module == module && o.name == name) {
            out.push(Ident {
                module,
                name,
                derived: vec![],
            });
        }
        collect_derived(d, out);
    }
}
