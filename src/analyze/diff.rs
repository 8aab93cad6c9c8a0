//! DevTools' Comparison view: per class, the objects new in the target snapshot and those gone
//! from the base, matched by object id within the class (`HeapSnapshot.aggregatesForDiff` and
//! `calculateSnapshotDiff`). Only counted nodes (self size > 0) take part, as in DevTools.

use std::collections::HashMap;

use super::graph::Graph;

/// One class's objects, sorted by id: `(id, self size)`.
pub type ClassIds = HashMap<String, Vec<(u32, u64)>>;

/// Everything the comparison needs from one snapshot; the graph itself can then be dropped.
pub struct DiffSide {
    pub classes: ClassIds,
    /// Every odd (JS object) id in the snapshot, sorted: used to tell whether two snapshots
    /// come from the same process.
    pub js_ids: Vec<u32>,
    /// The largest odd id (DevTools' `maxJsNodeId`).
    pub max_js_id: u32,
}

impl DiffSide {
    pub fn of(g: &Graph) -> DiffSide {
        let mut by_key: HashMap<u64, (String, Vec<(u32, u64)>)> = HashMap::new();
        let mut js_ids = Vec::new();
        for i in 0..g.node_count() {
            let id = g.id[i];
            if id % 2 == 1 {
                js_ids.push(id);
            }
            if !g.counted(i) {
                continue;
            }
            by_key
                .entry(g.class_key(i))
                .or_insert_with(|| (g.class_name(i).into_owned(), Vec::new()))
                .1
                .push((id, g.self_size(i)));
        }
        js_ids.sort_unstable();
        let max_js_id = js_ids.last().copied().unwrap_or(0);
        let mut classes = ClassIds::new();
        for (_, (name, ids)) in by_key {
            classes.entry(name).or_default().extend(ids);
        }
        for ids in classes.values_mut() {
            ids.sort_unstable();
        }
        DiffSide {
            classes,
            js_ids,
            max_js_id,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffRow {
    pub name: String,
    pub new_count: u64,
    pub deleted_count: u64,
    pub delta_count: i64,
    pub alloc_size: u64,
    pub freed_size: u64,
    pub size_delta: i64,
}

/// The Comparison rows for classes with anything new or deleted, biggest size delta first.
pub fn compare(base: &DiffSide, target: &DiffSide) -> Vec<DiffRow> {
    let empty = Vec::new();
    let mut names: Vec<&String> = base.classes.keys().chain(target.classes.keys()).collect();
    names.sort_unstable();
    names.dedup();
    let mut rows = Vec::new();
    for name in names {
        let a = base.classes.get(name).unwrap_or(&empty);
        let b = target.classes.get(name).unwrap_or(&empty);
        let mut row = DiffRow {
            name: name.clone(),
            ..DiffRow::default()
        };
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
/// for its life and never reuses one, and hands out ids in increasing order, so in the same
/// process every JS object in the target with an id no larger than the base's largest was
/// already in the base. Another process numbers its objects afresh, and most such ids miss.
/// Returns the share of those ids found in the base (1.0 when there are none to check).
pub fn same_process_score(base: &DiffSide, target: &DiffSide) -> f64 {
    let (mut checked, mut found) = (0u64, 0u64);
    for &id in &target.js_ids {
        if id > base.max_js_id {
            break;
        }
        checked += 1;
        if base.js_ids.binary_search(&id).is_ok() {
            found += 1;
        }
    }
    if checked == 0 {
        1.0
    } else {
        found as f64 / checked as f64
    }
}

/// The share `same_process_score` must reach.
pub const SAME_PROCESS_THRESHOLD: f64 = 0.99;

#[cfg(test)]
mod tests {
    use super::*;

    fn side(classes: &[(&str, &[(u32, u64)])]) -> DiffSide {
        let mut js_ids: Vec<u32> = classes
            .iter()
            .flat_map(|(_, ids)| ids.iter().map(|x| x.0))
            .collect();
        js_ids.sort_unstable();
        DiffSide {
            max_js_id: *js_ids.last().unwrap_or(&0),
            classes: classes
                .iter()
                .map(|(n, ids)| (n.to_string(), ids.to_vec()))
                .collect(),
            js_ids,
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
        let base = side(&[("A", &[(1, 1), (3, 1), (5, 1), (7, 1)])]);
        let later = side(&[("A", &[(1, 1), (5, 1), (9, 1), (11, 1)])]);
        assert_eq!(same_process_score(&base, &later), 1.0);
        let other = side(&[("A", &[(1, 1), (2001, 1)]), ("B", &[(5, 1)])]);
        let fresh = side(&[
            ("A", &[(1, 1), (9, 1), (13, 1), (15, 1)]),
            ("B", &[(17, 1)]),
        ]);
        assert!(same_process_score(&other, &fresh) < SAME_PROCESS_THRESHOLD);
    }
}
