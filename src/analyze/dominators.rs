//! Dominator tree and retained sizes (Lengauer–Tarjan, the simple variant with path
//! compression: O(E log N), iterative so that deep heaps cannot overflow the stack).
//!
//! The graph is the one Chrome DevTools builds its dominator tree over
//! (`HeapSnapshot.buildPostOrderIndex` / `buildDominatorTree` / `isEssentialEdge`), with its
//! special cases:
//!
//! 1. **Weak edges do not retain.** An object reachable only through weak edges has no
//!    retainer in this graph.
//! 2. **Shortcut edges retain only from the root.** V8 adds shortcut edges from the root to
//!    each user global object (the "user roots"); elsewhere a shortcut duplicates a path that
//!    exists through ordinary edges and is ignored.
//! 3. **Page-owned objects.** Everything reachable (over non-weak edges) from the root's
//!    shortcut edges — and, in browser snapshots, from the `(Document DOM trees)` root — is
//!    "page owned" (DevTools' `markPageOwnedNodes`). A page-owned object ignores retainers
//!    that are not page owned (except the root), so objects the page holds are not credited
//!    to the debugger's or the system's handles that also reach them.
//! 4. **Unreachable objects hang off the root.** Objects the traversal from the root does not
//!    reach (through the edges above) are visited afterwards as if the root retained them:
//!    first, in node order, those that nothing retains (only weak retainers), each with a
//!    traversal of its own; then whatever is left (groups that only retain each other). So
//!    every node gets a dominator and a retained size, as in DevTools
//!    (`calculateDominatorsAndRetainedSizes`). DevTools numbers that last group one node at a
//!    time without a traversal; here it is traversed too, so inside such a group one member
//!    may dominate another.
//! 5. **Self edges and a WeakMap's table edges do not retain.** V8 records each WeakMap entry
//!    as two internal edges into the value, one from the key and one from the table (named
//!    `… pair in WeakMap (table @<id>)`); the table's is dropped, so the key dominates the
//!    value, as in DevTools' `computeIsEssentialEdge`.
//!
//! A node's retained size is its self size plus the retained sizes of the nodes it
//! immediately dominates.

use super::bigvec;
use super::bitset::BitSet;
use super::graph::Graph;
use super::prof::mark;
use crate::sys::os::prefetch;

const NONE: u32 = u32::MAX;

/// Which nodes DevTools counts as page owned (special case 3); all false when `rule` is off.
pub fn page_owned(g: &Graph, rule: bool) -> Vec<bool> {
    let n = g.node_count();
    let mut flag = bigvec::filled(n, false);
    if !rule {
        return flag;
    }
    let mut stack: Vec<u32> = Vec::new();
    for e in g.edges(0) {
        let t = g.etype[e];
        let to = g.eto[e] as usize;
        let user_root = if t == g.ek.element {
            g.ntype[to] == g.nk.synthetic && g.string(g.name[to]) == "(Document DOM trees)"
        } else {
            t == g.ek.shortcut
        };
        if user_root && !flag[to] {
            flag[to] = true;
            stack.push(to as u32);
        }
    }
    while let Some(v) = stack.pop() {
        g.prefetch_targets(v as usize, &flag);
        for e in g.edges(v as usize) {
            let to = g.eto[e] as usize;
            if g.etype[e] == g.ek.weak || flag[to] {
                continue;
            }
            flag[to] = true;
            stack.push(to as u32);
        }
    }
    flag
}

/// Whether edge `e` from `v` to `w` retains `w` (special cases 1, 2, 3 and 5; 3 and 5 only
/// with `devtools_rules`, `page` being all false without).
#[inline]
pub fn retains(
    g: &Graph,
    page: &[bool],
    devtools_rules: bool,
    v: usize,
    e: usize,
    w: usize,
) -> bool {
    let t = g.etype[e];
    if t == g.ek.weak || v == w || (devtools_rules && g.is_weakmap_table_edge(e)) {
        return false;
    }
    if v == 0 {
        return true;
    }
    // A page-owned object is retained only by page-owned objects (or the root).
    t != g.ek.shortcut && (page[v] || !page[w])
}

pub struct Dominators {
    /// Immediate dominator of each node (the root is its own).
    pub idom: Vec<u32>,
    /// Retained size of each node.
    pub retained: Vec<u64>,
    /// Dominator-tree children of node `i`: `children[child_first[i]..child_first[i + 1]]`.
    pub child_first: Vec<u32>,
    pub children: Vec<u32>,
}

