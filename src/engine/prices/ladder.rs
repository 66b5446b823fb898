//! `PriceLadder`: an ordered map from price (integer ticks) to a value, built
//! for order books.
//!
//! Book activity clusters around the touch: almost every update, trade and
//! best-price query lands within a few hundred ticks of it, while a real
//! venue's depth stream also reports levels thousands of ticks away. A
//! `BTreeMap` pays a tree search (several cache misses) for every access; the
//! ladder keeps a dense window of slots indexed by `price - base`, with an
//! occupancy bitmap to find the best level and to walk levels in order, and
//! keeps the rare prices outside the window in two overflow trees. Accesses
//! inside the window are an index computation, and the window grows (up to a
//! bound) or moves to follow where the activity is.
//!
//! Semantically it is exactly an ordered map: iteration order, first/last and
//! ranges are the same as a `BTreeMap`'s, so swapping one for the other cannot
//! change what a simulation does (tests compare the two on random operations).

use std::collections::BTreeMap;
use std::ops::Bound;

use super::Px;

/// Slots of a new window.
const MIN_SLOTS: usize = 256;
/// Largest window: 64 Ki slots (e.g. ±327 USD around a BTCUSDT touch at a
/// 0.01 tick); prices farther away live in the overflow trees.
const MAX_SLOTS: usize = 1 << 16;
/// Overflow inserts tolerated (beyond an eighth of the window inserts) before
/// the window moves to where the activity went.
const MISS_ALLOWANCE: u64 = 1024;
/// Inserts over which hits and misses are weighed (older ones count half,
/// a quarter, ...).
const RECENT_INSERTS: u64 = 1 << 16;

#[derive(Debug, Clone)]
pub struct PriceLadder<V> {
    /// Price of `slots[0]`.
    base: Px,
    slots: Slots<V>,
    /// Occupancy of `slots`, one bit per slot.
    bits: Vec<u64>,
    /// The lowest and highest occupied slots (while `in_window > 0`): the
    /// best bid or ask is one slot read away.
    lo: usize,
    hi: usize,
    in_window: usize,
    /// Prices below and above the window.
    below: BTreeMap<Px, V>,
    above: BTreeMap<Px, V>,
    /// Inserts that landed in the window / in the overflow since the window
    /// last moved: when the overflow takes most of them, the window follows.
    hits: u64,
    misses: u64,
}

impl<V> Default for PriceLadder<V> {
    fn default() -> Self {
        PriceLadder {
            base: 0,
            slots: Slots::default(),
            bits: Vec::new(),
            lo: usize::MAX,
            hi: 0,
            in_window: 0,
            below: BTreeMap::new(),
            above: BTreeMap::new(),
            hits: 0,
            misses: 0,
        }
    }
}

/// Slots of a page of the window.
const PAGE: usize = 256;

/// The window's slots, allocated a page at a time when first used: a wide
/// window over a sparse book costs memory (and page faults) only where
/// levels actually are.
#[derive(Debug, Clone)]
struct Slots<V> {
    pages: Vec<Option<Box<[Option<V>; PAGE]>>>,
    len: usize,
}

impl<V> Default for Slots<V> {
    fn default() -> Self {
        Slots {
            pages: Vec::new(),
            len: 0,
        }
    }
}

