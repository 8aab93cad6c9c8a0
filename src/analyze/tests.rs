//! The analyzer end to end, on snapshot files written by the tests: the Summary, the
//! retainer paths, the dominator tree against its definition, and damaged files.

use super::*;
use std::io::Write;
use std::path::PathBuf;

/// A directory of the test's own in the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("heapsnap-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// (type, name, id, self_size, edges: (edge type, name or index, target node))
type N = (
    &'static str,
    &'static str,
    u32,
    u64,
    Vec<(&'static str, &'static str, usize)>,
);

/// Writes a snapshot file in V8's layout, with or without `trace_node_id`.
fn write_snapshot(path: &Path, nodes: &[N], trace_field: bool, gzip: bool) {
    let node_types = [
        "hidden",
        "array",
        "string",
        "object",
        "code",
        "closure",
        "regexp",
        "number",
        "native",
        "synthetic",
        "concatenated string",
        "sliced string",
        "symbol",
        "bigint",
        "object shape",
    ];
    let edge_types = [
        "context", "element", "property", "internal", "hidden", "shortcut", "weak",
    ];
    let mut strings: Vec<String> = vec![String::new()];
    let mut sid = |s: &str| -> usize {
        if let Some(i) = strings.iter().position(|x| x == s) {
            return i;
        }
        strings.push(s.to_string());
        strings.len() - 1
    };
    let stride = if trace_field { 7 } else { 6 };
    let (mut ns, mut es) = (Vec::new(), Vec::new());
    let mut edge_count = 0;
    for (t, name, id, size, edges) in nodes {
        let mut f = vec![
            node_types.iter().position(|x| x == t).unwrap(),
            sid(name),
            *id as usize,
            *size as usize,
            edges.len(),
        ];
        if trace_field {
            f.push(0);
        }
        f.push(0);
        ns.extend(f);
        for (et, en, to) in edges {
            let ti = edge_types.iter().position(|x| x == et).unwrap();
            let n = if *et == "element" || *et == "hidden" {
                en.parse().unwrap()
            } else {
                sid(en)
            };
            es.extend([ti, n, to * stride]);
            edge_count += 1;
        }
    }
    let fields = if trace_field {
        r#"["type","name","id","self_size","edge_count","trace_node_id","detachedness"]"#
    } else {
        r#"["type","name","id","self_size","edge_count","detachedness"]"#
    };
    let join = |v: &[usize]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let json = format!(
        "{{\"snapshot\":{{\"meta\":{{\"node_fields\":{fields},\"node_types\":[{nt},\"string\",\"number\"],\
         \"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],\"edge_types\":[{et},\"string_or_number\",\"node\"],\
         \"location_fields\":[\"object_index\"]}},\"node_count\":{},\"edge_count\":{edge_count},\"trace_function_count\":0}},\n\
         \"nodes\":[{}],\n\"edges\":[{}],\n\"trace_function_infos\":[],\"trace_tree\":[],\"samples\":[],\"locations\":[],\n\
         \"strings\":{}}}",
        nodes.len(),
        join(&ns),
        join(&es),
        serde_json::to_string(&strings).unwrap(),
        nt = serde_json::to_string(&node_types).unwrap(),
        et = serde_json::to_string(&edge_types).unwrap(),
    );
    let mut f = std::fs::File::create(path).unwrap();
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        gz.write_all(json.as_bytes()).unwrap();
        gz.finish().unwrap();
    } else {
        f.write_all(json.as_bytes()).unwrap();
    }
}

