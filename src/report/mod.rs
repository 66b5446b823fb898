//! `vigil report FILE [--out DIR] [--format md|html]`: post-trade analysis of
//! a recorded session — costs per parent order and in aggregate, the model's
//! behaviour, every intervention and what followed, counterfactual re-runs
//! of the same scenario and seed, and charts (SVG, drawn with plotters).
//!
//! - `tca`: the figures, from the journal's events alone;
//! - `counterfactual`: the same scenario and seed re-simulated (as recorded,
//!   without the interventions, with a classic strategy);
//! - `markouts`: exact mids around every fill, sampled during the
//!   as-recorded re-run when it reproduces the journal;
//! - `charts`: plotters, SVG;
//! - `doc`: a tiny document model written as Markdown or HTML.

pub mod charts;
pub mod cli;
pub mod counterfactual;
pub mod doc;
pub mod markouts;
pub mod tca;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::engine::journal::Journal;
use crate::engine::Scenario;
use crate::protocol::text::{describe_command, format_ts};
use crate::replay::shadow::Shadow;
use crate::replay::Recording;

use counterfactual::Counterfactual;
use doc::{Block, Doc};
use markouts::ExactMids;
use tca::{
    model_stats, order_costs, order_costs_at, Costs, FeeSchedule, Session, MARKOUT_HORIZONS_S,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
}

pub struct ReportOptions {
    pub out: PathBuf,
    pub format: Format,
    pub fees: FeeSchedule,
    /// Re-simulate the session (as recorded, without interventions, classic strategy).
    pub counterfactual: bool,
    /// Strategy of the classic counterfactual.
    pub classic: String,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    pub document: PathBuf,
    pub charts: Vec<PathBuf>,
    pub notes: Vec<String>,
}

fn f(x: f64, decimals: usize) -> String {
    format!("{x:.decimals$}")
}

fn opt(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "—".into(), |x| f(x, decimals))
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |x| format!("{:.1}%", x * 100.0))
}

fn cost_row(name: &str, c: &Costs) -> Vec<String> {
    vec![
        name.into(),
        f(c.qty, 0),
        f(c.filled, 0),
        pct(Some(c.fill_rate())),
        opt(c.avg_price, 4),
        f(c.shortfall_bps(), 2),
        f(c.delay_bps(), 2),
        f(c.execution_bps(), 2),
        f(c.opportunity_bps(), 2),
        f(c.fees_bps(), 2),
        opt(c.vwap_slippage_bps, 2),
        pct(c.participation()),
    ]
}

const COST_HEADERS: &[&str] = &[
    "order",
    "qty",
    "filled",
    "fill rate",
    "avg px",
    "IS bps",
    "delay",
    "execution",
    "opportunity",
    "fees",
    "vs interval VWAP bps",
    "participation",
];