impl<V> Slots<V> {
    fn with_len(len: usize) -> Self {
        Slots {
            pages: (0..len.div_ceil(PAGE)).map(|_| None).collect(),
            len,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&V> {
        self.pages[i / PAGE].as_ref()?[i % PAGE].as_ref()
    }

    #[inline]
    fn get_mut(&mut self, i: usize) -> Option<&mut V> {
        self.pages[i / PAGE].as_mut()?[i % PAGE].as_mut()
    }

    #[inline]
    fn put(&mut self, i: usize, value: V) -> Option<V> {
        let page =
            self.pages[i / PAGE].get_or_insert_with(|| Box::new(std::array::from_fn(|_| None)));
        page[i % PAGE].replace(value)
    }

    #[inline]
    fn take(&mut self, i: usize) -> Option<V> {
        self.pages[i / PAGE].as_mut()?[i % PAGE].take()
    }
}

/// Where a price falls relative to the window.
enum Place {
    Below,
    Slot(usize),
    Above,
}

impl<V> PriceLadder<V> {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.in_window + self.below.len() + self.above.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn place(&self, price: Px) -> Place {
        if price < self.base {
            return Place::Below;
        }
        // With price >= base the true difference lies in [0, 2^64), which
        // the wrapping subtraction read as unsigned gives exactly.
        let off = price.wrapping_sub(self.base) as u64;
        if off < self.slots.len() as u64 {
            Place::Slot(off as usize)
        } else {
            Place::Above
        }
    }

    #[inline]
    fn price_of(&self, slot: usize) -> Px {
        self.base + slot as Px
    }

    #[inline]
    pub fn get(&self, price: Px) -> Option<&V> {
        match self.place(price) {
            Place::Slot(i) => self.slots.get(i),
            Place::Below => self.below.get(&price),
            Place::Above => self.above.get(&price),
        }
    }

    #[inline]
    pub fn get_mut(&mut self, price: Px) -> Option<&mut V> {
        match self.place(price) {
            Place::Slot(i) => self.slots.get_mut(i),
            Place::Below => self.below.get_mut(&price),
            Place::Above => self.above.get_mut(&price),
        }
    }

    /// Insert or replace; returns the previous value.
    #[inline]
    pub fn insert(&mut self, price: Px, value: V) -> Option<V> {
        match self.place_for_insert(price) {
            Place::Slot(i) => {
                let old = self.slots.put(i, value);
                if old.is_none() {
                    self.mark(i);
                }
                old
            }
            Place::Below => self.below.insert(price, value),
            Place::Above => self.above.insert(price, value),
        }
    }

    /// The value at `price`, inserted with `make` when absent.
    pub fn get_or_insert_with(&mut self, price: Px, make: impl FnOnce() -> V) -> &mut V {
        match self.place_for_insert(price) {
            Place::Slot(i) => {
                if self.slots.get(i).is_none() {
                    self.slots.put(i, make());
                    self.mark(i);
                }
                self.slots.get_mut(i).expect("slot just filled")
            }
            Place::Below => self.below.entry(price).or_insert_with(make),
            Place::Above => self.above.entry(price).or_insert_with(make),
        }
    }

    #[inline]
    pub fn remove(&mut self, price: Px) -> Option<V> {
        match self.place(price) {
            Place::Slot(i) => {
                let old = self.slots.take(i);
                if old.is_some() {
                    self.unmark(i);
                }
                old
            }
            Place::Below => self.below.remove(&price),
            Place::Above => self.above.remove(&price),
        }
    }

    pub fn clear(&mut self) {
        let words = if self.in_window == 0 {
            0..0
        } else {
            self.lo / 64..self.hi / 64 + 1
        };
        for w in words {
            let mut word = self.bits[w];
            while word != 0 {
                let b = word.trailing_zeros() as usize;
                self.slots.take(w * 64 + b);
                word &= word - 1;
            }
            self.bits[w] = 0;
        }
        self.in_window = 0;
        self.lo = usize::MAX;
        self.hi = 0;
        self.below.clear();
        self.above.clear();
    }

    /// Lowest price and its value. The best bid or ask is asked for after
    /// nearly every event: the common case (nothing below the window) does
    /// not touch the overflow trees.
    #[inline]
    pub fn first(&self) -> Option<(Px, &V)> {
        if self.below.is_empty() {
            if let Some(i) = self.window_first() {
                return Some((self.price_of(i), self.slots.get(i)?));
            }
            return self.above.first_key_value().map(|(p, v)| (*p, v));
        }
        self.below.first_key_value().map(|(p, v)| (*p, v))
    }

    /// Highest price and its value.
    #[inline]
    pub fn last(&self) -> Option<(Px, &V)> {
        if self.above.is_empty() {
            if let Some(i) = self.window_last() {
                return Some((self.price_of(i), self.slots.get(i)?));
            }
            return self.below.last_key_value().map(|(p, v)| (*p, v));
        }
        self.above.last_key_value().map(|(p, v)| (*p, v))
    }

    pub fn first_mut(&mut self) -> Option<(Px, &mut V)> {
        let p = self.first()?.0;
        Some((p, self.get_mut(p)?))
    }

    pub fn last_mut(&mut self) -> Option<(Px, &mut V)> {
        let p = self.last()?.0;
        Some((p, self.get_mut(p)?))
    }

    /// All levels in ascending price order (`.rev()` for descending).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Px, &V)> + '_ {
        self.range((Bound::Unbounded, Bound::Unbounded))
    }

    /// Levels with prices in the given bounds, ascending (`.rev()` for descending).
    pub fn range(
        &self,
        (lo, hi): (Bound<Px>, Bound<Px>),
    ) -> impl DoubleEndedIterator<Item = (Px, &V)> + '_ {
        // Each part is clipped to the bounds; an empty or inverted range
        // yields nothing (unlike BTreeMap::range, which panics).
        let empty = match (lo, hi) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b))
            | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
            _ => false,
        };
        // `below` holds only prices under the window and `above` only prices
        // past it: skip a tree the bounds cannot reach (saves a tree search
        // for the common "levels through the touch" query).
        let window_end = self.base as i128 + self.slots.len() as i128;
        let reaches_below = match lo {
            Bound::Unbounded => true,
            Bound::Included(p) | Bound::Excluded(p) => p < self.base,
        } && !self.below.is_empty();
        let reaches_above = match hi {
            Bound::Unbounded => true,
            Bound::Included(p) => p as i128 >= window_end,
            Bound::Excluded(p) => p as i128 > window_end,
        } && !self.above.is_empty();
        let below = (!empty && reaches_below).then(|| self.below.range((lo, hi)));
        let above = (!empty && reaches_above).then(|| self.above.range((lo, hi)));
        let window = if empty {
            WindowIter::empty(self)
        } else {
            WindowIter::bounded(self, lo, hi)
        };
        below
            .into_iter()
            .flatten()
            .map(|(p, v)| (*p, v))
            .chain(window)
            .chain(above.into_iter().flatten().map(|(p, v)| (*p, v)))
    }

    /// Keep only the levels for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(Px, &mut V) -> bool) {
        self.below.retain(|p, v| keep(*p, v));
        for w in 0..self.bits.len() {
            let mut word = self.bits[w];
            while word != 0 {
                let b = word.trailing_zeros() as usize;
                word &= word - 1;
                let i = w * 64 + b;
                let price = self.price_of(i);
                let slot = self.slots.get_mut(i).expect("marked slot holds a value");
                if !keep(price, slot) {
                    self.slots.take(i);
                    self.unmark(i);
                }
            }
        }
        self.above.retain(|p, v| keep(*p, v));
    }

    // ---- the window --------------------------------------------------------

    #[inline]
    fn mark(&mut self, i: usize) {
        let w = i / 64;
        self.bits[w] |= 1 << (i % 64);
        self.in_window += 1;
        self.lo = self.lo.min(i);
        self.hi = self.hi.max(i);
    }

    #[inline]
    fn unmark(&mut self, i: usize) {
        self.bits[i / 64] &= !(1 << (i % 64));
        self.in_window -= 1;
        if self.in_window == 0 {
            self.lo = usize::MAX;
            self.hi = 0;
            return;
        }
        // Keep the ends exact, so that first/last never scan. An occupied
        // slot remains on the far side of a removed end.
        if i == self.lo {
            self.lo = self.next_occupied(i);
        }
        if i == self.hi {
            self.hi = self.prev_occupied(i);
        }
    }

    /// The first occupied slot at or after `from` (one must exist).
    fn next_occupied(&self, from: usize) -> usize {
        let mut w = from / 64;
        let mut word = self.bits[w] & (!0u64 << (from % 64));
        while word == 0 {
            w += 1;
            word = self.bits[w];
        }
        w * 64 + word.trailing_zeros() as usize
    }

    /// The last occupied slot at or before `from` (one must exist).
    fn prev_occupied(&self, from: usize) -> usize {
        let mut w = from / 64;
        let mut word = self.bits[w] & (!0u64 >> (63 - from % 64));
        while word == 0 {
            w -= 1;
            word = self.bits[w];
        }
        w * 64 + 63 - word.leading_zeros() as usize
    }

    #[inline]
    fn window_first(&self) -> Option<usize> {
        (self.in_window > 0).then_some(self.lo)
    }

    #[inline]
    fn window_last(&self) -> Option<usize> {
        (self.in_window > 0).then_some(self.hi)
    }

    /// Where a new value at `price` goes, growing or moving the window when
    /// that keeps the activity inside it.
    fn place_for_insert(&mut self, price: Px) -> Place {
        if self.hits + self.misses >= RECENT_INSERTS {
            // Judge by recent inserts: a window that served a long past well
            // must still follow a move.
            self.hits /= 2;
            self.misses /= 2;
        }
        if self.slots.is_empty() {
            // The first price sets the window, centred on it.
            self.relocate(price.saturating_sub((MIN_SLOTS / 2) as Px), MIN_SLOTS);
        }
        match self.place(price) {
            Place::Slot(i) => {
                self.hits += 1;
                return Place::Slot(i);
            }
            outside => {
                if let Some((base, len)) = self.grown_to_include(price) {
                    self.relocate(base, len);
                } else {
                    self.misses += 1;
                    if self.misses > self.hits / 8 + MISS_ALLOWANCE {
                        // The activity has moved away: follow it.
                        self.relocate(price.saturating_sub((MAX_SLOTS / 2) as Px), MAX_SLOTS);
                    } else {
                        return outside;
                    }
                }
            }
        }
        self.hits += 1;
        match self.place(price) {
            Place::Slot(i) => Place::Slot(i),
            // Only at the very ends of the price range, where the window
            // cannot be placed around the price.
            outside => outside,
        }
    }

    /// A larger window (a power of two at most `MAX_SLOTS`) that holds the
    /// current one and `price`, if there is one.
    fn grown_to_include(&self, price: Px) -> Option<(Px, usize)> {
        let len = self.slots.len();
        if len >= MAX_SLOTS {
            return None;
        }
        let lo = (self.base as i128).min(price as i128);
        let hi = (self.base as i128 + len as i128).max(price as i128 + 1);
        let need = (hi - lo) as u128;
        if need > MAX_SLOTS as u128 {
            return None;
        }
        let new_len = (need as usize)
            .next_power_of_two()
            .max(len * 2)
            .min(MAX_SLOTS);
        // Grow towards the new price, keeping the old window inside.
        let base = if (price as i128) < self.base as i128 {
            hi - new_len as i128
        } else {
            lo
        };
        let base = Px::try_from(base).ok()?;
        base.checked_add(new_len as Px)?;
        Some((base, new_len))
    }

    /// Move the window to `[base, base + len)`: every value is moved to its
    /// new home (slot or overflow tree).
    fn relocate(&mut self, base: Px, len: usize) {
        let base = base.min(Px::MAX - len as Px);
        let mut old_slots = std::mem::take(&mut self.slots);
        let old_bits = std::mem::take(&mut self.bits);
        let old_base = self.base;
        let mut below = std::mem::take(&mut self.below);
        let mut above = std::mem::take(&mut self.above);

        self.base = base;
        self.slots = Slots::with_len(len);
        self.bits = vec![0; len.div_ceil(64)];
        self.lo = usize::MAX;
        self.hi = 0;
        self.in_window = 0;
        self.hits = 0;
        self.misses = 0;

        let put = |ladder: &mut Self, price: Px, value: V| match ladder.place(price) {
            Place::Slot(i) => {
                ladder.slots.put(i, value);
                ladder.mark(i);
            }
            Place::Below => {
                ladder.below.insert(price, value);
            }
            Place::Above => {
                ladder.above.insert(price, value);
            }
        };
        // Overflow prices that the new window covers move in; the rest stay.
        let pull = |tree: &mut BTreeMap<Px, V>, ladder: &mut Self| {
            let inside: Vec<Px> = tree
                .range(ladder.base..ladder.base.saturating_add(len as Px))
                .map(|(p, _)| *p)
                .collect();
            for p in inside {
                let v = tree.remove(&p).expect("key just listed");
                let i = (p - ladder.base) as usize;
                ladder.slots.put(i, v);
                ladder.mark(i);
            }
        };
        pull(&mut below, self);
        pull(&mut above, self);
        // Both trees now hold only prices outside the new window: as the new
        // window is contiguous, each key is either below or above it.
        for (p, v) in below.into_iter().chain(above) {
            put(self, p, v);
        }
        for (w, &word) in old_bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let b = word.trailing_zeros() as usize;
                word &= word - 1;
                let i = w * 64 + b;
                let v = old_slots.take(i).expect("marked slot holds a value");
                put(self, old_base + i as Px, v);
            }
        }
    }
}

