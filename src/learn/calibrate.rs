//! `vigil calibrate`: checks the simulator must pass before its figures,
//! and the models trained on it, are trusted.
//!
//! - `impact`: metaorders of 0.5–20% of ADV on a calm market. Each seed runs
//!   once without the metaorder and once per size with it; the latent price
//!   path is the same in all of them (it has its own random stream), so the
//!   difference of the mids is the metaorder's impact, free of the market's
//!   own moves. The exponent of peak impact against Q/V is fitted in log-log
//!   with a bootstrap interval over seeds, and the decay is measured three
//!   hours after the metaorder ends. Targets: the square-root law (exponent
//!   0.5 ± 0.1) and a decay to roughly two thirds of the peak.
//! - `no-free-lunch`: adaptive against Almgren–Chriss in a world where
//!   nothing observable predicts prices (`scenarios/no_free_lunch.toml`). A
//!   policy significantly cheaper than AC there has found a leak.
//! - `big-order`: the default scenario's 500,000-share order in a 2M-ADV name
//!   (25% of ADV) with every strategy, beside the square-root law's estimate,
//!   and where the early slippage the console shows comes from.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::cost::implementation_shortfall_bps;
use super::eval::{self, EvalOptions, Interval};
use super::par_map;
use crate::engine::scenario::{format_clock, parse_clock};
use crate::engine::strategy::CLASSIC;
use crate::engine::{Engine, EngineOptions, Scenario};
use crate::protocol::Side;

/// Calibration seeds: apart from training (below 1,000,000) and evaluation seeds.
pub const CALIBRATION_SEED_BASE: u64 = 3_000_000;

/// Metaorder sizes as fractions of ADV.
pub const IMPACT_SIZES: [f64; 6] = [0.005, 0.01, 0.02, 0.05, 0.10, 0.20];

const ADV: f64 = 2_000_000.0;
const DAILY_VOL: f64 = 0.02;
const META_START: &str = "09:45:00";
const META_END: &str = "12:45:00";
/// The decay is read this long after the metaorder ends.
const DECAY_AFTER_S: u64 = 3 * 3600;

#[derive(Debug, Clone, Serialize)]
pub struct ImpactRow {
    pub adv_pct: f64,
    pub qty: f64,
    /// Mean displacement of the mid at the metaorder's end, against the same
    /// seed without it (bps, in the metaorder's direction).
    pub peak_bps: f64,
    pub peak_ci95: [f64; 2],
    /// The same three hours later.
    pub after_bps: f64,
    pub after_ci95: [f64; 2],
    pub decay_ratio: f64,
    /// Y·σ·√(Q/V) with the simulator's own Y and σ.
    pub sqrt_law_bps: f64,
    /// Mid move since the start, not paired with a run without the
    /// metaorder: what a study of real fills would see (the market's own moves
    /// make it noisy).
    pub unpaired_peak_bps: f64,
    pub unpaired_ci95: [f64; 2],
    pub filled_pct: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImpactReport {
    pub seeds: usize,
    pub first_seed: u64,
    pub exponent: f64,
    pub ci95: [f64; 2],
    /// Y of the fitted law I = Y·σ·(Q/V)^exponent, σ = the configured daily volatility.
    pub y: f64,
    pub decay_ratio: f64,
    pub decay_ci95: [f64; 2],
    pub rows: Vec<ImpactRow>,
    /// Exponent within 0.5 ± 0.1 and decay ratio within 0.55–0.80.
    pub pass: bool,
    pub market: String,
}

fn calibration_scenario(size: Option<(f64, Side)>) -> Result<Scenario> {
    let mut text = format!(
        r#"
name = "calibrate_impact"
description = "A calm market for impact calibration"
start = "09:30:00"
end = "16:00:00"
[controls]
max_child_qty = 100000
max_child_value = 10000000
[[symbols]]
symbol = "ACME"
reference_price = 42.50
adv = {ADV}
spread = 0.02
daily_vol = {DAILY_VOL}
regime = "calm"
"#
    );
    if let Some((share, side)) = size {
        let side = match side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        };
        text.push_str(&format!(
            r#"
[[orders]]
id = "META"
symbol = "ACME"
side = "{side}"
qty = {qty}
strategy = "vwap"
start = "{META_START}"
end = "{META_END}"
max_participation = 0.5
max_child_qty = 50000
"#,
            qty = (share * ADV).round()
        ));
    }
    Scenario::parse(&text, "calibration")
}

