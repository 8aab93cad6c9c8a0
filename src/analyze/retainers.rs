//! DevTools' Retainers pane, as text: for the biggest objects of a class, the shortest chain of
//! retainers from a GC root, using DevTools' distances (`JSHeapSnapshot.calculateDistances`):
//! objects reachable from the user roots (the global objects the root's shortcut edges point
//! at) are measured from there first; everything else from the root, after them. Weak edges
//! are never followed, and a path never goes through an edge from the root itself (the
//! Retainers pane hides those).

use std::collections::VecDeque;

use super::devtools::Classes;
use super::dominators::Dominators;
use super::graph::{Graph, Reverse};
use super::summary;

/// Distance offset for objects reached only through the system roots (DevTools'
/// `baseSystemDistance`).
pub const BASE_SYSTEM_DISTANCE: u32 = 100_000_000;
pub(crate) const UNREACHED: u32 = u32::MAX;

/// Breadth-first distances from the user roots, then from the root.
pub fn distances(g: &Graph) -> Vec<u32> {
    let n = g.node_count();
    let mut dist = vec![UNREACHED; n];
    let mut queue = VecDeque::new();
    let mut user_roots = false;
    for e in g.edges(0) {
        let to = g.eto[e] as usize;
        let user_root =
            g.ntype[to] != g.nk.synthetic || g.string(g.name[to]) == "(Document DOM trees)";
        if user_root && dist[to] == UNREACHED {
            user_roots = true;
            dist[to] = 1;
            queue.push_back(to as u32);
        }
    }
    let bfs = |queue: &mut VecDeque<u32>, dist: &mut Vec<u32>| {
        while let Some(v) = queue.pop_front() {
            let d = dist[v as usize] + 1;
            for e in g.edges(v as usize) {
                let to = g.eto[e] as usize;
                if g.etype[e] == g.ek.weak || dist[to] != UNREACHED {
                    continue;
                }
                dist[to] = d;
                queue.push_back(to as u32);
            }
        }
    };
    bfs(&mut queue, &mut dist);
    dist[0] = if user_roots { BASE_SYSTEM_DISTANCE } else { 0 };
    queue.push_back(0);
    bfs(&mut queue, &mut dist);
    dist
}

#[derive(Clone, Debug)]
pub struct RetainerNode {
    pub id: u32,
    pub name: String,
    pub node_type: String,
    pub class_name: String,
    pub self_size: u64,
    pub retained_size: u64,
    /// Distance from the roots (None when unreachable).
    pub distance: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub node: RetainerNode,
    /// The edge from this node to the next one on the path (None for the last).
    pub edge: Option<String>,
    pub edge_type: Option<String>,
}

#[derive(Clone, Debug)]
pub struct RetainerPath {
    pub object: RetainerNode,
    /// From the first object below the root down to the object itself. Empty when the object
    /// is unreachable (only weakly held, or garbage the snapshot still listed).
    pub path: Vec<Step>,
    /// The instance's node index in the graph.
    pub index: usize,
}

pub struct RetainersReport {
    pub class_name: String,
    /// The instance with the biggest retained size (the smaller id on a tie), or the object
    /// asked for; None when the class has no instances.
    pub object: Option<usize>,
    pub count: u64,
    pub shallow_size: u64,
    pub retained_size: u64,
    pub paths: Vec<RetainerPath>,
}

pub fn retainer_node(
    g: &Graph,
    dom: &Dominators,
    cls: &Classes,
    dist: &[u32],
    i: usize,
) -> RetainerNode {
    RetainerNode {
        id: g.id[i],
        name: g.display_name(i),
        node_type: g.node_type_name(i).to_string(),
        class_name: cls.info[cls.of[i] as usize].name.clone(),
        self_size: g.self_size(i),
        retained_size: dom.retained[i],
        distance: (dist[i] != UNREACHED).then_some(dist[i]),
    }
}

/// The retainer of `v` on a shortest path to the roots: `(retainer, edge)`.
pub(crate) fn closest_retainer(
    g: &Graph,
    rev: &Reverse,
    dist: &[u32],
    v: usize,
) -> Option<(usize, usize)> {
    let mut best: Option<(u32, usize, usize)> = None;
    for r in rev.of(v) {
        let src = rev.src[r] as usize;
        let e = rev.edge[r] as usize;
        if src == 0 || g.etype[e] == g.ek.weak || dist[src] >= dist[v] {
            continue;
        }
        if best.is_none_or(|b| dist[src] < b.0) {
            best = Some((dist[src], src, e));
        }
    }
    best.map(|(_, s, e)| (s, e))
}

/// The shortest retainer path from the roots to node `obj` under the distances `dist`, cut
/// after `max_depth` retainers; empty when `obj` is unreachable.
pub fn path_to(
    g: &Graph,
    rev: &Reverse,
    dom: &Dominators,
    cls: &Classes,
    dist: &[u32],
    obj: usize,
    max_depth: usize,
) -> RetainerPath {
    let mut steps = vec![Step {
        node: retainer_node(g, dom, cls, dist, obj),
        edge: None,
        edge_type: None,
    }];
    if dist[obj] != UNREACHED {
        let mut v = obj;
        while let Some((src, e)) = closest_retainer(g, rev, dist, v) {
            steps.push(Step {
                node: retainer_node(g, dom, cls, dist, src),
                edge: Some(g.edge_label(e)),
                edge_type: Some(g.edge_type_name(e).to_string()),
            });
            v = src;
            if steps.len() > max_depth {
                break;
            }
        }
    }
    steps.reverse();
    let object = steps
        .last()
        .map(|s| s.node.clone())
        .unwrap_or_else(|| retainer_node(g, dom, cls, dist, obj));
    if dist[obj] == UNREACHED {
        steps.clear();
    }
    RetainerPath {
        object,
        path: steps,
        index: obj,
    }
}

