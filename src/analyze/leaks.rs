//! The three-snapshot leak report (the "three-snapshot technique"; memlab's baseline / target /
//! final filter): the objects allocated between snapshots 1 and 2 (JS object ids above snapshot
//! 1's largest and up to snapshot 2's) that are still alive in snapshot 3 and belong to classes
//! that keep growing from 1 to 2 to 3. They are grouped by class and by their retainer path
//! from the roots with array indices and hash-table slots collapsed, so that ten thousand
//! entries of one `Map` are one row, and ranked by retained size. V8's own structures (the
//! arrays behind a Map or an object, code, shapes) are not rows, and a leaked object held by
//! another leaked object counts in that one's retained size, not as a row of its own: the rows
//! are the user's objects at the top of the leak.

use std::collections::HashMap;

use super::devtools::Classes;
use super::diff::DiffSide;
use super::dominators::Dominators;
use super::graph::{Graph, Reverse};
use super::retainers::{closest_retainer, distances, UNREACHED};
use super::summary;

/// How many steps of a retainer path are kept (from the object up).
const MAX_PATH_STEPS: usize = 40;
/// Groups whose exact retained size is computed (the rest are ranked by an estimate).
const EXACT_ROWS: usize = 50;

/// One class's size in the three snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Growth {
    pub count: [u64; 3],
    pub shallow_size: [u64; 3],
}

impl Growth {
    /// Grows from 1 to 2 to 3, by count or by shallow size.
    pub fn keeps_growing(&self) -> bool {
        let up = |v: &[u64; 3]| v[0] < v[1] && v[1] < v[2];
        up(&self.count) || up(&self.shallow_size)
    }
}

/// Per class name: count and shallow size in one snapshot (classes of one name but different
/// constructors' locations are added up).
fn class_sizes(side: &DiffSide) -> HashMap<&str, (u64, u64)> {
    let mut out: HashMap<&str, (u64, u64)> = HashMap::new();
    for c in side.classes.values() {
        let e = out.entry(c.name.as_str()).or_default();
        e.0 += c.ids.len() as u64;
        e.1 += c.ids.iter().map(|(_, s)| s).sum::<u64>();
    }
    out
}

/// What snapshots 1 and 2 contribute.
pub struct Baseline<'a> {
    pub first: &'a DiffSide,
    pub second: &'a DiffSide,
}

#[derive(Clone, Debug)]
pub struct LeakRow {
    pub class_name: String,
    /// Leaked objects in this group (allocated between 1 and 2, alive in 3).
    pub count: u64,
    pub shallow_size: u64,
    /// Bytes freed if the group's objects went away (nested ones counted once).
    pub retained_size: u64,
    /// The class's count and shallow size in snapshots 1, 2 and 3.
    pub growth: Growth,
    /// The retainer path from the roots, as `heapsnap retainers` writes paths, with element
    /// indices and table slots written `[]`.
    pub path: String,
}

/// V8's own structures (arrays backing objects and tables, hidden objects, code, shapes):
/// never a row of their own. A leak shows as the user's objects they hold.
const INTERNAL_TYPES: &[&str] = &[
    "hidden",
    "array",
    "code",
    "synthetic",
    "object shape",
    "number",
];

/// Collapses an edge label: indices and hash-table slots become `[]`.
fn collapsed_label(g: &Graph, e: usize) -> String {
    if g.ek.is_indexed(g.etype[e]) {
        return "[]".into();
    }
    let label = g.edge_label(e);
    let bare = label.trim_start_matches(['.', '-', '>']);
    if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit()) {
        "[]".into()
    } else {
        label
    }
}

