//! The learning loop: training data from the simulator (rollouts) and from
//! recorded sessions, and the evaluation of every strategy on held-out seeds.

pub mod calibrate;
pub mod cli;
pub mod cost;
pub mod dataset;
pub mod eval;
pub mod gates;

/// `f` over every item on `threads` threads, results in item order
/// (item i goes to thread i mod threads, so the split is deterministic).
pub(crate) fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.max(1).min(items.len().max(1));
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                scope.spawn(move || {
                    (t..items.len())
                        .step_by(threads)
                        .map(|i| (i, f(&items[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("worker thread panicked") {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (for 95%
/// intervals from few seeds), by the Cornish–Fisher expansion around the
/// normal quantile (Abramowitz & Stegun 26.7.5; within 0.5% for df ≥ 3).
pub fn t975(df: usize) -> f64 {
    let z: f64 = 1.959_963_985;
    if df == 0 {
        return f64::INFINITY;
    }
    let v = df as f64;
    z + (z.powi(3) + z) / (4.0 * v)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / (384.0 * v.powi(3))
}

#[cfg(test)]
mod tests {
    #[test]
    fn t_quantiles_match_the_tables() {
        // Tables: df 5 → 2.571, 10 → 2.228, 29 → 2.045, 100 → 1.984.
        for (df, want) in [(5, 2.571), (10, 2.228), (29, 2.045), (100, 1.984)] {
            let got = super::t975(df);
            assert!(
                (got - want).abs() / want < 0.006,
                "df {df}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn par_map_keeps_order() {
        let xs: Vec<u64> = (0..17).collect();
        assert_eq!(
            super::par_map(&xs, 3, |x| x * 2),
            (0..17).map(|x| x * 2).collect::<Vec<_>>()
        );
    }
}
