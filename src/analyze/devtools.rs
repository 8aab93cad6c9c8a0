//! Chrome DevTools' model of a heap snapshot, as its heap snapshot worker builds it
//! (front_end/entrypoints/heap_snapshot_worker/HeapSnapshot.ts): which node a size belongs to,
//! what class a node is counted in, how far it is from the roots, and the Statistics pie.
//! The analyses (`summary`, `diff`) read nodes through [`Classes`], built here with DevTools'
//! rules, or with the older rules (V8's sizes, one class per name) when they are off.
//!
//! Every function names the DevTools function it follows; the order they run in is the order
//! of `HeapSnapshot.initialize`: `propagateDOMState`, `calculateShallowSizes`, (the dominators,
//! elsewhere), `calculateDistances`, `calculateObjectNames`, `inferInterfaceDefinitions` and
//! `applyInterfaceDefinitions`, `calculateStatistics`.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};

use super::bigvec;
use super::bitset::BitSet;
use super::graph::Graph;
use crate::sys::os::prefetch;
use rustc_hash::FxHashMap;

/// The distance of a node no traversal reaches (DevTools' `#noDistance`).
pub const NO_DISTANCE: i32 = -5;
/// Where distances of objects reached only from the root (not from a user root) start
/// (DevTools' `baseSystemDistance`).
pub const BASE_SYSTEM_DISTANCE: i32 = 100_000_000;

const NONE: u32 = u32::MAX;

/// Where an object's constructor is (from the snapshot's `locations`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub script_id: u32,
    pub line: u32,
    pub column: u32,
}

/// One class a node can be counted in.
#[derive(Clone, Debug)]
pub struct ClassInfo {
    pub name: String,
    /// Set for `object` nodes whose constructor has a location: DevTools keeps same-named
    /// classes from different places apart.
    pub location: Option<Location>,
}

impl ClassInfo {
    /// DevTools' public class key (`classKeyFromClassKeyInternal`): `,<name>`, or
    /// `<script>,<line>,<column>,<name>` for a located class. Summary rows and Comparison rows
    /// are keyed by it.
    pub fn key(&self) -> String {
        match self.location {
            Some(l) => format!("{},{},{},{}", l.script_id, l.line, l.column, self.name),
            None => format!(",{}", self.name),
        }
    }
}

/// The class of every node, and (with DevTools' rules) every node's distance.
pub struct Classes {
    /// Class of node `i`, an index into `info`.
    pub of: Vec<u32>,
    pub info: Vec<ClassInfo>,
    /// DevTools' distance of each node from the roots; `None` without DevTools' rules.
    pub distance: Option<Vec<i32>>,
}

impl Classes {
    /// The older rules: one class per name as `Graph::class_name` gives it (`(closure)`,
    /// `(regexp)`, plain objects all `Object`), no locations, no distances.
    pub fn legacy(g: &Graph) -> Classes {
        let mut by_key: HashMap<u64, u32> = HashMap::new();
        let mut by_name: HashMap<String, u32> = HashMap::new();
        let mut info = Vec::new();
        let of = (0..g.node_count())
            .map(|i| {
                *by_key.entry(g.class_key(i)).or_insert_with(|| {
                    let name = g.class_name(i).into_owned();
                    *by_name.entry(name.clone()).or_insert_with(|| {
                        info.push(ClassInfo {
                            name,
                            location: None,
                        });
                        (info.len() - 1) as u32
                    })
                })
            })
            .collect();
        Classes {
            of,
            info,
            distance: None,
        }
    }

    /// DevTools' rules. The graph's self sizes are changed (`calculateShallowSizes`); call
    /// before the dominators, with the edges and their names loaded.
    pub fn devtools(g: &mut Graph) -> Classes {
        Classes::devtools_with(g, |_| (), |_, ()| ()).0
    }

    /// [`Classes::devtools`], with work of the caller's that only reads the graph put on the
    /// cores' idle time: `early` after the owners of the shallow sizes, while the distances
    /// are found on the other core (it sees the graph's own self sizes), and `alongside`, with
    /// what `early` gave, on the other core while the names are found (it sees DevTools'
    /// shallow sizes).
    pub fn devtools_with<A: Send, R: Send>(
        g: &mut Graph,
        early: impl FnOnce(&Graph) -> A,
        alongside: impl FnOnce(&Graph, A) -> R + Send,
    ) -> (Classes, R) {
        use super::prof::mark;
        let detached = propagate_dom_state(g);
        mark("devtools: dom state");
        // The distances and the owners of the shallow sizes only read the graph: one on each
        // core. (The distances do not depend on the self sizes the owners then move.)
        let (owners, distance, early) = {
            let g: &Graph = g;
            let detached = &detached;
            std::thread::scope(|scope| {
                let distances = scope.spawn(move || calculate_distances(g));
                let owners = shallow_size_owners(g, detached);
                let early = early(g);
                let distance = distances
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e));
                (owners, distance, early)
            })
        };
        // The owners' memory then holds the classes (written before: no page faults).
        let mut spare = Vec::new();
        if let Some(owners) = owners {
            apply_shallow_sizes(g, &owners);
            spare = owners;
        }
        mark("devtools: shallow sizes, distances");
        let g: &Graph = g;
        std::thread::scope(|scope| {
            let beside = scope.spawn(move || alongside(g, early));
            let (of, info) = calculate_object_names(g, &detached, spare);
            mark("devtools: object names");
            let mut classes = Classes {
                of,
                info,
                distance: Some(distance),
            };
            name_interfaces(g, &mut classes);
            apply_locations(g, &mut classes);
            mark("devtools: locations");
            let beside = beside
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (classes, beside)
        })
    }
}

