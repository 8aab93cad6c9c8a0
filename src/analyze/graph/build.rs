//! Building a [`Graph`] one node, edge and string at a time, in the order a snapshot file
//! holds them. The reader (`parse`) decodes the file's rows and hands them here; this side
//! checks them against the graph and packs them into columns.

use std::collections::HashMap;

use super::{EdgeKinds, Graph, NodeKinds};
use crate::analyze::bigvec;
use crate::analyze::bitset::BitSet;
use crate::sys::os::Pages;
use rustc_hash::FxHashMap;

/// What to keep while reading.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// Keep the edges (needed for dominators and retainers; `diff`'s base snapshot needs none).
    pub edges: bool,
    /// Keep the names of edges (property names) as strings (needed to print retainer paths).
    pub edge_names: bool,
    /// Keep the text of `string` nodes (their names), which the other analyses never read.
    pub string_texts: bool,
}

/// What a snapshot declares before its nodes: the names of its node and edge types, and how
/// many nodes and edges it says it has (0 when it does not say).
#[derive(Clone, Debug)]
pub struct Header {
    pub node_types: Vec<String>,
    pub edge_types: Vec<String>,
    pub node_count: u64,
    pub edge_count: u64,
    /// `snapshot.extra_native_bytes` (0 when absent): native memory V8 reports outside the graph.
    pub extra_native_bytes: u64,
    /// Whether `meta.node_fields` has `detachedness`.
    pub has_detachedness: bool,
}

impl Header {
    /// The largest string index a well-formed file can use: V8's strings are the names of its
    /// nodes and edges and a few more, so a larger index means a damaged file. (It bounds the
    /// memory the wanted-strings bit set can take.)
    pub fn string_bound(&self) -> u64 {
        (self.node_count + self.edge_count + (1 << 24)).min(u32::MAX as u64)
    }
}

/// One node as the file states it.
#[derive(Clone, Copy, Debug)]
pub struct NodeRow {
    /// Index into `Header::node_types`.
    pub ty: u64,
    /// String index.
    pub name: u64,
    pub id: u64,
    pub self_size: u64,
    pub edge_count: u64,
    /// The file's `detachedness` (0 unknown, 1 attached, 2 detached; 0 without the field).
    pub detachedness: u8,
}

/// One edge as the file states it.
#[derive(Clone, Copy, Debug)]
pub struct EdgeRow {
    /// Index into `Header::edge_types`.
    pub ty: u64,
    /// A string index, or a number for element and hidden edges.
    pub name_or_index: u64,
    /// The target as written: an offset into the `nodes` array.
    pub to_node: u64,
    /// The ordinal of the node `to_node` points at; `None` when it points between two nodes.
    pub target: Option<u64>,
}

/// Type code for a type name the snapshot does not list.
const NONE: u8 = u8::MAX;

/// Sentinel for strings not kept.
const DROPPED: (u64, u32) = (u64::MAX, 0);

/// A graph being read, and what reading it needs besides.
pub struct Builder {
    g: Graph,
    opts: LoadOptions,
    /// Sum of the nodes' `edge_count`s so far.
    edge_count_sum: u64,
    /// Which string indices to keep.
    wanted: BitSet,
    /// String indices used as internal edge names.
    internal_names: BitSet,
    /// Internal edge name → WeakMap table id, for names of ephemeron edges.
    weakmap_names: FxHashMap<u32, u32>,
    /// `(edge, name)` of each internal edge, until the strings are read (WeakMap case), when
    /// the edge names are not kept.
    internal: Vec<(u32, u32)>,
    /// The columns' pages, faulted in on another thread while they are filled.
    _prefault: bigvec::Prefault,
}

