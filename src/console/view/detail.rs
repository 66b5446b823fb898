//! Detail pane of the selected order: price with fills, executed vs
//! scheduled, the decision log, parameters, override and command outcomes.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::util::{decimals, fmt, level_bar, pane, put, put_clipped};
use crate::console::app::{App, Focus};
use crate::console::state::{describe_command, format_ts, ts_secs, ConsoleState, DecisionRecord};
use crate::model::FEATURES;
use crate::protocol::view::OrderView;
use crate::protocol::{GuardState, ServedModel};

pub fn render(app: &App, order: Option<&OrderView>, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(o) = order else {
        pane(t, " Detail ", app.focus == Focus::Detail, area, buf);
        return;
    };
    let state = app.shown();
    let mut s = String::new();
    let title = match o.state_reason.as_deref().filter(|r| !r.is_empty()) {
        Some(reason) => fmt(
            &mut s,
            format_args!(
                " {} · {} {} · {reason} ",
                o.info.order_id, o.info.symbol, o.info.strategy
            ),
        ),
        None => fmt(
            &mut s,
            format_args!(
                " {} · {} {} ",
                o.info.order_id, o.info.symbol, o.info.strategy
            ),
        ),
    }
    .to_string();
    let inner = pane(t, &title, app.focus == Focus::Detail, area, buf);
    if inner.width < 20 || inner.height < 4 {
        return;
    }
    // On a narrow screen the text (parameters, decision log) gets more room
    // than the charts, which stay readable when small.
    let chart_share = if inner.width < 110 { 40 } else { 50 };
    let [charts, right] = Layout::horizontal([
        Constraint::Percentage(chart_share),
        Constraint::Percentage(100 - chart_share),
    ])
    .areas(inner);
    let [price_area, progress_area] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    price_chart(app, state, o, price_area, buf);
    progress_chart(app, state, o, progress_area, buf);
    let score = state.shadow.get(&o.info.order_id);
    let shadow_h = score.map_or(0, |_| super::shadow::height(right.height.saturating_sub(8)));
    let [params_area, shadow_area, log_area] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Length(shadow_h),
        Constraint::Min(2),
    ])
    .areas(right);
    params(app, state, o, params_area, buf);
    if let Some(score) = score {
        let diverging = state.divergence.contains_key(&o.info.order_id);
        super::shadow::render(app, score, diverging, shadow_area, buf);
    }
    decision_log(app, state, o, log_area, buf);
}

fn x_bounds(o: &OrderView, now: u64) -> [f64; 2] {
    let start = ts_secs(o.info.start_ts);
    let end = ts_secs(o.info.end_ts.max(now)).max(start + 1.0);
    [start, end]
}

fn time_labels(b: [f64; 2]) -> [String; 2] {
    let f = |x: f64| {
        let ms = (x * 1000.0) as u64;
        format!(
            "{:02}:{:02}:{:02}",
            ms / 3_600_000,
            (ms / 60_000) % 60,
            (ms / 1000) % 60
        )
    };
    [f(b[0]), f(b[1])]
}

fn price_chart(app: &App, state: &ConsoleState, o: &OrderView, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let (pd, _) = decimals(state, &o.info.symbol);
    let prices = state.prices.get(&o.info.symbol);
    let fills = state
        .history(&o.info.order_id)
        .map(|h| h.fills.points())
        .unwrap_or(&[]);
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    if let Some((a, b)) = prices.and_then(|p| p.y_bounds()) {
        lo = lo.min(a);
        hi = hi.max(b);
    }
    for &(_, p) in fills {
        lo = lo.min(p);
        hi = hi.max(p);
    }
    if let Some(limit) = o.info.params.limit_price {
        if lo.is_finite() {
            lo = lo.min(limit);
            hi = hi.max(limit);
        }
    }
    if !lo.is_finite() {
        put(
            buf,
            area.x,
            area.y,
            " price: no market data yet",
            area.width,
            Style::default().fg(t.dim),
        );
        return;
    }
    let pad = ((hi - lo) * 0.1).max(10f64.powi(-(pd as i32)));
    let (lo, hi) = (lo - pad, hi + pad);
    let xb = x_bounds(o, state.view.ts);
    let mut sets = vec![Dataset::default()
        .name("mid")
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::default().fg(t.chart_price))
        .data(prices.map(|p| p.points()).unwrap_or(&[]))];
    if !fills.is_empty() {
        sets.push(
            Dataset::default()
                .name("fills ◆")
                .marker(Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(t.chart_fill))
                .data(fills),
        );
    }
    let [x0, x1] = time_labels(xb);
    Chart::new(sets)
        .x_axis(
            Axis::default()
                .bounds(xb)
                .labels([x0, x1])
                .style(Style::default().fg(t.dim)),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels([format!("{lo:.pd$}"), format!("{hi:.pd$}")])
                .style(Style::default().fg(t.dim)),
        )
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
        .render(area, buf);
}

