//! The heap graph, held compactly: one packed column per node field and per edge field
//! (17 bytes a node, 9 an edge, 5 without edge names), the reverse edges built on demand, and
//! only the strings the analysis reads.

use std::collections::HashMap;

use serde_json::Value;

use super::parse::LoadOptions;

/// The layout a snapshot declares in `snapshot.meta` (DESIGN.md §5).
#[derive(Clone, Debug)]
pub struct Meta {
    pub node_stride: usize,
    pub f_type: usize,
    pub f_name: usize,
    pub f_id: usize,
    pub f_self_size: usize,
    pub f_edge_count: usize,
    /// `detachedness` (0 unknown, 1 attached, 2 detached), when the snapshot has it.
    pub f_detachedness: Option<usize>,
    pub edge_stride: usize,
    pub e_type: usize,
    pub e_name: usize,
    pub e_to: usize,
    pub node_types: Vec<String>,
    pub edge_types: Vec<String>,
    pub node_count: u64,
    pub edge_count: u64,
}

fn field_index(fields: &[String], name: &str, what: &str) -> Result<usize, String> {
    fields
        .iter()
        .position(|f| f == name)
        .ok_or_else(|| format!("snapshot.meta.{what} has no \"{name}\""))
}

fn strings_of(v: &Value, what: &str) -> Result<Vec<String>, String> {
    v.as_array()
        .ok_or_else(|| format!("snapshot.meta.{what} is not an array"))?
        .iter()
        .map(|s| {
            s.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("snapshot.meta.{what} holds a non-string"))
        })
        .collect()
}

impl Meta {
    /// The largest string index a well-formed file can use: V8's strings are the names of its
    /// nodes and edges and a few more, so a larger index means a damaged file. (It bounds the
    /// memory the wanted-strings bit set can take.)
    pub fn string_bound(&self) -> u64 {
        (self.node_count + self.edge_count + (1 << 24)).min(u32::MAX as u64)
    }

    pub fn from_json(snapshot: &Value) -> Result<Meta, String> {
        let meta = snapshot.get("meta").ok_or("\"snapshot\" has no \"meta\"")?;
        let node_fields = strings_of(
            meta.get("node_fields").unwrap_or(&Value::Null),
            "node_fields",
        )?;
        let edge_fields = strings_of(
            meta.get("edge_fields").unwrap_or(&Value::Null),
            "edge_fields",
        )?;
        let first = |key: &str| -> Result<Vec<String>, String> {
            let v = meta
                .get(key)
                .and_then(|v| v.get(0))
                .ok_or_else(|| format!("snapshot.meta.{key} has no type list"))?;
            strings_of(v, key)
        };
        let count = |key: &str| snapshot.get(key).and_then(Value::as_u64).unwrap_or(0);
        // Checked once here, so the per-number parse code can rely on it.
        for (what, fields) in [("node_fields", &node_fields), ("edge_fields", &edge_fields)] {
            if fields.len() > MAX_FIELDS {
                return Err(format!("unsupported {what} length {}", fields.len()));
            }
        }
        Ok(Meta {
            node_stride: node_fields.len(),
            f_type: field_index(&node_fields, "type", "node_fields")?,
            f_name: field_index(&node_fields, "name", "node_fields")?,
            f_id: field_index(&node_fields, "id", "node_fields")?,
            f_self_size: field_index(&node_fields, "self_size", "node_fields")?,
            f_edge_count: field_index(&node_fields, "edge_count", "node_fields")?,
            f_detachedness: node_fields.iter().position(|f| f == "detachedness"),
            edge_stride: edge_fields.len(),
            e_type: field_index(&edge_fields, "type", "edge_fields")?,
            e_name: field_index(&edge_fields, "name_or_index", "edge_fields")?,
            e_to: field_index(&edge_fields, "to_node", "edge_fields")?,
            node_types: first("node_types")?,
            edge_types: first("edge_types")?,
            node_count: count("node_count"),
            edge_count: count("edge_count"),
        })
    }
}

/// Node type codes the analysis treats specially (resolved from `meta.node_types`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeKinds {
    pub hidden: u8,
    pub object: u8,
    pub native: u8,
    pub code: u8,
    pub synthetic: u8,
}

/// Edge type codes the analysis treats specially (resolved from `meta.edge_types`).
#[derive(Clone, Copy, Debug, Default)]
pub struct EdgeKinds {
    pub element: u8,
    pub internal: u8,
    pub hidden: u8,
    pub weak: u8,
    pub shortcut: u8,
}