/// JavaScript's string order (UTF-16 code units), which `Array.prototype.sort` and `<` use.
pub(crate) fn cmp_js(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A string's JavaScript `length` (UTF-16 code units).
pub(crate) fn js_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// Whether node `i` is a user root: a child of the root that is not synthetic, or the
/// `(Document DOM trees)` root (`JSHeapSnapshot.isUserRoot`).
fn is_user_root(g: &Graph, i: usize) -> bool {
    g.ntype[i] != g.nk.synthetic || g.string(g.name[i]) == "(Document DOM trees)"
}

/// A native node's name as DevTools sees it after `propagateDOMState` (`Detached ` prefixed).
fn raw_name<'a>(g: &'a Graph, detached: &BitSet, i: usize) -> std::borrow::Cow<'a, str> {
    let name = g.string(g.name[i]);
    if g.ntype[i] == g.nk.native && detached.contains(i as u32) {
        format!("Detached {name}").into()
    } else {
        name.into()
    }
}

/// Follows `HeapSnapshot.propagateDOMState`: the attached/detached state V8 wrote on native
/// nodes spreads to the native nodes they reach (not through hidden or weak edges, and not
/// through JavaScript objects); attached wins. Returns the native nodes that end detached
/// (DevTools renames them `Detached <name>`). Nothing without the `detachedness` field.
pub fn propagate_dom_state(g: &Graph) -> BitSet {
    let n = g.node_count();
    let mut detached = BitSet::with_len(n);
    if !g.has_detachedness() {
        return detached;
    }
    struct Walk {
        visited: Vec<bool>,
        state: Vec<u8>,
        attached: Vec<u32>,
        detached: Vec<u32>,
    }
    let mut w = Walk {
        visited: vec![false; n],
        state: vec![0u8; n],
        attached: Vec::new(),
        detached: Vec::new(),
    };
    // `processNode`: only native nodes take a state; JavaScript objects stop the walk.
    let process = |w: &mut Walk, out: &mut BitSet, i: usize, s: u8| {
        if w.visited[i] {
            return;
        }
        w.visited[i] = true;
        if g.ntype[i] != g.nk.native {
            return;
        }
        w.state[i] = s;
        if s == 1 {
            w.attached.push(i as u32);
        } else if s == 2 {
            out.insert(i as u32);
            w.detached.push(i as u32);
        }
    };
    for i in 0..n {
        if g.attached.contains(i as u32) {
            process(&mut w, &mut detached, i, 1);
        } else if g.detached_nodes().contains(i as u32) {
            process(&mut w, &mut detached, i, 2);
        }
    }
    let follows = |t: u8| t != g.ek.hidden && t != g.ek.invisible && t != g.ek.weak;
    while let Some(v) = w.attached.pop() {
        for e in g.edges(v as usize) {
            if follows(g.etype[e]) {
                process(&mut w, &mut detached, g.eto[e] as usize, 1);
            }
        }
    }
    while let Some(v) = w.detached.pop() {
        // Attached state found by the forward pass wins (DevTools checks it here).
        if w.state[v as usize] == 1 {
            continue;
        }
        for e in g.edges(v as usize) {
            if follows(g.etype[e]) {
                process(&mut w, &mut detached, g.eto[e] as usize, 2);
            }
        }
    }
    detached
}

/// Follows `JSHeapSnapshot.calculateShallowSizes`: a `hidden` or `array` node, or a native
/// `system / ExternalStringData`, that exactly one other node owns (reaches over non-weak
/// edges, possibly through other such nodes) gives its self size to that owner, unless the
/// owner is synthetic or the root. Skipped when the root has no user roots (a snapshot taken
/// with internals exposed).
pub fn calculate_shallow_sizes(g: &mut Graph, detached: &BitSet) {
    if let Some(owners) = shallow_size_owners(g, detached) {
        apply_shallow_sizes(g, &owners);
    }
}

const UNVISITED: u32 = u32::MAX;
const MULTIPLE: u32 = u32::MAX - 1;

