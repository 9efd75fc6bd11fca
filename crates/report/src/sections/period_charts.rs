//! The period report's charts: availability and quality day by day.

use super::*;

/// Date labels at the start of every few days, on the same time axis as the points.
fn x_labels(p: &PeriodFigures, n: usize) -> Vec<(f32, String)> {
    let days = p.lines.first().map(|f| f.days.len()).unwrap_or(0);
    if days == 0 {
        return Vec::new();
    }
    let step = (days / n.max(1)).max(1);
    p.lines[0]
        .days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0)
        .map(|(i, day)| (i as f32 / days as f32, day.date.format("%m-%d").to_string()))
        .collect()
}

/// Where day `i` of `n` sits on a time axis: its middle.
fn day_x(i: usize, n: usize) -> f32 {
    (i as f32 + 0.5) / n.max(1) as f32
}

/// One series a line, from a figure of each of its days.
fn day_series(p: &PeriodFigures, f: fn(&crate::figures::Day) -> Option<f64>) -> Vec<Series> {
    p.lines
        .iter()
        .enumerate()
        .map(|(i, lf)| Series {
            name: lf.line.clone(),
            colour: COLOURS[i % COLOURS.len()],
            points: lf
                .days
                .iter()
                .enumerate()
                .map(|(j, x)| (day_x(j, lf.days.len()), f(x)))
                .collect(),
            dashed: false,
        })
        .collect()
}

/// The period's charts: daily availability, budget burn-down, latency
/// percentiles and traffic against the contract.
pub fn charts(d: &mut Doc, p: &PeriodFigures, n: usize) {
    let l = d.language;
    d.heading(
        1,
        tr(l, &format!("{}、图表", zh_num(n)), &format!("{n}. Charts")),
    );
    availability_chart(d, p);
    budget_chart(d, p);
    for f in &p.lines {
        rtt_chart(d, p, f);
        if let Some(t) = &f.traffic {
            traffic_chart(d, p, f, t);
        }
    }
}

/// Every line's daily availability, on an axis from just below the
/// lowest day.
fn availability_chart(d: &mut Doc, p: &PeriodFigures) {
    let l = d.language;
    let floor = p
        .lines
        .iter()
        .flat_map(|f| f.days.iter().filter_map(|x| x.availability))
        .fold(0.999f64, f64::min)
        .max(0.0);
    let floor = (floor * 1000.0).floor() / 1000.0;
    d.chart(
        LineChart {
            title: tr(l, "每日可用率", "Daily availability"),
            x_labels: x_labels(p, 6),
            y_min: floor,
            y_max: 1.0,
            y_format: |v| format!("{}%", fixed(v * 100.0, 2)),
            series: day_series(p, |x| x.availability),
            rules: Vec::new(),
        }
        .render(),
    );
}

/// Every line's contract-year downtime budget left, day by day.
fn budget_chart(d: &mut Doc, p: &PeriodFigures) {
    let l = d.language;
    let cap = p.cap_s / 60.0;
    let min_left = p
        .lines
        .iter()
        .flat_map(|f| f.days.iter().map(|x| x.budget_left_s / 60.0))
        .fold(0.0f64, f64::min);
    d.chart(
        LineChart {
            title: tr(
                l,
                "合同年中断预算剩余（分钟）",
                "Contract-year downtime budget left (minutes)",
            ),
            x_labels: x_labels(p, 6),
            y_min: min_left.min(0.0),
            y_max: cap,
            y_format: |v| format!("{v:.0}"),
            series: day_series(p, |x| Some(x.budget_left_s / 60.0)),
            rules: vec![Rule {
                name: tr(l, "用尽", "exhausted"),
                value: 0.0,
                colour: "#d62728",
            }],
        }
        .render(),
    );
}