impl Dominators {
    #[inline]
    pub fn children_of(&self, i: usize) -> &[u32] {
        &self.children[self.child_first[i] as usize..self.child_first[i + 1] as usize]
    }
}

/// The retaining edges (by edge index, the first step of the dominators), and how many
/// retain each node (node `w`'s count at `w + 1`, as [`reverse_retaining`] takes them). It
/// only reads the graph, so a caller may find it next to other readers of it
/// ([`retaining`]).
pub struct Retaining {
    ess: BitSet,
    counts: Vec<u32>,
    /// Memory for the depth-first parents (the second half's counts), when there is some.
    spare: Vec<u32>,
    devtools_rules: bool,
}

/// [`Retaining`]: on both cores with `parallel` (the nodes split in two halves by edge
/// count, the second half's counts added to the first's and its array kept for
/// [`bigvec::filled_in`]), else on the calling thread alone, for a caller that keeps the
/// other core busy.
pub fn retaining(g: &Graph, page: &[bool], devtools_rules: bool, parallel: bool) -> Retaining {
    let n = g.node_count();
    let edges = g.eto.len();
    // Edges from `nodes` marked in words from the word of their first edge on; counts added
    // into `retainers`.
    let part = |nodes: std::ops::Range<usize>, retainers: &mut [u32]| -> Vec<u64> {
        let (from, to) = (
            g.first_edge[nodes.start] as usize,
            g.first_edge[nodes.end] as usize,
        );
        let base = from / 64;
        let mut words = vec![0u64; to.div_ceil(64) - base];
        for v in nodes {
            g.prefetch_targets(v, page);
            g.prefetch_targets(v, &retainers[1..]);
            for e in g.edges(v) {
                let w = g.eto[e] as usize;
                if retains(g, page, devtools_rules, v, e, w) {
                    words[e / 64 - base] |= 1 << (e % 64);
                    retainers[w + 1] += 1;
                }
            }
        }
        words
    };
    let mut retainers = bigvec::filled(n + 1, 0u32);
    if !parallel {
        let words = part(0..n, &mut retainers);
        return Retaining {
            ess: BitSet::from_words(words),
            counts: retainers,
            spare: Vec::new(),
            devtools_rules,
        };
    }
    let split = g.first_edge[..n].partition_point(|&f| (f as usize) < edges / 2);
    let (mut words, second, second_counts) = std::thread::scope(|scope| {
        let other = scope.spawn(move || {
            let mut counts = bigvec::filled(n + 1, 0u32);
            let words = part(split..n, &mut counts);
            (words, counts)
        });
        let words = part(0..split, &mut retainers);
        let (second, counts) = other
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (words, second, counts)
    });
    for (r, c) in retainers.iter_mut().zip(&second_counts) {
        *r += c;
    }
    // The word holding the split is in both halves.
    let mut second = second.into_iter();
    if !g.first_edge[split].is_multiple_of(64) {
        if let (Some(last), Some(first)) = (words.last_mut(), second.next()) {
            *last |= first;
        }
    }
    words.extend(second);
    Retaining {
        ess: BitSet::from_words(words),
        counts: retainers,
        spare: second_counts,
        devtools_rules,
    }
}

/// The retaining edges reversed, by node ordinal: the retainers of node `w` are
/// `src[first[w]..first[w + 1]]` (node ordinals). `first` comes in holding node `w`'s count
/// of retainers at `w + 1` and is turned into the offsets in place. `src` is built in `spare`
/// when it is large enough (see [`bigvec::filled_in`]).
fn reverse_retaining(
    g: &Graph,
    ess: &BitSet,
    mut first: Vec<u32>,
    spare: Vec<u32>,
) -> (Vec<u32>, Vec<u32>) {
    let n = g.node_count();
    // `first[w + 1]` is the end of w's list; filled from the end down, it ends at the start.
    for w in 0..n {
        first[w + 1] += first[w];
    }
    let mut src = bigvec::filled_in(spare, first[n] as usize, 0u32);
    for v in 0..n {
        // One node ahead: the loop over a node's edges is too short to wait for its own.
        if v + 1 < n {
            g.prefetch_targets(v + 1, &first[1..]);
        }
        for e in g.edges(v) {
            if ess.contains(e as u32) {
                let slot = &mut first[g.eto[e] as usize + 1];
                *slot -= 1;
                src[*slot as usize] = v as u32;
            }
        }
    }
    // `first[w + 1]` is now the start of w's list: shift it to `first[w]`.
    first.copy_within(1.., 0);
    first[n] = src.len() as u32;
    (first, src)
}