fn progress_chart(app: &App, state: &ConsoleState, o: &OrderView, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(h) = state.history(&o.info.order_id) else {
        return;
    };
    let (_, qd) = decimals(state, &o.info.symbol);
    let xb = x_bounds(o, state.view.ts);
    let top = o.info.qty.max(1.0);
    let [x0, x1] = time_labels(xb);
    Chart::new(vec![
        Dataset::default()
            .name("scheduled")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(t.chart_scheduled))
            .data(h.scheduled.points()),
        Dataset::default()
            .name("executed")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(t.chart_executed))
            .data(h.executed.points()),
    ])
    .x_axis(
        Axis::default()
            .bounds(xb)
            .labels([x0, x1])
            .style(Style::default().fg(t.dim)),
    )
    .y_axis(
        Axis::default()
            .bounds([0.0, top])
            .labels(["0".to_string(), format!("{top:.qd$}")])
            .style(Style::default().fg(t.dim)),
    )
    .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
    .render(area, buf);
}

fn params(app: &App, state: &ConsoleState, o: &OrderView, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let (pd, qd) = decimals(state, &o.info.symbol);
    let p = &o.info.params;
    let mut s = String::new();
    let label = Style::default().fg(t.dim);
    let value = Style::default().fg(t.fg);
    let mut y = area.y;
    let w = area.width;
    let bottom = area.y + area.height;
    let mut line = |parts: &[(&str, Style)], buf: &mut Buffer| {
        if y >= bottom {
            return;
        }
        let mut x = area.x + 1;
        for (text, style) in parts {
            x = put(buf, x, y, text, (area.x + w).saturating_sub(x), *style);
        }
        y += 1;
    };
    let limit = p
        .limit_price
        .map_or_else(|| "none".to_string(), |l| format!("{l:.pd$}"));
    let venues = if p.venues.is_empty() {
        "all".to_string()
    } else {
        p.venues.join(",")
    };
    let head = fmt(
        &mut s,
        format_args!(
            "urgency {:.2} · max part {:.1}% · target {:.1}% · limit {limit}",
            p.urgency,
            p.max_participation * 100.0,
            p.target_participation * 100.0
        ),
    )
    .to_string();
    line(&[("params  ", label), (&head, value)], buf);
    let second = format!(
        "child {:.qd$}..{:.qd$} · venues {venues} · filled {:.qd$}/{:.qd$} · working {:.qd$}",
        p.min_child_qty, p.max_child_qty, o.progress.filled, o.info.qty, o.progress.working
    );
    line(&[("        ", label), (&second, value)], buf);
    match &o.override_ {
        Some(ov) => {
            let what = ov
                .action
                .as_deref()
                .map(|a| format!("action {a}"))
                .or_else(|| ov.strategy.as_deref().map(|s| format!("strategy {s}")))
                .unwrap_or_default();
            let until = ov.remaining.map_or_else(
                || "until released".to_string(),
                |n| format!("{n} decisions left"),
            );
            let text = format!("⚑ {what}, {until} (by {}) — O releases", ov.user);
            line(
                &[
                    ("override ", label),
                    (
                        &text,
                        Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
                    ),
                ],
                buf,
            );
        }
        None => line(&[("override ", label), ("none", value)], buf),
    }
    if let Some(origin) = &o.info.origin {
        let text = format!("FIX {} · ClOrdID {}", origin.fix_session, origin.cl_ord_id);
        line(&[("origin  ", label), (&text, value)], buf);
    }
    if let Some(served) = &o.info.model {
        let (text, style) = model_line(state, served);
        let style = match style {
            ModelLook::Fine => value,
            ModelLook::Off => Style::default().fg(t.critical).add_modifier(Modifier::BOLD),
        };
        line(&[("model   ", label), (&text, style)], buf);
    }
    if let Some(reason) = o
        .last_decision
        .as_ref()
        .filter(|d| d.fell_back)
        .and_then(|d| d.fallback_reason.as_deref())
    {
        let text = format!("↩ last decision followed the baseline: {reason}");
        line(
            &[("fallback ", label), (&text, Style::default().fg(t.warn))],
            buf,
        );
    }
    if let Some(d) = state.divergence.get(&o.info.order_id) {
        let text = format!(
            "≠ shadow says {} vs live {}: {}",
            d.shadow_action, d.live_action, d.note
        );
        line(
            &[
                ("shadow  ", label),
                (&text, Style::default().fg(t.critical)),
            ],
            buf,
        );
    }
    let pending: Vec<String> = app
        .live
        .pending
        .iter()
        .filter(|c| c.command.order_id() == Some(o.info.order_id.as_str()))
        .map(|c| describe_command(&c.command))
        .collect();
    if !pending.is_empty() {
        let text = format!("⧗ {} — waiting for ack", pending.join(", "));
        line(
            &[("pending ", label), (&text, Style::default().fg(t.pending))],
            buf,
        );
    }
    if let Some(out) = app.live.last_outcome_for(&o.info.order_id) {
        let (text, style) = if out.ok {
            (
                format!("✓ {} accepted", describe_command(&out.command)),
                Style::default().fg(t.ok),
            )
        } else {
            (
                format!(
                    "✗ {} REFUSED: {}",
                    describe_command(&out.command),
                    out.reason.as_deref().unwrap_or("no reason given")
                ),
                Style::default().fg(t.refused).add_modifier(Modifier::BOLD),
            )
        };
        line(&[("last cmd ", label), (&text, style)], buf);
    }
}