/// Mids (price units) at the metaorder's start, end and decay times, and the
/// filled share.
fn impact_run(size: Option<(f64, Side)>, seed: u64) -> Result<(f64, f64, f64, f64)> {
    let scenario = calibration_scenario(size)?;
    let mut engine = Engine::new(
        &scenario,
        &EngineOptions {
            seed: Some(seed),
            ..Default::default()
        },
    )?;
    let start = parse_clock(META_START)?;
    let end = parse_clock(META_END)?;
    let mut mid_at = |t: u64| -> Result<f64> {
        engine.run_until(t);
        engine.drain_events().for_each(drop);
        engine.mid_price("ACME").context("no mid")
    };
    let m0 = mid_at(start)?;
    let m1 = mid_at(end)?;
    let m2 = mid_at(end + DECAY_AFTER_S * 1_000_000_000)?;
    let filled = engine
        .view()
        .order("META")
        .map(|o| o.progress.filled / o.info.qty.max(1.0))
        .unwrap_or(0.0);
    Ok((m0, m1, m2, filled))
}

/// Least-squares slope and intercept of y on x.
fn fit_line(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn impact(seeds: usize, threads: usize) -> Result<ImpactReport> {
    if seeds < 2 {
        bail!("--seeds must be at least 2 (the interval needs a spread)");
    }
    let seed_list: Vec<u64> = (0..seeds as u64)
        .map(|k| CALIBRATION_SEED_BASE + k)
        .collect();
    // Buys on even seeds, sells on odd ones: impact must not depend on the side.
    let side_of = |seed: u64| {
        if seed.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        }
    };
    let mut jobs: Vec<(Option<usize>, u64)> = Vec::new();
    for &s in &seed_list {
        jobs.push((None, s));
        for i in 0..IMPACT_SIZES.len() {
            jobs.push((Some(i), s));
        }
    }
    let results = par_map(&jobs, threads, |(size, seed)| {
        impact_run(size.map(|i| (IMPACT_SIZES[i], side_of(*seed))), *seed)
    });
    // peak[size][seed], after[size][seed] in bps; unpaired too.
    let n = IMPACT_SIZES.len();
    let mut peak = vec![Vec::new(); n];
    let mut after = vec![Vec::new(); n];
    let mut unpaired = vec![Vec::new(); n];
    let mut filled = vec![Vec::new(); n];
    let mut base = std::collections::HashMap::new();
    for ((size, seed), r) in jobs.iter().zip(&results) {
        let r = r.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        if size.is_none() {
            base.insert(*seed, *r);
        }
    }
    for ((size, seed), r) in jobs.iter().zip(results) {
        let Some(i) = size else { continue };
        let (m0, m1, m2, f) = r?;
        let (_, b1, b2, _) = base[seed];
        let sign = side_of(*seed).sign();
        peak[*i].push(sign * (m1 - b1) / m0 * 1e4);
        after[*i].push(sign * (m2 - b2) / m0 * 1e4);
        unpaired[*i].push(sign * (m1 - m0) / m0 * 1e4);
        filled[*i].push(f);
    }
    let y_model = crate::engine::market::ImpactParams::default().y;
    let rows: Vec<ImpactRow> = (0..n)
        .map(|i| {
            let p = Interval::of(&peak[i]);
            let a = Interval::of(&after[i]);
            let u = Interval::of(&unpaired[i]);
            ImpactRow {
                adv_pct: IMPACT_SIZES[i] * 100.0,
                qty: (IMPACT_SIZES[i] * ADV).round(),
                peak_bps: p.mean_bps,
                peak_ci95: p.ci95_bps,
                after_bps: a.mean_bps,
                after_ci95: a.ci95_bps,
                decay_ratio: a.mean_bps / p.mean_bps,
                sqrt_law_bps: y_model * DAILY_VOL * 1e4 * IMPACT_SIZES[i].sqrt(),
                unpaired_peak_bps: u.mean_bps,
                unpaired_ci95: u.ci95_bps,
                filled_pct: filled[i].iter().sum::<f64>() / filled[i].len().max(1) as f64 * 100.0,
            }
        })
        .collect();
    let xs: Vec<f64> = IMPACT_SIZES.iter().map(|q| q.ln()).collect();
    let fit = |idx: &[usize]| -> Option<(f64, f64, f64)> {
        let means: Vec<f64> = (0..n)
            .map(|i| idx.iter().map(|&k| peak[i][k]).sum::<f64>() / idx.len() as f64)
            .collect();
        if means.iter().any(|m| *m <= 0.0) {
            return None;
        }
        let ys: Vec<f64> = means.iter().map(|m| m.ln()).collect();
        let (slope, intercept) = fit_line(&xs, &ys);
        let peak_sum: f64 = means.iter().sum();
        let after_sum: f64 = (0..n)
            .map(|i| idx.iter().map(|&k| after[i][k]).sum::<f64>() / idx.len() as f64)
            .sum();
        Some((slope, intercept, after_sum / peak_sum))
    };
    let all: Vec<usize> = (0..seeds).collect();
    let Some((exponent, intercept, decay_ratio)) = fit(&all) else {
        bail!("a metaorder size showed no positive mean impact: the market is not calibrated");
    };
    // Bootstrap over seeds (paired across sizes: a seed's day is resampled whole).
    let mut rng = ChaCha8Rng::seed_from_u64(0xCA11_B8A7);
    let (mut slopes, mut decays) = (Vec::new(), Vec::new());
    for _ in 0..2000 {
        let idx: Vec<usize> = (0..seeds).map(|_| rng.random_range(0..seeds)).collect();
        if let Some((s, _, d)) = fit(&idx) {
            slopes.push(s);
            decays.push(d);
        }
    }
    slopes.sort_by(f64::total_cmp);
    decays.sort_by(f64::total_cmp);
    let ci95 = [percentile(&slopes, 0.025), percentile(&slopes, 0.975)];
    let decay_ci95 = [percentile(&decays, 0.025), percentile(&decays, 0.975)];
    let y = intercept.exp() / (DAILY_VOL * 1e4);
    Ok(ImpactReport {
        seeds,
        first_seed: CALIBRATION_SEED_BASE,
        exponent,
        ci95,
        y,
        decay_ratio,
        decay_ci95,
        pass: (exponent - 0.5).abs() <= 0.1 && (0.55..=0.80).contains(&decay_ratio),
        rows,
        market: format!(
            "calm, ADV {ADV}, daily volatility {:.1}%, 42.50 with a 2-cent spread; VWAP metaorders {META_START}–{META_END} (max participation 50%), decay read {} h after",
            DAILY_VOL * 100.0,
            DECAY_AFTER_S / 3600
        ),
    })
}