/// One line's daily RTT percentiles.
fn rtt_chart(d: &mut Doc, p: &PeriodFigures, f: &LineFigures) {
    let l = d.language;
    let top = f
        .days
        .iter()
        .filter_map(|x| x.rtt_p99_ms)
        .fold(1.0f64, f64::max)
        * 1.1;
    let pts = |g: fn(&crate::figures::Day) -> Option<f64>| {
        f.days
            .iter()
            .enumerate()
            .map(|(j, x)| (day_x(j, f.days.len()), g(x)))
            .collect()
    };
    d.chart(
        LineChart {
            title: format!(
                "{} — {}",
                f.line,
                tr(l, "每日时延百分位（毫秒）", "daily RTT percentiles (ms)")
            ),
            x_labels: x_labels(p, 6),
            y_min: 0.0,
            y_max: top,
            y_format: |v| format!("{v:.0}"),
            series: vec![
                Series {
                    name: "P50".into(),
                    colour: COLOURS[2],
                    points: pts(|x| x.rtt_p50_ms),
                    dashed: false,
                },
                Series {
                    name: "P95".into(),
                    colour: COLOURS[3],
                    points: pts(|x| x.rtt_p95_ms),
                    dashed: false,
                },
                Series {
                    name: "P99".into(),
                    colour: COLOURS[1],
                    points: pts(|x| x.rtt_p99_ms),
                    dashed: true,
                },
            ],
            rules: Vec::new(),
        }
        .render(),
    );
}

/// One line's hourly traffic against its contracted bandwidth.
fn traffic_chart(
    d: &mut Doc,
    p: &PeriodFigures,
    f: &LineFigures,
    t: &linkledger_core::traffic::TrafficSummary,
) {
    let l = d.language;
    let span = (p.until - p.period.start).num_seconds().max(1) as f32;
    let xf = |at: DateTime<Utc>| (at - p.period.start).num_seconds() as f32 / span;
    // A year is 8 760 hours: at most ~1 500 points a series.
    let step = f.traffic_hourly.len().div_ceil(1500).max(1);
    let thinned: Vec<(DateTime<Utc>, f64, f64)> = f
        .traffic_hourly
        .chunks(step)
        .map(|c| {
            let n = c.len() as f64;
            (
                c[0].at,
                c.iter().map(|h| h.in_bps).sum::<f64>() / n,
                c.iter().map(|h| h.out_bps).sum::<f64>() / n,
            )
        })
        .collect();
    let contracted = t.contracted_bps / 1e6;
    let top = f
        .traffic_hourly
        .iter()
        .map(|h| h.in_bps.max(h.out_bps) / 1e6)
        .fold(contracted, f64::max)
        * 1.05;
    d.chart(
        LineChart {
            title: format!(
                "{} — {}",
                f.line,
                tr(
                    l,
                    "流量（Mbit/s，小时均值）",
                    "traffic (Mbit/s, hourly average)"
                )
            ),
            x_labels: x_labels(p, 6),
            y_min: 0.0,
            y_max: top,
            y_format: |v| format!("{v:.0}"),
            series: vec![
                Series {
                    name: tr(l, "入", "in"),
                    colour: COLOURS[0],
                    points: thinned.iter().map(|h| (xf(h.0), Some(h.1 / 1e6))).collect(),
                    dashed: false,
                },
                Series {
                    name: tr(l, "出", "out"),
                    colour: COLOURS[3],
                    points: thinned.iter().map(|h| (xf(h.0), Some(h.2 / 1e6))).collect(),
                    dashed: false,
                },
            ],
            rules: vec![
                Rule {
                    name: tr(l, "合同带宽", "contracted"),
                    value: contracted,
                    colour: "#d62728",
                },
                Rule {
                    name: tr(l, "P95（入/出较大者）", "p95 (higher of in/out)"),
                    value: t.inbound.p95_bps.max(t.outbound.p95_bps) / 1e6,
                    colour: "#7f7f7f",
                },
            ],
        }
        .render(),
    );
}