/// Build the report for a journal.
pub fn report(
    file: &Path,
    opts: &ReportOptions,
    shadow: Option<&mut (dyn Shadow + 'static)>,
) -> Result<ReportOutput> {
    let journal = Journal::open(file)?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let mut notes = Vec::new();
    if let Some(t) = &journal.truncated {
        notes.push(format!(
            "the journal stops early at line {} (byte {}): {} — the report covers the {} events before it",
            t.line,
            t.byte_offset,
            t.reason,
            journal.events().count()
        ));
    }
    let session = Session::from_events(journal.events());
    let h = &journal.header;
    let scenario: Option<Scenario> = toml::from_str(&h.scenario_toml).ok();
    let min_conf = scenario.as_ref().map_or(0.0, |s| s.controls.min_confidence);
    let mut d = Doc::default();
    d.push(Block::H1(format!("Post-trade report — {}", h.session_id)));
    d.push(Block::P(format!(
        "Scenario `{}`, seed {}, engine {} {}; {} events from {} to {}{}.",
        h.scenario,
        h.seed,
        h.engine_id,
        h.engine_version,
        journal.events().count(),
        format_ts(journal.events().next().map_or(0, |e| e.ts)),
        format_ts(session.last_ts),
        if h.model_ids.is_empty() {
            String::new()
        } else {
            format!("; models: {}", h.model_ids.join(", "))
        }
    )));
    // The re-simulations come first: the as-recorded one also gives the
    // exact mids around the fills that the cost tables use.
    let cf: Option<Counterfactual> = match (&scenario, opts.counterfactual) {
        (Some(sc), true) => Some(counterfactual::run(
            sc,
            h.seed,
            &session,
            &opts.fees,
            &opts.classic,
        )?),
        _ => None,
    };
    let exact = cf.as_ref().and_then(|c| c.exact.as_ref());
    for n in &notes {
        d.push(Block::P(format!("**Warning:** {n}")));
    }
    d.push(Block::H2("How to read this".into()));
    d.push(Block::List(vec![
        "Costs are in basis points of the order's arrival notional (quantity × arrival price); positive is a cost, for buys and sells alike.".into(),
        "Implementation shortfall (IS) vs arrival = delay (arrival → mid when the first child order went out) + execution/impact (fills vs that mid) + opportunity cost of the unfilled part (mid at the order's end vs arrival) + fees.".into(),
        format!(
            "Fees are not in the journal; assumed schedule: lit taker {:.2} ¢/share, lit maker {:.2} ¢/share (rebate), dark {:.2} ¢/share.",
            opts.fees.lit_taker * 100.0,
            opts.fees.lit_maker * 100.0,
            opts.fees.dark * 100.0
        ),
        prices_note(exact, scenario.is_some(), opts.counterfactual, cf.as_ref()),
        "Interval VWAP: Σ Δvolume × last price over consecutive summaries during the order's life (our own fills included, as on a real tape). Participation = filled ÷ that volume.".into(),
        "Spread capture and markouts are in bps of filled notional; positive = good for us (bought below mid / price moved our way after the fill).".into(),
    ]));

    // ---- costs -------------------------------------------------------------
    let costs: Vec<Costs> = session
        .orders
        .iter()
        .enumerate()
        .map(|(i, o)| match exact {
            Some(e) => order_costs_at(&session, o, &opts.fees, &e.fills[i]),
            None => order_costs(&session, o, &opts.fees),
        })
        .collect();
    let mut total = Costs::default();
    for c in &costs {
        total.add(c);
    }
    d.push(Block::H2("Implementation shortfall".into()));
    let mut rows: Vec<Vec<String>> = session
        .orders
        .iter()
        .zip(&costs)
        .map(|(o, c)| cost_row(&o.info.order_id, c))
        .collect();
    rows.push(cost_row("all", &total));
    d.push(Block::Table(
        COST_HEADERS.iter().map(|s| s.to_string()).collect(),
        rows,
    ));

    d.push(Block::H2(
        "Spread capture, passive/aggressive split, markouts".into(),
    ));
    let mut rows = Vec::new();
    for (name, c) in session
        .orders
        .iter()
        .map(|o| o.info.order_id.as_str())
        .zip(&costs)
        .chain([("all", &total)])
    {
        let share = |q: f64| pct((c.filled > 0.0).then(|| q / c.filled));
        let mut row = vec![
            name.to_string(),
            opt(c.spread_capture_bps(), 2),
            share(c.maker_qty),
            share(c.dark_qty),
            share(c.taker_qty),
        ];
        for h in 0..MARKOUT_HORIZONS_S.len() {
            row.push(opt(c.markout_bps(h), 2));
        }
        rows.push(row);
    }
    d.push(Block::Table(
        [
            "order",
            "spread capture bps",
            "passive lit",
            "dark",
            "aggressive",
            "markout +1s",
            "+10s",
            "+1min",
            "+5min",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    ));

    d.push(Block::H2("Venues".into()));
    let mut rows = Vec::new();
    let mut venue_bars = Vec::new();
    for v in &total.venues {
        rows.push(vec![
            v.venue.clone(),
            v.kind.clone(),
            f(v.qty, 0),
            pct((total.filled > 0.0).then(|| v.qty / total.filled)),
            opt(v.avg_price(), 4),
            v.fills.to_string(),
            f(v.sent, 0),
            pct(v.fill_rate()),
        ]);
        venue_bars.push((format!("{} ({})", v.venue, v.kind), v.qty));
    }
    let lit: f64 = total
        .venues
        .iter()
        .filter(|v| v.kind == "lit")
        .map(|v| v.qty)
        .sum();
    let dark: f64 = total
        .venues
        .iter()
        .filter(|v| v.kind == "dark")
        .map(|v| v.qty)
        .sum();
    d.push(Block::Table(
        [
            "venue",
            "kind",
            "volume",
            "share",
            "avg px (mixed symbols)",
            "fills",
            "sent",
            "fill rate",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    ));
    d.push(Block::P(format!(
        "Lit {} shares, dark {} shares ({} dark). Average prices mix symbols when several orders share a venue; per-order figures are in the tables above.",
        f(lit, 0),
        f(dark, 0),
        pct(((lit + dark) > 0.0).then(|| dark / (lit + dark)))
    )));

    // ---- the model ---------------------------------------------------------
    d.push(Block::H2("The model".into()));
    let all = model_stats(&session.orders, min_conf);
    let mut rows = Vec::new();
    for o in &session.orders {
        let m = model_stats([o], min_conf);
        rows.push(model_row(&o.info.order_id, &m, &session.actions));
    }
    rows.push(model_row("all", &all, &session.actions));
    let mut headers = vec!["order".to_string(), "decisions".into()];
    headers.extend(session.actions.iter().cloned());
    headers.extend([
        "overridden".into(),
        format!("conf < {min_conf}"),
        "low-confidence fallbacks".into(),
        "models".into(),
    ]);
    d.push(Block::Table(headers, rows));
    d.push(Block::P(format!(
        "Confidence histogram (all decisions, bins of 0.1 from 0 to 1): {}. Low-confidence fallbacks are the engine's `low_confidence` alerts (decision below the scenario's threshold {min_conf}, baseline schedule used instead).",
        all.confidence_bins
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{:.1}–{:.1}: {n}", i as f64 / 10.0, (i + 1) as f64 / 10.0))
            .collect::<Vec<_>>()
            .join(", ")
    )));

    // ---- shadow ------------------------------------------------------------
    d.push(Block::H2("Shadow model".into()));
    match shadow {
        Some(shadow) => {
            let rec = Recording::open(file, Some(shadow))?;
            shadow_section(&mut d, &rec);
        }
        None => d.push(Block::P(
            "No shadow model was available for this report (pass `--shadow FILE`): agreement and divergence episodes are not computed.".into(),
        )),
    }

    // ---- interventions -----------------------------------------------------
    d.push(Block::H2("Interventions".into()));
    if session.interventions.is_empty() {
        d.push(Block::P(
            "No command reached the engine in this session.".into(),
        ));
    } else {
        let mut rows = Vec::new();
        for i in &session.interventions {
            let order = i.command.order_id();
            let (before, after5, end) = order
                .and_then(|id| session.orders.iter().find(|o| o.info.order_id == id))
                .map_or((None, None, None), |o| {
                    let at = |t: u64| o.progress.iter().rev().find(|p| p.0 <= t).and_then(|p| p.3);
                    (
                        at(i.ts),
                        at(i.ts + 300_000_000_000),
                        o.progress.last().and_then(|p| p.3),
                    )
                });
            rows.push(vec![
                format_ts(i.ts),
                i.user.clone(),
                describe_command(&i.command),
                serde_json::to_string(&i.command).unwrap_or_default(),
                if i.ok {
                    "applied".into()
                } else {
                    format!("refused: {}", i.reason.as_deref().unwrap_or("?"))
                },
                opt(before, 2),
                opt(after5, 2),
                opt(end, 2),
            ]);
        }
        d.push(Block::Table(
            [
                "time",
                "who",
                "what",
                "command",
                "outcome",
                "order slippage bps then",
                "+5 min",
                "at the end",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows,
        ));
        d.push(Block::P("Order slippage is the engine's running figure (average fill vs arrival, bps); the counterfactual below says what the interventions changed in the end.".into()));
    }

    // ---- counterfactuals ---------------------------------------------------
    d.push(Block::H2("Counterfactuals".into()));
    match (&cf, opts.counterfactual) {
        (_, false) => d.push(Block::P("Not computed (`--no-counterfactual`).".into())),
        (None, true) => d.push(Block::P(
            "The journal's header carries no readable scenario: the session cannot be re-simulated.".into(),
        )),
        (Some(cf), true) => {
            counterfactual::section(&mut d, cf, &session, &costs, &opts.classic);
            notes.extend(cf.notes.iter().cloned());
        }
    }

    // ---- charts ------------------------------------------------------------
    d.push(Block::H2("Charts".into()));
    let mut chart_files = Vec::new();
    for (o, c) in session.orders.iter().zip(&costs) {
        let id = o
            .info
            .order_id
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let price = format!("price_{id}.svg");
        charts::price_chart(&opts.out.join(&price), &session, o, c)?;
        let progress = format!("progress_{id}.svg");
        charts::progress_chart(&opts.out.join(&progress), o)?;
        d.push(Block::H3(format!(
            "{} ({} {})",
            o.info.order_id, o.info.symbol, o.info.strategy
        )));
        d.push(Block::Image(
            price.clone(),
            format!("{}: price, fills, arrival and VWAP", o.info.order_id),
        ));
        d.push(Block::Image(
            progress.clone(),
            format!("{}: executed vs scheduled", o.info.order_id),
        ));
        chart_files.push(opts.out.join(price));
        chart_files.push(opts.out.join(progress));
    }
    d.push(Block::H3("Across orders".into()));
    let bars: Vec<(String, f64)> = session
        .orders
        .iter()
        .zip(&costs)
        .map(|(o, c)| (o.info.order_id.clone(), c.shortfall_bps()))
        .collect();
    charts::bar_chart(
        &opts.out.join("slippage_orders.svg"),
        "Implementation shortfall by order (bps, + = cost)",
        "bps",
        &bars,
    )?;
    let fill_slippage: Vec<f64> = session
        .orders
        .iter()
        .flat_map(|o| {
            let side = tca::side_sign(o.info.side);
            let arr = o.arrival.unwrap_or(0.0);
            o.fills
                .iter()
                .filter(move |_| arr > 0.0)
                .map(move |f| side * (f.price - arr) / arr * 1e4)
        })
        .collect();
    charts::histogram(
        &opts.out.join("slippage_fills.svg"),
        "Fill prices vs arrival, all orders (bps, + = cost)",
        "bps",
        &fill_slippage,
        30,
    )?;
    charts::bar_chart(
        &opts.out.join("venues.svg"),
        "Volume by venue (shares)",
        "shares",
        &venue_bars,
    )?;
    d.push(Block::Image(
        "slippage_orders.svg".into(),
        "implementation shortfall by order".into(),
    ));
    d.push(Block::Image(
        "slippage_fills.svg".into(),
        "distribution of fill slippage vs arrival".into(),
    ));
    d.push(Block::Image("venues.svg".into(), "volume by venue".into()));
    for name in ["slippage_orders.svg", "slippage_fills.svg", "venues.svg"] {
        chart_files.push(opts.out.join(name));
    }

    let (name, text) = match opts.format {
        Format::Md => ("report.md", d.to_markdown()),
        Format::Html => (
            "report.html",
            d.to_html(&format!("vigil report — {}", h.session_id)),
        ),
    };
    let document = opts.out.join(name);
    std::fs::write(&document, text).with_context(|| format!("writing {}", document.display()))?;
    Ok(ReportOutput {
        document,
        charts: chart_files,
        notes,
    })
}

/// Where the report's market prices come from: exact mids around the fills
/// when the as-recorded re-run reproduced the session, the summaries (with
/// why) otherwise.
fn prices_note(
    exact: Option<&ExactMids>,
    has_scenario: bool,
    counterfactual: bool,
    cf: Option<&Counterfactual>,
) -> String {
    let summaries = "Market prices for the cost decomposition (the mid when trading started and at the order's end) and for interval VWAP come from the journal's market summaries (every 5 s of simulated time): the last summary at or before that moment.";
    if let Some(e) = exact {
        let past_end = match e.end {
            Some(end) if e.past_end > 0 => format!(
                " {} of the {} markout instants fall after the session's end ({}) and use the mid at the end.",
                e.past_end,
                e.instants,
                format_ts(end)
            ),
            _ => String::new(),
        };
        return format!(
            "{summaries} Spread capture and markouts use exact mids from the as-recorded re-simulation (which reproduces the journal's fills): the quote mid just before each fill, and at exactly fill time + 1 s, 10 s, 1 min and 5 min.{past_end}"
        );
    }
    let why = if !counterfactual {
        "the session was not re-simulated (`--no-counterfactual`)"
    } else if !has_scenario {
        "the session cannot be re-simulated"
    } else if cf.is_some_and(|c| !c.reproduced) {
        "the as-recorded re-simulation does not reproduce the journal's fills"
    } else {
        "the as-recorded re-simulation did not reach the session's end"
    };
    format!(
        "{summaries} So do spread capture (the last summary at or before each fill) and markouts (the first summary at or after fill time + horizon), because {why}: +1 s and +10 s markouts land up to 5 s late and are indicative only."
    )
}

fn model_row(name: &str, m: &tca::ModelStats, actions: &[String]) -> Vec<String> {
    let mut row = vec![name.to_string(), m.decisions.to_string()];
    for a in actions {
        row.push(m.actions.get(a).copied().unwrap_or(0).to_string());
    }
    row.push(m.overridden.to_string());
    row.push(m.below_threshold.to_string());
    row.push(m.low_confidence_alerts.to_string());
    row.push(
        m.models
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    row
}

/// One divergence episode: consecutive decisions of an order that the live
/// console's divergence rules flag (the timeline's divergence markers).
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub order_id: String,
    pub start: u64,
    pub end: u64,
    pub decisions: usize,
    pub live: String,
    pub shadow: String,
}

pub fn episodes(rec: &Recording) -> Vec<Episode> {
    let mut open: std::collections::HashMap<String, Episode> = Default::default();
    let mut out = Vec::new();
    for v in &rec.verdicts {
        let ts = rec.ts(v.index);
        if !v.diverges {
            if let Some(e) = open.remove(&v.order_id) {
                out.push(e);
            }
        } else {
            let e = open.entry(v.order_id.clone()).or_insert_with(|| Episode {
                order_id: v.order_id.clone(),
                start: ts,
                end: ts,
                decisions: 0,
                live: v.live_action.clone(),
                shadow: v.shadow_action.clone(),
            });
            e.end = ts;
            e.decisions += 1;
        }
    }
    out.extend(open.into_values());
    out.sort_by_key(|e| (e.start, e.order_id.clone()));
    out
}

fn shadow_section(d: &mut Doc, rec: &Recording) {
    let n = rec.verdicts.len();
    let agree = rec.verdicts.iter().filter(|v| v.agrees).count();
    let rate = |model: bool| {
        let v: Vec<_> = rec
            .verdicts
            .iter()
            .filter(|v| (v.live_model != "rule") == model)
            .collect();
        let a = v.iter().filter(|v| v.agrees).count();
        format!(
            "{} of {}",
            pct((!v.is_empty()).then(|| a as f64 / v.len() as f64)),
            v.len()
        )
    };
    d.push(Block::P(format!(
        "Shadow `{}` re-scored {n} live decisions: agreement {} overall; {} decisions made by a model, {} made by a classic rule (rules are expected to differ).",
        rec.shadow_id.as_deref().unwrap_or("?"),
        pct((n > 0).then(|| agree as f64 / n as f64)),
        rate(true),
        rate(false)
    )));
    let t = crate::divergence::Thresholds::default();
    d.push(Block::P(format!(
        "Divergence episodes are runs of an order's decisions that the console's divergence rules flag, live and in replay: the shadow prefers another action with at least {:.0}% confidence; or, for a model's decision, the two distributions are at a total-variation distance of at least {:.2}, or the order's agreement with the shadow over its last {} decisions is below {:.0}% (once it has {}).",
        t.confidence * 100.0,
        t.tv,
        t.window,
        t.agreement * 100.0,
        t.min_decisions
    )));
    let eps = episodes(rec);
    if eps.is_empty() {
        d.push(Block::P("No divergence episode.".into()));
        return;
    }
    let rows = eps
        .iter()
        .map(|e| {
            vec![
                e.order_id.clone(),
                format_ts(e.start),
                format_ts(e.end),
                e.decisions.to_string(),
                e.live.clone(),
                e.shadow.clone(),
            ]
        })
        .collect();
    d.push(Block::Table(
        [
            "order",
            "from",
            "to",
            "decisions",
            "live did (first)",
            "shadow said (first)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    ));
}