/// Depth-first numbering over the retaining edges from `start` (unless numbered already).
fn dfs(
    g: &Graph,
    ess: &BitSet,
    start: usize,
    pre: &mut [u32],
    vertex: &mut Vec<u32>,
    parent: &mut [u32],
) {
    if pre[start] != NONE {
        return;
    }
    let mut stack: Vec<(u32, u32)> = Vec::new();
    pre[start] = vertex.len() as u32;
    parent[vertex.len()] = 0;
    vertex.push(start as u32);
    g.prefetch_targets(start, pre);
    stack.push((start as u32, g.first_edge[start]));
    while let Some(top) = stack.last_mut() {
        let v = top.0 as usize;
        let end = g.first_edge[v + 1];
        let mut next = None;
        while top.1 < end {
            let e = top.1 as usize;
            top.1 += 1;
            let w = g.eto[e] as usize;
            if pre[w] == NONE && ess.contains(e as u32) {
                next = Some(w);
                break;
            }
        }
        match next {
            Some(w) => {
                let num = vertex.len();
                pre[w] = num as u32;
                parent[num] = pre[v];
                vertex.push(w as u32);
                g.prefetch_targets(w, pre);
                stack.push((w as u32, g.first_edge[w]));
            }
            None => {
                stack.pop();
            }
        }
    }
}

/// Computes dominators and retained sizes. `devtools_rules` applies special cases 3 and 5
/// (DevTools does; memlab does not: its page-owned marking starts from every root edge, which
/// on a Node.js snapshot marks everything, and it keeps a WeakMap's table edges). With `drop_edges` the graph's edge columns, node names and strings are freed as soon as
/// they are no longer needed (the caller may then read only node counts, self sizes and ids),
/// which lowers the peak memory of a summary.
///
/// Memory: besides the graph, 5 words a node during the traversal and 4 bytes a retaining
/// edge for the reverse graph (8 while it is copied once). The reverse graph is built by node
/// ordinal (one random write a retaining edge) on a second thread while the depth-first
/// numbering runs, then copied in DFS order with its entries turned into DFS numbers, so that
/// the node-to-number map can be freed before the semi-dominator pass (semi-NCA: no buckets)
/// and that pass reads the lists in order.
pub fn compute(g: &mut Graph, devtools_rules: bool, drop_edges: bool) -> Dominators {
    let page = page_owned(g, devtools_rules);
    mark("dom: page owned");
    // The retaining edges need neither the edge names nor the node names and strings (only
    // the page-owned marking reads names, of the root's children): freed before they are found.
    let spares = drop_edges.then(|| Spares::take(g));
    let r = retaining(g, &page, devtools_rules, true);
    drop(page);
    mark("dom: essential edges");
    finish(g, r, spares)
}

/// [`compute`] once the retaining edges (`r`, from [`retaining`]) are known.
pub fn compute_with(g: &mut Graph, r: Retaining, drop_edges: bool) -> Dominators {
    let spares = drop_edges.then(|| Spares::take(g));
    finish(g, r, spares)
}

/// The name columns of a graph whose edges are dropped: the edge names' memory becomes the
/// reverse graph's (as large as the retaining edges), the node names' the depth-first numbers.
/// Empty (the default) when the edges are kept.
#[derive(Default)]
struct Spares {
    edge_names: Vec<u32>,
    names: Vec<u32>,
}

impl Spares {
    fn take(g: &mut Graph) -> Spares {
        let spares = Spares {
            edge_names: std::mem::take(&mut g.ename),
            names: std::mem::take(&mut g.name),
        };
        g.drop_names();
        spares
    }
}

