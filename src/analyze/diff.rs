//! DevTools' Comparison view: per class, the objects new in the target snapshot and those gone
//! from the base, matched by object id within the class (`HeapSnapshot.aggregatesForDiff` and
//! `calculateSnapshotDiff`). Only counted nodes (self size > 0) take part, as in DevTools.

use std::collections::HashMap;

use super::devtools::{Classes, Location};
use super::graph::Graph;
use super::summary::dedupe_keys;

/// One class's objects in one snapshot.
#[derive(Clone, Debug, Default)]
pub struct DiffClass {
    pub name: String,
    pub location: Option<Location>,
    /// `(id, self size)`, sorted by id.
    pub ids: Vec<(u32, u64)>,
}

/// Classes by DevTools' class key (`,Name`, or `script,line,column,Name`).
pub type ClassIds = HashMap<String, DiffClass>;

/// Everything the comparison needs from one snapshot; the graph itself can then be dropped.
pub struct DiffSide {
    pub classes: ClassIds,
    /// `(id, class)` of every JS object (odd id) counted, sorted by id, the class as an index
    /// into `names`: used to tell whether two snapshots come from the same process.
    pub js_ids: Vec<(u32, u32)>,
    pub names: Vec<String>,
    /// The largest odd id (DevTools' `maxJsNodeId`).
    pub max_js_id: u32,
}

impl DiffSide {
    /// DevTools' `aggregatesForDiff`: the counted objects of each class.
    pub fn of(g: &Graph, cls: &Classes) -> DiffSide {
        const NONE: u32 = u32::MAX;
        let mut row_of = vec![NONE; cls.info.len()];
        let mut rows: Vec<(String, DiffClass)> = Vec::new();
        let names: Vec<String> = cls.info.iter().map(|c| c.name.clone()).collect();
        let mut js_ids = Vec::new();
        let mut max_js_id = 0;
        for i in 0..g.node_count() {
            let id = g.id[i];
            if id % 2 == 1 {
                max_js_id = max_js_id.max(id);
            }
            if !g.counted(i) {
                continue;
            }
            let c = cls.of[i];
            if row_of[c as usize] == NONE {
                row_of[c as usize] = rows.len() as u32;
                let info = &cls.info[c as usize];
                rows.push((
                    info.key(),
                    DiffClass {
                        name: info.name.clone(),
                        location: info.location,
                        ids: Vec::new(),
                    },
                ));
            }
            rows[row_of[c as usize] as usize]
                .1
                .ids
                .push((id, g.self_size(i)));
            if id % 2 == 1 {
                js_ids.push((id, c));
            }
        }
        js_ids.sort_unstable();
        let mut classes = ClassIds::new();
        for (key, mut class) in dedupe_keys(rows, |r| r.0.clone()) {
            class.ids.sort_unstable();
            classes.insert(key, class);
        }
        DiffSide {
            classes,
            js_ids,
            names,
            max_js_id,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassDiff {
    pub name: String,
    pub location: Option<Location>,
    pub new_count: u64,
    pub deleted_count: u64,
    pub delta_count: i64,
    pub alloc_size: u64,
    pub freed_size: u64,
    pub size_delta: i64,
}

/// The Comparison rows for classes with anything new or deleted, biggest size delta first.
pub fn compare(base: &DiffSide, target: &DiffSide) -> Vec<ClassDiff> {
    let empty = DiffClass::default();
    let mut keys: Vec<&String> = base.classes.keys().chain(target.classes.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut rows = Vec::new();
    for key in keys {
        let a = base.classes.get(key).unwrap_or(&empty);
        let b = target.classes.get(key).unwrap_or(&empty);
        // `calculateDiffForClass`: the target's name, else the base's.
        let named = if target.classes.contains_key(key) {
            b
        } else {
            a
        };
        let mut row = ClassDiff {
            name: named.name.clone(),
            location: named.location,
            ..ClassDiff::default()
        };
        let (a, b) = (&a.ids, &b.ids);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if j == b.len() || (i < a.len() && a[i].0 < b[j].0) {
                row.deleted_count += 1;
                row.freed_size += a[i].1;
                i += 1;
            } else if i == a.len() || b[j].0 < a[i].0 {
                row.new_count += 1;
                row.alloc_size += b[j].1;
                j += 1;
            } else {
                i += 1;
                j += 1;
            }
        }
        if row.new_count == 0 && row.deleted_count == 0 {
            continue;
        }
        row.delta_count = row.new_count as i64 - row.deleted_count as i64;
        row.size_delta = row.alloc_size as i64 - row.freed_size as i64;
        rows.push(row);
    }
    rows.sort_by(|x, y| {
        y.size_delta
            .cmp(&x.size_delta)
            .then(y.delta_count.cmp(&x.delta_count))
            .then_with(|| x.name.cmp(&y.name))
    });
    rows
}

/// Whether `target` was taken later in the same process as `base`. V8 keeps an object's id
/// for its life, so in one process an id found in both snapshots is the same object, of the
/// same class. Two processes number their objects independently (both from the same start),
/// so the same id mostly names unrelated objects. Returns the share of the JS object ids found
/// in both whose class agrees (0.0 when no id is shared).
pub fn same_process_score(base: &DiffSide, target: &DiffSide) -> f64 {
    let (a, b) = (&base.js_ids, &target.js_ids);
    let (mut i, mut j) = (0, 0);
    let (mut shared, mut agree) = (0u64, 0u64);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                if base.names[a[i].1 as usize] == target.names[b[j].1 as usize] {
                    agree += 1;
                }
                i += 1;
                j += 1;
            }
        }
    }
    if shared == 0 {
        0.0
    } else {
        agree as f64 / shared as f64
    }
}

