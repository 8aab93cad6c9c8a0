//! The heap graph, held compactly: one packed column per node field and per edge field
//! (17 bytes a node, 9 an edge, 5 without edge names), the reverse edges built on demand, and
//! only the strings the analysis reads.

use std::collections::HashMap;

use super::bitset::BitSet;

mod build;
pub use build::{Builder, EdgeRow, Header, LoadOptions, NodeRow};

/// Edges of a node whose targets [`Graph::prefetch_targets`] looks at (a node has 4 to 5 on
/// average; the rest of a long list is not waited for all at once anyway).
const PREFETCH_EDGES: usize = 16;

/// Node type codes the analysis treats specially (resolved from the header's `node_types`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeKinds {
    pub hidden: u8,
    pub object: u8,
    pub native: u8,
    pub code: u8,
    pub synthetic: u8,
    pub array: u8,
    pub closure: u8,
    pub regexp: u8,
    pub string: u8,
    pub cons_string: u8,
    pub sliced_string: u8,
}

impl NodeKinds {
    /// Whether type `t` is one of V8's three string types (whose names are their text).
    #[inline]
    pub fn is_string(&self, t: u8) -> bool {
        t == self.string || t == self.cons_string || t == self.sliced_string
    }
}

/// Edge type codes the analysis treats specially (resolved from the header's `edge_types`).
#[derive(Clone, Copy, Debug, Default)]
pub struct EdgeKinds {
    pub element: u8,
    pub internal: u8,
    pub hidden: u8,
    pub weak: u8,
    pub shortcut: u8,
    pub property: u8,
    pub invisible: u8,
}

impl EdgeKinds {
    /// Whether an edge of type `t` names its target by a number (element and hidden edges),
    /// not by a string index.
    #[inline]
    pub fn is_indexed(&self, t: u8) -> bool {
        t == self.element || t == self.hidden
    }
}

pub struct Graph {
    /// The type names and the declared counts.
    pub header: Header,
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
    /// Target node ordinal.
    pub eto: Vec<u32>,
    /// How many edges the file has (also when the edge columns were not kept).
    edge_total: u64,
    /// Edges from a WeakMap table to a value, by edge index.
    table_edges: BitSet,
    /// Native nodes the snapshot marks detached, by node ordinal.
    detached: BitSet,
    /// Native nodes the snapshot marks attached (detachedness 1), by node ordinal.
    pub attached: BitSet,
    /// `(node ordinal, script id, line, column)` of the `object` nodes the file's `locations`
    /// name, sorted by ordinal (one per node: the last the file gives).
    pub locations: Vec<(u32, u32, u32, u32)>,
    arena: String,
    /// Start and length of string `i` in `arena`; start `u64::MAX` when it was not kept.
    string_at: Vec<(u64, u32)>,
}

impl Graph {
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

    /// Replaces node `i`'s self size (DevTools' shallow-size rules move sizes between nodes).
    pub fn set_self_size(&mut self, i: usize, size: u64) {
        if size >= u32::MAX as u64 {
            self.big_self.insert(i as u32, size);
            self.self_size[i] = u32::MAX;
        } else {
            self.big_self.remove(&(i as u32));
            self.self_size[i] = size as u32;
        }
    }

    /// The file's `snapshot.detachedness` field exists (V8 writes the DOM state of native nodes).
    pub fn has_detachedness(&self) -> bool {
        self.header.has_detachedness
    }

    /// The marked-detached native nodes (detachedness 2), by ordinal.
    pub fn detached_nodes(&self) -> &BitSet {
        &self.detached
    }

    #[inline]
    pub fn edges(&self, i: usize) -> std::ops::Range<usize> {
        self.first_edge[i] as usize..self.first_edge[i + 1] as usize
    }

    /// Starts loading `of[target]` for the first edges of node `i` (see
    /// [`crate::sys::os::prefetch`]): a pass about to read a per-node array at the targets of
    /// `i`'s edges then waits for those reads together rather than one after the other.
    #[inline(always)]
    pub fn prefetch_targets<T>(&self, i: usize, of: &[T]) {
        for e in self.edges(i).take(PREFETCH_EDGES) {
            crate::sys::os::prefetch(of, self.eto[e] as usize);
        }
    }

    /// Whether edge `e` is one DevTools leaves out of the retaining graph because it is the
    /// WeakMap table's half of an ephemeron pair (see `dominators`).
    #[inline]
    pub fn is_weakmap_table_edge(&self, e: usize) -> bool {
        self.table_edges.contains(e as u32)
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
        &self.header.node_types[self.ntype[i] as usize]
    }

    pub fn edge_type_name(&self, e: usize) -> &str {
        &self.header.edge_types[self.etype[e] as usize]
    }

    /// Whether node `i` is a native node the snapshot marks detached (detachedness 2).
    #[inline]
    pub fn is_detached(&self, i: usize) -> bool {
        !self.detached.is_empty() && self.detached.contains(i as u32)
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

    /// Frees the node names and the strings (`string` then gives "" for every index): for
    /// analyses that read only counts, self sizes and ids once the classes are known.
    pub fn drop_names(&mut self) {
        self.name = Vec::new();
        self.arena = String::new();
        self.string_at = Vec::new();
    }

    /// Frees the edge columns (the node columns and strings stay).
    pub fn drop_edges(&mut self) {
        self.etype = Vec::new();
        self.eto = Vec::new();
        self.ename = Vec::new();
        self.table_edges = BitSet::new();
    }
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
