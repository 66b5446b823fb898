//! Counterfactuals: the recorded scenario and seed re-simulated
//! - as recorded (the interventions applied at the sequence numbers they
//!   took effect live): checks that the re-simulation reproduces the session,
//!   and if it does, gives the exact mids around every fill (`markouts`);
//! - without the interventions: what the model (the orders' own strategies)
//!   would have done alone;
//! - with a classic strategy on every order, without interventions.
//!
//! The difference between the runs, in bps of arrival notional, is what the
//! humans and the model each added.

use anyhow::Result;

use crate::engine::Scenario;
use crate::replay::record::{rerun, rerun_sampling, TimedCommand};

use super::doc::{Block, Doc};
use super::markouts::{self, ExactMids};
use super::tca::{order_costs, Costs, FeeSchedule, Session};

pub struct Counterfactual {
    /// (order id, IS bps) per run.
    pub recorded: Vec<(String, f64)>,
    pub model_alone: Vec<(String, f64)>,
    pub classic: Vec<(String, f64)>,
    /// The as-recorded re-run reproduced every order's fills exactly.
    pub reproduced: bool,
    /// The mids around every fill of the session, sampled during the
    /// as-recorded re-run; only when it reproduced the session.
    pub exact: Option<ExactMids>,
    pub notes: Vec<String>,
}

fn shortfalls(s: &Session, fees: &FeeSchedule) -> Vec<(String, f64)> {
    s.orders
        .iter()
        .map(|o| {
            (
                o.info.order_id.clone(),
                order_costs(s, o, fees).shortfall_bps(),
            )
        })
        .collect()
}

pub fn run(
    scenario: &Scenario,
    seed: u64,
    actual: &Session,
    fees: &FeeSchedule,
    classic: &str,
) -> Result<Counterfactual> {
    let commands: Vec<_> = actual
        .interventions
        .iter()
        .map(|i| TimedCommand {
            seq: i.seq,
            ts: i.ts,
            user: i.user.clone(),
            command: i.command.clone(),
        })
        .collect();
    let mut sampler = markouts::sampler(actual);
    let rec_run = rerun_sampling(scenario, seed, &commands, &mut sampler)?;
    let recorded = Session::from_events(&rec_run.events);
    let alone = Session::from_events(&rerun(scenario, seed, &[])?.events);
    let mut sc = scenario.clone();
    for o in &mut sc.orders {
        o.strategy = classic.to_string();
    }
    let classic_run = Session::from_events(&rerun(&sc, seed, &[])?.events);
    // Same fills, to the float noise of the JSON round trip.
    let same = |a: &super::tca::FillRec, b: &super::tca::FillRec| {
        a.ts == b.ts && a.venue == b.venue && a.qty == b.qty && (a.price - b.price).abs() < 1e-6
    };
    let reproduced = rec_run.mismatches == 0
        && recorded.orders.len() == actual.orders.len()
        && recorded.orders.iter().zip(&actual.orders).all(|(a, b)| {
            a.fills.len() == b.fills.len() && a.fills.iter().zip(&b.fills).all(|(x, y)| same(x, y))
        });
    let mut notes = Vec::new();
    if !reproduced {
        notes.push("the as-recorded re-simulation does not reproduce the journal's fills (different engine version, or a session that was not simulated): counterfactual differences are indicative only".to_string());
    }
    Ok(Counterfactual {
        recorded: shortfalls(&recorded, fees),
        model_alone: shortfalls(&alone, fees),
        classic: shortfalls(&classic_run, fees),
        exact: if reproduced {
            markouts::collect(actual, &sampler)
        } else {
            None
        },
        reproduced,
        notes,
    })
}

fn find(v: &[(String, f64)], id: &str) -> Option<f64> {
    v.iter().find(|x| x.0 == id).map(|x| x.1)
}

fn fmt(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |x| format!("{x:.2}"))
}

pub fn section(d: &mut Doc, cf: &Counterfactual, actual: &Session, costs: &[Costs], classic: &str) {
    d.push(Block::P(format!(
        "The scenario and seed from the journal's header, re-simulated as fast as possible. {} \"Humans added\" = IS without the interventions − IS as recorded; \"model added\" = IS with `{classic}` on every order − IS without the interventions (positive = saved that many bps).",
        if cf.reproduced {
            "The as-recorded re-run reproduces the journal's fills exactly, so the differences below are due to the interventions and the strategies alone."
        } else {
            "**The as-recorded re-run does not reproduce the journal exactly; treat the differences as indicative.**"
        }
    )));
    let mut rows = Vec::new();
    let (mut w, mut sum) = (0.0, [0.0f64; 3]);
    for (o, c) in actual.orders.iter().zip(costs) {
        let id = &o.info.order_id;
        let actual_bps = c.shortfall_bps();
        let alone = find(&cf.model_alone, id);
        let classic_bps = find(&cf.classic, id);
        let humans = alone.map(|a| a - actual_bps);
        let model = match (classic_bps, alone) {
            (Some(c), Some(a)) => Some(c - a),
            _ => None,
        };
        if let (Some(a), Some(cl)) = (alone, classic_bps) {
            w += c.arrival_notional;
            sum[0] += actual_bps * c.arrival_notional;
            sum[1] += a * c.arrival_notional;
            sum[2] += cl * c.arrival_notional;
        }
        rows.push(vec![
            id.clone(),
            o.info.strategy.clone(),
            format!("{actual_bps:.2}"),
            fmt(find(&cf.recorded, id)),
            fmt(alone),
            fmt(classic_bps),
            fmt(humans),
            fmt(model),
        ]);
    }
    if w > 0.0 {
        let [a, m, c] = sum.map(|s| s / w);
        rows.push(vec![
            "all (notional-weighted)".into(),
            String::new(),
            format!("{a:.2}"),
            String::new(),
            format!("{m:.2}"),
            format!("{c:.2}"),
            format!("{:.2}", m - a),
            format!("{:.2}", c - m),
        ]);
    }
    d.push(Block::Table(
        [
            "order",
            "strategy",
            "IS bps as recorded",
            "re-run as recorded",
            "without interventions",
            &format!("{classic} everywhere"),
            "humans added bps",
            "model added bps",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    ));
}