fn fixture() -> Vec<N> {
    vec![
        (
            "synthetic",
            "",
            1,
            0,
            vec![("shortcut", "1", 1), ("element", "1", 2)],
        ),
        (
            "object",
            "global",
            3,
            50,
            vec![
                ("property", "m", 3),
                ("weak", "w", 9),
                ("property", "z", 10),
                ("property", "k\u{e9}\"y", 12),
            ],
        ),
        ("synthetic", "(GC roots)", 5, 0, vec![("element", "1", 8)]),
        ("object", "Map", 7, 32, vec![("internal", "table", 4)]),
        (
            "array",
            "",
            9,
            100,
            vec![("element", "0", 5), ("element", "1", 6)],
        ),
        ("object", "Leak", 11, 40, vec![("property", "s", 7)]),
        (
            "object",
            "Leak",
            13,
            40,
            vec![("property", "s", 7), ("property", "self", 6)],
        ),
        ("string", "hello", 15, 20, vec![]),
        (
            "synthetic",
            "(Strong roots)",
            17,
            0,
            vec![("element", "1", 3), ("element", "2", 11)],
        ),
        ("object", "Weak", 19, 10, vec![]),
        ("object", "Zero", 21, 0, vec![]),
        // Retained only by a system root, not by the page.
        ("object", "Leak", 23, 40, vec![]),
        ("object", "Odd\u{e9}", 25, 8, vec![]),
    ]
}

/// The fixture as a plain file with `trace_node_id`, written in `dir` and read back.
fn fixture_bytes(dir: &Path) -> Vec<u8> {
    let good = dir.join("g.heapsnapshot");
    write_snapshot(&good, &fixture(), true, false);
    std::fs::read(&good).unwrap()
}

fn check_summary(path: &Path) {
    let r = summary(path, &Options::default(), &Bar::new(false)).unwrap();
    assert_eq!(r.file.node_count, 13);
    let row = |n: &str| {
        r.classes
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("{n}"))
            .clone()
    };
    let leak = row("Leak");
    assert_eq!(
        (leak.count, leak.shallow_size, leak.retained_size),
        (3, 120, 120)
    );
    assert_eq!(row("Map").retained_size, 232);
    // DevTools' `calculateShallowSizes`: the table (an array only the Map holds) is counted in
    // the Map, and has no row of its own.
    assert_eq!(row("Map").shallow_size, 132);
    assert!(r.classes.iter().all(|c| c.name != "(array)"));
    assert_eq!(row("Leak").distance, Some(4)); // global → Map → table → Leak
    assert_eq!(row("global").distance, Some(1));
    assert_eq!(row("(string)").retained_size, 20);
    assert_eq!(row("global").retained_size, 50 + 232 + 8);
    assert_eq!(row("Weak").retained_size, 10);
    assert_eq!(row("Odd\u{e9}").count, 1);
    assert!(r
        .classes
        .iter()
        .all(|c| c.name != "Zero" && c.name != "(synthetic)"));
    assert_eq!(r.classes[0].name, "global");

    // Without DevTools' rules: V8's own sizes, no distances.
    let legacy = Options {
        devtools_rules: false,
    };
    let r = summary(path, &legacy, &Bar::new(false)).unwrap();
    let row = |n: &str| r.classes.iter().find(|c| c.name == n).unwrap().clone();
    assert_eq!(row("Map").shallow_size, 32);
    assert_eq!(row("(array)").shallow_size, 100);
    assert_eq!(row("(array)").distance, None);
}

#[test]
fn summary_matches_hand_computed_dominators_in_every_layout() {
    let dir = Scratch::new("analyze");
    for (trace, gzip) in [(true, false), (false, false), (true, true), (false, true)] {
        let p = dir.join(format!("s-{trace}-{gzip}.heapsnapshot"));
        write_snapshot(&p, &fixture(), trace, gzip);
        check_summary(&p);
    }
}

