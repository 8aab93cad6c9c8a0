//! Duplicated strings: heap strings with identical contents, how many copies each has, and
//! the bytes all copies but one take (DevTools' "Duplicated strings" filter of the Summary
//! view, with the waste added up and one retainer path per string).
//!
//! Which nodes count, and their text, follow DevTools'
//! `HeapSnapshot.createNamedFilter('duplicatedStrings')`
//! (front_end/entrypoints/heap_snapshot_worker/HeapSnapshot.ts) with `JSHeapSnapshotNode.name`
//! and `consStringName`: nodes of type `string`, whose name V8 writes as their text, and of
//! type `concatenated string`, whose text DevTools rebuilds from their `first` and `second`
//! parts (V8 names them all `(concatenated string)`), except flattened cons strings (a part
//! is empty: the text lives in the flat string the other part leads to, which counts on its
//! own). `sliced string` nodes are left out, as DevTools leaves them out (V8 writes neither
//! their text nor their offset). As in DevTools' Summary, nodes of self size 0 are not
//! counted; unlike its filter, a text is a duplicate only when at least two copies of
//! nonzero size have it (DevTools also marks a string whose only other copy has size 0).
//!
//! V8 writes at most `--heap_snapshot_string_limit` (1024 by default) characters of a string's
//! text, with no mark that it cut anything, and DevTools stops rebuilding a cons string's
//! text once it has 1024 characters: strings that agree in their first 1024 characters fall
//! into one group even when they differ after that (their sizes may then differ; see
//! `wasted_size`). A group whose `length` is 1024 or more may be such a mix.

use std::borrow::Cow;
use std::collections::HashMap;

use super::devtools::{js_len, Classes};
use super::dominators::Dominators;
use super::graph::{Graph, Reverse};
use super::retainers::{self, RetainerPath};

/// How many characters of a string's text a group shows (`StringGroup::value`).
pub const VALUE_CHARS: usize = 80;

/// Strings of one text.
#[derive(Clone, Debug)]
pub struct StringGroup {
    /// The first `VALUE_CHARS` characters of the text (of a cons string, the text DevTools
    /// rebuilds from its parts).
    pub value: String,
    /// The text's length in the snapshot, in UTF-16 code units (JavaScript's `length`).
    pub length: u64,
    /// How many heap strings have this text (at least 2).
    pub count: u64,
    /// The self size of the largest copy: the one kept.
    pub self_size: u64,
    /// The self sizes of all copies.
    pub total_size: u64,
    /// `total_size - self_size`: what keeping one copy (the largest) would free. With copies
    /// of different sizes (one-byte and two-byte strings, external strings, texts cut at the
    /// snapshot's string limit) this is the smallest saving, never more than deduplication
    /// could give.
    pub wasted_size: u64,
    /// The copy nearest the roots (smallest distance, then smallest id).
    pub nearest: usize,
}

pub struct StringsReport {
    /// Groups of at least two copies, most wasted bytes first (then total size, count, text).
    /// Callers may cut the list; the totals below stay those of every group.
    pub groups: Vec<StringGroup>,
    /// How many groups there are.
    pub group_count: u64,
    /// Copies in all groups.
    pub strings: u64,
    /// Sum of `total_size` over all groups.
    pub total_size: u64,
    /// Sum of `wasted_size` over all groups.
    pub wasted_size: u64,
}

/// DevTools stops rebuilding a cons string's text once it has this many UTF-16 code units
/// (`consStringName`; the last part added may take it past).
const CONS_TEXT_LIMIT: usize = 1024;

/// Cons strings one text may expand: a bound DevTools does not have, so that a damaged file
/// whose cons strings form a cycle cannot make this loop forever.
const CONS_EXPANSIONS: usize = 1 << 16;

/// The text of cons string `i` as DevTools' `consStringName` rebuilds it: its parts' texts in
/// order (depth first, `first` before `second`), a missing part read as node 0's name.
fn cons_text(g: &Graph, i: usize) -> String {
    let mut text = String::new();
    let mut units = 0;
    let mut expanded = 0;
    let mut stack = vec![i];
    while units < CONS_TEXT_LIMIT && expanded < CONS_EXPANSIONS {
        let Some(v) = stack.pop() else { break };
        expanded += 1;
        if g.ntype[v] != g.nk.cons_string {
            let part = g.string(g.name[v]);
            units += js_len(part);
            text.push_str(part);
            continue;
        }
        let (first, second) = parts(g, v);
        stack.push(second.unwrap_or(0));
        stack.push(first.unwrap_or(0));
    }
    text
}