/// The first half of [`calculate_shallow_sizes`], which only reads the graph: the owner of
/// each node (itself for the nodes that own, `UNVISITED` or `MULTIPLE` for owned nodes with
/// none or several). `None` when the rule is skipped.
fn shallow_size_owners(g: &Graph, detached: &BitSet) -> Option<Vec<u32>> {
    let n = g.node_count();
    if n == 0 || !g.edges(0).any(|e| is_user_root(g, g.eto[e] as usize)) {
        return None;
    }
    let mut owners = bigvec::filled(n, 0u32);
    for (i, owner) in owners.iter_mut().enumerate() {
        let t = g.ntype[i];
        let owned = t == g.nk.hidden
            || t == g.nk.array
            || (t == g.nk.native
                && !detached.contains(i as u32)
                && g.string(g.name[i]) == "system / ExternalStringData");
        *owner = if owned { UNVISITED } else { i as u32 };
    }
    // DevTools starts from a worklist of every owning node and pops from its end; the owning
    // nodes are taken here from the last down, each followed by what it pushes: the same
    // order, without a list of all the owning nodes.
    let mut worklist: Vec<u32> = Vec::new();
    let spread = |v: u32, owners: &mut [u32], worklist: &mut Vec<u32>| {
        let owner = owners[v as usize];
        g.prefetch_targets(v as usize, owners);
        for e in g.edges(v as usize) {
            if g.etype[e] == g.ek.weak {
                continue;
            }
            let w = g.eto[e];
            match owners[w as usize] {
                UNVISITED => {
                    owners[w as usize] = owner;
                    worklist.push(w);
                }
                o if o == w || o == owner || o == MULTIPLE => {}
                _ => {
                    owners[w as usize] = MULTIPLE;
                    worklist.push(w);
                }
            }
        }
    };
    for i in (0..n as u32).rev() {
        if owners[i as usize] != i {
            continue;
        }
        spread(i, &mut owners, &mut worklist);
        while let Some(v) = worklist.pop() {
            spread(v, &mut owners, &mut worklist);
        }
    }
    Some(owners)
}

/// The second half of [`calculate_shallow_sizes`]: each owned node's size moves to its owner.
fn apply_shallow_sizes(g: &mut Graph, owners: &[u32]) {
    for (i, &o) in owners.iter().enumerate() {
        if o == UNVISITED || o == MULTIPLE || o == i as u32 {
            continue;
        }
        let o = o as usize;
        if o == 0 || g.ntype[o] == g.nk.synthetic {
            continue;
        }
        let size = g.self_size(i);
        g.set_self_size(i, 0);
        g.set_self_size(o, g.self_size(o) + size);
    }
}

/// The part of a WeakMap ephemeron edge name that its two edges (from the key and from the
/// table) share, following `HeapSnapshot.tryParseWeakMapEdgeName`'s pattern
/// `^\d+( / part of key \(.*? @\d+\) -> value \(.*? @\d+\) pair in WeakMap \(table @\d+\))$`.
pub fn weakmap_duplicated_part(name: &str) -> Option<&str> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !name.ends_with(')') {
        return None;
    }
    let dup = &name[digits..];
    let rest = dup.strip_prefix(" / part of key (")?;
    // From the end: `@<table>)`, then `) pair in WeakMap (table `, `@<value id>`.
    let strip_digits = |s: &str| -> Option<usize> {
        let k = s.bytes().rev().take_while(u8::is_ascii_digit).count();
        (k > 0).then_some(s.len() - k)
    };
    let t = rest.strip_suffix(')')?;
    let t = &t[..strip_digits(t)?];
    let t = t.strip_suffix(") pair in WeakMap (table @")?;
    let t = &t[..strip_digits(t)?];
    let middle = t.strip_suffix(" @")?;
    // `middle` is `<key> @<id>) -> value (<value>`; `.` matches no line terminator.
    let line_break = |s: &str| s.contains(['\n', '\r', '\u{2028}', '\u{2029}']);
    let found = middle.match_indices(") -> value (").any(|(at, sep)| {
        let (key, value) = (&middle[..at], &middle[at + sep.len()..]);
        let Some(key_end) = strip_digits(key) else {
            return false;
        };
        let Some(key_text) = key[..key_end].strip_suffix(" @") else {
            return false;
        };
        !line_break(key_text) && !line_break(value)
    });
    found.then_some(dup)
}

