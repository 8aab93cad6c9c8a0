//! The analyzer: reads `.heapsnapshot` files (plain or gzip, any size, streamed), builds the
//! graph compactly, computes dominators and retained sizes, and answers the questions of
//! DevTools' Summary, Comparison and Retainers views. Pure Rust: knows nothing of N-API or V8.
//!
//! By default the Summary, Comparison and Statistics follow Chrome DevTools' own model of a
//! snapshot (`devtools`: its shallow sizes, class names, class keys and distances; checked row
//! by row against DevTools' code in `__test__/devtools.test.js`). With `devtools_rules` off
//! they keep the older model: V8's own self sizes, `(closure)`, `(regexp)`, one `Object`
//! class, no locations or distances, and memlab's dominator tree.

#![forbid(unsafe_code)]

pub mod bar;
pub mod bigvec;
pub mod bitset;
pub mod devtools;
pub mod diff;
pub mod dominators;
pub mod graph;
pub mod inflate;
pub mod leaks;
pub mod parse;
pub mod prof;
pub mod retainer_tree;
pub mod retainers;
pub mod source;
pub mod strings;
pub mod summary;

use std::path::Path;
use std::time::Instant;

use crate::core::error::SnapError;
use bar::Bar;
use devtools::Classes;
use graph::{Graph, LoadOptions, Reverse};
use summary::ClassSummary;

/// Choices common to the analyses.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// DevTools' model (`devtools`: shallow sizes, class names and keys, distances) and its
    /// page-owned and WeakMap rules (special cases 3 and 5 in `dominators`); on by default.
    /// Off: V8's own sizes, the older names, and the dominator tree memlab computes.
    pub devtools_rules: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            devtools_rules: true,
        }
    }
}

/// Facts about one snapshot file.
#[derive(Clone, Debug)]
pub struct SnapshotFileInfo {
    pub path: String,
    pub gzip: bool,
    pub file_size: u64,
    pub node_count: u64,
    pub edge_count: u64,
    /// Sum of all self sizes.
    pub total_size: u64,
}

fn file_info(path: &Path, g: &Graph) -> SnapshotFileInfo {
    SnapshotFileInfo {
        path: path.display().to_string(),
        gzip: g.source_gzip,
        file_size: g.source_size,
        node_count: g.node_count() as u64,
        edge_count: g.edge_count() as u64,
        total_size: (0..g.node_count()).map(|i| g.self_size(i)).sum(),
    }
}

/// Time spent in each phase, in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    pub read_ms: f64,
    pub dominators_ms: f64,
    pub aggregate_ms: f64,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

pub struct SummaryReport {
    pub file: SnapshotFileInfo,
    /// All classes, biggest retained size first (callers cut to their `top`).
    pub classes: Vec<ClassSummary>,
    pub timings: Timings,
}

fn load_full(path: &Path, edge_names: bool, bar: &Bar) -> Result<Graph, SnapError> {
    read(
        path,
        LoadOptions {
            edges: true,
            edge_names,
            string_texts: false,
        },
        bar,
    )
}

fn read(path: &Path, load: LoadOptions, bar: &Bar) -> Result<Graph, SnapError> {
    bar.phase(format!("reading {}", path.display()));
    parse::load(path, load, bar)
}

/// The classes of a loaded graph under `opts` (DevTools' rules change its self sizes).
fn classes_of(g: &mut Graph, opts: &Options) -> Classes {
    if opts.devtools_rules {
        Classes::devtools(g)
    } else {
        Classes::legacy(g)
    }
}

/// [`classes_of`] and, with DevTools' rules, the dominators' first steps (the page-owned
/// marking and the retaining edges) on the cores' idle time beside it: both only read the
/// graph, and neither depends on the self sizes DevTools' rules move. Without the rules the
/// names are quick, so there is no idle time; `None`, and [`dominators_of`] takes every step.
fn classes_and_retaining(
    g: &mut Graph,
    opts: &Options,
) -> (Classes, Option<dominators::Retaining>) {
    if !opts.devtools_rules {
        return (Classes::legacy(g), None);
    }
    let page_owned = |g: &Graph| {
        let page = dominators::page_owned(g, true);
        prof::mark("dom: page owned");
        page
    };
    let retaining = |g: &Graph, page: Vec<bool>| {
        // One core: the names take the other.
        let r = dominators::retaining(g, &page, true, false);
        prof::mark("dom: essential edges");
        r
    };
    let (cls, r) = Classes::devtools_with(g, page_owned, retaining);
    (cls, Some(r))
}