/// Occupied slots of a window between two bounds, in either direction.
struct WindowIter<'a, V> {
    ladder: &'a PriceLadder<V>,
    /// Next slot to look at from the front, and one past the last from the back.
    front: usize,
    back: usize,
}

impl<'a, V> WindowIter<'a, V> {
    fn empty(ladder: &'a PriceLadder<V>) -> Self {
        WindowIter {
            ladder,
            front: 0,
            back: 0,
        }
    }

    fn bounded(ladder: &'a PriceLadder<V>, lo: Bound<Px>, hi: Bound<Px>) -> Self {
        let n = ladder.slots.len();
        let slot_at_or_after =
            |p: i128| -> usize { (p - ladder.base as i128).clamp(0, n as i128) as usize };
        let front = match lo {
            Bound::Unbounded => 0,
            Bound::Included(p) => slot_at_or_after(p as i128),
            Bound::Excluded(p) => slot_at_or_after(p as i128 + 1),
        };
        let back = match hi {
            Bound::Unbounded => n,
            Bound::Included(p) => slot_at_or_after(p as i128 + 1),
            Bound::Excluded(p) => slot_at_or_after(p as i128),
        };
        // Only the words between the lowest and highest occupied ones can
        // hold anything: a query past the last level costs nothing.
        let (front, back) = if ladder.in_window == 0 {
            (0, 0)
        } else {
            (front.max(ladder.lo), back.min(ladder.hi + 1))
        };
        WindowIter {
            ladder,
            front,
            back: back.max(front),
        }
    }