/// JavaScript's `parseInt(s, 10)` on an edge name, as far as `calculateDistances` needs it:
/// `None` for NaN.
pub(crate) fn parse_int(s: &str) -> Option<f64> {
    let s = s.trim_start();
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let d = s.bytes().take_while(u8::is_ascii_digit).count();
    if d == 0 {
        return None;
    }
    let v: f64 = s[..d].parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Follows `JSHeapSnapshot.calculateDistances` (with `HeapSnapshot.calculateDistances` and
/// `bfs`): breadth-first over non-weak edges, first from the user roots (distance 1), then from
/// the root for what is left (from `BASE_SYSTEM_DISTANCE`), skipping a NativeContext's
/// `sloppy_function_map`, the descriptor links of `(map descriptors)` arrays, and the first
/// seen of the two edges of a WeakMap entry. Unreached nodes get `NO_DISTANCE`.
pub fn calculate_distances<'g>(g: &'g Graph) -> Vec<i32> {
    // The filter of `JSHeapSnapshot.calculateDistances`, for edge `e` of node `v`.
    fn filter<'g>(g: &'g Graph, v: usize, e: usize, pending: &mut HashSet<&'g str>) -> bool {
        let t = g.ntype[v];
        let ename = g.ename.get(e).copied().unwrap_or(0);
        let indexed = g.ek.is_indexed(g.etype[e]);
        if t == g.nk.hidden
            && !indexed
            && g.string(ename) == "sloppy_function_map"
            && g.string(g.name[v]) == "system / NativeContext"
        {
            return false;
        }
        if t == g.nk.array && g.string(g.name[v]) == "(map descriptors)" {
            let index = if indexed {
                Some(ename as f64)
            } else {
                parse_int(g.string(ename))
            };
            return match index {
                Some(i) => i < 2.0 || i % 3.0 != 1.0,
                None => true,
            };
        }
        if g.etype[e] == g.ek.internal {
            if let Some(dup) = weakmap_duplicated_part(g.string(ename)) {
                if !pending.remove(dup) {
                    pending.insert(dup);
                    return false;
                }
            }
        }
        true
    }

    let n = g.node_count();
    let mut dist = bigvec::filled(n, NO_DISTANCE);
    if n == 0 {
        return dist;
    }
    let mut pending: HashSet<&'g str> = HashSet::new();
    // First in, first out; only the frontier is held.
    let mut queue: VecDeque<u32> = VecDeque::new();
    let bfs = |queue: &mut VecDeque<u32>, dist: &mut Vec<i32>, pending: &mut HashSet<&'g str>| {
        while let Some(v) = queue.pop_front() {
            // The nodes ahead in the queue are known: their rows and their targets' distances
            // are loaded in steps, as the queue comes to them (where its edges start, 8 ahead;
            // the edges, 4 ahead; the targets, 2 ahead).
            if let Some(&a) = queue.get(8) {
                prefetch(&g.first_edge, a as usize);
            }
            if let Some(&b) = queue.get(4) {
                let first = g.first_edge[b as usize] as usize;
                prefetch(&g.eto, first);
                prefetch(&g.etype, first);
            }
            match queue.get(2) {
                Some(&c) => g.prefetch_targets(c as usize, dist),
                // A narrow part of the graph: at least this node's targets.
                None => g.prefetch_targets(v as usize, dist),
            }
            let v = v as usize;
            let d = dist[v] + 1;
            for e in g.edges(v) {
                if g.etype[e] == g.ek.weak {
                    continue;
                }
                let w = g.eto[e] as usize;
                if dist[w] != NO_DISTANCE || !filter(g, v, e, pending) {
                    continue;
                }
                dist[w] = d;
                queue.push_back(w as u32);
            }
        }
    };
    for e in g.edges(0) {
        let w = g.eto[e] as usize;
        if is_user_root(g, w) {
            dist[w] = 1;
            queue.push_back(w as u32);
        }
    }
    let user_roots = !queue.is_empty();
    bfs(&mut queue, &mut dist, &mut pending);
    dist[0] = if user_roots { BASE_SYSTEM_DISTANCE } else { 0 };
    queue.clear();
    queue.push_back(0);
    bfs(&mut queue, &mut dist, &mut pending);
    dist
}

/// The class of each node before the interface definitions, following
/// `HeapSnapshot.calculateObjectNames`: `(system)` for hidden nodes, `(compiled code)`,
/// `Function` for closures, `RegExp`, `(<type>)` for the other types, and for objects and
/// native nodes their name (`<div>` for `<div id="a">`). Classes are told apart as DevTools'
/// class indices tell them apart: a name already in the snapshot's strings is its string index,
/// names DevTools adds are one class per text.
/// `spare`: memory for the class column, when large enough.
fn calculate_object_names(
    g: &Graph,
    detached: &BitSet,
    spare: Vec<u32>,
) -> (Vec<u32>, Vec<ClassInfo>) {
    let n = g.node_count();
    let mut info: Vec<ClassInfo> = Vec::new();
    let mut added: HashMap<String, u32> = HashMap::new();
    let mut by_string: FxHashMap<u32, u32> = FxHashMap::default();
    let mut by_detached: FxHashMap<u32, u32> = FxHashMap::default();
    let mut by_type: Vec<u32> = vec![NONE; g.header.node_types.len()];
    let new_class = |info: &mut Vec<ClassInfo>, name: String| {
        info.push(ClassInfo {
            name,
            location: None,
        });
        (info.len() - 1) as u32
    };
    let mut added_class = |info: &mut Vec<ClassInfo>, name: String| {
        if let Some(&c) = added.get(&name) {
            return c;
        }
        let c = new_class(info, name.clone());
        added.insert(name, c);
        c
    };
    let mut of = spare;
    of.clear();
    of.reserve(n);
    for i in 0..n {
        let t = g.ntype[i];
        let c = if t == g.nk.object || t == g.nk.native {
            let name = raw_name(g, detached, i);
            let trimmed = element_class(&name);
            match trimmed {
                Some(s) => added_class(&mut info, s),
                None if t == g.nk.native && detached.contains(i as u32) => {
                    // `Detached <name>` is a string DevTools adds once per original name.
                    match by_detached.get(&g.name[i]) {
                        Some(&c) => c,
                        None => {
                            let c = new_class(&mut info, name.into_owned());
                            by_detached.insert(g.name[i], c);
                            c
                        }
                    }
                }
                None => match by_string.get(&g.name[i]) {
                    Some(&c) => c,
                    None => {
                        let c = new_class(&mut info, name.into_owned());
                        by_string.insert(g.name[i], c);
                        c
                    }
                },
            }
        } else {
            if by_type[t as usize] == NONE {
                let name = if t == g.nk.hidden {
                    "(system)".to_string()
                } else if t == g.nk.code {
                    "(compiled code)".to_string()
                } else if t == g.nk.closure {
                    "Function".to_string()
                } else if t == g.nk.regexp {
                    "RegExp".to_string()
                } else {
                    format!("({})", g.node_type_name(i))
                };
                by_type[t as usize] = added_class(&mut info, name);
            }
            by_type[t as usize]
        };
        of.push(c);
    }
    (of, info)
}