/// The dominators, from the retaining edges when [`classes_and_retaining`] found them.
fn dominators_of(
    g: &mut Graph,
    r: Option<dominators::Retaining>,
    opts: &Options,
    drop_edges: bool,
) -> dominators::Dominators {
    match r {
        Some(r) => dominators::compute_with(g, r, drop_edges),
        None => dominators::compute(g, opts.devtools_rules, drop_edges),
    }
}

/// The classes and the dominators of a graph whose edges stay (for retainer paths).
fn classes_and_dominators(g: &mut Graph, opts: &Options) -> (Classes, dominators::Dominators) {
    let (cls, r) = classes_and_retaining(g, opts);
    let dom = dominators_of(g, r, opts, false);
    (cls, dom)
}

/// `heapsnap summary`.
pub fn summary(path: &Path, opts: &Options, bar: &Bar) -> Result<SummaryReport, SnapError> {
    let t = Instant::now();
    prof::start();
    // DevTools' rules read edge names (property names, WeakMap entries, `elements`).
    let mut g = load_full(path, opts.devtools_rules, bar)?;
    // The summary never reads the ids (only the reading did, for WeakMap tables).
    g.id = Vec::new();
    prof::mark("read: the rest, graph finished");
    let read_ms = ms(t);
    let t = Instant::now();
    bar.phase("dominators");
    let (mut cls, r) = classes_and_retaining(&mut g, opts);
    // Counts, shallow sizes and distances first: then the distances are freed before the
    // rest of the dominators.
    let rows = summary::rows(&g, &cls, |_| true);
    prof::mark("summary: counts, shallow sizes");
    cls.distance = None;
    let dom = dominators_of(&mut g, r, opts, true);
    let dominators_ms = ms(t);
    let t = Instant::now();
    bar.phase("aggregating");
    let classes = summary::retained(&g, &dom, &cls, rows, |_| true);
    prof::mark("aggregate");
    let file = file_info(path, &g);
    Ok(SummaryReport {
        file,
        classes,
        timings: Timings {
            read_ms,
            dominators_ms,
            aggregate_ms: ms(t),
        },
    })
}

pub struct DiffReport {
    pub base: SnapshotFileInfo,
    pub target: SnapshotFileInfo,
    pub classes: Vec<diff::ClassDiff>,
    /// Share of the JS object ids in both files whose class agrees (see `diff::same_process_score`).
    pub same_process_score: f64,
    pub same_process: bool,
    /// The Summary of the objects allocated between the two snapshots (ids above the base's
    /// largest JS object id), when they come from the same process.
    pub allocated_between: Option<Vec<ClassSummary>>,
    pub base_max_js_id: u32,
}

/// `heapsnap diff`. `same_process` forces the answer instead of inferring it from the ids.
/// Each snapshot's classes are its own (as `heap-snapshot-toolkit`'s `diff` has them: the
/// base's plain objects are named by the interfaces inferred from the base).
pub fn diff(
    base: &Path,
    target: &Path,
    same_process: Option<bool>,
    opts: &Options,
    bar: &Bar,
) -> Result<DiffReport, SnapError> {
    let (base_side, base_file) = side_of(base, opts, bar)?;
    let mut tg = load_full(target, opts.devtools_rules, bar)?;
    let cls = classes_of(&mut tg, opts);
    let target_side = diff::DiffSide::of(&tg, &cls);
    bar.phase("comparing");
    let classes = diff::compare(&base_side, &target_side);
    let score = diff::same_process_score(&base_side, &target_side);
    let same = same_process.unwrap_or(score >= diff::SAME_PROCESS_THRESHOLD);
    let min_id = base_side.max_js_id;
    drop((base_side, target_side));
    let allocated_between = if same {
        bar.phase("dominators");
        let dom = dominators::compute(&mut tg, opts.devtools_rules, true);
        Some(summary::classes(&tg, &dom, &cls, |i| tg.id[i] > min_id))
    } else {
        None
    };
    Ok(DiffReport {
        base: base_file,
        target: file_info(target, &tg),
        classes,
        same_process_score: score,
        same_process: same,
        allocated_between,
        base_max_js_id: min_id,
    })
}

