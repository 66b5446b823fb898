//! The report's charts, drawn with plotters into SVG files (no fonts needed).

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use super::tca::{side_sign, Costs, OrderData, Session};

const W: u32 = 900;
const H: u32 = 420;

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e}")
}

fn hours(ts: u64) -> f64 {
    ts as f64 / 3.6e12
}

fn clock_label(h: &f64) -> String {
    let m = (h * 60.0).round() as i64;
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn pad((lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
    let span = (hi - lo).abs().max(1e-9);
    (lo - span * frac, hi + span * frac)
}

const LIT: RGBColor = RGBColor(31, 119, 180);
const DARK_POOL: RGBColor = RGBColor(148, 103, 189);
const ARRIVAL: RGBColor = RGBColor(214, 39, 40);
const VWAP: RGBColor = RGBColor(44, 160, 44);

/// Price (mid) over the order's life, its fills (lit / dark), arrival and interval VWAP.
pub fn price_chart(path: &Path, s: &Session, o: &OrderData, c: &Costs) -> Result<()> {
    let sym = &o.info.symbol;
    let start = o.info.start_ts;
    let end = o.end_ts.unwrap_or(s.last_ts).max(start + 1);
    let quotes: Vec<(f64, f64)> = s
        .quotes
        .get(sym)
        .map(|q| {
            q.iter()
                .filter(|x| x.ts >= start && x.ts <= end)
                .map(|x| (hours(x.ts), x.mid))
                .collect()
        })
        .unwrap_or_default();
    let mut lo = f64::MAX;
    let mut hi = f64::MIN;
    for y in quotes
        .iter()
        .map(|p| p.1)
        .chain(o.fills.iter().map(|f| f.price))
        .chain(o.arrival)
        .chain(c.vwap)
    {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    let (lo, hi) = pad((lo, hi), 0.05);
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let side = if side_sign(o.info.side) > 0.0 {
        "buy"
    } else {
        "sell"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{} · {} {} {} — price and fills",
                o.info.order_id, side, o.info.qty, sym
            ),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(hours(start)..hours(end), lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_label_formatter(&clock_label)
        .y_desc("price")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(quotes, BLACK.stroke_width(1)))
        .map_err(err)?
        .label("mid (5 s summaries)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLACK));
    for (kind, color, name) in [
        (crate::protocol::VenueKind::Lit, LIT, "lit fills"),
        (crate::protocol::VenueKind::Dark, DARK_POOL, "dark fills"),
    ] {
        chart
            .draw_series(
                o.fills
                    .iter()
                    .filter(|f| f.kind == kind)
                    .map(|f| Circle::new((hours(f.ts), f.price), 2, color.filled())),
            )
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| Circle::new((x + 7, y), 3, color.filled()));
    }
    for (value, color, name) in [
        (o.arrival, ARRIVAL, "arrival"),
        (c.vwap, VWAP, "interval VWAP"),
    ] {
        if let Some(v) = value {
            chart
                .draw_series(LineSeries::new(
                    [(hours(start), v), (hours(end), v)],
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Executed vs scheduled quantity over the order's life.
pub fn progress_chart(path: &Path, o: &OrderData) -> Result<()> {
    let start = o.info.start_ts;
    let end = o
        .progress
        .last()
        .map_or(start + 1, |p| p.0)
        .max(o.end_ts.unwrap_or(0))
        .max(start + 1);
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} — executed vs scheduled", o.info.order_id),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(hours(start)..hours(end), 0.0..o.info.qty * 1.05)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_label_formatter(&clock_label)
        .y_desc("shares")
        .draw()
        .map_err(err)?;
    let sched: Vec<(f64, f64)> = o.progress.iter().map(|p| (hours(p.0), p.2)).collect();
    let exec: Vec<(f64, f64)> = o.progress.iter().map(|p| (hours(p.0), p.1)).collect();
    chart
        .draw_series(LineSeries::new(sched, VWAP.stroke_width(2)))
        .map_err(err)?
        .label("scheduled")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], VWAP));
    chart
        .draw_series(LineSeries::new(exec, LIT.stroke_width(2)))
        .map_err(err)?
        .label("executed")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], LIT));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Horizontal-free bar chart: one bar per label.
pub fn bar_chart(path: &Path, title: &str, y_desc: &str, bars: &[(String, f64)]) -> Result<()> {
    let n = bars.len().max(1);
    let lo = bars.iter().map(|b| b.1).fold(0.0f64, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(0.0f64, f64::max);
    let (lo, hi) = pad((lo, hi.max(lo + 1e-9)), 0.1);
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n as f64, lo..hi)
        .map_err(err)?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x: &f64| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 0.01 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let color = if *v >= 0.0 { LIT } else { ARRIVAL };
            Rectangle::new(
                [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, *v)],
                color.filled(),
            )
        }))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Histogram of values (e.g. per-fill slippage in bps).
pub fn histogram(
    path: &Path,
    title: &str,
    x_desc: &str,
    values: &[f64],
    bins: usize,
) -> Result<()> {
    let lo = values.iter().copied().fold(f64::MAX, f64::min);
    let hi = values.iter().copied().fold(f64::MIN, f64::max);
    let (lo, hi) = if lo <= hi {
        (lo, hi.max(lo + 1.0))
    } else {
        (0.0, 1.0)
    };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in values {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let root = SVGBackend::new(path, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, 0.0..top * 1.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("count")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x0 = lo + i as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width * 0.95, c as f64)], LIT.filled())
        }))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
