//! DevTools' Summary view: per class, the number of objects, their shallow size, their
//! retained size and the smallest distance (`HeapSnapshot.buildAggregates` and
//! `calculateClassesRetainedSize`, keyed as `getAggregatesByClassKey` keys them).

use std::collections::HashMap;

use super::devtools::{Classes, Location};
use super::dominators::Dominators;
use super::graph::Graph;

const NONE: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassSummary {
    pub name: String,
    /// Where the class's constructor is, for classes DevTools keys by location.
    pub location: Option<Location>,
    pub count: u64,
    pub shallow_size: u64,
    pub retained_size: u64,
    /// The smallest distance of an instance (DevTools' rules only).
    pub distance: Option<i64>,
}

impl ClassSummary {
    /// DevTools' class key (see `ClassInfo::key`).
    pub fn key(&self) -> String {
        super::devtools::ClassInfo {
            name: self.name.clone(),
            location: self.location,
        }
        .key()
    }
}

/// Per-class aggregates over the nodes `keep` accepts, sorted by retained size (then shallow
/// size, then name). Nodes of self size 0 are not counted (DevTools leaves them out).
///
/// A class's retained size is the sum of the retained sizes of its counted instances that
/// have no counted instance of the same class among their dominators, so that an object
/// retained by another of its class is not counted twice.
pub fn classes(
    g: &Graph,
    dom: &Dominators,
    cls: &Classes,
    keep: impl Fn(usize) -> bool,
) -> Vec<ClassSummary> {
    let r = rows(g, cls, &keep);
    retained(g, dom, cls, r, keep)
}

/// The rows of [`classes`] before the dominators: count, shallow size and distance (which
/// need neither the dominators nor, afterwards, `cls.distance`).
pub struct Rows {
    row_of: Vec<u32>,
    rows: Vec<ClassSummary>,
}

/// The first half of [`classes`]: per class count, shallow size and smallest distance.
pub fn rows(g: &Graph, cls: &Classes, keep: impl Fn(usize) -> bool) -> Rows {
    let n = g.node_count();
    // Rows in the order DevTools creates its aggregates: by each class's first counted node.
    let mut row_of = vec![NONE; cls.info.len()];
    let mut rows: Vec<ClassSummary> = Vec::new();
    for i in 0..n {
        if !g.counted(i) || !keep(i) {
            continue;
        }
        let c = cls.of[i] as usize;
        let d = cls.distance.as_ref().map(|d| d[i] as i64);
        if row_of[c] == NONE {
            row_of[c] = rows.len() as u32;
            let info = &cls.info[c];
            rows.push(ClassSummary {
                name: info.name.clone(),
                location: info.location,
                count: 0,
                shallow_size: 0,
                retained_size: 0,
                distance: d,
            });
        }
        let row = &mut rows[row_of[c] as usize];
        row.count += 1;
        row.shallow_size += g.self_size(i);
        row.distance = row.distance.min(d).or(d);
    }
    Rows { row_of, rows }
}

/// The second half of [`classes`]: the retained sizes, from the dominator tree (`keep` as
/// given to [`rows`]); the rows sorted.
pub fn retained(
    g: &Graph,
    dom: &Dominators,
    cls: &Classes,
    rows: Rows,
    keep: impl Fn(usize) -> bool,
) -> Vec<ClassSummary> {
    let Rows { row_of, mut rows } = rows;
    // Walk the dominator tree; `seen[c]` while inside the subtree of a counted instance of c.
    let mut seen = vec![false; cls.info.len()];
    let mut stack: Vec<(u32, bool)> = vec![(0, false)];
    while let Some((v, leaving)) = stack.pop() {
        let c = cls.of[v as usize] as usize;
        if leaving {
            seen[c] = false;
            continue;
        }
        let kids = dom.children_of(v as usize);
        if !seen[c] && row_of[c] != NONE && g.counted(v as usize) && keep(v as usize) {
            rows[row_of[c] as usize].retained_size += dom.retained[v as usize];
            if !kids.is_empty() {
                seen[c] = true;
                stack.push((v, true));
            }
        }
        stack.extend(kids.iter().map(|&k| (k, false)));
    }
    let mut rows = dedupe_keys(rows, ClassSummary::key);
    sort_rows(&mut rows);
    rows
}

/// DevTools turns its per-class aggregates into an object keyed by the public class key, in
/// creation order, so of two classes with one key (a name V8 wrote twice in its strings) the
/// later replaces the earlier (`getAggregatesByClassKey`).
pub fn dedupe_keys<T>(rows: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        last.insert(key(r), i);
    }
    if last.len() == rows.len() {
        return rows;
    }
    rows.into_iter()
        .enumerate()
        .filter(|(i, r)| last.get(&key(r)) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

pub fn sort_rows(rows: &mut [ClassSummary]) {
    rows.sort_by(|a, b| {
        b.retained_size
            .cmp(&a.retained_size)
            .then(b.shallow_size.cmp(&a.shallow_size))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| {
                a.location
                    .map(|l| (l.script_id, l.line, l.column))
                    .cmp(&b.location.map(|l| (l.script_id, l.line, l.column)))
            })
    });
}