impl Builder {
    /// With `prefault`, the columns sized from the header's counts are faulted in ahead (see
    /// `bigvec::Prefault`): only for counts the input can hold, since a damaged header could
    /// otherwise commit gigabytes.
    pub fn new(header: Header, opts: LoadOptions, prefault: bool) -> Builder {
        let kind = |list: &[String], name: &str| {
            list.iter()
                .position(|t| t == name)
                .map(|i| i as u8)
                .unwrap_or(NONE)
        };
        let nk = NodeKinds {
            hidden: kind(&header.node_types, "hidden"),
            object: kind(&header.node_types, "object"),
            native: kind(&header.node_types, "native"),
            code: kind(&header.node_types, "code"),
            synthetic: kind(&header.node_types, "synthetic"),
            array: kind(&header.node_types, "array"),
            closure: kind(&header.node_types, "closure"),
            regexp: kind(&header.node_types, "regexp"),
            string: kind(&header.node_types, "string"),
            cons_string: kind(&header.node_types, "concatenated string"),
            sliced_string: kind(&header.node_types, "sliced string"),
        };
        let ek = EdgeKinds {
            element: kind(&header.edge_types, "element"),
            internal: kind(&header.edge_types, "internal"),
            hidden: kind(&header.edge_types, "hidden"),
            weak: kind(&header.edge_types, "weak"),
            shortcut: kind(&header.edge_types, "shortcut"),
            property: kind(&header.edge_types, "property"),
            invisible: kind(&header.edge_types, "invisible"),
        };
        // Reserve from the declared counts, capped so a corrupt header cannot ask for absurd
        // amounts up front (the columns still grow as needed).
        let n = header.node_count.min(1 << 27) as usize;
        let e = if opts.edges {
            header.edge_count.min(1 << 29) as usize
        } else {
            0
        };
        let g = Graph {
            nk,
            ek,
            ntype: bigvec::with_capacity(n),
            name: bigvec::with_capacity(n),
            id: bigvec::with_capacity(n),
            self_size: bigvec::with_capacity(n),
            big_self: HashMap::new(),
            first_edge: bigvec::with_capacity(n + 1),
            etype: bigvec::with_capacity(e),
            ename: if opts.edge_names {
                bigvec::with_capacity(e)
            } else {
                Vec::new()
            },
            eto: bigvec::with_capacity(e),
            table_edges: BitSet::new(),
            detached: BitSet::new(),
            attached: BitSet::new(),
            locations: Vec::new(),
            arena: String::new(),
            string_at: Vec::new(),
            source_gzip: false,
            source_size: 0,
            edge_total: 0,
            header,
        };
        // Node columns first: they are filled first.
        let pages = if prefault {
            vec![
                Pages::of(&g.ntype),
                Pages::of(&g.name),
                Pages::of(&g.id),
                Pages::of(&g.self_size),
                Pages::of(&g.first_edge),
                Pages::of(&g.etype),
                Pages::of(&g.eto),
                Pages::of(&g.ename),
            ]
        } else {
            Vec::new()
        };
        Builder {
            _prefault: bigvec::Prefault::start(pages),
            g,
            opts,
            edge_count_sum: 0,
            wanted: BitSet::new(),
            internal_names: BitSet::new(),
            weakmap_names: FxHashMap::default(),
            internal: Vec::new(),
        }
    }

    /// The next nodes, a block of rows at a time (as [`Builder::push_edges`]).
    pub fn push_nodes(
        &mut self,
        rows: impl Iterator<Item = NodeRow>,
    ) -> Result<(), (usize, String)> {
        let g = &mut self.g;
        let types = g.header.node_types.len() as u64;
        let bound = g.header.string_bound();
        let nk = g.nk;
        let string_texts = self.opts.string_texts;
        let mut sum = self.edge_count_sum;
        let result = (|| {
            for (k, row) in rows.enumerate() {
                let fail = |e: String| Err((k, e));
                let t = row.ty;
                if t >= types {
                    return fail(format!("node type {t} is not in meta.node_types"));
                }
                let t = t as u8;
                let name = row.name;
                if name > bound {
                    return fail(format!("node name {name} is not a string index"));
                }
                let name = name as u32;
                let Ok(id) = u32::try_from(row.id) else {
                    return fail("node id too large".into());
                };
                let ordinal = g.ntype.len();
                if ordinal >= u32::MAX as usize - 1 {
                    return fail("too many nodes".into());
                }
                let Ok(first) = u32::try_from(sum) else {
                    return fail("more than 2^32 edges".into());
                };
                g.first_edge.push(first);
                sum += row.edge_count;
                g.ntype.push(t);
                g.name.push(name);
                g.id.push(id);
                let size = row.self_size;
                if size >= u32::MAX as u64 {
                    g.big_self.insert(ordinal as u32, size);
                    g.self_size.push(u32::MAX);
                } else {
                    g.self_size.push(size as u32);
                }
                if t == nk.native && row.detachedness == 2 {
                    g.detached.insert(ordinal as u32);
                }
                if t == nk.native && row.detachedness == 1 {
                    g.attached.insert(ordinal as u32);
                }
                if !nk.is_string(t) || string_texts {
                    // Class names (object/native), the names of synthetic roots, and the
                    // names DevTools' rules look at (hidden, array, `Array`); the text of
                    // strings only when asked for.
                    self.wanted.insert(name);
                }
            }
            Ok(())
        })();
        self.edge_count_sum = sum;
        result
    }

