//! A growable bit set over `u32` indices, used by the graph builder (wanted strings, internal
//! edge names), the graph (detached nodes, WeakMap table edges) and the dominator pass
//! (retaining edges).

/// A set of `u32`s as a bit per index. Reading past the end gives false.
#[derive(Clone, Debug, Default)]
pub struct BitSet(Vec<u64>);

impl BitSet {
    pub fn new() -> BitSet {
        BitSet(Vec::new())
    }

    /// A set with room for indices below `len` from the start, so that `insert` below `len`
    /// never grows it.
    pub fn with_len(len: usize) -> BitSet {
        BitSet(vec![0; len.div_ceil(64)])
    }

    /// The set whose bit `i` is bit `i % 64` of `words[i / 64]`.
    pub fn from_words(words: Vec<u64>) -> BitSet {
        BitSet(words)
    }

    /// Adds `i`, growing the set as needed.
    #[inline]
    pub fn insert(&mut self, i: u32) {
        let w = (i / 64) as usize;
        if w >= self.0.len() {
            self.grow(w);
        }
        self.0[w] |= 1 << (i % 64);
    }

    /// Room for word `w` (out of line, so that `insert` inlines to a test and an OR).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, w: usize) {
        self.0.resize(w + 1, 0);
    }

    /// Whether `i` is in the set.
    #[inline]
    pub fn contains(&self, i: u32) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Whether nothing was ever inserted (nor room made with `with_len`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::BitSet;

    #[test]
    fn inserts_grow_and_reads_past_the_end_are_false() {
        let mut b = BitSet::new();
        assert!(b.is_empty() && !b.contains(0) && !b.contains(u32::MAX));
        b.insert(0);
        b.insert(64);
        b.insert(1000);
        assert!(b.contains(0) && b.contains(64) && b.contains(1000));
        assert!(!b.contains(1) && !b.contains(63) && !b.contains(999) && !b.contains(5000));
        let mut s = BitSet::with_len(65);
        s.insert(64);
        assert!(s.contains(64) && !s.contains(63));
    }
}