    fn item(&self, i: usize) -> (Px, &'a V) {
        let l = self.ladder;
        (
            l.price_of(i),
            l.slots.get(i).expect("marked slot holds a value"),
        )
    }
}

impl<'a, V> Iterator for WindowIter<'a, V> {
    type Item = (Px, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let bits = &self.ladder.bits;
        while self.front < self.back {
            let w = self.front / 64;
            let word = bits[w] & (!0u64 << (self.front % 64));
            if word == 0 {
                self.front = (w + 1) * 64;
                continue;
            }
            let i = w * 64 + word.trailing_zeros() as usize;
            if i >= self.back {
                self.front = self.back;
                return None;
            }
            self.front = i + 1;
            return Some(self.item(i));
        }
        None
    }
}

impl<V> DoubleEndedIterator for WindowIter<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let bits = &self.ladder.bits;
        while self.back > self.front {
            let last = self.back - 1;
            let w = last / 64;
            let word = bits[w] & (!0u64 >> (63 - last % 64));
            if word == 0 {
                self.back = w * 64;
                continue;
            }
            let i = w * 64 + 63 - word.leading_zeros() as usize;
            if i < self.front {
                self.back = self.front;
                return None;
            }
            self.back = i;
            return Some(self.item(i));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn check_same(l: &PriceLadder<i64>, m: &BTreeMap<Px, i64>) {
        assert_eq!(l.len(), m.len());
        let a: Vec<_> = l.iter().map(|(p, v)| (p, *v)).collect();
        let b: Vec<_> = m.iter().map(|(p, v)| (*p, *v)).collect();
        assert_eq!(a, b);
        let a: Vec<_> = l.iter().rev().map(|(p, v)| (p, *v)).collect();
        let b: Vec<_> = m.iter().rev().map(|(p, v)| (*p, *v)).collect();
        assert_eq!(a, b);
        assert_eq!(
            l.first().map(|(p, v)| (p, *v)),
            m.first_key_value().map(|(p, v)| (*p, *v))
        );
        assert_eq!(
            l.last().map(|(p, v)| (p, *v)),
            m.last_key_value().map(|(p, v)| (*p, *v))
        );
    }

    /// Random operations on a ladder and a BTreeMap give the same map, with
    /// prices clustered around a drifting touch plus far-away outliers, so
    /// the window grows, overflows and moves.
    #[test]
    fn behaves_like_an_ordered_map() {
        for seed in 0..8 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut l = PriceLadder::new();
            let mut m = BTreeMap::new();
            let mut touch: i64 = 1_000_000;
            for step in 0..40_000 {
                touch += rng.random_range(-3..=3) * if step % 5000 < 100 { 400 } else { 1 };
                let p = match rng.random_range(0..10) {
                    0 => touch + rng.random_range(-200_000..200_000),
                    1 => rng.random_range(-5..5) * (i64::MAX / 5),
                    _ => touch + rng.random_range(-300..300),
                };
                match rng.random_range(0..6) {
                    0 | 1 => assert_eq!(l.insert(p, step), m.insert(p, step)),
                    2 => assert_eq!(l.remove(p), m.remove(&p)),
                    3 => {
                        *l.get_or_insert_with(p, || -1) += 1;
                        *m.entry(p).or_insert(-1) += 1;
                    }
                    4 => {
                        let lo = p.saturating_sub(rng.random_range(0..500));
                        let a: Vec<_> = l
                            .range((Bound::Excluded(lo), Bound::Included(p)))
                            .rev()
                            .map(|(p, v)| (p, *v))
                            .collect();
                        let b: Vec<_> = m
                            .range((Bound::Excluded(lo), Bound::Included(p)))
                            .rev()
                            .map(|(p, v)| (*p, *v))
                            .collect();
                        assert_eq!(a, b);
                        let a: Vec<_> = l
                            .range((Bound::Excluded(p), Bound::Unbounded))
                            .take(3)
                            .map(|(p, v)| (p, *v))
                            .collect();
                        let b: Vec<_> = m
                            .range((Bound::Excluded(p), Bound::Unbounded))
                            .take(3)
                            .map(|(p, v)| (*p, *v))
                            .collect();
                        assert_eq!(a, b);
                    }
                    _ => {
                        assert_eq!(l.get(p), m.get(&p));
                        if let Some(v) = l.get_mut(p) {
                            *v += 7;
                            *m.get_mut(&p).unwrap() += 7;
                        }
                    }
                }
                if step % 997 == 0 {
                    check_same(&l, &m);
                }
                if step % 9_973 == 0 {
                    l.retain(|p, v| (p + *v) % 3 != 0);
                    m.retain(|p, v| (p + *v) % 3 != 0);
                    check_same(&l, &m);
                }
            }
            check_same(&l, &m);
            let c = l.clone();
            check_same(&c, &m);
            l.clear();
            m.clear();
            check_same(&l, &m);
            l.insert(5, 5);
            m.insert(5, 5);
            check_same(&l, &m);
        }
    }

    #[test]
    fn window_follows_the_activity() {
        let mut l = PriceLadder::new();
        for p in 0..100 {
            l.insert(p, p);
        }
        // A burst of activity far away: once it dominates, the window moves
        // there, and the old levels are kept in the overflow.
        for p in 10_000_000..10_010_000 {
            l.insert(p, p);
        }
        assert!(matches!(l.place(10_005_000), Place::Slot(_)));
        assert_eq!(l.len(), 10_100);
        assert_eq!(l.first(), Some((0, &0)));
        assert_eq!(l.last(), Some((10_009_999, &10_009_999)));
    }

    #[test]
    fn window_follows_a_move_after_a_long_stay() {
        let mut l = PriceLadder::new();
        // A long history near 1,000, then the activity moves for good.
        for k in 0..1_000_000 {
            l.insert(1_000 + k % 200, k);
        }
        for k in 0..200_000 {
            l.insert(50_000_000 + k % 200, k);
        }
        assert!(matches!(l.place(50_000_100), Place::Slot(_)));
        assert_eq!(l.len(), 400);
    }

    #[test]
    fn empty_and_inverted_ranges_yield_nothing() {
        let mut l = PriceLadder::new();
        l.insert(10, 1);
        assert_eq!(
            l.range((Bound::Included(11), Bound::Excluded(10))).count(),
            0
        );
        assert_eq!(
            l.range((Bound::Excluded(10), Bound::Excluded(10))).count(),
            0
        );
        assert_eq!(
            l.range((Bound::Included(10), Bound::Included(10))).count(),
            1
        );
    }
}