#[test]
fn retainer_path_runs_from_the_global_to_the_object() {
    let dir = Scratch::new("ret");
    let p = dir.join("r.heapsnapshot");
    write_snapshot(&p, &fixture(), false, false);
    let leak = RetainersTarget::Class("Leak".into());
    let (_, r, tree) = retainers(
        &p,
        &leak,
        5,
        100,
        None,
        &Options::default(),
        &Bar::new(false),
    )
    .unwrap();
    assert!(tree.is_none());
    assert_eq!((r.count, r.shallow_size, r.retained_size), (3, 120, 120));
    let labels: Vec<String> = r.paths[0]
        .path
        .iter()
        .map(|s| {
            format!(
                "{} @{} {}",
                s.node.name,
                s.node.id,
                s.edge.clone().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        labels,
        [
            "global @3 .m",
            "Map @7 table",
            "(array) @9 [0]",
            "Leak @11 "
        ]
    );
    // The one only the system roots hold is reached through them.
    let sys = r.paths.iter().find(|p| p.object.id == 23).unwrap();
    assert_eq!(sys.path[0].node.name, "(GC roots)");
}

#[test]
fn dominator_top_lists_classes_instances_and_what_they_retain() {
    let dir = Scratch::new("domtop");
    let p = dir.join("t.heapsnapshot");
    write_snapshot(&p, &fixture(), false, false);
    let (file, top) = dominator_top(&p, 2, 2, 5, &Options::default(), &Bar::new(false)).unwrap();
    assert_eq!(file.node_count, 13);
    let names: Vec<&str> = top.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["global", "Map"]);
    let global = &top[0];
    assert_eq!((global.count, global.retained_size), (1, 290));
    assert_eq!(global.instances.len(), 1);
    let g = &global.instances[0];
    assert_eq!(g.path.object.id, 3);
    // What the global alone keeps alive, biggest first: the Map (with its table, the Leaks
    // and their string), then `Odd\u{e9}`.
    let kids: Vec<(String, u32, u64)> = g
        .children
        .iter()
        .map(|k| (k.name.clone(), k.id, k.retained_size))
        .collect();
    assert_eq!(kids[0], ("Map".to_string(), 7, 232));
    assert_eq!(kids[1], ("Odd\u{e9}".to_string(), 25, 8));
    assert!(kids.iter().map(|k| k.2).sum::<u64>() <= 290);
    // The Map's instance lists its table.
    assert_eq!(top[1].instances[0].children[0].id, 9);
}

#[test]
fn damaged_files_are_refused_with_a_code() {
    let dir = Scratch::new("bad");
    let text = fixture_bytes(&dir);
    for cut in [1, 40, text.len() / 2, text.len() - 2] {
        let p = dir.join("cut.heapsnapshot");
        std::fs::write(&p, &text[..cut]).unwrap();
        let e = summary(&p, &Options::default(), &Bar::new(false))
            .err()
            .expect("truncated file refused");
        assert_eq!(
            e.code,
            source::ERR_BAD_SNAPSHOT,
            "cut at {cut}: {}",
            e.message
        );
    }
    // The numbers are decoded ahead on another thread: an error in the text still names its
    // byte, and a value the graph refuses names its row.
    let edges = text.windows(9).position(|w| w == b"\"edges\":[").unwrap() + 9;
    let comma = |from: usize| from + text[from..].iter().position(|&b| b == b',').unwrap();
    let (first, second, third) = (edges, comma(edges) + 1, comma(comma(edges) + 1) + 1);
    let p = dir.join("x.heapsnapshot");
    let mut bad = text.clone();
    bad[second] = b'x';
    std::fs::write(&p, &bad).unwrap();
    let e = summary(&p, &Options::default(), &Bar::new(false))
        .err()
        .unwrap();
    assert!(
        e.message.contains(&format!(
            "at byte {second}: expected a non-negative integer, found 'x'"
        )),
        "{}",
        e.message
    );
    let mut bad = text[..third].to_vec();
    bad.extend_from_slice(b"999999999");
    bad.extend_from_slice(&text[comma(third)..]);
    std::fs::write(&p, &bad).unwrap();
    let e = summary(&p, &Options::default(), &Bar::new(false))
        .err()
        .unwrap();
    assert!(
        e.message
            .contains("edge 0 of the edges array: edge to_node 999999999 does not point"),
        "{} (first edge at byte {first})",
        e.message
    );
    let gz = dir.join("g.heapsnapshot.gz");
    write_snapshot(&gz, &fixture(), true, true);
    let bytes = std::fs::read(&gz).unwrap();
    std::fs::write(&gz, &bytes[..bytes.len() - 12]).unwrap();
    let e = summary(&gz, &Options::default(), &Bar::new(false))
        .err()
        .expect("truncated gzip refused");
    assert_eq!(e.code, source::ERR_BAD_SNAPSHOT, "{}", e.message);
    let e = summary(&dir.join("missing"), &Options::default(), &Bar::new(false))
        .err()
        .unwrap();
    assert_eq!((e.code.as_str(), e.syscall.as_str()), ("ENOENT", "open"));
}

/// Lengauer–Tarjan against the textbook definition (iterated set intersection) on random
/// graphs with every edge kind, for every node the root reaches.
#[test]
fn dominators_agree_with_the_definition_on_random_graphs() {
    let dir = Scratch::new("rand");
    let kinds = [
        "property", "element", "internal", "weak", "shortcut", "context",
    ];
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut rnd = move |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    let mut checked = 0;
    for round in 0..400 {
        let n = 2 + rnd(40);
        let mut nodes: Vec<N> = (0..n)
            .map(|i| {
                let t = if i == 0 {
                    "synthetic"
                } else {
                    ["object", "array", "hidden"][rnd(3)]
                };
                (t, "X", (2 * i + 1) as u32, rnd(100) as u64, Vec::new())
            })
            .collect();
        // A spanning tree keeps most nodes reachable; random edges of every kind on top.
        for i in 1..n {
            let j = rnd(i);
            nodes[j].4.push(("property", "t", i));
        }
        for _ in 0..rnd(4 * n) {
            let (a, b) = (rnd(n), rnd(n));
            let k = kinds[rnd(kinds.len())];
            let name = if k == "element" { "0" } else { "p" };
            nodes[a].4.push((k, name, b));
        }
        let p = dir.join("r.heapsnapshot");
        write_snapshot(&p, &nodes, round % 2 == 0, false);
        let mut g = parse::load(
            &p,
            LoadOptions {
                edges: true,
                edge_names: false,
                string_texts: false,
            },
            &Bar::new(false),
        )
        .unwrap();
        let rules = round % 3 != 0;
        let page = dominators::page_owned(&g, rules);
        // Retaining predecessors, and what the root reaches through them.
        let mut preds = vec![Vec::new(); n];
        for v in 0..n {
            for e in g.edges(v) {
                let w = g.eto[e] as usize;
                if dominators::retains(&g, &page, rules, v, e, w) {
                    preds[w].push(v);
                }
            }
        }
        let mut reach = vec![false; n];
        reach[0] = true;
        let mut changed = true;
        while changed {
            changed = false;
            for w in 0..n {
                if !reach[w] && preds[w].iter().any(|&p| reach[p]) {
                    reach[w] = true;
                    changed = true;
                }
            }
        }
        // An unreachable node that points into the reachable part makes its target hang off
        // the root too (as in DevTools); the definition below leaves such graphs out.
        if reach.iter().any(|&r| !r) {
            continue;
        }
        checked += 1;
        let all: Vec<bool> = vec![true; n];
        let mut doms: Vec<Vec<bool>> = (0..n)
            .map(|i| {
                if i == 0 {
                    (0..n).map(|j| j == 0).collect()
                } else {
                    all.clone()
                }
            })
            .collect();
        changed = true;
        while changed {
            changed = false;
            for w in 1..n {
                if !reach[w] {
                    continue;
                }
                let mut d = all.clone();
                for &p in preds[w].iter().filter(|&&p| reach[p]) {
                    for j in 0..n {
                        d[j] &= doms[p][j];
                    }
                }
                d[w] = true;
                if d != doms[w] {
                    doms[w] = d;
                    changed = true;
                }
            }
        }
        let dom = dominators::compute(&mut g, rules, false);
        for w in 1..n {
            if !reach[w] {
                continue;
            }
            // The immediate dominator is the strict dominator with the most dominators.
            let count = |x: usize| doms[x].iter().filter(|&&b| b).count();
            let idom = (0..n)
                .filter(|&j| j != w && doms[w][j])
                .max_by_key(|&j| count(j))
                .unwrap();
            assert_eq!(dom.idom[w] as usize, idom, "round {round}, node {w}");
        }
        // Retained sizes add up: the root retains everything.
        let total: u64 = (0..n).map(|i| g.self_size(i)).sum();
        assert_eq!(dom.retained[0], total, "round {round}");
    }
    assert!(checked > 150, "only {checked} graphs checked");
}

/// The retainer tree of Leak @13: held by the Map's array (`[1]`, distance 3) and by itself
/// (`self`, distance 4: after it, and marked as a cycle, not expanded); above the array the
/// Map, above the Map the global, whose only retainer is the root (not listed), and a system
/// root.
#[test]
fn retainer_tree_sorts_by_distance_and_marks_cycles() {
    let dir = Scratch::new("tree");
    let p = dir.join("t.heapsnapshot");
    write_snapshot(&p, &fixture(), false, false);
    let limits = retainer_tree::TreeLimits {
        depth: 4,
        limit: 10,
    };
    let opts = Options::default();
    let (_, r, tree) = retainers(
        &p,
        &RetainersTarget::Id(13),
        1,
        100,
        Some(limits),
        &opts,
        &Bar::new(false),
    )
    .unwrap();
    assert_eq!((r.class_name.as_str(), r.paths.len()), ("Leak", 1));
    let tree = tree.unwrap();
    assert_eq!((tree.object.id, tree.object.distance), (13, Some(4)));
    let row = |n: &retainer_tree::TreeNode| {
        format!(
            "{} in {} @{} d{:?} {}{}",
            n.edge_name,
            n.node.name,
            n.node.id,
            n.node.distance,
            n.retainer_count,
            if n.cycle { " cycle" } else { "" }
        )
    };
    let first: Vec<String> = tree.retainers.iter().map(row).collect();
    assert_eq!(
        first,
        ["1 in  @9 dSome(3) 1", "self in Leak @13 dSome(4) 0 cycle"]
    );
    assert!(tree.retainers[1].children.is_empty());
    let map = &tree.retainers[0].children[0];
    assert_eq!(row(map), "table in Map @7 dSome(2) 2");
    // The global (distance 1) before the system root (past DevTools' base system distance).
    let above: Vec<String> = map.children.iter().map(row).collect();
    assert_eq!(
        above,
        [
            "m in global @3 dSome(1) 0",
            "1 in (Strong roots) @17 dSome(100000002) 1"
        ]
    );
    // Depth 1: the retainers only, each still counting its own.
    let one = retainer_tree::TreeLimits { depth: 1, limit: 1 };
    let target = RetainersTarget::Id(13);
    let (_, _, t) = retainers(&p, &target, 1, 100, Some(one), &opts, &Bar::new(false)).unwrap();
    let t = t.unwrap();
    assert_eq!((t.retainer_count, t.retainers.len()), (2, 1));
    assert_eq!(
        (t.retainers[0].retainer_count, t.retainers[0].children.len()),
        (1, 0)
    );
    // An id the snapshot does not have.
    let missing = RetainersTarget::Id(14);
    let e = retainers(&p, &missing, 1, 100, Some(one), &opts, &Bar::new(false))
        .err()
        .unwrap();
    assert_eq!(e.code, "ERR_HEAPSNAP_NO_SUCH_OBJECT");
}

/// Damaged files: every truncation and a few thousand single-byte changes of a small
/// snapshot end in a result or an error, never a panic.
#[test]
fn damaged_files_never_panic() {
    let dir = Scratch::new("fuzz");
    let text = fixture_bytes(&dir);
    let p = dir.join("f.heapsnapshot");
    let opts = Options::default();
    for cut in 0..text.len() {
        std::fs::write(&p, &text[..cut]).unwrap();
        assert!(
            summary(&p, &opts, &Bar::new(false)).is_err(),
            "cut at {cut}"
        );
    }
    let leak = RetainersTarget::Class("Leak".into());
    let limits = retainer_tree::TreeLimits { depth: 4, limit: 3 };
    let mut seed: u64 = 0x2545f4914f6cdd1d;
    let bytes = b"0123456789,[]{}\":-x \\";
    for _ in 0..3000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut t = text.clone();
        let at = (seed % t.len() as u64) as usize;
        t[at] = bytes[((seed >> 32) % bytes.len() as u64) as usize];
        std::fs::write(&p, &t).unwrap();
        let _ = summary(&p, &opts, &Bar::new(false));
        let _ = retainers(&p, &leak, 3, 100, Some(limits), &opts, &Bar::new(false));
    }
}

