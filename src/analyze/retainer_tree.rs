//! DevTools' Retainers pane as a tree: the object, every edge that points at it (as DevTools
//! lists them), each of those retainers' own retainers, and so on to a depth, with DevTools'
//! distances, shallow and retained sizes, in the order DevTools sorts them by default.
//!
//! What DevTools lists (front_end/entrypoints/heap_snapshot_worker/HeapSnapshot.ts):
//! `HeapSnapshot.createRetainingEdgesProvider` walks the node's retainers
//! (`HeapSnapshotRetainerEdgeIterator`, over the table `HeapSnapshot.buildRetainers` builds)
//! through `JSHeapSnapshot.retainingEdgesFilter`: no `invisible` edge
//! (`containmentEdgesFilter`), no `weak` edge, and no edge from the root itself.
//!
//! How it sorts them (front_end/panels/profiler): `HeapSnapshotRetainmentDataGrid` sorts by the
//! Distance column, ascending, by default; `HeapSnapshotObjectNode.comparator` makes that
//! `ComparatorConfig('distance', true, 'name', true)`, which
//! `HeapSnapshotRetainingObjectNode.comparator` turns into `'!edgeDistance'` (the retainer's
//! `getDistanceForRetainersView`: its distance, or `baseUnreachableDistance` past it when it
//! has none). `HeapSnapshotEdgesProvider.sort` (`compareEdgeAndNode`) breaks ties by the
//! retaining node's `name()` (JavaScript string order), then by the position in the retainers
//! table, which `buildRetainers` fills from the end: the last edge of the snapshot first.
//!
//! DevTools expands a node when asked, and shows a node again under itself when it recurs, but
//! does not expand it (`HeapSnapshotObjectNode.findAncestorWithSameSnapshotNodeId`): here every
//! node is expanded to `depth`, a node already on the path from the object is marked `cycle`
//! and not expanded, and each node lists at most `limit` retainers (`more` counts the rest).

use super::bitset::BitSet;
use super::devtools::{self, Classes, NO_DISTANCE};
use super::dominators::Dominators;
use super::graph::{Graph, Reverse};
use super::retainers::{RetainerNode, UNREACHED};

/// DevTools' `baseUnreachableDistance`: the sort key of a retainer no traversal reaches.
const BASE_UNREACHABLE_DISTANCE: i64 = 200_000_000;

/// The most nodes one tree holds, whatever `depth` and `limit` ask (`limit ^ depth` grows
/// fast): past it nodes list no more retainers (their `retainer_count` still counts them).
pub const MAX_TREE_NODES: usize = 100_000;

/// How much of the tree to build.
#[derive(Clone, Copy, Debug)]
pub struct TreeLimits {
    /// Levels of retainers below the object (1: its retainers only).
    pub depth: usize,
    /// Retainers listed under each node (the first in DevTools' order).
    pub limit: usize,
}

/// One retainer: the edge from it to the node above, and the retainer.
#[derive(Clone, Debug)]
pub struct TreeNode {
    /// The edge's name as DevTools has it (`HeapSnapshotEdge.name`): the property or variable
    /// name, or the index of an element or hidden edge.
    pub edge_name: String,
    pub edge_type: String,
    pub node: RetainerNode,
    /// The node is already on the path from the object: shown, not expanded.
    pub cycle: bool,
    /// Its first `limit` retainers (none past the depth limit or for a cycle).
    pub children: Vec<TreeNode>,
    /// How many retainers it has that DevTools lists (0 for a cycle, which is not expanded).
    pub retainer_count: u64,
}

pub struct RetainerTree {
    pub object: RetainerNode,
    /// The object's retainers, DevTools' first `limit`.
    pub retainers: Vec<TreeNode>,
    /// How many retainers the object has that DevTools lists.
    pub retainer_count: u64,
}

/// What the tree reads: the graph with its retainers, DevTools' names, distances and sizes.
pub struct TreeInput<'a> {
    pub g: &'a Graph,
    pub rev: &'a Reverse,
    pub dom: &'a Dominators,
    pub cls: &'a Classes,
    /// Native nodes DevTools considers detached (`devtools::propagate_dom_state`).
    pub detached: &'a BitSet,
    /// DevTools' distance of each node (`NO_DISTANCE` when none).
    pub dist: &'a [i32],
    /// Whether names follow DevTools (`devtools::node_name`) or the older `display_name`.
    pub devtools_names: bool,
}

/// DevTools' distances when the classes carry them, else the ones `retainers::distances`
/// computes (without DevTools' rules), in DevTools' encoding.
pub fn tree_distances(g: &Graph, cls: &Classes) -> Vec<i32> {
    match &cls.distance {
        Some(d) => d.clone(),
        None => super::retainers::distances(g)
            .into_iter()
            .map(|d| {
                if d == UNREACHED {
                    NO_DISTANCE
                } else {
                    d as i32
                }
            })
            .collect(),
    }
}