/// `calculateObjectNames` on DOM-like names: `<div id="a">` is counted as `<div>`, and
/// `Detached <div id="a">` as `Detached <div>`.
fn element_class(name: &str) -> Option<String> {
    if name.starts_with('<') {
        return Some(match name.find(' ') {
            Some(space) => format!("{}>", &name[..space]),
            None => name.to_string(),
        });
    }
    let rest = name.strip_prefix("Detached <")?;
    Some(match rest.find(' ') {
        Some(space) => format!("Detached <{}>", &rest[..space]),
        None => name.to_string(),
    })
}

/// `HeapSnapshot.isPlainJSObject`: an `object` node named `Object`.
fn is_plain_object(g: &Graph, i: usize) -> bool {
    g.ntype[i] == g.nk.object && g.string(g.name[i]) == "Object"
}

/// `JSHeapSnapshotNode.formatPropertyName`: names with `,`, `'`, `"`, `{` or `}` are quoted
/// as `JSON.stringify` quotes them.
fn format_property_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains([',', '\'', '"', '{', '}']) {
        serde_json::to_string(name)
            .unwrap_or_else(|_| name.to_string())
            .into()
    } else {
        name.into()
    }
}

/// A node's name as DevTools' grids show it and sort it (`JSHeapSnapshotNode.name`): plain
/// objects are named by their properties (`#plainObjectName`: `{a, b, …, y, z}`, taken
/// alternately from the first and the last property edge while the name stays within 100
/// characters), native nodes `Detached <name>` when `propagate_dom_state` found them detached,
/// the rest by their own name. DevTools names a string by its text (a concatenated string by its
/// parts joined): the graph keeps no string text, so strings are named by their class
/// (`(string)`, `(concatenated string)`, `(sliced string)`).
pub fn node_name<'a>(g: &'a Graph, detached: &BitSet, i: usize) -> std::borrow::Cow<'a, str> {
    if g.nk.is_string(g.ntype[i]) {
        return g.class_name(i);
    }
    if is_plain_object(g, i) {
        return plain_object_name(g, i).into();
    }
    raw_name(g, detached, i)
}

/// `JSHeapSnapshotNode.#plainObjectName` (see `node_name`).
fn plain_object_name(g: &Graph, i: usize) -> String {
    const MAX_LENGTH: usize = 100;
    let mut start = String::from("{");
    let mut end = String::from("}");
    let (mut start_len, mut end_len) = (1usize, 1usize);
    let range = g.edges(i);
    if range.is_empty() {
        return "{}".to_string();
    }
    // Edge indices still to look at, from both ends: `lo..=hi`.
    let (mut lo, mut hi) = (range.start as isize, range.end as isize - 1);
    let mut from_end = false;
    while lo <= hi {
        let e = if from_end { hi } else { lo } as usize;
        let name = g.string(g.ename.get(e).copied().unwrap_or(0));
        if g.etype[e] != g.ek.property || name == "__proto__" {
            if from_end {
                hi -= 1;
            } else {
                lo += 1;
            }
            continue;
        }
        let formatted = format_property_name(name);
        let formatted_len = js_len(&formatted);
        if start_len > 1 && start_len + end_len + formatted_len > MAX_LENGTH {
            break;
        }
        if from_end {
            hi -= 1;
            if end_len > 1 {
                end.insert_str(0, ", ");
                end_len += 2;
            }
            end.insert_str(0, &formatted);
            end_len += formatted_len;
        } else {
            lo += 1;
            if start_len > 1 {
                start.push_str(", ");
                start_len += 2;
            }
            start.push_str(&formatted);
            start_len += formatted_len;
        }
        from_end = !from_end;
    }
    if lo <= hi {
        start.push_str(", …");
    }
    if end_len > 1 {
        start.push_str(", ");
    }
    start + &end
}