#[test]
fn duplicated_strings_are_grouped_by_text_with_the_waste_and_the_nearest_copy() {
    let dir = Scratch::new("strings");
    let p = dir.join("s.heapsnapshot");
    let nodes: Vec<N> = vec![
        ("synthetic", "", 1, 0, vec![("shortcut", "1", 1)]),
        (
            "object",
            "global",
            3,
            50,
            vec![
                ("property", "h", 2),
                ("property", "c1", 6),
                ("property", "c2", 7),
                ("property", "one", 8),
                ("property", "z", 9),
                ("property", "two", 10),
                ("property", "two2", 11),
                ("property", "d", 3),
                ("property", "s1", 15),
                ("property", "s2", 16),
            ],
        ),
        (
            "object",
            "Holder",
            5,
            24,
            vec![("property", "x", 4), ("property", "y", 5)],
        ),
        ("string", "dup", 7, 20, vec![]),
        ("string", "dup", 9, 32, vec![]),
        ("string", "dup", 11, 20, vec![]),
        // "du" + "p": DevTools rebuilds the text of a cons string from its parts.
        (
            "concatenated string",
            "(concatenated string)",
            13,
            32,
            vec![("internal", "first", 12), ("internal", "second", 13)],
        ),
        // Flattened ("dup" + ""): its text is the flat string's, counted there.
        (
            "concatenated string",
            "(concatenated string)",
            15,
            32,
            vec![("internal", "first", 3), ("internal", "second", 14)],
        ),
        ("string", "one", 17, 16, vec![]),
        // Size 0: not counted (as in DevTools' Summary).
        ("string", "two", 19, 0, vec![]),
        ("string", "two", 21, 16, vec![]),
        ("string", "two", 23, 16, vec![]),
        ("string", "du", 25, 16, vec![]),
        ("string", "p", 27, 16, vec![]),
        ("string", "", 29, 16, vec![]),
        // Sliced strings: V8 writes no text for them, DevTools leaves them out.
        ("sliced string", "(sliced string)", 31, 32, vec![]),
        ("sliced string", "(sliced string)", 33, 32, vec![]),
    ];
    write_snapshot(&p, &nodes, false, false);
    let (file, r, paths) = strings(&p, 10, 100, &Options::default(), &Bar::new(false)).unwrap();
    assert_eq!(file.node_count, 17);
    let got: Vec<(&str, u64, u64, u64, u64, u64)> = r
        .groups
        .iter()
        .map(|s| {
            (
                s.value.as_str(),
                s.length,
                s.count,
                s.self_size,
                s.total_size,
                s.wasted_size,
            )
        })
        .collect();
    // Wasted = total less the largest copy; most wasted first.
    assert_eq!(got, [("dup", 3, 4, 32, 104, 72), ("two", 3, 2, 16, 32, 16)]);
    assert_eq!(
        (r.group_count, r.strings, r.total_size, r.wasted_size),
        (2, 6, 136, 88)
    );
    // The nearest copy of "dup" is the one the global holds itself (distance 2, not 3).
    let labels = |i: usize| -> Vec<String> {
        paths[i]
            .path
            .iter()
            .map(|s| {
                format!(
                    "{} @{} {}",
                    s.node.name,
                    s.node.id,
                    s.edge.clone().unwrap_or_default()
                )
            })
            .collect()
    };
    assert_eq!(labels(0), ["global @3 .d", "(string) @7 "]);
    assert_eq!(paths[0].object.id, 7);
    assert_eq!(labels(1), ["global @3 .two", "(string) @21 "]);
    // `top` cuts the groups, not the totals.
    let (_, r, paths) = strings(&p, 1, 100, &Options::default(), &Bar::new(false)).unwrap();
    assert_eq!((r.groups.len(), paths.len(), r.group_count), (1, 1, 2));
}