impl ImpactReport {
    pub fn table(&self) -> String {
        let mut s = format!(
            "impact of metaorders, {} seeds from {} paired with the same day without them ({})\n",
            self.seeds, self.first_seed, self.market
        );
        s.push_str(&format!(
            "{:>6} {:>9} {:>22} {:>22} {:>6} {:>9} {:>22} {:>7}\n",
            "Q/V",
            "qty",
            "peak bps [95%]",
            "3 h later [95%]",
            "ratio",
            "√ law",
            "unpaired peak [95%]",
            "filled"
        ));
        for r in &self.rows {
            s.push_str(&format!(
                "{:>5.1}% {:>9.0} {:>7.2} [{:>6.2}, {:>6.2}] {:>7.2} [{:>6.2}, {:>6.2}] {:>6.2} {:>9.2} {:>7.2} [{:>6.2}, {:>6.2}] {:>6.1}%\n",
                r.adv_pct,
                r.qty,
                r.peak_bps,
                r.peak_ci95[0],
                r.peak_ci95[1],
                r.after_bps,
                r.after_ci95[0],
                r.after_ci95[1],
                r.decay_ratio,
                r.sqrt_law_bps,
                r.unpaired_peak_bps,
                r.unpaired_ci95[0],
                r.unpaired_ci95[1],
                r.filled_pct
            ));
        }
        s.push_str(&format!(
            "exponent {:.3} (95% [{:.3}, {:.3}]; target 0.5 ± 0.1), Y {:.2}; decay to {:.2} of the peak (95% [{:.2}, {:.2}]; target about 2/3): {}\n",
            self.exponent,
            self.ci95[0],
            self.ci95[1],
            self.y,
            self.decay_ratio,
            self.decay_ci95[0],
            self.decay_ci95[1],
            if self.pass { "PASS" } else { "FAIL" }
        ));
        s
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MeanInterval {
    pub mean: f64,
    pub ci95: [f64; 2],
}

#[derive(Debug, Clone, Serialize)]
pub struct NoFreeLunchReport {
    pub scenario: String,
    pub seeds: usize,
    pub first_seed: u64,
    pub almgren_chriss_bps: MeanInterval,
    pub adaptive_bps: MeanInterval,
    /// Per seed adaptive − Almgren–Chriss: negative = adaptive cheaper.
    pub adaptive_minus_ac_bps: MeanInterval,
    /// The interval includes zero or favours Almgren–Chriss.
    pub pass: bool,
}

pub fn no_free_lunch(
    seeds: usize,
    threads: usize,
    policy: Option<PathBuf>,
) -> Result<NoFreeLunchReport> {
    let report = eval::run(&EvalOptions {
        scenario: "no_free_lunch".into(),
        seeds,
        strategies: vec!["almgren_chriss".into(), "adaptive".into()],
        policy_path: policy,
        threads,
        first_seed: None,
    })?;
    let ac = &report.per_seed_bps["almgren_chriss"];
    let ad = &report.per_seed_bps["adaptive"];
    let diffs: Vec<f64> = ad.iter().zip(ac).map(|(a, b)| a - b).collect();
    let mi = |xs: &[f64]| {
        let i = Interval::of(xs);
        MeanInterval {
            mean: i.mean_bps,
            ci95: i.ci95_bps,
        }
    };
    let d = mi(&diffs);
    Ok(NoFreeLunchReport {
        scenario: report.scenario.clone(),
        seeds,
        first_seed: report.first_seed,
        almgren_chriss_bps: mi(ac),
        adaptive_bps: mi(ad),
        pass: d.ci95[1] >= 0.0,
        adaptive_minus_ac_bps: d,
    })
}

impl NoFreeLunchReport {
    pub fn table(&self) -> String {
        format!(
            "no-free-lunch world ({}), {} held-out seeds from {}: implementation shortfall (bps)\n\
             almgren_chriss {:>8.2} [{:.2}, {:.2}]\n\
             adaptive       {:>8.2} [{:.2}, {:.2}]\n\
             adaptive − AC  {:>+8.2} [{:+.2}, {:+.2}] (paired): {}\n",
            self.scenario,
            self.seeds,
            self.first_seed,
            self.almgren_chriss_bps.mean,
            self.almgren_chriss_bps.ci95[0],
            self.almgren_chriss_bps.ci95[1],
            self.adaptive_bps.mean,
            self.adaptive_bps.ci95[0],
            self.adaptive_bps.ci95[1],
            self.adaptive_minus_ac_bps.mean,
            self.adaptive_minus_ac_bps.ci95[0],
            self.adaptive_minus_ac_bps.ci95[1],
            if self.pass {
                "PASS (not significantly cheaper than AC)"
            } else {
                "FAIL (significantly cheaper than AC: the simulator leaks information)"
            }
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BigOrderStrategy {
    pub strategy: String,
    /// Implementation shortfall against the arrival price: includes the
    /// day's own moves, so it is noisy.
    pub is_bps: MeanInterval,
    /// Fills against the mid of the same day without the order, at each
    /// fill's time: the cost our trading caused (impact, spread), the figure
    /// the square-root law estimates.
    pub paired_cost_bps: MeanInterval,
    pub filled_pct: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EarlySlippage {
    pub seed: u64,
    pub clock: String,
    pub filled_pct: f64,
    /// Average fill price against the arrival mid (bps, positive = cost).
    pub slippage_bps: f64,
    /// The mid's move since arrival on the same day without the order.
    pub market_move_bps: f64,
    /// The mid's move since arrival with the order, minus the market's own move.
    pub own_impact_bps: f64,
    /// Average fill price against the mid at each fill (spread and walking the book).
    pub spread_paid_bps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BigOrderReport {
    pub seeds: usize,
    pub first_seed: u64,
    pub qty: f64,
    pub adv: f64,
    pub daily_vol: f64,
    /// Y·σ·√(Q/V) for Y = 0.5 and 1.
    pub sqrt_law_bps: [f64; 2],
    pub strategies: Vec<BigOrderStrategy>,
    pub early: EarlySlippage,
}

fn big_order_scenario(strategy: &str) -> Result<Scenario> {
    let mut s = Scenario::load("default")?;
    s.orders.retain(|o| o.id.as_deref() == Some("P-1"));
    let o = s
        .orders
        .first_mut()
        .context("the default scenario has no P-1")?;
    o.strategy = strategy.to_string();
    Ok(s)
}

/// (IS, paired cost, filled share) of P-1 alone with `strategy` on `seed`.
fn big_order_run(strategy: &str, seed: u64, policy: &Option<PathBuf>) -> Result<(f64, f64, f64)> {
    let scenario = big_order_scenario(strategy)?;
    let opts = EngineOptions {
        seed: Some(seed),
        policy_path: policy.clone(),
        ..Default::default()
    };
    let mut engine = Engine::new(&scenario, &opts)?;
    let mut quiet = scenario.clone();
    quiet.orders.clear();
    // The same day without the order, kept in step with it.
    let mut without = Engine::new(&quiet, &opts)?;
    let (mut cost, mut sym) = (0.0, String::new());
    while engine.step() {
        for env in engine.drain_events() {
            match &env.event {
                crate::protocol::Event::OrderNew { order } => sym = order.symbol.clone(),
                crate::protocol::Event::Fill { price, qty, .. } => {
                    without.run_until(env.ts);
                    without.drain_events().for_each(drop);
                    let mid = without.mid_price(&sym).context("no mid")?;
                    cost += (price - mid) * qty;
                }
                _ => {}
            }
        }
    }
    let o = engine.view().order("P-1").context("P-1 vanished")?;
    let end_mid = engine.mid_price(&o.info.symbol).context("no mid")?;
    let is = implementation_shortfall_bps(o, end_mid).context("P-1 never started")?;
    let arrival = o.progress.arrival_price.context("P-1 never started")?;
    let paired = o.info.side.sign() * cost / (o.info.qty * arrival) * 1e4;
    Ok((is, paired, o.progress.filled / o.info.qty))
}

/// Where the early slippage of the default scenario's P-1 comes from: the
/// session as the console shows it, and the same day without P-1.
fn early_slippage(seed: u64, share: f64, policy: &Option<PathBuf>) -> Result<EarlySlippage> {
    let scenario = Scenario::load("default")?;
    let opts = EngineOptions {
        seed: Some(seed),
        policy_path: policy.clone(),
        ..Default::default()
    };
    let mut with = Engine::new(&scenario, &opts)?;
    let (mut paid, mut qty) = (0.0, 0.0);
    let sym = "ACME";
    loop {
        // The mid just before the step that may fill us.
        let mid = with.quote_mid(sym).unwrap_or(0.0);
        if !with.step() {
            bail!("P-1 never reached {:.0}% filled", share * 100.0);
        }
        for env in with.drain_events() {
            if let crate::protocol::Event::Fill {
                order_id,
                price,
                qty: q,
                ..
            } = &env.event
            {
                if order_id == "P-1" {
                    paid += (price - mid) * q;
                    qty += q;
                }
            }
        }
        let o = with.view().order("P-1").context("no P-1")?;
        if o.progress.filled >= share * o.info.qty {
            break;
        }
    }
    let now = with.now();
    let o = with.view().order("P-1").context("no P-1")?.clone();
    let arrival = o.progress.arrival_price.context("no arrival price")?;
    let avg = o.progress.avg_price.context("no fills")?;
    let mut without_scenario = scenario.clone();
    without_scenario
        .orders
        .retain(|x| x.id.as_deref() != Some("P-1"));
    let mut without = Engine::new(&without_scenario, &opts)?;
    without.run_until(now);
    let m_with = with.mid_price(sym).context("no mid")?;
    let m_without = without.mid_price(sym).context("no mid")?;
    let bps = |x: f64| x / arrival * 1e4;
    Ok(EarlySlippage {
        seed,
        clock: format_clock(now),
        filled_pct: o.progress.filled / o.info.qty * 100.0,
        slippage_bps: bps(avg - arrival),
        market_move_bps: bps(m_without - arrival),
        own_impact_bps: bps(m_with - m_without),
        spread_paid_bps: if qty > 0.0 { bps(paid / qty) } else { 0.0 },
    })
}

pub fn big_order(seeds: usize, threads: usize, policy: Option<PathBuf>) -> Result<BigOrderReport> {
    if seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let mut names: Vec<String> = CLASSIC.iter().map(|s| s.to_string()).collect();
    names.push("adaptive".into());
    let jobs: Vec<(usize, u64)> = (0..names.len())
        .flat_map(|i| (0..seeds as u64).map(move |k| (i, eval::HELD_OUT_SEED_BASE + k)))
        .collect();
    let results = par_map(&jobs, threads, |(i, seed)| {
        big_order_run(&names[*i], *seed, &policy)
    });
    let mut per: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![Default::default(); names.len()];
    for ((i, _), r) in jobs.iter().zip(results) {
        let (is, paired, f) = r?;
        per[*i].0.push(is);
        per[*i].1.push(paired);
        per[*i].2.push(f);
    }
    let mi = |xs: &[f64]| {
        let i = Interval::of(xs);
        MeanInterval {
            mean: i.mean_bps,
            ci95: i.ci95_bps,
        }
    };
    let strategies = names
        .iter()
        .zip(per)
        .map(|(n, (is, paired, f))| BigOrderStrategy {
            strategy: n.clone(),
            is_bps: mi(&is),
            paired_cost_bps: mi(&paired),
            filled_pct: f.iter().sum::<f64>() / f.len() as f64 * 100.0,
        })
        .collect();
    let s = big_order_scenario("vwap")?;
    let sym = &s
        .symbols
        .iter()
        .find(|x| x.symbol == "ACME")
        .context("no ACME")?;
    let q = s.orders[0].qty;
    let law = |y: f64| y * sym.daily_vol * 1e4 * (q / sym.adv).sqrt();
    Ok(BigOrderReport {
        seeds,
        first_seed: eval::HELD_OUT_SEED_BASE,
        qty: q,
        adv: sym.adv,
        daily_vol: sym.daily_vol,
        sqrt_law_bps: [law(0.5), law(1.0)],
        strategies,
        early: early_slippage(s.seed, 0.07, &policy)?,
    })
}

impl BigOrderReport {
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:.0} shares ({:.0}% of ADV {:.0}, daily volatility {:.1}%), {} held-out seeds from {}: implementation shortfall (bps)\n\
             square-root law Y·σ·√(Q/V): {:.0} bps (Y = 0.5) to {:.0} bps (Y = 1)\n",
            self.qty,
            self.qty / self.adv * 100.0,
            self.adv,
            self.daily_vol * 100.0,
            self.seeds,
            self.first_seed,
            self.sqrt_law_bps[0],
            self.sqrt_law_bps[1]
        );
        s.push_str(&format!(
            "{:<16} {:>27} {:>31} {:>7}\n",
            "strategy", "IS vs arrival [95%]", "cost vs same day without [95%]", "filled"
        ));
        for r in &self.strategies {
            s.push_str(&format!(
                "{:<16} {:>8.2} [{:>7.2}, {:>7.2}] {:>12.2} [{:>7.2}, {:>7.2}] {:>6.1}%\n",
                r.strategy,
                r.is_bps.mean,
                r.is_bps.ci95[0],
                r.is_bps.ci95[1],
                r.paired_cost_bps.mean,
                r.paired_cost_bps.ci95[0],
                r.paired_cost_bps.ci95[1],
                r.filled_pct
            ));
        }
        let e = &self.early;
        s.push_str(&format!(
            "default scenario, seed {}, {} ({:.1}% filled): slippage {:+.1} bps = market's own move {:+.1} bps \
             (same day without P-1) + our impact {:+.1} bps + spread and book walked {:+.1} bps (fill vs mid), \
             the rest timing within the fills\n",
            e.seed, e.clock, e.filled_pct, e.slippage_bps, e.market_move_bps, e.own_impact_bps, e.spread_paid_bps
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_fits_itself() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y: Vec<f64> = x.iter().map(|v| 0.5 * v + 2.0).collect();
        let (s, i) = fit_line(&x, &y);
        assert!((s - 0.5).abs() < 1e-12 && (i - 2.0).abs() < 1e-12);
    }

    #[test]
    fn the_calibration_market_has_a_metaorder_of_the_asked_size() {
        let s = calibration_scenario(Some((0.05, Side::Sell))).unwrap();
        assert_eq!(s.orders.len(), 1);
        assert_eq!(s.orders[0].qty, 100_000.0);
        assert_eq!(s.orders[0].side, Side::Sell);
        assert!(calibration_scenario(None).unwrap().orders.is_empty());
    }
}
