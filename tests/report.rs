//! The post-trade report: figures checked on a tiny session computed by hand,
//! every chart written and non-empty, Markdown and HTML, counterfactuals on a
//! real recorded session, exact markouts against the engine's own mids, the
//! models named in the journal's header, truncated and foreign files.

use std::path::{Path, PathBuf};

use vigil::engine::journal::{Journal, JournalHeader, JournalWriter};
use vigil::engine::{Engine, EngineOptions, Scenario};
use vigil::model::onnx::PolicyModel;
use vigil::protocol::{Command, Event};
use vigil::replay::record::{record, window, Script, ScriptedCommand};
use vigil::replay::shadow::ConstantShadow;
use vigil::report::counterfactual;
use vigil::report::tca::{
    model_stats, order_costs, order_costs_at, side_sign, FeeSchedule, Session, MARKOUT_HORIZONS_S,
};
use vigil::report::{report, Format, ReportOptions};

const T0: u64 = 36_000_000_000_000; // 10:00:00

fn at(s: u64) -> u64 {
    T0 + s * 1_000_000_000
}

fn market(mid: f64, half: f64, last: f64, volume: f64) -> String {
    format!(
        r#"{{"kind":"market","symbol":"XYZ","bid":{},"ask":{},"bid_size":100.0,"ask_size":100.0,"last":{last},"volume":{volume},"regime":"calm"}}"#,
        mid - half,
        mid + half
    )
}