/// A cons string's `first` and `second` parts (its internal edges of those names).
fn parts(g: &Graph, v: usize) -> (Option<usize>, Option<usize>) {
    let (mut first, mut second) = (None, None);
    for e in g.edges(v) {
        if g.etype[e] != g.ek.internal {
            continue;
        }
        match g.string(g.ename.get(e).copied().unwrap_or(0)) {
            "first" if first.is_none() => first = Some(g.eto[e] as usize),
            "second" if second.is_none() => second = Some(g.eto[e] as usize),
            _ => {}
        }
        if first.is_some() && second.is_some() {
            break;
        }
    }
    (first, second)
}

/// The text DevTools gives a string node (`JSHeapSnapshotNode.name`).
fn text_of(g: &Graph, i: usize) -> Cow<'_, str> {
    if g.ntype[i] == g.nk.cons_string {
        cons_text(g, i).into()
    } else {
        g.string(g.name[i]).into()
    }
}

/// Whether cons string `i` is flattened: a part's text is empty (`isFlatConsString`).
fn is_flat_cons(g: &Graph, i: usize) -> bool {
    let (first, second) = parts(g, i);
    [first, second]
        .into_iter()
        .flatten()
        .any(|p| text_of(g, p).is_empty())
}

/// Groups the counted `string` and unflattened `concatenated string` nodes of `g` by text;
/// `dist` picks each group's nearest copy.
pub fn duplicated(g: &Graph, dist: &[u32]) -> StringsReport {
    struct Acc {
        count: u64,
        max: u64,
        total: u64,
        nearest: usize,
    }
    let mut by_text: HashMap<Cow<'_, str>, Acc> = HashMap::new();
    for i in 0..g.node_count() {
        let t = g.ntype[i];
        if !g.counted(i) || !(t == g.nk.string || t == g.nk.cons_string) {
            continue;
        }
        if t == g.nk.cons_string && is_flat_cons(g, i) {
            continue;
        }
        let size = g.self_size(i);
        let a = by_text.entry(text_of(g, i)).or_insert(Acc {
            count: 0,
            max: 0,
            total: 0,
            nearest: i,
        });
        a.count += 1;
        a.max = a.max.max(size);
        a.total += size;
        let n = a.nearest;
        if (dist[i], g.id[i]) < (dist[n], g.id[n]) {
            a.nearest = i;
        }
    }
    let mut groups: Vec<StringGroup> = by_text
        .into_iter()
        .filter(|(_, a)| a.count >= 2)
        .map(|(text, a)| StringGroup {
            value: text.chars().take(VALUE_CHARS).collect(),
            length: js_len(&text) as u64,
            count: a.count,
            self_size: a.max,
            total_size: a.total,
            wasted_size: a.total - a.max,
            nearest: a.nearest,
        })
        .collect();
    groups.sort_by(|a, b| {
        b.wasted_size
            .cmp(&a.wasted_size)
            .then(b.total_size.cmp(&a.total_size))
            .then(b.count.cmp(&a.count))
            .then_with(|| a.value.cmp(&b.value))
            .then(g.id[a.nearest].cmp(&g.id[b.nearest]))
    });
    StringsReport {
        group_count: groups.len() as u64,
        strings: groups.iter().map(|s| s.count).sum(),
        total_size: groups.iter().map(|s| s.total_size).sum(),
        wasted_size: groups.iter().map(|s| s.wasted_size).sum(),
        groups,
    }
}

/// The retainer path of each group's nearest copy (for the first `top` groups).
pub fn paths(
    g: &Graph,
    rev: &Reverse,
    dom: &Dominators,
    cls: &Classes,
    dist: &[u32],
    groups: &[StringGroup],
    max_depth: usize,
) -> Vec<RetainerPath> {
    groups
        .iter()
        .map(|s| retainers::path_to(g, rev, dom, cls, dist, s.nearest, max_depth))
        .collect()
}
