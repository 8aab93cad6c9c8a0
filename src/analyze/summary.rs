//! DevTools' Summary view: per class, the number of objects, their shallow size and their
//! retained size (`HeapSnapshot.buildAggregates` and `calculateClassesRetainedSize`).

use std::collections::HashMap;

use super::dominators::Dominators;
use super::graph::Graph;

const NONE: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassRow {
    pub name: String,
    pub count: u64,
    pub shallow_size: u64,
    pub retained_size: u64,
}

/// Per-class aggregates over the nodes `keep` accepts, sorted by retained size (then shallow
/// size, then name). Nodes of self size 0 are not counted (DevTools leaves them out).
///
/// A class's retained size is the sum of the retained sizes of its counted instances that
/// have no counted instance of the same class among their dominators, so that an object
/// retained by another of its class is not counted twice.
pub fn classes(g: &Graph, dom: &Dominators, keep: impl Fn(usize) -> bool) -> Vec<ClassRow> {
    let n = g.node_count();
    // Class key → row: a table for the name-keyed classes (keys below 2^32, string indices),
    // a map for the few others; hashing every node showed in profiles.
    let mut by_string: Vec<u32> = Vec::new();
    let mut index: HashMap<u64, u32> = HashMap::new();
    // V8 may intern a name more than once: classes are merged by name.
    let mut by_name: HashMap<String, u32> = HashMap::new();
    let mut rows: Vec<ClassRow> = Vec::new();
    let mut cls = vec![NONE; n];
    for (i, c) in cls.iter_mut().enumerate() {
        if !g.counted(i) || !keep(i) {
            continue;
        }
        let key = g.class_key(i);
        if key < 1 << 32 {
            if let Some(&row) = by_string.get(key as usize).filter(|&&r| r != NONE) {
                *c = row;
                rows[row as usize].count += 1;
                rows[row as usize].shallow_size += g.self_size(i);
                continue;
            }
        }
        let id = *index.entry(key).or_insert_with(|| {
            let name = g.class_name(i).into_owned();
            *by_name.entry(name.clone()).or_insert_with(|| {
                rows.push(ClassRow {
                    name,
                    count: 0,
                    shallow_size: 0,
                    retained_size: 0,
                });
                (rows.len() - 1) as u32
            })
        });
        if key < 1 << 32 {
            if by_string.len() <= key as usize {
                by_string.resize(key as usize + 1, NONE);
            }
            by_string[key as usize] = id;
        }
        *c = id;
        let row = &mut rows[id as usize];
        row.count += 1;
        row.shallow_size += g.self_size(i);
    }
    drop((index, by_name));

    // Walk the dominator tree; `seen[c]` while inside the subtree of a counted instance of c.
    let mut seen = vec![false; rows.len()];
    let mut stack: Vec<(u32, bool)> = vec![(0, false)];
    while let Some((v, leaving)) = stack.pop() {
        let c = cls[v as usize];
        if leaving {
            seen[c as usize] = false;
            continue;
        }
        let kids = dom.children_of(v as usize);
        if c != NONE && !seen[c as usize] {
            rows[c as usize].retained_size += dom.retained[v as usize];
            if !kids.is_empty() {
                seen[c as usize] = true;
                stack.push((v, true));
            }
        }
        stack.extend(kids.iter().map(|&k| (k, false)));
    }
    sort_rows(&mut rows);
    rows
}

pub fn sort_rows(rows: &mut [ClassRow]) {
    rows.sort_by(|a, b| {
        b.retained_size
            .cmp(&a.retained_size)
            .then(b.shallow_size.cmp(&a.shallow_size))
            .then_with(|| a.name.cmp(&b.name))
    });
}