/// One inferred interface: its name (`{a, b}`) and its property names.
#[derive(Clone, Debug)]
pub struct InterfaceDefinition {
    pub name: String,
    pub properties: Vec<String>,
    pub count: u64,
}

/// The names (string indices) of node `i`'s property edges, in edge order, into `out`.
fn property_names(g: &Graph, i: usize, out: &mut Vec<u32>) {
    out.clear();
    out.extend(
        g.edges(i)
            .filter(|&e| g.etype[e] == g.ek.property)
            .map(|e| g.ename.get(e).copied().unwrap_or(0)),
    );
}

/// Plain objects named by DevTools' interface definitions: inferred from their property
/// names, then applied to them. (In between, `classes.of` holds shapes, see [`Shapes::take`]:
/// nothing else may run there.)
fn name_interfaces(g: &Graph, classes: &mut Classes) {
    use super::prof::mark;
    let shapes = Shapes::take(g, classes);
    let definitions = infer_interface_definitions(g, &shapes);
    mark("devtools: infer interfaces");
    apply_interface_definitions(g, classes, &definitions, shapes);
    mark("devtools: apply interfaces");
}

/// The plain objects by shape: their class and their property names (string indices, in edge
/// order), each distinct pair once, in order of first appearance. Objects of one shape are
/// named alike, so inferring and applying the interface definitions work once per shape, not
/// once per object.
struct Shapes {
    /// Each shape's class before the interface definitions, and its property names.
    shapes: Vec<(u32, Vec<u32>)>,
    /// The plain objects of each shape.
    counts: Vec<u64>,
}

impl Shapes {
    /// The shapes of the plain objects. Until [`apply_interface_definitions`] gives each its
    /// class back, `classes.of` holds a plain object's shape (an index into `shapes`) instead:
    /// no per-node array more at this peak of the memory.
    fn take(g: &Graph, classes: &mut Classes) -> Shapes {
        let mut shapes = Shapes {
            shapes: Vec::new(),
            counts: Vec::new(),
        };
        let mut ids: FxHashMap<(u32, Vec<u32>), u32> = FxHashMap::default();
        let mut key = (0, Vec::new());
        for i in 0..g.node_count() {
            if !is_plain_object(g, i) {
                continue;
            }
            key.0 = classes.of[i];
            property_names(g, i, &mut key.1);
            let s = match ids.get(&key) {
                Some(&s) => s,
                None => {
                    let s = shapes.shapes.len() as u32;
                    ids.insert(key.clone(), s);
                    shapes.shapes.push(key.clone());
                    shapes.counts.push(0);
                    s
                }
            };
            classes.of[i] = s;
            shapes.counts[s as usize] += 1;
        }
        shapes
    }
}

/// The interface a plain object with property names `names` suggests (`{a, b}`, without
/// `__proto__`, until the name would pass 120 characters), and its properties; `None` when it
/// has no property.
fn interface_name(g: &Graph, names: &[u32]) -> Option<(String, Vec<String>)> {
    const MIN_INTERFACE_PROPERTY_COUNT: usize = 1;
    const MAX_INTERFACE_NAME_LENGTH: usize = 120;
    let mut name = String::from("{");
    let mut name_len = 1;
    let mut properties = Vec::new();
    for &s in names {
        let edge_name = g.string(s);
        if edge_name == "__proto__" {
            continue;
        }
        let formatted = format_property_name(edge_name);
        let formatted_len = js_len(&formatted);
        if name_len > MIN_INTERFACE_PROPERTY_COUNT
            && name_len + formatted_len > MAX_INTERFACE_NAME_LENGTH
        {
            break;
        }
        if name_len != 1 {
            name.push_str(", ");
            name_len += 2;
        }
        name.push_str(&formatted);
        name_len += formatted_len;
        properties.push(edge_name.to_string());
    }
    if properties.is_empty() {
        return None;
    }
    name.push('}');
    Some((name, properties))
}

/// Follows `HeapSnapshot.inferInterfaceDefinitions`: each plain object's property names (in
/// edge order, without `__proto__`, until the name would pass 120 characters) name a
/// candidate; the candidates matching at least 2 objects and 1 in 1000 plain objects are kept,
/// the most common first (ties in order of first appearance).
fn infer_interface_definitions(g: &Graph, shapes: &Shapes) -> Vec<InterfaceDefinition> {
    const MIN_OBJECT_COUNT_PER_INTERFACE: f64 = 2.0;
    const MIN_OBJECT_PROPORTION_PER_INTERFACE: f64 = 1000.0;
    let mut candidates: Vec<InterfaceDefinition> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    // The shapes in order of first appearance create the candidates in the order the objects do.
    for ((_, names), &count) in shapes.shapes.iter().zip(&shapes.counts) {
        let Some((name, properties)) = interface_name(g, names) else {
            continue;
        };
        let c = *index.entry(name.clone()).or_insert_with(|| {
            candidates.push(InterfaceDefinition {
                name,
                properties,
                count: 0,
            });
            candidates.len() - 1
        });
        candidates[c].count += count;
    }
    let total: u64 = shapes.counts.iter().sum();
    // Most common first; stable, as Array.prototype.sort.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.count));
    let min =
        MIN_OBJECT_COUNT_PER_INTERFACE.max(total as f64 / MIN_OBJECT_PROPORTION_PER_INTERFACE);
    let keep = candidates
        .iter()
        .take_while(|c| c.count as f64 >= min)
        .count();
    candidates.truncate(keep);
    candidates
}