impl EdgeKinds {
    /// Whether an edge of type `t` names its target by a number (element and hidden edges),
    /// not by a string index.
    #[inline]
    pub fn is_indexed(&self, t: u8) -> bool {
        t == self.element || t == self.hidden
    }
}

const NONE: u8 = u8::MAX;

/// The most fields a node or an edge may have (V8 writes 6 or 7, and 3).
const MAX_FIELDS: usize = 16;

pub struct Graph {
    pub meta: Meta,
    /// Whether the file was gzip, and its size on disk.
    pub source_gzip: bool,
    pub source_size: u64,
    pub nk: NodeKinds,
    pub ek: EdgeKinds,
    pub ntype: Vec<u8>,
    pub name: Vec<u32>,
    pub id: Vec<u32>,
    self_size: Vec<u32>,
    /// Self sizes that do not fit in 32 bits (rare: huge native backing stores).
    big_self: HashMap<u32, u64>,
    /// Edges of node `i` are `first_edge[i]..first_edge[i + 1]`.
    pub first_edge: Vec<u32>,
    pub etype: Vec<u8>,
    /// The edge's `name_or_index` (empty unless edge names were asked for).
    pub ename: Vec<u32>,
    /// `(edge, name)` of each internal edge, until the strings are read (WeakMap case).
    internal: Vec<(u32, u32)>,
    /// Target node ordinal.
    pub eto: Vec<u32>,
    /// Which string indices to keep (bit set).
    wanted: Vec<u64>,
    /// String indices used as internal edge names (bit set).
    internal_names: Vec<u64>,
    /// Internal edge name → WeakMap table id, for names of ephemeron edges.
    weakmap_names: HashMap<u32, u32>,
    /// Edges from a WeakMap table to a value (bit set by edge index).
    table_edges: Vec<u64>,
    /// Native nodes the snapshot marks detached (bit set by node ordinal).
    detached: Vec<u64>,
    arena: String,
    /// Start of string `i` in `arena`; `u64::MAX` when it was not kept.
    string_at: Vec<(u64, u32)>,
    opts: LoadOptions,
    // Parse state.
    field: usize,
    cur: [u64; MAX_FIELDS],
    edge_total: u64,
    edge_count_sum: u64,
}

/// Sentinel for strings not kept.
const DROPPED: (u64, u32) = (u64::MAX, 0);

impl Graph {
    pub fn new(meta: Meta, opts: LoadOptions) -> Graph {
        let kind = |list: &[String], name: &str| {
            list.iter()
                .position(|t| t == name)
                .map(|i| i as u8)
                .unwrap_or(NONE)
        };
        let nk = NodeKinds {
            hidden: kind(&meta.node_types, "hidden"),
            object: kind(&meta.node_types, "object"),
            native: kind(&meta.node_types, "native"),
            code: kind(&meta.node_types, "code"),
            synthetic: kind(&meta.node_types, "synthetic"),
        };
        let ek = EdgeKinds {
            element: kind(&meta.edge_types, "element"),
            internal: kind(&meta.edge_types, "internal"),
            hidden: kind(&meta.edge_types, "hidden"),
            weak: kind(&meta.edge_types, "weak"),
            shortcut: kind(&meta.edge_types, "shortcut"),
        };
        // Reserve from the declared counts, capped so a corrupt header cannot ask for absurd
        // amounts up front (the columns still grow as needed).
        let n = meta.node_count.min(1 << 27) as usize;
        let e = if opts.edges {
            meta.edge_count.min(1 << 29) as usize
        } else {
            0
        };
        Graph {
            nk,
            ek,
            ntype: Vec::with_capacity(n),
            name: Vec::with_capacity(n),
            id: Vec::with_capacity(n),
            self_size: Vec::with_capacity(n),
            big_self: HashMap::new(),
            first_edge: Vec::with_capacity(n + 1),
            etype: Vec::with_capacity(e),
            ename: if opts.edge_names {
                Vec::with_capacity(e)
            } else {
                Vec::new()
            },
            internal: Vec::new(),
            eto: Vec::with_capacity(e),
            wanted: Vec::new(),
            internal_names: Vec::new(),
            weakmap_names: HashMap::new(),
            table_edges: Vec::new(),
            detached: Vec::new(),
            arena: String::new(),
            string_at: Vec::new(),
            opts,
            source_gzip: false,
            source_size: 0,
            field: 0,
            cur: [0; MAX_FIELDS],
            edge_total: 0,
            edge_count_sum: 0,
            meta,
        }
    }