enum ModelLook {
    Fine,
    Off,
}

/// Which model serves the order, its status and its guard.
fn model_line(state: &ConsoleState, served: &ServedModel) -> (String, ModelLook) {
    let status = served.status.name();
    let Some(m) = state.view.model(&served.name) else {
        return (format!("{} ({status})", served.name), ModelLook::Fine);
    };
    let figure = m.cost_vs_baseline_bps.map_or_else(
        || "not judged yet".to_string(),
        |c| format!("{c:+.1} bps vs baseline (limit {:+.0})", m.threshold_bps),
    );
    match m.guard {
        GuardState::Ok => (
            format!(
                "{} ({status}) · guard ok, {figure} — X switches it off",
                m.name
            ),
            ModelLook::Fine,
        ),
        GuardState::Tripped | GuardState::Killed => (
            format!(
                "⊘ {} ({status}) off: {} · baseline schedule · X: restore",
                m.name,
                m.reason.as_deref().unwrap_or("switched off")
            ),
            ModelLook::Off,
        ),
    }
}

fn decision_log(app: &App, state: &ConsoleState, o: &OrderView, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    if area.height == 0 {
        return;
    }
    let head = Style::default().fg(t.dim).add_modifier(Modifier::BOLD);
    let h = state.history(&o.info.order_id);
    let rule_based = h
        .and_then(|h| h.decisions.iter_newest_first().next())
        .is_some_and(is_rule);
    put(
        buf,
        area.x + 1,
        area.y,
        if rule_based {
            "TIME          ACTION      BY    WHAT IT DOES"
        } else {
            "TIME          ACTION      CONF  PROBS     MAIN FEATURES"
        },
        area.width.saturating_sub(1),
        head,
    );
    let Some(h) = h else {
        return;
    };
    let names = &state.view.contract.features;
    // Scale of each contract feature, looked up once per frame.
    let scales: Vec<f64> = names
        .iter()
        .map(|n| {
            FEATURES
                .iter()
                .find(|f| f.name == n)
                .map_or(1.0, |f| f.scale.abs().max(1e-12))
        })
        .collect();
    let mut s = String::new();
    let end = area.x + area.width;
    for (i, d) in h
        .decisions
        .iter_newest_first()
        .take(area.height as usize - 1)
        .enumerate()
    {
        let y = area.y + 1 + i as u16;
        let mut x = area.x + 1;
        let base = Style::default().fg(t.fg);
        x = put(
            buf,
            x,
            y,
            &format_ts(d.ts),
            end.saturating_sub(x),
            Style::default().fg(t.dim),
        );
        x += 1;
        let action = state.action_name(d.action);
        let act_text = fmt(
            &mut s,
            format_args!("{action}{}", if d.overridden { "⚑" } else { "" }),
        );
        put(
            buf,
            x,
            y,
            act_text,
            11.min(end.saturating_sub(x)),
            if d.overridden { base.fg(t.warn) } else { base },
        );
        x += 12;
        if is_rule(d) {
            // A rule has no confidence or probabilities: say what it does.
            x = put(buf, x, y, "rule", end.saturating_sub(x), base.fg(t.dim)) + 2;
            put_clipped(
                buf,
                x,
                y,
                action_meaning(action),
                end.saturating_sub(x),
                Style::default().fg(t.dim),
            );
            continue;
        }
        let conf_style = if d.confidence < 0.5 {
            base.fg(t.warn)
        } else {
            base
        };
        x = put(
            buf,
            x,
            y,
            fmt(&mut s, format_args!("{:.2}", d.confidence)),
            end.saturating_sub(x),
            conf_style,
        );
        x += 2;
        for (k, p) in d.probs().iter().enumerate() {
            if x >= end {
                break;
            }
            let style = if k as u8 == d.action {
                base.fg(t.accent)
            } else {
                base.fg(t.bar)
            };
            let mut tmp = [0u8; 4];
            put(buf, x, y, level_bar(*p).encode_utf8(&mut tmp), 1, style);
            x += 1;
        }
        x = x.max(area.x + 33) + 1;
        // The two features furthest from normal explain most of a decision.
        let feats = d.features();
        let mut top: [(usize, f64); 2] = [(usize::MAX, 0.0); 2];
        for (k, v) in feats.iter().enumerate() {
            let z = (*v as f64 / scales.get(k).copied().unwrap_or(1.0)).abs();
            if z > top[0].1 {
                top[1] = top[0];
                top[0] = (k, z);
            } else if z > top[1].1 {
                top[1] = (k, z);
            }
        }
        for (k, _) in top.iter().filter(|(k, _)| *k != usize::MAX) {
            if x >= end {
                break;
            }
            let name = names.get(*k).map_or("?", String::as_str);
            x = put(
                buf,
                x,
                y,
                fmt(&mut s, format_args!("{name}={:+.2} ", feats[*k])),
                end.saturating_sub(x),
                Style::default().fg(t.dim),
            );
        }
    }
    if h.decisions.is_empty() {
        put(
            buf,
            area.x + 1,
            area.y + 1,
            "no decisions recorded yet",
            area.width.saturating_sub(1),
            Style::default().fg(t.dim),
        );
    }
}

/// A decision made by a rule-based strategy. Records keep no model name; a
/// rule reports itself as certain, with a one-hot probability vector, which a
/// softmax model never produces exactly.
fn is_rule(d: &DecisionRecord) -> bool {
    d.confidence == 1.0 && d.probs().iter().all(|p| *p == 0.0 || *p == 1.0)
}

/// What an action of the contract does, in a few words.
pub fn action_meaning(action: &str) -> &'static str {
    match action {
        "wait" => "send nothing",
        "passive" => "passive at near touch",
        "dark" => "dark midpoint",
        "mixed" => "half passive, half dark",
        "aggressive" => "across the spread",
        "catch_up" => "catch up to schedule",
        _ => "",
    }
}