    pub fn end_nodes(&mut self) -> Result<(), String> {
        let g = &mut self.g;
        if g.ntype.is_empty() {
            return Err("the snapshot has no nodes".into());
        }
        if g.header.node_count != 0 && g.header.node_count != g.ntype.len() as u64 {
            return Err(format!(
                "snapshot.node_count is {} but the file has {} nodes",
                g.header.node_count,
                g.ntype.len()
            ));
        }
        g.first_edge
            .push(u32::try_from(self.edge_count_sum).map_err(|_| "more than 2^32 edges")?);
        Ok(())
    }

    /// The next edges, a block of rows at a time. An error gives the failing row's place in
    /// the block. The loop keeps what it checks against in locals: one pass, no reloads.
    pub fn push_edges(
        &mut self,
        rows: impl Iterator<Item = EdgeRow>,
    ) -> Result<(), (usize, String)> {
        let g = &mut self.g;
        let types = g.header.edge_types.len() as u64;
        let nodes = g.ntype.len() as u64;
        let bound = g.header.string_bound();
        let ek = g.ek;
        let (keep, keep_names) = (self.opts.edges, self.opts.edge_names);
        let (etype, eto, ename) = (&mut g.etype, &mut g.eto, &mut g.ename);
        let mut total = g.edge_total;
        let declared = self.edge_count_sum;
        let result = (|| {
            for (k, row) in rows.enumerate() {
                let fail = |e: String| Err((k, e));
                total += 1;
                if total > declared {
                    return fail("more edges than the nodes' edge_count sum".into());
                }
                let t = row.ty;
                if t >= types {
                    return fail(format!("edge type {t} is not in meta.edge_types"));
                }
                let ordinal = match row.target {
                    Some(o) if o < nodes => o as u32,
                    _ => {
                        let to = row.to_node;
                        return fail(format!("edge to_node {to} does not point at a node"));
                    }
                };
                let t = t as u8;
                let named = !ek.is_indexed(t);
                let name = row.name_or_index;
                if named && name > bound {
                    return fail(format!("edge name {name} is not a string index"));
                }
                let Ok(name) = u32::try_from(name) else {
                    return fail("edge index too large".into());
                };
                if !keep {
                    continue;
                }
                etype.push(t);
                eto.push(ordinal);
                if keep_names {
                    ename.push(name);
                    if named {
                        self.wanted.insert(name);
                    }
                }
                if t == ek.internal {
                    self.internal_names.insert(name);
                    if !keep_names {
                        // With edge names kept, `finish` finds the internal edges in the
                        // columns.
                        self.internal.push((eto.len() as u32 - 1, name));
                    }
                }
            }
            Ok(())
        })();
        g.edge_total = total;
        result
    }

    pub fn end_edges(&mut self) -> Result<(), String> {
        if self.g.edge_total != self.edge_count_sum {
            return Err(format!(
                "the nodes declare {} edges but the file has {}",
                self.edge_count_sum, self.g.edge_total
            ));
        }
        Ok(())
    }

