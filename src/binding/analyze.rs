//! The analyzer's N-API exports: each runs on libuv's thread pool (`AsyncTask`), never on the
//! JS thread, and resolves to an `AnalysisResult` of plain objects. Failures resolve to
//! `{ error }` (a `NativeError` with `code`/`path`/`syscall`), which `lib/analyze.js` turns into a
//! rejected Error.

use std::path::PathBuf;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::options::NativeError;
use crate::analyze::{self, bar::Bar, retainer_tree as tree, retainers as ret};
use crate::core::error::SnapError;

/// Options shared by the analyses.
#[napi(object)]
#[derive(Clone, Default)]
pub struct AnalyzeOptions {
    /// Draw a progress bar on stderr (the CLI sets it when stderr is a terminal).
    pub progress: Option<bool>,
    /// DevTools' page-owned and WeakMap rules for retained sizes (default true; false gives
    /// the dominator tree memlab computes).
    pub devtools_rules: Option<bool>,
    /// diff: force (true/false) instead of inferring whether both files come from one process.
    pub same_process: Option<bool>,
    /// retainers: how many of the biggest instances get a path (default 3).
    pub paths: Option<u32>,
    /// retainers: the longest path printed (default 100 steps).
    pub max_depth: Option<u32>,
    /// retainers: levels of the retainer tree below the object (default 3; 0: no tree).
    pub depth: Option<u32>,
    /// retainers: retainers listed under each node of the tree (default 10).
    pub limit: Option<u32>,
    /// dominatorTop: how many classes (biggest retained size first; default 10).
    pub classes: Option<u32>,
    /// dominatorTop: how many dominator-tree children of each instance (default 5).
    pub children: Option<u32>,
    /// inflate: replace an existing output file.
    pub force: Option<bool>,
    /// strings: how many groups (most wasted bytes first) to return, each with a retainer
    /// path (default all). The other analyses apply `top` in JS.
    pub top: Option<u32>,
}

impl AnalyzeOptions {
    fn core(&self) -> analyze::Options {
        analyze::Options {
            devtools_rules: self.devtools_rules.unwrap_or(true),
        }
    }
    fn bar(&self) -> Bar {
        Bar::new(self.progress.unwrap_or(false))
    }
}

#[napi(object)]
pub struct SnapshotFileInfo {
    pub path: String,
    /// Whether the content was gzip (told by content, not by name).
    pub gzip: bool,
    /// Bytes on disk.
    pub file_size: f64,
    pub node_count: f64,
    pub edge_count: f64,
    /// Sum of every node's self size.
    pub total_size: f64,
}

impl From<analyze::SnapshotFileInfo> for SnapshotFileInfo {
    fn from(f: analyze::SnapshotFileInfo) -> Self {
        SnapshotFileInfo {
            path: f.path,
            gzip: f.gzip,
            file_size: f.file_size as f64,
            node_count: f.node_count as f64,
            edge_count: f.edge_count as f64,
            total_size: f.total_size as f64,
        }
    }
}

/// Where a class's constructor is (DevTools keeps same-named classes from different places
/// apart).
#[napi(object)]
pub struct ClassLocation {
    pub script_id: u32,
    /// 0-based.
    pub line: u32,
    /// 0-based.
    pub column: u32,
}

fn location(l: Option<analyze::devtools::Location>) -> Option<ClassLocation> {
    l.map(|l| ClassLocation {
        script_id: l.script_id,
        line: l.line,
        column: l.column,
    })
}