/// A node of the property tree of `applyInterfaceDefinitions`.
struct TrieNode {
    next: HashMap<String, usize>,
    /// `(property count, definition index)` of the first definition ending here.
    match_info: Option<(usize, usize)>,
    greatest_next: Option<String>,
}

/// Follows `HeapSnapshot.applyInterfaceDefinitions`: each plain object takes the class of the
/// definition with the most properties among those whose properties it all has (the earlier
/// definition on a tie); objects matching none keep their class (`Object`).
fn apply_interface_definitions(
    g: &Graph,
    classes: &mut Classes,
    definitions: &[InterfaceDefinition],
    shapes: Shapes,
) {
    // Each plain object's class back from its shape (see `Shapes::take`), else the class of
    // its definition.
    let class_back = |classes: &mut Classes, matched: &[Option<usize>]| {
        let mut class_of_definition: Vec<u32> = vec![NONE; definitions.len()];
        for i in 0..g.node_count() {
            if !is_plain_object(g, i) {
                continue;
            }
            let s = classes.of[i] as usize;
            classes.of[i] = match matched.get(s).copied().flatten() {
                None => shapes.shapes[s].0,
                Some(d) => {
                    if class_of_definition[d] == NONE {
                        classes.info.push(ClassInfo {
                            name: definitions[d].name.clone(),
                            location: None,
                        });
                        class_of_definition[d] = (classes.info.len() - 1) as u32;
                    }
                    class_of_definition[d]
                }
            };
        }
    };
    if definitions.is_empty() {
        class_back(classes, &[]);
        return;
    }
    let mut trie = vec![TrieNode {
        next: HashMap::new(),
        match_info: None,
        greatest_next: None,
    }];
    for (index, d) in definitions.iter().enumerate() {
        let mut props: Vec<&str> = d.properties.iter().map(String::as_str).collect();
        props.sort_by(|a, b| cmp_js(a, b));
        let mut cur = 0;
        for p in &props {
            cur = match trie[cur].next.get(*p) {
                Some(&next) => next,
                None => {
                    let next = trie.len();
                    trie.push(TrieNode {
                        next: HashMap::new(),
                        match_info: None,
                        greatest_next: None,
                    });
                    let node = &mut trie[cur];
                    node.next.insert(p.to_string(), next);
                    if node
                        .greatest_next
                        .as_deref()
                        .is_none_or(|gn| cmp_js(gn, p) == Ordering::Less)
                    {
                        node.greatest_next = Some(p.to_string());
                    }
                    next
                }
            };
        }
        if trie[cur].match_info.is_none() {
            trie[cur].match_info = Some((props.len(), index));
        }
    }
    // Better of two matches: more properties, then the earlier definition (`selectBetterMatch`).
    let better = |a: Option<(usize, usize)>, b: Option<(usize, usize)>| match (a, b) {
        (a, None) => a,
        (None, b) => b,
        (Some(x), Some(y)) => {
            if x.0 > y.0 || (x.0 == y.0 && x.1 <= y.1) {
                Some(x)
            } else {
                Some(y)
            }
        }
    };
    // The definition each list of property names matches.
    let mut props: Vec<&str> = Vec::new();
    let mut states: Vec<usize> = Vec::new();
    let matched: Vec<Option<usize>> = shapes
        .shapes
        .iter()
        .map(|(_, names)| {
            props.clear();
            props.extend(names.iter().map(|&s| g.string(s)));
            props.sort_by(|a, b| cmp_js(a, b));
            states.clear();
            states.push(0);
            // The empty interface never comes from inference, but a definition could have it.
            let mut found = trie[0].match_info;
            for p in &props {
                let mut kept = Vec::with_capacity(states.len() + 1);
                for &s in &states {
                    let node = &trie[s];
                    let dead = node
                        .greatest_next
                        .as_deref()
                        .is_none_or(|gn| cmp_js(p, gn) != Ordering::Less);
                    if !dead {
                        kept.push(s);
                    }
                    if let Some(&next) = node.next.get(*p) {
                        kept.push(next);
                        found = better(found, trie[next].match_info);
                    }
                }
                states.clear();
                for s in kept {
                    if !states.contains(&s) {
                        states.push(s);
                    }
                }
            }
            found.map(|(_, d)| d)
        })
        .collect();
    class_back(classes, &matched);
}