    /// One row of `locations`: `object_index` (an offset into `nodes`, `stride` a row), and
    /// where the object's constructor is. Only `object` nodes are kept (DevTools keys only
    /// those by location).
    pub fn push_location(&mut self, object_index: u64, stride: usize, loc: (u64, u64, u64)) {
        let g = &mut self.g;
        if stride == 0 || !object_index.is_multiple_of(stride as u64) {
            return;
        }
        let ordinal = object_index / stride as u64;
        if ordinal >= g.ntype.len() as u64 || g.ntype[ordinal as usize] != g.nk.object {
            return;
        }
        let c = |v: u64| v.min(u32::MAX as u64) as u32;
        g.locations
            .push((ordinal as u32, c(loc.0), c(loc.1), c(loc.2)));
    }

    /// Room for the strings of a `strings` array of at most `bytes` bytes, taken ahead so that
    /// the text and the table do not grow (and get copied) string by string. Only address
    /// space until written: what is not used never becomes resident. Only a hint: when the
    /// address space cannot be had (a header claiming billions of nodes, an `RLIMIT_AS`), the
    /// arrays grow as they are filled, as without it.
    pub fn reserve_strings(&mut self, bytes: u64) {
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
        // Each string takes at least three bytes of the array (`"",`).
        let strings = (bytes / 3).min(self.g.header.string_bound() as usize);
        if self.g.arena.try_reserve(bytes).is_err()
            || self.g.string_at.try_reserve(strings).is_err()
        {
            self.g.arena.shrink_to_fit();
            self.g.string_at.shrink_to_fit();
        }
    }

    /// Whether string `s` is to be kept, or at least looked at (internal edge names, for the
    /// WeakMap special case).
    pub fn string_wanted(&self, s: u32) -> bool {
        self.wanted.contains(s) || self.internal_names.contains(s)
    }

    /// Takes string `index` (called only for strings `string_wanted` asked for).
    pub fn take_string(&mut self, index: u32, text: &str) {
        if self.internal_names.contains(index) {
            if let Some(table) = weakmap_table_id(text) {
                self.weakmap_names.insert(index, table);
            }
        }
        if self.wanted.contains(index) {
            let g = &mut self.g;
            let i = index as usize;
            if g.string_at.len() <= i {
                g.string_at.resize(i + 1, DROPPED);
            }
            g.string_at[i] = (g.arena.len() as u64, text.len() as u32);
            g.arena.push_str(text);
        }
    }

    /// The graph, with its WeakMap table edges resolved now that the strings are known; the
    /// reading state is freed.
    pub fn finish(self) -> Graph {
        let Builder {
            mut g,
            wanted,
            internal_names,
            weakmap_names,
            internal,
            ..
        } = self;
        drop((wanted, internal_names));
        if !weakmap_names.is_empty() {
            // Most internal edges are not WeakMap entries: a bit per name tells them apart
            // before the map is asked.
            let mut is_weakmap_name = BitSet::new();
            for &name in weakmap_names.keys() {
                is_weakmap_name.insert(name);
            }
            let table_of = |name: u32| {
                if is_weakmap_name.contains(name) {
                    weakmap_names.get(&name).copied()
                } else {
                    None
                }
            };
            if g.ename.is_empty() {
                for &(e, name) in &internal {
                    if let Some(table) = table_of(name) {
                        if g.id[g.edge_owner(e as usize)] == table {
                            g.table_edges.insert(e);
                        }
                    }
                }
            } else {
                // Node by node, so that each edge's owner is known without a search.
                let internal = g.ek.internal;
                for v in 0..g.ntype.len() {
                    let owner_id = g.id[v];
                    let edges = g.first_edge[v] as usize..g.first_edge[v + 1] as usize;
                    for e in edges {
                        if g.etype[e] == internal
                            && table_of(g.ename[e]).is_some_and(|t| t == owner_id)
                        {
                            g.table_edges.insert(e as u32);
                        }
                    }
                }
            }
        }
        g.arena.shrink_to_fit();
        // By ordinal; for a node listed twice the last row wins (DevTools' map).
        g.locations.reverse();
        g.locations.sort_by_key(|l| l.0);
        g.locations.dedup_by_key(|l| l.0);
        g
    }
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