/// The share `same_process_score` must reach.
/// (Measured: 1.0 for two snapshots of one process, 0.35–0.41 for snapshots of two processes
/// running different code.)
pub const SAME_PROCESS_THRESHOLD: f64 = 0.9;

#[cfg(test)]
mod tests {
    use super::*;

    fn side(classes: &[(&str, &[(u32, u64)])]) -> DiffSide {
        let names: Vec<String> = classes.iter().map(|(n, _)| n.to_string()).collect();
        let mut js_ids: Vec<(u32, u32)> = classes
            .iter()
            .enumerate()
            .flat_map(|(c, (_, ids))| ids.iter().map(move |x| (x.0, c as u32)))
            .collect();
        js_ids.sort_unstable();
        DiffSide {
            max_js_id: js_ids.last().map_or(0, |x| x.0),
            classes: classes
                .iter()
                .map(|(n, ids)| {
                    (
                        format!(",{n}"),
                        DiffClass {
                            name: n.to_string(),
                            location: None,
                            ids: ids.to_vec(),
                        },
                    )
                })
                .collect(),
            js_ids,
            names,
        }
    }

    #[test]
    fn matches_by_id_within_a_class() {
        let base = side(&[("A", &[(1, 10), (3, 10), (5, 10)]), ("B", &[(7, 4)])]);
        let target = side(&[("A", &[(3, 10), (9, 12), (11, 12)]), ("C", &[(13, 1)])]);
        let rows = compare(&base, &target);
        let a = rows.iter().find(|r| r.name == "A").unwrap();
        assert_eq!((a.new_count, a.deleted_count, a.delta_count), (2, 2, 0));
        assert_eq!((a.alloc_size, a.freed_size, a.size_delta), (24, 20, 4));
        let b = rows.iter().find(|r| r.name == "B").unwrap();
        assert_eq!((b.new_count, b.deleted_count, b.size_delta), (0, 1, -4));
        assert_eq!(rows[0].name, "A");
        assert_eq!(rows.len(), 3);
    }

    #[test]
    fn tells_same_process_from_another() {
        let base = side(&[("A", &[(1, 1), (3, 1), (5, 1)]), ("B", &[(7, 1)])]);
        let later = side(&[("A", &[(1, 1), (5, 1), (9, 1)]), ("B", &[(7, 1), (11, 1)])]);
        assert_eq!(same_process_score(&base, &later), 1.0);
        // Another process: the same ids name objects of other classes.
        let fresh = side(&[("A", &[(1, 1), (7, 1)]), ("B", &[(3, 1), (5, 1)])]);
        assert_eq!(same_process_score(&base, &fresh), 0.25);
        assert!(same_process_score(&base, &fresh) < SAME_PROCESS_THRESHOLD);
    }
}