#[napi(object)]
pub struct ClassSummary {
    /// DevTools' class name: the constructor name for objects, `{a, b}` for plain objects
    /// named by their properties, the node name for native nodes (`Detached <name>` when
    /// detached), `Function`, `RegExp`, `(system)`, `(compiled code)`, `(string)`, `(array)`,
    /// `(<type>)` for the rest. With `devtoolsRules: false`: closures are `(closure)`, regexps
    /// `(regexp)`, plain objects `Object`.
    pub name: String,
    /// Set when DevTools keys the class by its constructor's location (several rows may then
    /// share a name).
    pub location: Option<ClassLocation>,
    /// DevTools' Distance: the smallest distance of an instance from the roots (-5 when one is
    /// unreachable; from 100000000 for objects reachable only through system roots). Absent
    /// with `devtoolsRules: false`.
    pub distance: Option<f64>,
    pub count: f64,
    /// Sum of the instances' self sizes (bytes).
    pub shallow_size: f64,
    /// Bytes freed if every instance went away: instances nested under another are counted once.
    pub retained_size: f64,
}

fn rows(classes: Vec<analyze::summary::ClassSummary>) -> Vec<ClassSummary> {
    classes
        .into_iter()
        .map(|c| ClassSummary {
            name: c.name,
            location: location(c.location),
            distance: c.distance.map(|d| d as f64),
            count: c.count as f64,
            shallow_size: c.shallow_size as f64,
            retained_size: c.retained_size as f64,
        })
        .collect()
}

#[napi(object)]
pub struct Timings {
    pub read_ms: f64,
    pub dominators_ms: f64,
    pub aggregate_ms: f64,
}

#[napi(object)]
pub struct SummaryResult {
    pub file: SnapshotFileInfo,
    /// Biggest retained size first.
    pub classes: Vec<ClassSummary>,
    pub timings: Timings,
}

#[napi(object)]
pub struct ClassDiff {
    pub name: String,
    /// As in `ClassSummary`: classes are matched by name and location.
    pub location: Option<ClassLocation>,
    /// `# New`: in the target, not in the base.
    pub new_count: f64,
    /// `# Deleted`: in the base, not in the target.
    pub deleted_count: f64,
    /// `# Delta` = newCount − deletedCount.
    pub delta_count: f64,
    /// `Alloc. Size`: bytes of the new objects.
    pub alloc_size: f64,
    /// `Freed Size`: bytes of the deleted objects.
    pub freed_size: f64,
    /// `Size Delta` = allocSize − freedSize.
    pub size_delta: f64,
}

#[napi(object)]
pub struct DiffResult {
    pub base: SnapshotFileInfo,
    pub target: SnapshotFileInfo,
    /// Classes with anything new or deleted, biggest size delta first.
    pub classes: Vec<ClassDiff>,
    /// Whether both files come from one process: the share of object ids present in both whose
    /// class agrees (`sameProcessScore`) is at least 0.9, or `options.sameProcess` said so.
    pub same_process: bool,
    pub same_process_score: f64,
    /// The base's largest JS object id (DevTools' `maxJSObjectId`).
    pub base_max_js_id: f64,
    /// DevTools' "Objects allocated between Snapshot 1 and Snapshot 2": the Summary of the target's
    /// objects with an id above `baseMaxJsId`. Absent (`null` from the JS API) unless `sameProcess`.
    pub allocated_between: Option<Vec<ClassSummary>>,
}

#[napi(object)]
pub struct RetainerNode {
    pub id: f64,
    /// As the Retainers pane shows it (the constructor name, or the string's text, …).
    pub name: String,
    #[napi(js_name = "type")]
    pub node_type: String,
    pub class_name: String,
    pub self_size: f64,
    pub retained_size: f64,
    /// Distance from the roots (DevTools' definition); absent when unreachable.
    pub distance: Option<f64>,
}

impl From<ret::RetainerNode> for RetainerNode {
    fn from(n: ret::RetainerNode) -> Self {
        RetainerNode {
            id: n.id as f64,
            name: n.name,
            node_type: n.node_type,
            class_name: n.class_name,
            self_size: n.self_size as f64,
            retained_size: n.retained_size as f64,
            distance: n.distance.map(f64::from),
        }
    }
}

#[napi(object)]
pub struct PathStep {
    pub node: RetainerNode,
    /// The edge to the next step (absent on the object itself).
    pub edge: Option<String>,
    pub edge_type: Option<String>,
}