    pub fn node_count(&self) -> usize {
        self.ntype.len()
    }

    pub fn edge_count(&self) -> usize {
        self.edge_total as usize
    }

    #[inline]
    pub fn self_size(&self, i: usize) -> u64 {
        let s = self.self_size[i];
        if s == u32::MAX {
            self.big_self.get(&(i as u32)).copied().unwrap_or(s as u64)
        } else {
            s as u64
        }
    }

    #[inline]
    pub fn edges(&self, i: usize) -> std::ops::Range<usize> {
        self.first_edge[i] as usize..self.first_edge[i + 1] as usize
    }

    fn want(&mut self, s: u32) {
        set_bit(&mut self.wanted, s);
    }

    /// Whether string `s` is to be kept, or at least looked at (internal edge names, for the
    /// WeakMap special case).
    pub fn string_wanted(&self, s: u32) -> bool {
        get_bit(&self.wanted, s) || get_bit(&self.internal_names, s)
    }

    /// Takes string `index` (called only for strings `string_wanted` asked for).
    pub fn take_string(&mut self, index: u32, text: &str) {
        if get_bit(&self.internal_names, index) {
            if let Some(table) = weakmap_table_id(text) {
                self.weakmap_names.insert(index, table);
            }
        }
        if get_bit(&self.wanted, index) {
            self.push_string(index, text);
        }
    }

    /// Whether edge `e` is one DevTools leaves out of the retaining graph because it is the
    /// WeakMap table's half of an ephemeron pair (see `dominators`).
    #[inline]
    pub fn is_weakmap_table_edge(&self, e: usize) -> bool {
        get_bit(&self.table_edges, e as u32)
    }

    pub fn push_node_field(&mut self, v: u64) -> Result<(), String> {
        let m = &self.meta;
        self.cur[self.field] = v;
        self.field += 1;
        if self.field < m.node_stride {
            return Ok(());
        }
        self.field = 0;
        let t = self.cur[m.f_type];
        if t >= m.node_types.len() as u64 {
            return Err(format!("node type {t} is not in meta.node_types"));
        }
        let t = t as u8;
        let name = self.cur[m.f_name];
        if name > m.string_bound() {
            return Err(format!("node name {name} is not a string index"));
        }
        let name = name as u32;
        let id = u32::try_from(self.cur[m.f_id]).map_err(|_| "node id too large")?;
        let size = self.cur[m.f_self_size];
        let edges = self.cur[m.f_edge_count];
        let ordinal = self.ntype.len();
        if ordinal >= u32::MAX as usize - 1 {
            return Err("too many nodes".into());
        }
        self.first_edge
            .push(u32::try_from(self.edge_count_sum).map_err(|_| "more than 2^32 edges")?);
        self.edge_count_sum += edges;
        self.ntype.push(t);
        self.name.push(name);
        self.id.push(id);
        if size >= u32::MAX as u64 {
            self.big_self.insert(ordinal as u32, size);
            self.self_size.push(u32::MAX);
        } else {
            self.self_size.push(size as u32);
        }
        if t == self.nk.native && m.f_detachedness.is_some_and(|f| self.cur[f] == 2) {
            set_bit(&mut self.detached, ordinal as u32);
        }
        if t == self.nk.object || t == self.nk.native || t == self.nk.synthetic {
            // Class names (object/native) and the names of synthetic roots are printed.
            self.want(name);
        }
        Ok(())
    }

    pub fn end_nodes(&mut self) -> Result<(), String> {
        if self.field != 0 {
            return Err("node array length is not a multiple of node_fields".into());
        }
        if self.ntype.is_empty() {
            return Err("the snapshot has no nodes".into());
        }
        if self.meta.node_count != 0 && self.meta.node_count != self.ntype.len() as u64 {
            return Err(format!(
                "snapshot.node_count is {} but the file has {} nodes",
                self.meta.node_count,
                self.ntype.len()
            ));
        }
        self.first_edge
            .push(u32::try_from(self.edge_count_sum).map_err(|_| "more than 2^32 edges")?);
        Ok(())
    }

