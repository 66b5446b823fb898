//! Bounded containers for the console's histories: memory stays flat however
//! long a session runs.

use std::collections::VecDeque;

/// A fixed-capacity ring: pushing onto a full ring drops the oldest entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Ring<T> {
    pub fn new(cap: usize) -> Self {
        Ring {
            items: VecDeque::with_capacity(cap.min(64)),
            cap: cap.max(1),
        }
    }

    pub fn push(&mut self, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn newest(&self) -> Option<&T> {
        self.items.back()
    }

    pub fn iter_newest_first(&self) -> impl Iterator<Item = &T> {
        self.items.iter().rev()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Overflow {
    /// Keep every other point: the series keeps spanning its whole history at
    /// a coarser resolution (right for "executed vs scheduled since start").
    #[default]
    Thin,
    /// Drop the oldest half (right for discrete marks such as fills).
    Slide,
}

/// Chart points `(x, y)`, kept contiguous so `ratatui::widgets::Dataset` can
/// borrow them without copying. Bounded by `cap`; amortised O(1) push.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    points: Vec<(f64, f64)>,
    cap: usize,
    overflow: Overflow,
}

impl Series {
    pub fn thinning(cap: usize) -> Self {
        Series {
            points: Vec::new(),
            cap: cap.max(4),
            overflow: Overflow::Thin,
        }
    }

    pub fn sliding(cap: usize) -> Self {
        Series {
            points: Vec::new(),
            cap: cap.max(4),
            overflow: Overflow::Slide,
        }
    }

    pub fn push(&mut self, x: f64, y: f64) {
        // Several updates at the same instant: only the latest matters for a chart.
        if self.overflow == Overflow::Thin {
            if let Some(last) = self.points.last_mut() {
                if last.0 == x {
                    last.1 = y;
                    return;
                }
            }
        }
        if self.points.len() >= self.cap {
            match self.overflow {
                Overflow::Thin => {
                    let last = self.points.len() - 1;
                    let mut i = 0;
                    self.points.retain(|_| {
                        let keep = i % 2 == 0 || i == last;
                        i += 1;
                        keep
                    });
                }
                Overflow::Slide => {
                    self.points.drain(..self.cap / 2);
                }
            }
        }
        self.points.push((x, y));
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    pub fn last(&self) -> Option<(f64, f64)> {
        self.points.last().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Min and max of y, if any point.
    pub fn y_bounds(&self) -> Option<(f64, f64)> {
        self.points.iter().fold(None, |acc, &(_, y)| match acc {
            None => Some((y, y)),
            Some((lo, hi)) => Some((lo.min(y), hi.max(y))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_newest() {
        let mut r = Ring::new(3);
        for i in 0..10 {
            r.push(i);
        }
        assert_eq!(
            r.iter_newest_first().copied().collect::<Vec<_>>(),
            [9, 8, 7]
        );
    }

    #[test]
    fn thinning_series_spans_whole_history_and_stays_bounded() {
        let mut s = Series::thinning(16);
        for i in 0..10_000 {
            s.push(i as f64, i as f64);
        }
        assert!(s.points().len() <= 16);
        assert_eq!(s.points()[0].0, 0.0);
        assert_eq!(s.last().unwrap().0, 9999.0);
    }

    #[test]
    fn sliding_series_drops_oldest() {
        let mut s = Series::sliding(8);
        for i in 0..100 {
            s.push(i as f64, 1.0);
        }
        assert!(s.points().len() <= 8);
        assert_eq!(s.last().unwrap().0, 99.0);
        assert!(s.points()[0].0 > 80.0);
    }
}