/// The dominators from the retaining edges; with `spares` (edges dropped) the graph's edge
/// columns are freed as soon as they are no longer needed.
fn finish(g: &mut Graph, r: Retaining, spares: Option<Spares>) -> Dominators {
    let n = g.node_count();
    let drop_edges = spares.is_some();
    let Retaining {
        ess,
        counts: retainers,
        spare: spare_counts,
        devtools_rules,
    } = r;
    let Spares {
        edge_names: spare,
        names: spare_names,
    } = spares.unwrap_or_default();
    if drop_edges {
        // From here on only the targets and `ess` are read (and, by the caller, the node
        // counts, self sizes and ids).
        g.etype = Vec::new();
    }

    // Two passes over the edges, one on each core: the depth-first numbering from the root,
    // and the retaining edges reversed (by node ordinal: each node's retainers, as ordinals).
    let mut pre = bigvec::filled_in(spare_names, n, NONE);
    let mut vertex: Vec<u32> = bigvec::with_capacity(n);
    let mut parent = bigvec::filled_in(spare_counts, n, 0u32);
    // DFS numbers from here on are the leftover nodes of case 4 (DevTools' rules only).
    let mut leftover = n;
    let (rev_first, rev_src) = {
        let g: &Graph = g;
        let ess = &ess;
        std::thread::scope(|scope| {
            let reverse = scope.spawn(move || reverse_retaining(g, ess, retainers, spare));
            dfs(g, ess, 0, &mut pre, &mut vertex, &mut parent);
            reverse
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    };
    if vertex.len() < n {
        // Case 4: first from each node that nothing retains, then whatever is left (cycles
        // that only retain each other).
        for u in 0..n {
            if rev_first[u] == rev_first[u + 1] {
                dfs(g, &ess, u, &mut pre, &mut vertex, &mut parent);
            }
        }
        if devtools_rules {
            // As `calculateDominatorsAndRetainedSizes` does: each one alone, straight under
            // the root, without a traversal.
            leftover = vertex.len();
            for (u, p) in pre.iter_mut().enumerate() {
                if *p == NONE {
                    *p = vertex.len() as u32;
                    parent[vertex.len()] = 0;
                    vertex.push(u as u32);
                }
            }
        } else {
            for u in 0..n {
                dfs(g, &ess, u, &mut pre, &mut vertex, &mut parent);
            }
        }
    }
    debug_assert_eq!(vertex.len(), n);
    drop(ess);
    // The edge targets' column becomes the renumbered reverse graph's.
    let mut spare = Vec::new();
    if drop_edges {
        spare = std::mem::take(&mut g.eto);
        g.drop_edges();
    }
    mark("dom: dfs, reverse edges");
    // Retainers by DFS number, as DFS numbers: the list of number `w` (a node's retainers)
    // is read in the order the semi-dominator pass below walks the numbers, so that pass
    // reads it from one end to the other instead of jumping from node to node.
    let (rev_first, rev_src) = {
        // The lists by node ordinal are freed at the end of this block.
        let (by_node_first, by_node_src) = (rev_first, rev_src);
        let list_of = |node: u32| {
            let node = node as usize;
            &by_node_src[by_node_first[node] as usize..by_node_first[node + 1] as usize]
        };
        let mut first: Vec<u32> = bigvec::with_capacity(leftover + 1);
        let mut total = 0u32;
        for (k, &node) in vertex[..leftover].iter().enumerate() {
            if let Some(&ahead) = vertex[..leftover].get(k + 16) {
                prefetch(&by_node_first, ahead as usize);
            }
            first.push(total);
            total += list_of(node).len() as u32;
        }
        first.push(total);
        let mut src = bigvec::filled_in(spare, total as usize, 0u32);
        // Two halves by retainer count, one on each core, each writing its own part of `src`.
        let copy = |numbers: std::ops::Range<usize>, out: &mut [u32]| {
            let mut out = out.iter_mut();
            let end = numbers.end;
            for k in numbers {
                // Two steps ahead: where the list of the number 16 ahead starts, then the
                // list of the number 8 ahead (its start loaded 8 steps ago).
                if k + 16 < end {
                    prefetch(&by_node_first, vertex[k + 16] as usize);
                }
                if k + 8 < end {
                    prefetch(&by_node_src, by_node_first[vertex[k + 8] as usize] as usize);
                }
                let node = vertex[k];
                // The list first: `zip` stops at its end without taking a slot.
                for (&v, slot) in list_of(node).iter().zip(out.by_ref()) {
                    *slot = pre[v as usize];
                }
            }
        };
        let half = first[..leftover].partition_point(|&f| f < total / 2);
        let (low, high) = src.split_at_mut(first[half] as usize);
        std::thread::scope(|scope| {
            scope.spawn(|| copy(half..leftover, high));
            copy(0..half, low);
        });
        (first, src)
    };
    // The node-to-number map's memory becomes the immediate dominators by node.
    let spare_pre = pre;
    // The lists by node ordinal and the edges were freed just now;
    // glibc keeps such memory in its heap when it came from there: give it back to the OS
    // before the semi-dominator pass allocates its own (else it counts twice in the peak RSS).
    crate::sys::os::malloc_trim();
    mark("dom: retainers renumbered");

    // Semi-dominators (eval/link with path compression), by DFS number. The three words a
    // number needs here are kept side by side: one cache line for a random access.
    #[derive(Clone, Copy)]
    struct Sd {
        ancestor: u32,
        label: u32,
        semi: u32,
    }
    let mut sd: Vec<Sd> = bigvec::with_capacity(n);
    sd.extend((0..n as u32).map(|i| Sd {
        ancestor: NONE,
        label: i,
        semi: i,
    }));
    let mut path: Vec<u32> = Vec::new();
    for w in (1..n).rev() {
        if w >= leftover {
            // Their own number as semi-dominator: no effect on the others, as in DevTools,
            // and the root as immediate dominator.
            sd[w].ancestor = parent[w];
            continue;
        }
        // A child of the root in the DFS tree (a real one or a start of case 4) has the root
        // as a retainer.
        let mut s = if parent[w] == 0 { 0 } else { sd[w].semi };
        if w >= 2 {
            // The pass goes down the numbers and the lists are stored in number order: the
            // list of w - 2 lies just before this one.
            let ahead = &rev_src[rev_first[w - 2] as usize..rev_first[w - 1] as usize];
            for &v in ahead.iter().take(16) {
                prefetch(&sd, v as usize);
            }
        }
        for &v in &rev_src[rev_first[w] as usize..rev_first[w + 1] as usize] {
            let semi_u = if sd[v as usize].ancestor == NONE {
                // Not linked yet (a smaller number, or the root): its semi-dominator is
                // still its own number.
                v
            } else {
                // Compress the ancestor chain of v (iteratively, top first).
                let mut x = v;
                while sd[sd[x as usize].ancestor as usize].ancestor != NONE {
                    path.push(x);
                    x = sd[x as usize].ancestor;
                }
                while let Some(x) = path.pop() {
                    let x = x as usize;
                    let a = sd[x].ancestor as usize;
                    let (la, lx) = (sd[a].label, sd[x].label);
                    if sd[la as usize].semi < sd[lx as usize].semi {
                        sd[x].label = la;
                    }
                    sd[x].ancestor = sd[a].ancestor;
                }
                sd[sd[v as usize].label as usize].semi
            };
            s = s.min(semi_u);
        }
        sd[w].semi = s;
        sd[w].ancestor = parent[w];
    }
    // The retainer lists' memory becomes the dominator tree's children.
    let spare_lists = (rev_first, rev_src);
    mark("dom: semi-dominators");
    // Immediate dominators: the nearest common ancestor of the parent and the semi-dominator.
    let mut idom = parent;
    for w in 1..n {
        let mut d = idom[w];
        while d > sd[w].semi {
            d = idom[d as usize];
        }
        idom[w] = d;
    }
    drop(sd);

    // Retained sizes: children come after their dominator in DFS order.
    let mut retained: Vec<u64> = bigvec::with_capacity(n);
    retained.extend((0..n).map(|i| g.self_size(i)));
    for w in (1..n).rev() {
        if w >= 16 {
            prefetch(&vertex, idom[w - 16] as usize);
        }
        if w >= 8 {
            prefetch(&retained, vertex[w - 8] as usize);
            prefetch(&retained, vertex[idom[w - 8] as usize] as usize);
        }
        let child = vertex[w] as usize;
        let dom = vertex[idom[w] as usize] as usize;
        retained[dom] += retained[child];
    }
    // Back to node ordinals.
    let mut idom_node = bigvec::filled_in(spare_pre, n, 0u32);
    for w in 1..n {
        if w + 16 < n {
            prefetch(&vertex, idom[w + 16] as usize);
            prefetch(&idom_node, vertex[w + 16] as usize);
        }
        idom_node[vertex[w] as usize] = vertex[idom[w] as usize];
    }
    drop((idom, vertex));
    mark("dom: idom, retained sizes");

    // Dominator-tree children, as one packed list.
    let (spare_first, spare_src) = spare_lists;
    let mut child_first = bigvec::filled_in(spare_first, n + 1, 0u32);
    for (i, &d) in idom_node.iter().enumerate().skip(1) {
        if let Some(&ahead) = idom_node.get(i + 16) {
            prefetch(&child_first, ahead as usize + 1);
        }
        child_first[d as usize + 1] += 1;
    }
    for i in 0..n {
        child_first[i + 1] += child_first[i];
    }
    let mut fill = child_first.clone();
    let mut children = bigvec::filled_in(spare_src, n.saturating_sub(1), 0u32);
    for (i, &d) in idom_node.iter().enumerate().skip(1) {
        if let Some(&ahead) = idom_node.get(i + 16) {
            prefetch(&fill, ahead as usize);
        }
        if let Some(&ahead) = idom_node.get(i + 8) {
            prefetch(&children, fill[ahead as usize] as usize);
        }
        children[fill[d as usize] as usize] = i as u32;
        fill[d as usize] += 1;
    }
    mark("dom: tree children");
    Dominators {
        idom: idom_node,
        retained,
        child_first,
        children,
    }
}