    pub fn push_edge_field(&mut self, v: u64) -> Result<(), String> {
        let m = &self.meta;
        self.cur[self.field] = v;
        self.field += 1;
        if self.field < m.edge_stride {
            return Ok(());
        }
        self.field = 0;
        self.edge_total += 1;
        if self.edge_total > self.edge_count_sum {
            return Err("more edges than the nodes' edge_count sum".into());
        }
        let t = self.cur[m.e_type];
        if t >= m.edge_types.len() as u64 {
            return Err(format!("edge type {t} is not in meta.edge_types"));
        }
        let to = self.cur[m.e_to];
        // Division by a constant is a multiplication; the two strides V8 writes get their own.
        let (ordinal, rest) = match m.node_stride {
            6 => (to / 6, to % 6),
            7 => (to / 7, to % 7),
            s => (to / s as u64, to % s as u64),
        };
        if rest != 0 || ordinal >= self.ntype.len() as u64 {
            return Err(format!("edge to_node {to} does not point at a node"));
        }
        let t = t as u8;
        let named = !self.ek.is_indexed(t);
        let name = self.cur[m.e_name];
        if named && name > m.string_bound() {
            return Err(format!("edge name {name} is not a string index"));
        }
        let name = u32::try_from(name).map_err(|_| "edge index too large")?;
        if self.opts.edges {
            self.etype.push(t);
            self.eto.push(ordinal as u32);
            if self.opts.edge_names {
                self.ename.push(name);
                if named {
                    self.want(name);
                }
            }
            if t == self.ek.internal {
                set_bit(&mut self.internal_names, name);
                self.internal.push((self.eto.len() as u32 - 1, name));
            }
        }
        Ok(())
    }

    pub fn end_edges(&mut self) -> Result<(), String> {
        if self.field != 0 {
            return Err("edge array length is not a multiple of edge_fields".into());
        }
        if self.edge_total != self.edge_count_sum {
            return Err(format!(
                "the nodes declare {} edges but the file has {}",
                self.edge_count_sum, self.edge_total
            ));
        }
        Ok(())
    }

    fn push_string(&mut self, index: u32, text: &str) {
        let i = index as usize;
        if self.string_at.len() <= i {
            self.string_at.resize(i + 1, DROPPED);
        }
        self.string_at[i] = (self.arena.len() as u64, text.len() as u32);
        self.arena.push_str(text);
    }

    /// Resolves the WeakMap table edges once the strings are known, and frees parse state.
    pub fn finish(&mut self) {
        self.wanted = Vec::new();
        self.internal_names = Vec::new();
        if !self.weakmap_names.is_empty() {
            for &(e, name) in &self.internal {
                if let Some(&table) = self.weakmap_names.get(&name) {
                    if self.id[self.edge_owner(e as usize)] == table {
                        set_bit(&mut self.table_edges, e);
                    }
                }
            }
        }
        self.weakmap_names = HashMap::new();
        self.internal = Vec::new();
        self.arena.shrink_to_fit();
    }

    /// String `i` of the snapshot ("" when it was not kept or does not exist).
    pub fn string(&self, i: u32) -> &str {
        match self.string_at.get(i as usize) {
            Some(&(at, len)) if at != u64::MAX => {
                &self.arena[at as usize..at as usize + len as usize]
            }
            _ => "",
        }
    }

    pub fn node_type_name(&self, i: usize) -> &str {
        &self.meta.node_types[self.ntype[i] as usize]
    }

    pub fn edge_type_name(&self, e: usize) -> &str {
        &self.meta.edge_types[self.etype[e] as usize]
    }

    /// Whether node `i` is a native node the snapshot marks detached (detachedness 2).
    #[inline]
    pub fn is_detached(&self, i: usize) -> bool {
        !self.detached.is_empty() && get_bit(&self.detached, i as u32)
    }