/// The report for class `class_name`: totals, and a retainer path for each of the `paths`
/// instances with the biggest retained sizes (or, with `only`, for that one node, whose class
/// `class_name` is).
#[allow(clippy::too_many_arguments)]
pub fn report(
    g: &Graph,
    rev: &Reverse,
    dom: &Dominators,
    cls: &Classes,
    class_name: &str,
    paths: usize,
    max_depth: usize,
    only: Option<usize>,
) -> RetainersReport {
    report_with(
        g,
        rev,
        dom,
        cls,
        &distances(g),
        class_name,
        paths,
        max_depth,
        only,
    )
}

/// `report`, with the distances already computed (they do not depend on the class).
#[allow(clippy::too_many_arguments)]
fn report_with(
    g: &Graph,
    rev: &Reverse,
    dom: &Dominators,
    cls: &Classes,
    dist: &[u32],
    class_name: &str,
    paths: usize,
    max_depth: usize,
    only: Option<usize>,
) -> RetainersReport {
    // Which classes carry this name (several when DevTools keys objects by location).
    let key_matches: Vec<bool> = cls.info.iter().map(|c| c.name == class_name).collect();
    let mut is_member = vec![false; g.node_count()];
    let mut members: Vec<usize> = Vec::new();
    for (i, m) in is_member.iter_mut().enumerate() {
        if !g.counted(i) {
            continue;
        }
        if key_matches[cls.of[i] as usize] {
            *m = true;
            members.push(i);
        }
    }
    // Count, shallow and retained size exactly as the Summary computes them, for this class.
    let (count, shallow_size, retained_size) = summary::classes(g, dom, cls, |i| is_member[i])
        .iter()
        .fold((0, 0, 0), |t, r| {
            (t.0 + r.count, t.1 + r.shallow_size, t.2 + r.retained_size)
        });
    members.sort_by(|&a, &b| {
        dom.retained[b]
            .cmp(&dom.retained[a])
            .then(g.id[a].cmp(&g.id[b]))
    });
    if let Some(obj) = only {
        members = vec![obj];
    }
    let object = members.first().copied();
    members.truncate(paths);
    let paths = members
        .iter()
        .map(|&obj| path_to(g, rev, dom, cls, dist, obj, max_depth))
        .collect();
    RetainersReport {
        class_name: class_name.to_string(),
        object,
        count,
        shallow_size,
        retained_size,
        paths,
    }
}

/// An instance of a top class, with what it retains: its biggest dominator-tree children.
pub struct TopInstance {
    pub path: RetainerPath,
    pub children: Vec<RetainerNode>,
}

/// One class of the top of the dominator tree, as the report's treemap shows it.
pub struct TopClass {
    pub name: String,
    pub count: u64,
    pub shallow_size: u64,
    pub retained_size: u64,
    pub instances: Vec<TopInstance>,
}

/// How much of the dominator tree's top `dominator_top` returns.
#[derive(Clone, Copy, Debug)]
pub struct TopLimits {
    /// Classes, biggest retained size first (the Summary's order).
    pub classes: usize,
    /// Biggest instances of each class, each with its shortest retainer path.
    pub instances: usize,
    /// Biggest dominator-tree children (what it retains) of each instance.
    pub children: usize,
    /// Longest retainer path.
    pub max_depth: usize,
}

/// The top of the dominator tree by class, in one pass over a loaded graph (see `TopLimits`).
pub fn dominator_top(
    g: &Graph,
    rev: &Reverse,
    dom: &Dominators,
    cls: &Classes,
    limits: TopLimits,
) -> Vec<TopClass> {
    let TopLimits {
        classes,
        instances,
        children,
        max_depth,
    } = limits;
    let dist = distances(g);
    let mut names: Vec<String> = Vec::new();
    for row in summary::classes(g, dom, cls, |_| true) {
        if names.len() >= classes {
            break;
        }
        if !names.contains(&row.name) {
            names.push(row.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let r = report_with(g, rev, dom, cls, &dist, &name, instances, max_depth, None);
            let instances = r
                .paths
                .into_iter()
                .map(|p| {
                    let mut kids: Vec<u32> = dom.children_of(p.index).to_vec();
                    kids.sort_by(|&a, &b| {
                        dom.retained[b as usize]
                            .cmp(&dom.retained[a as usize])
                            .then(g.id[a as usize].cmp(&g.id[b as usize]))
                    });
                    kids.truncate(children);
                    TopInstance {
                        path: p,
                        children: kids
                            .into_iter()
                            .map(|k| retainer_node(g, dom, cls, &dist, k as usize))
                            .collect(),
                    }
                })
                .collect();
            TopClass {
                name: r.class_name,
                count: r.count,
                shallow_size: r.shallow_size,
                retained_size: r.retained_size,
                instances,
            }
        })
        .collect()
}