/// The collapsed retainer path of `v` (without `v` itself), root side first.
fn path_of(g: &Graph, rev: &Reverse, dist: &[u32], v: usize) -> String {
    let mut steps = Vec::new();
    let mut cur = v;
    while let Some((src, e)) = closest_retainer(g, rev, dist, cur) {
        steps.push(format!("{} {}", g.display_name(src), collapsed_label(g, e)));
        cur = src;
        if steps.len() >= MAX_PATH_STEPS {
            steps.push("…".into());
            break;
        }
    }
    steps.reverse();
    steps.join(" → ")
}

/// The rows of the report, biggest retained size first. `g` is snapshot 3 with its dominators.
pub fn rows(
    g: &Graph,
    dom: &Dominators,
    cls: &Classes,
    base: &Baseline,
    third: &DiffSide,
) -> Vec<LeakRow> {
    let class_name = |i: usize| cls.info[cls.of[i] as usize].name.as_str();
    let (from, to) = (base.first.max_js_id, base.second.max_js_id);
    let sizes = [
        class_sizes(base.first),
        class_sizes(base.second),
        class_sizes(third),
    ];
    let growth_of = |name: &str| {
        let mut gr = Growth::default();
        for (k, s) in sizes.iter().enumerate() {
            let (c, b) = s.get(name).copied().unwrap_or((0, 0));
            gr.count[k] = c;
            gr.shallow_size[k] = b;
        }
        gr
    };
    let mut growing: HashMap<u32, Option<Growth>> = HashMap::new();
    let rev = Reverse::build(g);
    let dist = distances(g);
    // The leaked objects of growing classes.
    let mut leaked = vec![false; g.node_count()];
    for (i, slot) in leaked.iter_mut().enumerate() {
        let id = g.id[i];
        if id.is_multiple_of(2) || id <= from || id > to || !g.counted(i) || dist[i] == UNREACHED {
            continue;
        }
        if INTERNAL_TYPES.contains(&g.node_type_name(i)) {
            continue;
        }
        let grows = growing
            .entry(cls.of[i])
            .or_insert_with(|| Some(growth_of(class_name(i))).filter(Growth::keeps_growing));
        *slot = grows.is_some();
    }
    // Rows are made of the leak's roots: a leaked object held (dominated) by another leaked
    // object is part of that one's retained size (a Session's strings), not a row of its own.
    let held_by_leak = |i: usize| {
        let mut v = dom.idom[i] as usize;
        for _ in 0..MAX_PATH_STEPS {
            if v == 0 || leaked[v] {
                return leaked[v];
            }
            v = dom.idom[v] as usize;
        }
        false
    };
    let mut groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, &is_leaked) in leaked.iter().enumerate() {
        if !is_leaked || held_by_leak(i) {
            continue;
        }
        let key = (class_name(i).to_string(), path_of(g, &rev, &dist, i));
        groups.entry(key).or_default().push(i);
    }
    // Rank by the sum of retained sizes first (an upper bound), then compute the exact retained
    // size of the top groups the way the Summary does for a class.
    let mut ranked: Vec<((String, String), Vec<usize>, u64)> = groups
        .into_iter()
        .map(|(k, v)| {
            let sum = v.iter().map(|&i| dom.retained[i]).sum();
            (k, v, sum)
        })
        .collect();
    ranked.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(EXACT_ROWS);
    let mut member = vec![false; g.node_count()];
    let mut out: Vec<LeakRow> = ranked
        .into_iter()
        .map(|((class_name, path), nodes, _)| {
            for &i in &nodes {
                member[i] = true;
            }
            let row = summary::classes(g, dom, cls, |i| member[i]);
            for &i in &nodes {
                member[i] = false;
            }
            let (count, shallow_size, retained_size) = row
                .first()
                .map_or((0, 0, 0), |r| (r.count, r.shallow_size, r.retained_size));
            LeakRow {
                growth: growth_of(&class_name),
                class_name,
                count,
                shallow_size,
                retained_size,
                path,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.retained_size
            .cmp(&a.retained_size)
            .then_with(|| b.count.cmp(&a.count))
            .then_with(|| a.class_name.cmp(&b.class_name))
    });
    out
}