impl TreeInput<'_> {
    fn name(&self, i: usize) -> String {
        if self.devtools_names {
            devtools::node_name(self.g, self.detached, i).into_owned()
        } else {
            self.g.display_name(i)
        }
    }

    fn node(&self, i: usize) -> RetainerNode {
        let g = self.g;
        let d = self.dist[i];
        RetainerNode {
            id: g.id[i],
            name: self.name(i),
            node_type: g.node_type_name(i).to_string(),
            class_name: self.cls.info[self.cls.of[i] as usize].name.clone(),
            self_size: g.self_size(i),
            retained_size: self.dom.retained[i],
            distance: (d >= 0).then_some(d as u32),
        }
    }

    /// `HeapSnapshotNode.distanceForRetainersView` as the sort key (no ignored nodes).
    fn sort_distance(&self, i: usize) -> i64 {
        let d = self.dist[i];
        if d == NO_DISTANCE {
            BASE_UNREACHABLE_DISTANCE + d.max(0) as i64
        } else {
            d as i64
        }
    }

    /// Whether DevTools lists retainer `r` (`JSHeapSnapshot.retainingEdgesFilter`).
    fn listed(&self, r: usize) -> bool {
        let g = self.g;
        let t = g.etype[self.rev.edge[r] as usize];
        self.rev.src[r] != 0 && t != g.ek.weak && t != g.ek.invisible
    }

    /// The retainers DevTools lists for node `v`, in its default order, as positions in
    /// `rev` (`JSHeapSnapshot.retainingEdgesFilter`, then `HeapSnapshotEdgesProvider.sort`).
    pub fn retainers_of(&self, v: usize) -> Vec<usize> {
        let mut list: Vec<(i64, String, usize)> = self
            .rev
            .of(v)
            .filter(|&r| self.listed(r))
            .map(|r| {
                let src = self.rev.src[r] as usize;
                (self.sort_distance(src), self.name(src), r)
            })
            .collect();
        list.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| devtools::cmp_js(&a.1, &b.1))
                // DevTools' retainer table holds a node's retainers last edge first.
                .then_with(|| b.2.cmp(&a.2))
        });
        list.into_iter().map(|(_, _, r)| r).collect()
    }

    /// `JSHeapSnapshotEdge.name`: a shortcut edge's name that parses as an integer is that
    /// integer.
    fn edge_name(&self, e: usize) -> String {
        let g = self.g;
        let t = g.etype[e];
        let v = g.ename.get(e).copied().unwrap_or(0);
        if g.ek.is_indexed(t) {
            return v.to_string();
        }
        let name = g.string(v);
        if t == g.ek.shortcut {
            if let Some(n) = devtools::parse_int(name) {
                return format_js_number(n);
            }
        }
        name.to_string()
    }

    fn expand(
        &self,
        v: usize,
        path: &mut Vec<usize>,
        depth: usize,
        limit: usize,
        budget: &mut usize,
    ) -> (Vec<TreeNode>, u64) {
        let list = self.retainers_of(v);
        let count = list.len() as u64;
        let take = list.len().min(limit).min(*budget);
        *budget -= take;
        let mut out = Vec::with_capacity(take);
        for &r in list.iter().take(take) {
            let src = self.rev.src[r] as usize;
            let e = self.rev.edge[r] as usize;
            // The object itself, or a node already on the path to it (DevTools compares ids).
            let cycle = path.iter().any(|&p| self.g.id[p] == self.g.id[src]);
            let (children, retainer_count) = if cycle {
                (Vec::new(), 0)
            } else if depth <= 1 {
                let count = self.rev.of(src).filter(|&r| self.listed(r)).count();
                (Vec::new(), count as u64)
            } else {
                path.push(src);
                let c = self.expand(src, path, depth - 1, limit, budget);
                path.pop();
                c
            };
            out.push(TreeNode {
                edge_name: self.edge_name(e),
                edge_type: self.g.edge_type_name(e).to_string(),
                node: self.node(src),
                cycle,
                children,
                retainer_count,
            });
        }
        (out, count)
    }

    /// The tree of node `object`'s retainers.
    pub fn tree(&self, object: usize, limits: TreeLimits) -> RetainerTree {
        let mut path = vec![object];
        let (retainers, retainer_count) = if limits.depth == 0 {
            (Vec::new(), self.retainers_of(object).len() as u64)
        } else {
            let mut budget = MAX_TREE_NODES;
            self.expand(object, &mut path, limits.depth, limits.limit, &mut budget)
        };
        RetainerTree {
            object: self.node(object),
            retainers,
            retainer_count,
        }
    }
}

/// `String(n)` for the integers `parseInt` gives.
fn format_js_number(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// The node with snapshot id `id` (ids are unique in a snapshot), if any.
pub fn node_by_id(g: &Graph, id: u32) -> Option<usize> {
    g.id.iter().position(|&x| x == id)
}