#[napi(object)]
pub struct RetainerPath {
    /// The instance.
    pub object: RetainerNode,
    /// From the first object below the root down to the instance: each step's `edge` leads to the
    /// next step (`.name` for properties, `[i]` for elements, the bare name for internal edges).
    /// Empty when the instance is unreachable (held only weakly).
    pub path: Vec<PathStep>,
}

/// One retainer in the tree: the edge from it to the node above, and the node.
#[napi(object)]
pub struct RetainerTreeNode {
    /// The edge's name as DevTools shows it: a property or variable name, or the index of an
    /// element or hidden edge.
    pub edge_name: String,
    /// `property`, `element`, `context`, `internal`, `hidden`, `shortcut`.
    pub edge_type: String,
    pub node: RetainerNode,
    /// The node is already on the path to the object: shown, not expanded.
    pub cycle: bool,
    /// How many retainers DevTools lists for the node (0 for a cycle, which is not expanded).
    pub retainer_count: f64,
    /// Its first `limit` retainers in DevTools' order (none past the depth limit or for a
    /// cycle; fewer when the tree reached its 100,000 nodes).
    pub retainers: Vec<RetainerTreeNode>,
}

fn tree_node(n: tree::TreeNode) -> RetainerTreeNode {
    RetainerTreeNode {
        edge_name: n.edge_name,
        edge_type: n.edge_type,
        node: n.node.into(),
        cycle: n.cycle,
        retainer_count: n.retainer_count as f64,
        retainers: n.children.into_iter().map(tree_node).collect(),
    }
}

/// DevTools' Retainers pane for one object, expanded to `depth`.
#[napi(object)]
pub struct RetainerTree {
    pub object: RetainerNode,
    /// How many retainers the object has (DevTools' list: no weak or invisible edges, none from
    /// the root).
    pub retainer_count: f64,
    /// The first `limit` of them, sorted as DevTools sorts them by default: distance ascending,
    /// then name, then the last edge of the snapshot first.
    pub retainers: Vec<RetainerTreeNode>,
}

#[napi(object)]
pub struct RetainersResult {
    pub file: SnapshotFileInfo,
    pub class_name: String,
    /// Instances of the class; 0 when there are none (class names are case-sensitive).
    pub count: f64,
    pub shallow_size: f64,
    pub retained_size: f64,
    /// One shortest path from the roots for each of the biggest instances (by retained size),
    /// or for the object asked for by id.
    pub paths: Vec<RetainerPath>,
    /// The retainer tree of the biggest instance (or of the object asked for by id); absent
    /// when the class has no instances or `depth` is 0.
    pub tree: Option<RetainerTree>,
}

/// An instance of a top class: its retainer path and what it retains.
#[napi(object)]
pub struct TopInstance {
    pub object: RetainerNode,
    /// As in `RetainerPath.path`.
    pub path: Vec<PathStep>,
    /// Its biggest dominator-tree children (the objects it alone keeps alive), biggest first.
    pub children: Vec<RetainerNode>,
}

/// One class at the top of the dominator tree.
#[napi(object)]
pub struct TopClass {
    pub name: String,
    pub count: f64,
    pub shallow_size: f64,
    pub retained_size: f64,
    /// Its biggest instances (by retained size).
    pub instances: Vec<TopInstance>,
}

#[napi(object)]
pub struct DominatorTopResult {
    pub file: SnapshotFileInfo,
    /// Biggest retained size first (the Summary's order).
    pub classes: Vec<TopClass>,
}

/// DevTools' Statistics (the pie chart of the Summary view), in bytes.
#[napi(object)]
pub struct Statistics {
    /// Total: every node's self size, plus the extra native bytes.
    pub total: f64,
    /// The V8 heap: `total` less `native`.
    pub v8heap: f64,
    pub code: f64,
    pub strings: f64,
    /// JS arrays (with their element stores when they alone hold them).
    pub js_arrays: f64,
    /// System objects.
    pub system: f64,
    /// Native memory: native nodes, plus the extra native bytes.
    pub native: f64,
    /// Typed arrays' backing stores (part of `native`).
    pub typed_arrays: f64,
    /// `snapshot.extra_native_bytes` (0 when the snapshot has none; part of `native`).
    pub extra_native: f64,
}