    /// DevTools' class name for a node: the node's name for `object` and `native` nodes
    /// (`Detached <name>` for native nodes marked detached), `(system)` for `hidden`,
    /// `(compiled code)` for `code`, `(<type>)` for the rest (`HeapSnapshotNode.className`).
    /// DevTools also propagates the attached/detached state from node to node
    /// (`propagateDOMState`); here only the state V8 wrote is used.
    pub fn class_name(&self, i: usize) -> std::borrow::Cow<'_, str> {
        let t = self.ntype[i];
        if self.is_detached(i) {
            format!("Detached {}", self.string(self.name[i])).into()
        } else if t == self.nk.object || t == self.nk.native {
            self.string(self.name[i]).into()
        } else if t == self.nk.hidden {
            "(system)".into()
        } else if t == self.nk.code {
            "(compiled code)".into()
        } else {
            format!("({})", self.node_type_name(i)).into()
        }
    }

    /// A key that is equal for nodes of the same class: the name's string index for named
    /// classes, a value past every string index for the `(type)` classes.
    #[inline]
    pub fn class_key(&self, i: usize) -> u64 {
        let t = self.ntype[i];
        if self.is_detached(i) {
            (2u64 << 32) + self.name[i] as u64
        } else if t == self.nk.object || t == self.nk.native {
            self.name[i] as u64
        } else {
            (1u64 << 32) + t as u64
        }
    }

    /// Whether DevTools counts the node in the Summary and the Comparison: nodes of size 0
    /// are left out (`HeapSnapshot.buildAggregates`; DevTools before 2024 kept zero-size
    /// native nodes, current DevTools does not).
    #[inline]
    pub fn counted(&self, i: usize) -> bool {
        self.self_size[i] != 0
    }

    /// The display name of a node, as the Retainers pane shows it.
    pub fn display_name(&self, i: usize) -> String {
        let t = self.ntype[i];
        if !self.is_detached(i)
            && (t == self.nk.object || t == self.nk.native || t == self.nk.synthetic)
        {
            self.string(self.name[i]).to_string()
        } else {
            self.class_name(i).into_owned()
        }
    }

    /// An edge's label as DevTools prints it: `.name` for properties, `[i]` for elements, the
    /// bare name for internal/context/shortcut/weak edges.
    pub fn edge_label(&self, e: usize) -> String {
        let t = self.etype[e];
        let v = self.ename.get(e).copied().unwrap_or(0);
        if self.ek.is_indexed(t) {
            return format!("[{v}]");
        }
        let name = self.string(v);
        match self.edge_type_name(e) {
            "property" => format!(".{name}"),
            "context" => format!("->{name}"),
            _ => name.to_string(),
        }
    }

    /// The node that owns edge `e` (a binary search: not for hot loops).
    pub fn edge_owner(&self, e: usize) -> usize {
        let e = e as u32;
        self.first_edge.partition_point(|&f| f <= e) - 1
    }

    /// Frees the edge columns (the node columns and strings stay).
    pub fn drop_edges(&mut self) {
        self.etype = Vec::new();
        self.eto = Vec::new();
        self.ename = Vec::new();
        self.table_edges = Vec::new();
    }
}

/// Sets bit `i` of a bit set, growing it as needed.
pub(crate) fn set_bit(bits: &mut Vec<u64>, i: u32) {
    let w = (i / 64) as usize;
    if w >= bits.len() {
        bits.resize(w + 1, 0);
    }
    bits[w] |= 1 << (i % 64);
}

/// Bit `i` of a bit set (false past its end).
#[inline]
pub(crate) fn get_bit(bits: &[u64], i: u32) -> bool {
    bits.get((i / 64) as usize)
        .is_some_and(|w| w & (1 << (i % 64)) != 0)
}

/// The table id in the name V8 gives the internal edges of a WeakMap entry:
/// `"<n> / part of key (<k> @<id>) -> value (<v> @<id>) pair in WeakMap (table @<table>)"`.
fn weakmap_table_id(name: &str) -> Option<u32> {
    // Most internal edge names ("map", "elements", …) fail this cheap test.
    if !name.ends_with(')') {
        return None;
    }
    let at = name.rfind("pair in WeakMap (table @")?;
    let rest = &name[at + "pair in WeakMap (table @".len()..];
    rest.strip_suffix(')')?.parse().ok()
}

/// Retainers: the reverse of every edge, `first[i]..first[i + 1]` indexing `src` (the retaining
/// node) and `edge` (the edge index).
pub struct Reverse {
    pub first: Vec<u32>,
    pub src: Vec<u32>,
    pub edge: Vec<u32>,
}

impl Reverse {
    pub fn build(g: &Graph) -> Reverse {
        let n = g.node_count();
        let mut first = vec![0u32; n + 1];
        for &t in &g.eto {
            first[t as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut src = vec![0u32; g.eto.len()];
        let mut edge = vec![0u32; g.eto.len()];
        for v in 0..n {
            for e in g.edges(v) {
                let t = g.eto[e] as usize;
                let at = fill[t] as usize;
                src[at] = v as u32;
                edge[at] = e as u32;
                fill[t] += 1;
            }
        }
        Reverse { first, src, edge }
    }

    #[inline]
    pub fn of(&self, i: usize) -> std::ops::Range<usize> {
        self.first[i] as usize..self.first[i + 1] as usize
    }
}