/// What `heapsnap retainers` looks at: the instances of a class (the biggest by retained size
/// for the tree), or one object by its snapshot id (`@id`).
#[derive(Clone, Debug)]
pub enum RetainersTarget {
    Class(String),
    Id(u32),
}

/// `heapsnap retainers`: the class's totals and shortest paths (`paths`, `max_depth`), and
/// with `tree` DevTools' Retainers pane of the object (see `retainer_tree`). Unknown ids are
/// `ERR_HEAPSNAP_NO_SUCH_OBJECT`; a class without instances gives a count of 0 and no tree.
pub fn retainers(
    path: &Path,
    target: &RetainersTarget,
    paths: usize,
    max_depth: usize,
    tree: Option<retainer_tree::TreeLimits>,
    opts: &Options,
    bar: &Bar,
) -> Result<
    (
        SnapshotFileInfo,
        retainers::RetainersReport,
        Option<retainer_tree::RetainerTree>,
    ),
    SnapError,
> {
    let mut g = load_full(path, true, bar)?;
    bar.phase("dominators");
    let (cls, dom) = classes_and_dominators(&mut g, opts);
    let rev = Reverse::build(&g);
    bar.phase("retainers");
    let (class_name, only) = match target {
        RetainersTarget::Class(name) => (name.clone(), None),
        RetainersTarget::Id(id) => {
            let Some(i) = retainer_tree::node_by_id(&g, *id) else {
                return Err(SnapError::other(
                    "ERR_HEAPSNAP_NO_SUCH_OBJECT",
                    "retainers",
                    path,
                    format!("no object with id @{id} in {}", path.display()),
                ));
            };
            (cls.info[cls.of[i] as usize].name.clone(), Some(i))
        }
    };
    let report = retainers::report(&g, &rev, &dom, &cls, &class_name, paths, max_depth, only);
    let tree = match (tree, report.object) {
        (Some(limits), Some(object)) => {
            let detached = devtools::propagate_dom_state(&g);
            let dist = retainer_tree::tree_distances(&g, &cls);
            let input = retainer_tree::TreeInput {
                g: &g,
                rev: &rev,
                dom: &dom,
                cls: &cls,
                detached: &detached,
                dist: &dist,
                devtools_names: opts.devtools_rules,
            };
            Some(input.tree(object, limits))
        }
        _ => None,
    };
    Ok((file_info(path, &g), report, tree))
}

/// `heapsnap strings`: the duplicated strings (see `strings`), most wasted bytes first, cut
/// to `top` groups, and the retainer path of each group's nearest copy.
pub fn strings(
    path: &Path,
    top: usize,
    max_depth: usize,
    opts: &Options,
    bar: &Bar,
) -> Result<
    (
        SnapshotFileInfo,
        strings::StringsReport,
        Vec<retainers::RetainerPath>,
    ),
    SnapError,
> {
    let mut g = read(
        path,
        LoadOptions {
            edges: true,
            edge_names: true,
            string_texts: true,
        },
        bar,
    )?;
    bar.phase("dominators");
    // DevTools' rules give an external string the size of its `ExternalStringData`.
    let (cls, dom) = classes_and_dominators(&mut g, opts);
    let rev = Reverse::build(&g);
    bar.phase("duplicated strings");
    let dist = retainers::distances(&g);
    let mut report = strings::duplicated(&g, &dist);
    report.groups.truncate(top);
    let paths = strings::paths(&g, &rev, &dom, &cls, &dist, &report.groups, max_depth);
    Ok((file_info(path, &g), report, paths))
}

/// The top of the dominator tree by class (the report's treemap): see
/// `retainers::dominator_top`. One read of the snapshot for every class.
pub fn dominator_top(
    path: &Path,
    classes: usize,
    instances: usize,
    children: usize,
    opts: &Options,
    bar: &Bar,
) -> Result<(SnapshotFileInfo, Vec<retainers::TopClass>), SnapError> {
    let mut g = load_full(path, true, bar)?;
    bar.phase("dominators");
    let (cls, dom) = classes_and_dominators(&mut g, opts);
    let rev = Reverse::build(&g);
    bar.phase("dominator tree top");
    let limits = retainers::TopLimits {
        classes,
        instances,
        children,
        max_depth: 100,
    };
    let top = retainers::dominator_top(&g, &rev, &dom, &cls, limits);
    Ok((file_info(path, &g), top))
}