#[napi(object)]
pub struct StatsResult {
    pub file: SnapshotFileInfo,
    pub statistics: Statistics,
}

#[napi(object)]
pub struct InflateResult {
    pub input: String,
    pub output: String,
    /// Compressed bytes read.
    pub bytes_in: f64,
    /// Plain bytes written.
    pub bytes_out: f64,
}

/// One class's count and shallow size in snapshots 1, 2 and 3.
#[napi(object)]
pub struct LeakGrowth {
    pub count: Vec<f64>,
    pub shallow_size: Vec<f64>,
}

/// One group of leaked objects: one class, one retainer path.
#[napi(object)]
pub struct LeakRow {
    pub class_name: String,
    /// Objects allocated between snapshots 1 and 2 and still alive in 3.
    pub count: f64,
    pub shallow_size: f64,
    /// Bytes freed if the group's objects went away (nested ones counted once).
    pub retained_size: f64,
    /// The class's count and shallow size in the three snapshots.
    pub growth: LeakGrowth,
    /// The retainer path from the roots, as `heapsnap retainers` writes it, with element
    /// indices and table slots written `[]`.
    pub path: String,
}

/// The three-snapshot leak report.
#[napi(object)]
pub struct LeaksResult {
    pub files: Vec<SnapshotFileInfo>,
    /// The largest JS object id of each snapshot.
    pub max_js_ids: Vec<f64>,
    /// Biggest retained size first.
    pub rows: Vec<LeakRow>,
}

/// Heap strings with one text (DevTools' "Duplicated strings" filter; see
/// `analyze::strings` for which nodes count).
#[napi(object)]
pub struct DuplicatedString {
    /// The first 80 characters of the text, as the snapshot has it (V8 writes at most
    /// `--heap_snapshot_string_limit`, 1024 by default, characters of a string).
    pub value: String,
    /// The text's length in the snapshot (UTF-16 code units).
    pub length: f64,
    /// Copies: heap strings with this text (at least 2).
    pub count: f64,
    /// Self size of the largest copy (bytes).
    pub self_size: f64,
    /// Self sizes of all copies.
    pub total_size: f64,
    /// `totalSize − selfSize`: what keeping only the largest copy would free.
    pub wasted_size: f64,
    /// The copy nearest the roots (smallest distance, then smallest id).
    pub object: RetainerNode,
    /// Its retainer path, as in `RetainerPath.path` (empty when it is unreachable).
    pub path: Vec<PathStep>,
}

#[napi(object)]
pub struct StringsResult {
    pub file: SnapshotFileInfo,
    /// Texts held by more than one heap string (all of them, also when `strings` is cut).
    pub group_count: f64,
    /// Heap strings in those groups.
    pub string_count: f64,
    /// Their self sizes.
    pub total_size: f64,
    /// Sum of the groups' `wastedSize`.
    pub wasted_size: f64,
    /// Most wasted bytes first (then total size, count, text); `options.top` of them.
    pub strings: Vec<DuplicatedString>,
}

/// What a task resolves to: `error`, or the one result field of the job that ran.
#[napi(object)]
#[derive(Default)]
pub struct AnalysisResult {
    pub error: Option<NativeError>,
    pub summary: Option<SummaryResult>,
    pub diff: Option<DiffResult>,
    pub retainers: Option<RetainersResult>,
    pub inflate: Option<InflateResult>,
    pub leaks: Option<LeaksResult>,
    pub stats: Option<StatsResult>,
    pub dominator_top: Option<DominatorTopResult>,
    pub strings: Option<StringsResult>,
}