/// Follows `HeapSnapshotNode.classKeyInternal`: an `object` node whose constructor has a
/// location is counted in a class of that location and its class name.
fn apply_locations(g: &Graph, classes: &mut Classes) {
    let mut by_loc: HashMap<(Location, String), u32> = HashMap::new();
    for &(i, script_id, line, column) in &g.locations {
        let i = i as usize;
        let loc = Location {
            script_id,
            line,
            column,
        };
        let name = &classes.info[classes.of[i] as usize].name;
        let key = (loc, name.clone());
        let c = match by_loc.get(&key) {
            Some(&c) => c,
            None => {
                classes.info.push(ClassInfo {
                    name: key.1.clone(),
                    location: Some(loc),
                });
                let c = (classes.info.len() - 1) as u32;
                by_loc.insert(key, c);
                c
            }
        };
        classes.of[i] = c;
    }
}

/// DevTools' Statistics (`JSHeapSnapshot.calculateStatistics` / `getStatistics`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Every node's self size, plus `extra_native_bytes`.
    pub total: u64,
    /// `total` less `native_total`.
    pub v8heap_total: u64,
    /// Code.
    pub code: u64,
    /// Strings (plain, concatenated and sliced).
    pub strings: u64,
    /// JS arrays: objects named `Array` and their `elements` store when they alone hold it.
    pub js_arrays: u64,
    /// System objects (hidden nodes).
    pub system: u64,
    /// Native nodes, plus `extra_native_bytes`.
    pub native_total: u64,
    /// Typed arrays: the `system / JSArrayBufferData` native nodes.
    pub typed_arrays: u64,
    /// `snapshot.extra_native_bytes` (0 when the snapshot has none).
    pub extra_native: u64,
}

/// Follows `JSHeapSnapshot.calculateStatistics` (and `calculateArraySize`), over the sizes as
/// they stand (after `calculate_shallow_sizes` under DevTools' rules). `total` is DevTools'
/// `totalSize`: the root's retained size, which is every node's self size, plus the extra
/// native bytes.
pub fn statistics(g: &Graph, detached: &BitSet) -> Statistics {
    let n = g.node_count();
    let extra = g.header.extra_native_bytes;
    let mut s = Statistics {
        native_total: extra,
        extra_native: extra,
        ..Statistics::default()
    };
    let mut retainers: Vec<u32> = Vec::new();
    let mut total = 0u64;
    for i in 0..n {
        let size = g.self_size(i);
        total += size;
        let t = g.ntype[i];
        if t == g.nk.hidden {
            s.system += size;
        } else if t == g.nk.native {
            s.native_total += size;
            if raw_name(g, detached, i) == "system / JSArrayBufferData" {
                s.typed_arrays += size;
            }
        } else if t == g.nk.code {
            s.code += size;
        } else if g.nk.is_string(t) {
            s.strings += size;
        } else if g.string(g.name[i]) == "Array" {
            let mut array = size;
            let elements = g.edges(i).find(|&e| {
                g.etype[e] == g.ek.internal
                    && g.string(g.ename.get(e).copied().unwrap_or(0)) == "elements"
            });
            if let Some(e) = elements {
                if retainers.is_empty() {
                    retainers = vec![0; n];
                    for &w in &g.eto {
                        retainers[w as usize] += 1;
                    }
                }
                let w = g.eto[e] as usize;
                if retainers[w] == 1 {
                    array += g.self_size(w);
                }
            }
            s.js_arrays += array;
        }
    }
    s.total = total + extra;
    s.v8heap_total = s.total - s.native_total;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakmap_names() {
        let name = "12 / part of key (Object @3) -> value (Foo @5) pair in WeakMap (table @7)";
        assert_eq!(
            weakmap_duplicated_part(name),
            Some(" / part of key (Object @3) -> value (Foo @5) pair in WeakMap (table @7)")
        );
        assert_eq!(weakmap_duplicated_part("map"), None);
        assert_eq!(
            weakmap_duplicated_part(
                " / part of key (a @3) -> value (b @5) pair in WeakMap (table @7)"
            ),
            None
        );
        assert_eq!(
            weakmap_duplicated_part(
                "1 / part of key (a\n @3) -> value (b @5) pair in WeakMap (table @7)"
            ),
            None
        );
    }

    #[test]
    fn js_order_and_parse_int() {
        assert_eq!(cmp_js("\u{ffff}", "\u{10000}"), Ordering::Greater);
        assert_eq!(cmp_js("a", "b"), Ordering::Less);
        assert_eq!(parse_int(" 12abc"), Some(12.0));
        assert_eq!(parse_int("x"), None);
        assert_eq!(format_property_name("a,b"), "\"a,b\"");
        assert_eq!(format_property_name("ab"), "ab");
        assert_eq!(element_class("<div id=\"a\">").as_deref(), Some("<div>"));
        assert_eq!(
            element_class("Detached <p x>").as_deref(),
            Some("Detached <p>")
        );
        assert_eq!(element_class("Foo"), None);
    }
}