/// `heapsnap stats`: DevTools' Statistics (`getStatistics`). Under DevTools' rules the sizes
/// are those after `calculateShallowSizes`, as DevTools computes them.
pub fn stats(
    path: &Path,
    opts: &Options,
    bar: &Bar,
) -> Result<(SnapshotFileInfo, devtools::Statistics), SnapError> {
    let mut g = load_full(path, true, bar)?;
    bar.phase("statistics");
    let detached = devtools::propagate_dom_state(&g);
    if opts.devtools_rules {
        devtools::calculate_shallow_sizes(&mut g, &detached);
    }
    let s = devtools::statistics(&g, &detached);
    Ok((file_info(path, &g), s))
}

#[cfg(test)]
mod tests;

pub struct LeakReport {
    pub files: [SnapshotFileInfo; 3],
    /// The largest JS object id of each snapshot.
    pub max_js_ids: [u32; 3],
    /// Biggest retained size first.
    pub rows: Vec<leaks::LeakRow>,
}

/// The per-class side of a snapshot (without its dominators).
fn side_of(
    path: &Path,
    opts: &Options,
    bar: &Bar,
) -> Result<(diff::DiffSide, SnapshotFileInfo), SnapError> {
    bar.phase(format!("reading {}", path.display()));
    let mut g = parse::load(
        path,
        LoadOptions {
            // DevTools' class names (`{a, b}`) need the edges and their names.
            edges: opts.devtools_rules,
            edge_names: opts.devtools_rules,
            string_texts: false,
        },
        bar,
    )?;
    let cls = classes_of(&mut g, opts);
    Ok((diff::DiffSide::of(&g, &cls), file_info(path, &g)))
}

/// Snapshots `a` and `b` (taken in that order) must come from one process, `a` first.
fn check_sequence(
    a: (&Path, &diff::DiffSide),
    b: (&Path, &diff::DiffSide),
) -> Result<(), SnapError> {
    if a.1.max_js_id >= b.1.max_js_id {
        return Err(SnapError::other(
            "ERR_HEAPSNAP_SNAPSHOT_ORDER",
            "leaks",
            b.0,
            format!(
                "the snapshots are not in the order they were taken: {} (largest object id {}) must come before {} (largest object id {})",
                b.0.display(),
                b.1.max_js_id,
                a.0.display(),
                a.1.max_js_id
            ),
        ));
    }
    let score = diff::same_process_score(a.1, b.1);
    if score < diff::SAME_PROCESS_THRESHOLD {
        return Err(SnapError::other(
            "ERR_HEAPSNAP_NOT_SAME_PROCESS",
            "leaks",
            b.0,
            format!(
                "{} and {} do not look like snapshots of one process: object ids are only comparable within one process (only {:.1}% of the ids found in both name objects of the same class)",
                a.0.display(),
                b.0.display(),
                100.0 * score
            ),
        ));
    }
    Ok(())
}

/// `heapsnap leaks`: what was allocated between snapshots 1 and 2 and is still alive in 3.
pub fn leaks(paths: [&Path; 3], opts: &Options, bar: &Bar) -> Result<LeakReport, SnapError> {
    let (first, f1) = side_of(paths[0], opts, bar)?;
    let (second, f2) = side_of(paths[1], opts, bar)?;
    check_sequence((paths[0], &first), (paths[1], &second))?;
    let mut g = load_full(paths[2], true, bar)?;
    let cls = classes_of(&mut g, opts);
    let third = diff::DiffSide::of(&g, &cls);
    check_sequence((paths[1], &second), (paths[2], &third))?;
    bar.phase("dominators");
    let dom = dominators::compute(&mut g, opts.devtools_rules, false);
    bar.phase("retainer paths");
    let rows = leaks::rows(
        &g,
        &dom,
        &cls,
        &leaks::Baseline {
            first: &first,
            second: &second,
        },
        &third,
    );
    Ok(LeakReport {
        files: [f1, f2, file_info(paths[2], &g)],
        max_js_ids: [first.max_js_id, second.max_js_id, third.max_js_id],
        rows,
    })
}