fn settle<U>(
    r: std::result::Result<U, SnapError>,
    put: impl FnOnce(U, &mut AnalysisResult),
) -> AnalysisResult {
    let mut out = AnalysisResult::default();
    match r {
        Ok(v) => put(v, &mut out),
        Err(e) => out.error = Some(e.into()),
    }
    out
}

pub enum Job {
    Summary(PathBuf),
    Diff(PathBuf, PathBuf),
    Retainers(PathBuf, analyze::RetainersTarget),
    Inflate(PathBuf, Option<PathBuf>),
    Leaks([PathBuf; 3]),
    Stats(PathBuf),
    DominatorTop(PathBuf),
    Strings(PathBuf),
}

pub struct AnalyzeTask {
    job: Job,
    options: AnalyzeOptions,
}

impl Task for AnalyzeTask {
    type Output = AnalysisResult;
    type JsValue = AnalysisResult;

    fn compute(&mut self) -> Result<AnalysisResult> {
        let o = &self.options;
        let bar = o.bar();
        let core = o.core();
        Ok(match &self.job {
            Job::Summary(p) => settle(analyze::summary(p, &core, &bar), |r, out| {
                out.summary = Some(SummaryResult {
                    file: r.file.into(),
                    classes: rows(r.classes),
                    timings: Timings {
                        read_ms: r.timings.read_ms,
                        dominators_ms: r.timings.dominators_ms,
                        aggregate_ms: r.timings.aggregate_ms,
                    },
                })
            }),
            Job::Diff(a, b) => settle(
                analyze::diff(a, b, o.same_process, &core, &bar),
                |r, out| {
                    out.diff = Some(DiffResult {
                        base: r.base.into(),
                        target: r.target.into(),
                        classes: r.classes.into_iter().map(class_diff).collect(),
                        same_process: r.same_process,
                        same_process_score: r.same_process_score,
                        base_max_js_id: r.base_max_js_id as f64,
                        allocated_between: r.allocated_between.map(rows),
                    })
                },
            ),
            Job::Retainers(p, target) => settle(
                analyze::retainers(
                    p,
                    target,
                    o.paths.unwrap_or(3) as usize,
                    o.max_depth.unwrap_or(100) as usize,
                    match o.depth.unwrap_or(3) {
                        0 => None,
                        depth => Some(tree::TreeLimits {
                            depth: depth as usize,
                            limit: o.limit.unwrap_or(10) as usize,
                        }),
                    },
                    &core,
                    &bar,
                ),
                |(file, r, t), out| {
                    out.retainers = Some(RetainersResult {
                        file: file.into(),
                        class_name: r.class_name,
                        count: r.count as f64,
                        shallow_size: r.shallow_size as f64,
                        retained_size: r.retained_size as f64,
                        paths: r.paths.into_iter().map(retainer_path).collect(),
                        tree: t.map(|t| RetainerTree {
                            object: t.object.into(),
                            retainer_count: t.retainer_count as f64,
                            retainers: t.retainers.into_iter().map(tree_node).collect(),
                        }),
                    })
                },
            ),
            Job::DominatorTop(p) => settle(
                analyze::dominator_top(
                    p,
                    o.classes.unwrap_or(10) as usize,
                    o.paths.unwrap_or(5) as usize,
                    o.children.unwrap_or(5) as usize,
                    &core,
                    &bar,
                ),
                |(file, top), out| {
                    out.dominator_top = Some(DominatorTopResult {
                        file: file.into(),
                        classes: top
                            .into_iter()
                            .map(|c| TopClass {
                                name: c.name,
                                count: c.count as f64,
                                shallow_size: c.shallow_size as f64,
                                retained_size: c.retained_size as f64,
                                instances: c
                                    .instances
                                    .into_iter()
                                    .map(|i| {
                                        let p = retainer_path(i.path);
                                        TopInstance {
                                            object: p.object,
                                            path: p.path,
                                            children: i
                                                .children
                                                .into_iter()
                                                .map(RetainerNode::from)
                                                .collect(),
                                        }
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                },
            ),
            Job::Strings(p) => settle(
                analyze::strings(
                    p,
                    o.top.map_or(usize::MAX, |t| t as usize),
                    o.max_depth.unwrap_or(100) as usize,
                    &core,
                    &bar,
                ),
                |(file, r, paths), out| {
                    out.strings = Some(StringsResult {
                        file: file.into(),
                        group_count: r.group_count as f64,
                        string_count: r.strings as f64,
                        total_size: r.total_size as f64,
                        wasted_size: r.wasted_size as f64,
                        strings: r
                            .groups
                            .into_iter()
                            .zip(paths)
                            .map(|(s, p)| {
                                let p = retainer_path(p);
                                DuplicatedString {
                                    value: s.value,
                                    length: s.length as f64,
                                    count: s.count as f64,
                                    self_size: s.self_size as f64,
                                    total_size: s.total_size as f64,
                                    wasted_size: s.wasted_size as f64,
                                    object: p.object,
                                    path: p.path,
                                }
                            })
                            .collect(),
                    })
                },
            ),
            Job::Leaks(files) => settle(
                analyze::leaks([&files[0], &files[1], &files[2]], &core, &bar),
                |r, out| {
                    let [a, b, c] = r.files;
                    out.leaks = Some(LeaksResult {
                        files: vec![a.into(), b.into(), c.into()],
                        max_js_ids: r.max_js_ids.iter().map(|&i| f64::from(i)).collect(),
                        rows: r
                            .rows
                            .into_iter()
                            .map(|row| LeakRow {
                                class_name: row.class_name,
                                count: row.count as f64,
                                shallow_size: row.shallow_size as f64,
                                retained_size: row.retained_size as f64,
                                growth: LeakGrowth {
                                    count: row.growth.count.iter().map(|&v| v as f64).collect(),
                                    shallow_size: row
                                        .growth
                                        .shallow_size
                                        .iter()
                                        .map(|&v| v as f64)
                                        .collect(),
                                },
                                path: row.path,
                            })
                            .collect(),
                    })
                },
            ),
            Job::Stats(p) => settle(analyze::stats(p, &core, &bar), |(file, s), out| {
                out.stats = Some(StatsResult {
                    file: file.into(),
                    statistics: Statistics {
                        total: s.total as f64,
                        v8heap: s.v8heap_total as f64,
                        code: s.code as f64,
                        strings: s.strings as f64,
                        js_arrays: s.js_arrays as f64,
                        system: s.system as f64,
                        native: s.native_total as f64,
                        typed_arrays: s.typed_arrays as f64,
                        extra_native: s.extra_native as f64,
                    },
                })
            }),
            Job::Inflate(input, output) => settle(
                analyze::inflate::inflate(input, output.as_deref(), o.force.unwrap_or(false), &bar),
                |r, out| {
                    out.inflate = Some(InflateResult {
                        input: input.display().to_string(),
                        output: r.output.display().to_string(),
                        bytes_in: r.bytes_in as f64,
                        bytes_out: r.bytes_out as f64,
                    })
                },
            ),
        })
    }

    fn resolve(&mut self, _env: Env, output: AnalysisResult) -> Result<AnalysisResult> {
        Ok(output)
    }
}

fn class_diff(d: analyze::diff::ClassDiff) -> ClassDiff {
    ClassDiff {
        name: d.name,
        location: location(d.location),
        new_count: d.new_count as f64,
        deleted_count: d.deleted_count as f64,
        delta_count: d.delta_count as f64,
        alloc_size: d.alloc_size as f64,
        freed_size: d.freed_size as f64,
        size_delta: d.size_delta as f64,
    }
}

fn retainer_path(p: ret::RetainerPath) -> RetainerPath {
    RetainerPath {
        object: p.object.into(),
        path: p
            .path
            .into_iter()
            .map(|s| PathStep {
                node: s.node.into(),
                edge: s.edge,
                edge_type: s.edge_type,
            })
            .collect(),
    }
}

fn path_arg(p: &str, what: &str) -> Result<PathBuf> {
    if p.is_empty() || p.contains('\0') {
        return Err(Error::new(
            Status::InvalidArg,
            format!("{what} must be a non-empty path without NUL bytes"),
        ));
    }
    Ok(PathBuf::from(p))
}

fn task(job: Job, options: Option<AnalyzeOptions>) -> AsyncTask<AnalyzeTask> {
    AsyncTask::new(AnalyzeTask {
        job,
        options: options.unwrap_or_default(),
    })
}

/// Summary of one snapshot: per class count, shallow and retained size.
#[napi(ts_return_type = "Promise<AnalysisResult>")]
pub fn analyze_summary(
    path: String,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    Ok(task(Job::Summary(path_arg(&path, "file")?), options))
}

/// Comparison of two snapshots by object id.
#[napi(ts_return_type = "Promise<AnalysisResult>")]
pub fn analyze_diff(
    base: String,
    target: String,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    Ok(task(
        Job::Diff(path_arg(&base, "base")?, path_arg(&target, "target")?),
        options,
    ))
}

/// `@<digits>` names an object by its snapshot id; anything else is a class name.
fn retainers_target(target: String) -> Result<analyze::RetainersTarget> {
    match target.strip_prefix('@') {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits
            .parse::<u32>()
            .map(analyze::RetainersTarget::Id)
            .map_err(|_| {
                Error::new(
                    Status::InvalidArg,
                    format!("object id {target} is past the largest snapshot id (4294967295)"),
                )
            }),
        _ if target.is_empty() => Err(Error::new(
            Status::InvalidArg,
            "className must be a non-empty string",
        )),
        _ => Ok(analyze::RetainersTarget::Class(target)),
    }
}

/// Retainer paths for the biggest instances of a class (or one object, `@id`), and the
/// retainer tree of the biggest.
#[napi(ts_return_type = "Promise<AnalysisResult>")]
pub fn analyze_retainers(
    path: String,
    target: String,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    Ok(task(
        Job::Retainers(path_arg(&path, "file")?, retainers_target(target)?),
        options,
    ))
}

/// DevTools' Statistics of one snapshot.
#[napi(ts_return_type = "Promise<AnalysisResult>")]
pub fn analyze_stats(
    path: String,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    Ok(task(Job::Stats(path_arg(&path, "file")?), options))
}

/// A gzip snapshot back to plain JSON.
#[napi(ts_return_type = "Promise<AnalysisResult>")]
pub fn analyze_inflate(
    input: String,
    output: Option<String>,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    let output = match output {
        Some(o) => Some(path_arg(&o, "output")?),
        None => None,
    };
    Ok(task(
        Job::Inflate(path_arg(&input, "input")?, output),
        options,
    ))
}

/// Three snapshots of one process, in the order taken: what was allocated between the first
/// two and is still alive in the third, grouped by class and retainer path.
#[napi(ts_return_type = "Promise<AnalysisResult>")]
pub fn analyze_leaks(
    first: String,
    second: String,
    third: String,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    Ok(task(
        Job::Leaks([
            path_arg(&first, "first")?,
            path_arg(&second, "second")?,
            path_arg(&third, "third")?,
        ]),
        options,
    ))
}

/// The top of the dominator tree by class: the biggest classes, their biggest instances with
/// retainer paths, and what each of those retains (one read of the snapshot).
#[napi(ts_return_type = "Promise<AnalysisResult>")]
pub fn analyze_dominator_top(
    path: String,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    Ok(task(Job::DominatorTop(path_arg(&path, "file")?), options))
}

/// Duplicated strings: heap strings with one text, most wasted bytes first, each with the
/// retainer path of its copy nearest the roots.
#[napi(ts_return_type = "Promise<AnalysisResult>")]
pub fn analyze_strings(
    path: String,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    Ok(task(Job::Strings(path_arg(&path, "file")?), options))
}