/// A buy of 1,000 XYZ: 600 filled lit (taker) at 10.01, 200 dark at 10.02,
/// then cancelled by alice with 200 unfilled. Arrival 10.00.
fn tiny_events() -> Vec<(u64, String)> {
    vec![
        (at(0), r#"{"kind":"session","engine_id":"e","session_id":"tiny-1","scenario":"tiny","seed":1,"instruments":[{"symbol":"XYZ","tick_size":0.01,"lot_size":1.0,"price_decimals":2,"qty_decimals":0,"venues":[{"name":"XNAS","kind":"lit"},{"name":"DARK","kind":"dark"}]}],"contract":{"version":1,"features":["a"],"actions":["wait","passive","dark","mixed","aggressive","catch_up"]}}"#.into()),
        (at(0), format!(r#"{{"kind":"order_new","order":{{"order_id":"P-1","symbol":"XYZ","side":"buy","qty":1000.0,"strategy":"adaptive","start_ts":{},"end_ts":{},"params":{{"urgency":0.5,"max_participation":0.25,"target_participation":0.1,"limit_price":null,"min_child_qty":1.0,"max_child_qty":1000.0,"venues":[]}}}}}}"#, at(0), at(60))),
        (at(0), market(10.00, 0.01, 10.00, 0.0)),
        (at(0), r#"{"kind":"order_progress","order_id":"P-1","progress":{"filled":0.0,"scheduled":0.0,"working":0.0,"avg_price":null,"arrival_price":10.0,"slippage_bps":null}}"#.into()),
        (at(0), r#"{"kind":"decision","order_id":"P-1","strategy":"adaptive","action":"passive","confidence":0.8,"probs":[0.0,0.8,0.2,0.0,0.0,0.0],"features":[0.5],"model":"m@1","overridden":false,"target_qty":1000.0,"children":[]}"#.into()),
        (at(0), r#"{"kind":"child_sent","order_id":"P-1","child":{"child_id":"C-1","venue":"XNAS","child_type":"limit","side":"buy","qty":600.0,"price":10.01}}"#.into()),
        (at(0), r#"{"kind":"child_sent","order_id":"P-1","child":{"child_id":"C-2","venue":"DARK","child_type":"mid_peg","side":"buy","qty":400.0}}"#.into()),
        (at(1), r#"{"kind":"fill","order_id":"P-1","child_id":"C-1","venue":"XNAS","venue_kind":"lit","price":10.01,"qty":600.0,"liquidity":"taker"}"#.into()),
        (at(5), market(10.02, 0.01, 10.02, 2000.0)),
        (at(6), r#"{"kind":"fill","order_id":"P-1","child_id":"C-2","venue":"DARK","venue_kind":"dark","price":10.02,"qty":200.0,"liquidity":"maker"}"#.into()),
        (at(6), r#"{"kind":"order_progress","order_id":"P-1","progress":{"filled":800.0,"scheduled":100.0,"working":200.0,"avg_price":10.0125,"arrival_price":10.0,"slippage_bps":12.5}}"#.into()),
        (at(10), market(10.04, 0.01, 10.04, 4000.0)),
        (at(12), r#"{"kind":"command_applied","command_id":"c1","user":"alice","command":{"kind":"cancel","order_id":"P-1"},"ok":true}"#.into()),
        (at(12), r#"{"kind":"order_state","order_id":"P-1","state":"cancelled","reason":"cancelled by alice"}"#.into()),
        (at(15), market(10.06, 0.01, 10.06, 5000.0)),
    ]
}

fn write_tiny(path: &Path) {
    let header = JournalHeader {
        format: 1,
        engine_version: "test".into(),
        engine_id: "e".into(),
        session_id: "tiny-1".into(),
        scenario: "tiny".into(),
        seed: 1,
        model_ids: vec!["m@1".into()],
        scenario_toml: String::new(),
        ..Default::default()
    };
    let mut w = JournalWriter::create_at(path, &header).unwrap();
    for (i, (ts, ev)) in tiny_events().iter().enumerate() {
        w.append_event_json(&format!(
            r#"{{"type":"event","seq":{},"ts":{ts},"event":{ev}}}"#,
            i + 1
        ))
        .unwrap();
    }
    w.flush().unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn figures_match_a_hand_computed_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.vigil");
    write_tiny(&path);
    let j = vigil::engine::journal::Journal::open(&path).unwrap();
    assert!(j.truncated.is_none());
    let s = Session::from_events(j.events());
    let o = &s.orders[0];
    let c = order_costs(&s, o, &FeeSchedule::default());
    // Arrival notional 1,000 × 10.00 = 10,000: 1 bp = $1.
    assert!(close(c.arrival_notional, 10_000.0));
    assert!(close(c.filled, 800.0) && close(c.fill_rate(), 0.8));
    assert!(close(c.avg_price.unwrap(), 10.0125));
    // p0 = mid at the first child (10:00:00) = 10.00: no delay.
    assert!(close(c.delay_bps(), 0.0));
    // 600 × 0.01 + 200 × 0.02 = $10.
    assert!(close(c.execution_bps(), 10.0), "{}", c.execution_bps());
    // Cancelled at 10:00:12, mid then (summary of 10:00:10) 10.04: 200 × 0.04 = $8.
    assert!(close(c.opportunity_bps(), 8.0), "{}", c.opportunity_bps());
    // 600 × 0.30¢ + 200 × 0.10¢ = $2.
    assert!(close(c.fees_bps(), 2.0), "{}", c.fees_bps());
    assert!(close(c.shortfall_bps(), 20.0));
    // Interval VWAP (10:00:00, 10:00:12]: (2000 × 10.02 + 2000 × 10.04) / 4000 = 10.03.
    assert!(close(c.vwap.unwrap(), 10.03));
    assert!(close(c.participation().unwrap(), 0.2));
    assert!(close(
        c.vwap_slippage_bps.unwrap(),
        (10.0125 - 10.03) / 10.03 * 1e4
    ));
    // Spread capture vs the mid at or before each fill: 600 × (10.00 − 10.01) + 200 × 0 = −$6
    // over $8,000 filled at arrival: −7.5 bps.
    assert!(close(c.spread_capture_bps().unwrap(), -7.5));
    // Split: 600 aggressive, 200 dark.
    assert!(close(c.taker_qty, 600.0) && close(c.dark_qty, 200.0) && close(c.maker_qty, 0.0));
    assert!(close(c.passive_share().unwrap(), 0.25));
    // Markouts (first summary at or after fill + h):
    // +1 s: 600 × (10.02 − 10.01) + 200 × (10.04 − 10.02) = $10 → 12.5 bps;
    // +10 s and +1 min: 600 × 0.05 + 200 × 0.04 = $38 → 47.5 bps.
    assert!(close(c.markout_bps(0).unwrap(), 12.5));
    assert!(close(c.markout_bps(1).unwrap(), 47.5));
    assert!(close(c.markout_bps(2).unwrap(), 47.5));
    // Venues: XNAS 600 of 600 sent, DARK 200 of 400.
    let xnas = c.venues.iter().find(|v| v.venue == "XNAS").unwrap();
    let dark = c.venues.iter().find(|v| v.venue == "DARK").unwrap();
    assert!(close(xnas.fill_rate().unwrap(), 1.0) && close(xnas.avg_price().unwrap(), 10.01));
    assert!(close(dark.fill_rate().unwrap(), 0.5) && dark.kind == "dark");
    // The model: one passive decision at 0.8.
    let m = model_stats(&s.orders, 0.35);
    assert_eq!(m.decisions, 1);
    assert_eq!(m.actions["passive"], 1);
    assert_eq!(m.confidence_bins[8], 1);
    assert_eq!(s.interventions.len(), 1);
    assert_eq!(s.interventions[0].user, "alice");
}

fn opts(out: PathBuf, format: Format, counterfactual: bool) -> ReportOptions {
    ReportOptions {
        out,
        format,
        fees: FeeSchedule::default(),
        counterfactual,
        classic: "vwap".into(),
    }
}

#[test]
fn the_report_and_every_chart_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.vigil");
    write_tiny(&path);
    for format in [Format::Md, Format::Html] {
        let out = dir.path().join(format!("{format:?}"));
        let done = report(&path, &opts(out.clone(), format, true), None).unwrap();
        let text = std::fs::read_to_string(&done.document).unwrap();
        assert!(text.contains("20.00"), "IS of the tiny order:\n{text}");
        assert!(text.contains("alice"));
        assert!(text.contains("cannot be re-simulated"));
        assert!(
            text.contains("because the session cannot be re-simulated: +1 s and +10 s markouts land up to 5 s late and are indicative only"),
            "{text}"
        );
        assert_eq!(done.charts.len(), 5);
        for c in &done.charts {
            let svg = std::fs::read_to_string(c).unwrap();
            assert!(svg.len() > 500 && svg.contains("<svg"), "{}", c.display());
            let name = c.file_name().unwrap().to_str().unwrap();
            assert!(text.contains(name), "{name} is not referenced");
        }
        if format == Format::Html {
            assert!(text.starts_with("<!DOCTYPE html>") && text.contains("<table>"));
        }
    }
}

#[test]
fn truncated_and_foreign_files_give_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.vigil");
    write_tiny(&path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 30]).unwrap();
    let done = report(&path, &opts(dir.path().join("r"), Format::Md, false), None).unwrap();
    assert!(done.notes[0].contains("stops early") && done.notes[0].contains("cut short"));
    let text = std::fs::read_to_string(&done.document).unwrap();
    assert!(
        text.contains("**Warning:** the journal stops early"),
        "{text}"
    );
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "not a journal\n").unwrap();
    let err = report(
        &other,
        &opts(dir.path().join("r2"), Format::Md, false),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("is not a vigil journal"), "{err}");
}

#[test]
fn counterfactuals_reproduce_the_recorded_session_and_attribute_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let s = window(&Scenario::load("default").unwrap(), "10:00:00", "10:20:00").unwrap();
    let script = Script {
        command: vec![ScriptedCommand {
            at: "10:05:00".into(),
            user: "alice".into(),
            command: Command::Override {
                order_id: "P-1".into(),
                action: Some("aggressive".into()),
                strategy: None,
                decisions: Some(6),
            },
        }],
    };
    let path = dir.path().join("s.vigil");
    record(&s, Some(5), &script, &path).unwrap();
    let mut shadow = ConstantShadow {
        probs: vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
    };
    let done = report(
        &path,
        &opts(dir.path().join("r"), Format::Md, true),
        Some(&mut shadow),
    )
    .unwrap();
    let text = std::fs::read_to_string(&done.document).unwrap();
    assert!(done.notes.is_empty(), "{:?}", done.notes);
    assert!(
        text.contains("reproduces the journal's fills exactly"),
        "{text}"
    );
    assert!(text.contains("humans added bps") && text.contains("vwap everywhere"));
    assert!(text.contains("Shadow `constant@test` re-scored"), "{text}");
    assert!(text.contains("override P-1"));
}

/// Markouts and spread capture from the as-recorded re-run equal those
/// computed from an engine run here, stopped at each fill's instants and asked
/// for its mid.
#[test]
fn markouts_are_exact_when_the_session_is_re_simulated() {
    const SEED: u64 = 3;
    let dir = tempfile::tempdir().unwrap();
    let sc = window(&Scenario::load("calm").unwrap(), "10:00:00", "10:15:00").unwrap();
    let path = dir.path().join("calm.vigil");
    record(&sc, Some(SEED), &Script::default(), &path).unwrap();
    let s = Session::from_events(Journal::open(&path).unwrap().events());
    let fees = FeeSchedule::default();
    let cf = counterfactual::run(&sc, SEED, &s, &fees, "twap").unwrap();
    assert!(cf.reproduced);
    let exact = cf.exact.as_ref().expect("exact mids");

    // Every instant, in time order: (instant, order, fill, 0 = just before the
    // fill or 1 + horizon).
    let mut instants = Vec::new();
    for (i, o) in s.orders.iter().enumerate() {
        assert!(o.fills.len() > 10, "{} has too few fills", o.info.order_id);
        for (j, f) in o.fills.iter().enumerate() {
            instants.push((f.ts - 1, i, j, 0));
            for (h, secs) in MARKOUT_HORIZONS_S.iter().enumerate() {
                instants.push((f.ts + secs * 1_000_000_000, i, j, h + 1));
            }
        }
    }
    instants.sort();
    let mut engine = Engine::new(
        &sc,
        &EngineOptions {
            seed: Some(SEED),
            ..Default::default()
        },
    )
    .unwrap();
    // mids[order][fill][slot]
    let mut mids: Vec<Vec<[f64; 5]>> = s
        .orders
        .iter()
        .map(|o| vec![[f64::NAN; 5]; o.fills.len()])
        .collect();
    for &(t, i, j, k) in &instants {
        engine.run_until(t);
        mids[i][j][k] = engine.mid_price(&s.orders[i].info.symbol).unwrap();
    }
    let mut differs = false;
    for (i, o) in s.orders.iter().enumerate() {
        let c = order_costs_at(&s, o, &fees, &exact.fills[i]);
        let side = side_sign(o.info.side);
        let filled_notional = c.arrival_notional * c.filled / c.qty;
        let bps = |k: usize| {
            o.fills
                .iter()
                .zip(&mids[i])
                .map(|(f, m)| side * (m[k] - f.price) * f.qty)
                .sum::<f64>()
                / filled_notional
                * 1e4
        };
        let near = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(
            near(c.spread_capture_bps().unwrap(), bps(0)),
            "{}: spread capture {} vs {}",
            o.info.order_id,
            c.spread_capture_bps().unwrap(),
            bps(0)
        );
        for (h, secs) in MARKOUT_HORIZONS_S.iter().enumerate() {
            assert!(
                near(c.markout_bps(h).unwrap(), bps(h + 1)),
                "{} +{secs} s: {} vs {}",
                o.info.order_id,
                c.markout_bps(h).unwrap(),
                bps(h + 1)
            );
        }
        let summaries = order_costs(&s, o, &fees);
        differs |= !near(summaries.markout_bps(0).unwrap(), c.markout_bps(0).unwrap());
        // The cost decomposition stays on the summaries, as in the re-runs it is compared with.
        assert!(near(summaries.shortfall_bps(), c.shortfall_bps()));
    }
    assert!(differs, "exact +1 s markouts equal the 5-second summaries'");

    // The report uses them and says so.
    let done = report(&path, &opts(dir.path().join("r"), Format::Md, true), None).unwrap();
    let text = std::fs::read_to_string(&done.document).unwrap();
    assert!(
        text.contains(
            "Spread capture and markouts use exact mids from the as-recorded re-simulation"
        ),
        "{text}"
    );
    assert!(!text.contains("indicative only"), "{text}");
    let first = &s.orders[0];
    let c = order_costs_at(&s, first, &fees, &exact.fills[0]);
    assert!(
        text.contains(&format!("{:.2}", c.markout_bps(0).unwrap())),
        "{text}"
    );
}

/// The header names each model that serves decisions once (the default
/// scenario's two adaptive orders share the policy), the decisions carry the
/// same id, the report shows it; a rules-only session names none.
#[test]
fn the_journal_names_the_models_serving_decisions_and_the_report_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let policy_path = vigil::model::default_model_path("policy.onnx");
    let policy = PolicyModel::load(&policy_path).unwrap();
    assert!(policy.id.starts_with("policy@"), "{}", policy.id);

    let s = window(&Scenario::load("default").unwrap(), "10:30:00", "10:40:00").unwrap();
    assert_eq!(
        s.orders.iter().filter(|o| o.strategy == "adaptive").count(),
        2
    );
    let path = dir.path().join("default.vigil");
    record(&s, Some(5), &Script::default(), &path).unwrap();
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.header.model_ids, vec![policy.id.clone()]);
    assert!(j
        .events()
        .any(|e| matches!(&e.event, Event::Decision(d) if d.model == policy.id)));
    let done = report(&path, &opts(dir.path().join("r"), Format::Md, false), None).unwrap();
    let text = std::fs::read_to_string(&done.document).unwrap();
    assert!(
        text.contains(&format!("; models: {}.", policy.id)),
        "{text}"
    );

    let calm = window(&Scenario::load("calm").unwrap(), "10:00:00", "10:05:00").unwrap();
    let path = dir.path().join("calm.vigil");
    record(&calm, Some(5), &Script::default(), &path).unwrap();
    assert!(Journal::open(&path).unwrap().header.model_ids.is_empty());
    let done = report(&path, &opts(dir.path().join("r2"), Format::Md, false), None).unwrap();
    let text = std::fs::read_to_string(&done.document).unwrap();
    assert!(!text.contains("models:"), "{text}");

    // A policy loaded on purpose serves any order later created or switched
    // to `adaptive`: it is named even before one is.
    let engine = Engine::new(
        &calm,
        &EngineOptions {
            policy_path: Some(policy_path),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(engine.model_ids(), vec![policy.id]);
}
