//! The parts every period report shares: the summary table, the charts,
//! and each line's section (outages, faults and deadlines, quality by
//! month, traffic, maintenance, exclusions, anomalies, advice), built
//! from [`PeriodFigures`] into a [`Doc`].

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::advice::Advice;
use super::charts::{LineChart, Rule, Series, COLOURS};
use super::doc::{heads, tr, Doc};
use super::figures::{Availability, ClassSummary, LineFigures, PeriodFigures};
use linkledger_config::Language;
use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
use linkledger_core::fault::FaultClass;
use linkledger_ledger::budget::BudgetView;

/// A report duration: whole seconds always shown ("1小时2分3秒", "1h 2m 3s").
pub fn dur(l: Language, secs: f64) -> String {
    let neg = secs < 0.0;
    let s = secs.abs().round() as i64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let body = match (l == Language::ZhCn, h, m) {
        (true, 0, 0) => format!("{s}秒"),
        (true, 0, _) => format!("{m}分{s}秒"),
        (true, _, _) => format!("{h}小时{m}分{s}秒"),
        (false, 0, 0) => format!("{s}s"),
        (false, 0, _) => format!("{m}m {s}s"),
        (false, _, _) => format!("{h}h {m}m {s}s"),
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

pub use linkledger_core::text::fixed;

/// Below this share of the period observed, an availability says too
/// little to be read as one figure.
pub const MEANINGFUL_COVERAGE: f64 = 0.5;

/// The availability, or why it is not meaningful.
pub fn availability(l: Language, a: &Availability) -> String {
    if a.coverage < MEANINGFUL_COVERAGE {
        return match l {
            Language::ZhCn => format!("—（监测覆盖率仅 {}，不足以评价）", pct(Some(a.coverage), 1)),
            Language::En => format!(
                "— (only {} of the period observed: not meaningful)",
                pct(Some(a.coverage), 1)
            ),
        };
    }
    pct(a.availability, 4)
}

pub fn pct(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{}%", fixed(v * 100.0, digits)))
        .unwrap_or_else(|| "—".into())
}

pub fn ms(v: Option<f64>) -> String {
    v.map(|v| fixed(v, 1)).unwrap_or_else(|| "—".into())
}

pub fn mbps(bps: f64) -> String {
    fixed(bps / 1e6, 1)
}

/// A ledger time in the contract's zone, to the second.
pub fn at(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn opt_at(tz: Tz, t: Option<DateTime<Utc>>, l: Language) -> String {
    t.map(|t| at(tz, t))
        .unwrap_or_else(|| tr(l, "未结束", "open"))
}

pub fn class_name(l: Language, c: FaultClass) -> String {
    if l == Language::ZhCn {
        c.zh().to_string()
    } else {
        c.as_str().to_string()
    }
}

pub fn deadline_name(l: Language, k: DeadlineKind) -> String {
    let (zh, en) = match k {
        DeadlineKind::Response => ("响应", "response"),
        DeadlineKind::OnSite => ("到场", "on site"),
        DeadlineKind::Resolution => ("修复", "resolution"),
        DeadlineKind::RepairReport => ("维修报告", "repair report"),
    };
    tr(l, zh, en)
}

pub fn state_name(l: Language, s: DeadlineState) -> String {
    let (zh, en) = match s {
        DeadlineState::Pending => ("进行中", "pending"),
        DeadlineState::Met => ("达标", "met"),
        DeadlineState::Breached => ("超时", "breached"),
        DeadlineState::NotRequired => ("不适用", "n/a"),
    };
    tr(l, zh, en)
}

/// The carrier's name as the report's reader says it.
fn shown_carrier(l: Language, f: &LineFigures) -> &str {
    match (&f.display_name, l) {
        (Some(n), Language::ZhCn) => n,
        _ => &f.carrier,
    }
}

/// Our own side's faults in the period: the reason for coverage lost,
/// never charged to the carrier.
fn local_faults_part(d: &mut Doc, tz: Tz, f: &LineFigures) {
    let l = d.language;
    d.heading(
        2,
        tr(l, "本端故障（我方原因）", "Local faults (our own side)"),
    );
    let head = heads(
        l,
        &[("开始", "Start"), ("结束", "End"), ("时长", "Duration")],
    );
    let rows = f
        .local_faults
        .iter()
        .map(|x| {
            vec![
                at(tz, x.start),
                x.end
                    .map(|e| at(tz, e))
                    .unwrap_or_else(|| tr(l, "进行中", "ongoing")),
                dur(l, x.duration_s),
            ]
        })
        .collect();
    d.table(
        &head,
        &[1.5, 1.5, 1.0],
        rows,
        &tr(l, "本期无本端故障。", "No local faults in the period."),
    );
    if !f.local_faults.is_empty() {
        d.note(tr(
            l,
            "本端故障是我方设备（防火墙、CPE 或监测主机的链路）无响应，期间线路未监测：计入覆盖率损失，不计入运营商中断。",
            "A local fault is our own equipment (firewall, CPE or the monitor's link) not answering; the line was unobserved meanwhile: it lowers coverage and is never charged to the carrier.",
        ));
    }
}

/// An outage's cause as a reader says it.
pub fn cause_name(l: Language, code: &str) -> String {
    linkledger_core::vocab::cause(l, code).to_string()
}

fn line_title(l: Language, f: &LineFigures) -> String {
    let role = match (l, f.role.as_str()) {
        (Language::ZhCn, "lead") => "联合体牵头人",
        (Language::ZhCn, _) => "联合体成员",
        (_, "lead") => "consortium lead",
        _ => "consortium member",
    };
    format!(
        "{} — {} ({role}, {} Mbit/s)",
        f.line,
        shown_carrier(l, f),
        f.bandwidth_mbps
    )
}

/// The one-table overview: every line and the egress.
pub fn summary(d: &mut Doc, p: &PeriodFigures, n: usize) {
    let l = d.language;
    d.heading(
        1,
        tr(
            l,
            &format!("{}、总体情况", zh_num(n)),
            &format!("{n}. Summary"),
        ),
    );
    let head = heads(
        l,
        &[
            ("线路", "Line"),
            ("可用率", "Availability"),
            ("本期计费中断", "Charged, period"),
            ("合同年累计", "Charged, year to date"),
            ("剩余预算", "Budget left"),
            ("预计超限", "Projected breach"),
            ("监测覆盖率", "Coverage"),
        ],
    );
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let row = |name: String, a: &Availability, y: &linkledger_ledger::budget::BudgetView| {
        vec![
            name,
            availability(l, a),
            dur(l, a.charged_s),
            format!("{} / {}", dur(l, y.charged_s), dur(l, y.cap_s)),
            dur(l, y.remaining_s),
            y.projected_breach
                .map(|t| at(tz, t)[..10].to_string())
                .unwrap_or_else(|| "—".into()),
            pct(Some(a.coverage), 2),
        ]
    };
    let mut rows: Vec<Vec<String>> = p
        .lines
        .iter()
        .map(|f| {
            row(
                format!("{} ({})", f.line, shown_carrier(l, f)),
                &f.availability,
                &f.year_to_date,
            )
        })
        .collect();
    if let Some(e) = &p.egress {
        rows.push(row(
            tr(l, "出口整体", "whole egress"),
            &e.availability,
            &e.year_to_date,
        ));
    }
    d.table(&head, &[1.6, 1.0, 1.1, 1.7, 1.0, 1.1, 0.9], rows, "");
    d.note(tr(
        l,
        &format!(
            "可用率 = 1 − 计费中断时长 / 有监测时长。计费中断 = 中断时长 − 不可抗力 − 已批准的计划维护{}；未监测时间（监测程序未运行、探测失败，以及线路首次纳入本账本之前）既不计为可用也不计为中断，单列为覆盖率。出口整体仅在所有线路同时中断时计为中断。合同年第 {} 年：{} 至 {}（含），年度上限 {}。",
            if p.approved_maintenance_counts { "（本合同约定计划维护也计入中断）" } else { "" },
            p.contract_year,
            p.contract_year_start.with_timezone(&tz).date_naive(),
            (p.contract_year_end.with_timezone(&tz) - chrono::TimeDelta::days(1)).date_naive(),
            dur(l, p.cap_s)
        ),
        &format!(
            "Availability = 1 − charged downtime / observed time. Charged = outage time − force majeure − approved maintenance{}; unobserved time (monitor not running, probes failing, and time before the line first entered this ledger) is neither up nor down and is shown as coverage. The egress is down only while every line is down. Contract year {}: {} to {} inclusive, annual cap {}.",
            if p.approved_maintenance_counts { " (this contract counts maintenance as downtime)" } else { "" },
            p.contract_year,
            p.contract_year_start.with_timezone(&tz).date_naive(),
            (p.contract_year_end.with_timezone(&tz) - chrono::TimeDelta::days(1)).date_naive(),
            dur(l, p.cap_s)
        ),
    ));
    year_parts_table(d, p);
}

/// A period that contains a contract-year anniversary: each part against
/// its own year's cap (shown only when there is more than one part).
pub fn year_parts_table(d: &mut Doc, p: &PeriodFigures) {
    let l = d.language;
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let mut all: Vec<(String, &[crate::figures::YearPart])> = p
        .lines
        .iter()
        .map(|f| (f.line.clone(), f.years.as_slice()))
        .collect();
    if let Some(e) = &p.egress {
        all.push((tr(l, "出口整体", "whole egress"), e.years.as_slice()));
    }
    if all.iter().all(|(_, ys)| ys.len() < 2) {
        return;
    }
    d.heading(2, tr(l, "跨合同年度分段", "Parts in each contract year"));
    let head = heads(
        l,
        &[
            ("线路", "Line"),
            ("合同年度", "Contract year"),
            ("本期内时段", "Part of the period"),
            ("本段计费中断", "Charged in the part"),
            ("该年度累计 / 上限", "Year to the part's end / cap"),
            ("超出上限（小时）", "Hours over the cap"),
        ],
    );
    let day = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let rows = all
        .iter()
        .flat_map(|(name, ys)| {
            ys.iter().map(move |y| {
                vec![
                    name.clone(),
                    tr(
                        l,
                        &format!("第{}年", y.contract_year),
                        &format!("year {}", y.contract_year),
                    ),
                    format!("{} – {}", day(y.from), day(y.to)),
                    dur(l, y.charged_s),
                    format!(
                        "{} / {}",
                        dur(l, y.budget.charged_s),
                        dur(l, y.budget.cap_s)
                    ),
                    y.hours_over_cap().to_string(),
                ]
            })
        })
        .collect();
    d.table(&head, &[1.2, 0.9, 2.2, 1.1, 1.7, 0.9], rows, "");
    d.note(tr(
        l,
        "本期跨越合同年度起始日：每一段按其所属合同年度的上限分别计算，超出上限的小时数计入该段所在的考核期。",
        "This period contains a contract-year anniversary: each part counts against the cap of its own contract year, and hours over a cap count in the period that contains them.",
    ));
}

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

/// The period's charts: daily availability, budget burn-down, latency
/// percentiles and traffic against the contract.
pub fn charts(d: &mut Doc, p: &PeriodFigures, n: usize) {
    let l = d.language;
    d.heading(
        1,
        tr(l, &format!("{}、图表", zh_num(n)), &format!("{n}. Charts")),
    );
    let floor = p
        .lines
        .iter()
        .flat_map(|f| f.days.iter().filter_map(|x| x.availability))
        .fold(0.999f64, f64::min)
        .max(0.0);
    let floor = (floor * 1000.0).floor() / 1000.0;
    let series = |f: fn(&super::figures::Day) -> Option<f64>| -> Vec<Series> {
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
    };
    d.chart(
        LineChart {
            title: tr(l, "每日可用率", "Daily availability"),
            x_labels: x_labels(p, 6),
            y_min: floor,
            y_max: 1.0,
            y_format: |v| format!("{}%", fixed(v * 100.0, 2)),
            series: series(|x| x.availability),
            rules: Vec::new(),
        }
        .render(),
    );
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
            series: series(|x| Some(x.budget_left_s / 60.0)),
            rules: vec![Rule {
                name: tr(l, "用尽", "exhausted"),
                value: 0.0,
                colour: "#d62728",
            }],
        }
        .render(),
    );
    for f in &p.lines {
        let top = f
            .days
            .iter()
            .filter_map(|x| x.rtt_p99_ms)
            .fold(1.0f64, f64::max)
            * 1.1;
        let pts = |g: fn(&super::figures::Day) -> Option<f64>| {
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
        if let Some(t) = &f.traffic {
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
    }
}

fn class_table(d: &mut Doc, cs: &[ClassSummary]) {
    let l = d.language;
    let mut head = heads(l, &[("等级", "Class"), ("故障数", "Faults")]);
    for k in DeadlineKind::ALL {
        head.push(format!(
            "{} {}",
            deadline_name(l, k),
            tr(l, "达标/超时", "met/breached")
        ));
    }
    head.push(tr(l, "平均修复时间", "Mean time to repair"));
    let rows = cs
        .iter()
        .map(|c| {
            let mut r = vec![class_name(l, c.class), c.faults.to_string()];
            for (_, n) in &c.deadlines {
                r.push(format!("{}/{}", n[0], n[1]));
            }
            r.push(c.mttr_s.map(|s| dur(l, s)).unwrap_or_else(|| "—".into()));
            r
        })
        .collect();
    d.table(
        &head,
        &[0.8, 0.7, 1.0, 1.0, 1.0, 1.0, 1.3],
        rows,
        &tr(l, "本期无故障。", "No faults in the period."),
    );
}

/// Faults by class (deadlines kept, mean time to repair), then each fault.
fn faults_part(
    d: &mut Doc,
    tz: Tz,
    classes: &[ClassSummary],
    faults: &[linkledger_ledger::records::FaultView],
    empty: &str,
) {
    if faults.is_empty() {
        d.note(empty);
        return;
    }
    let l = d.language;
    class_table(d, classes);
    d.table(
        &fault_head(l),
        &[0.5, 0.5, 1.4, 1.4, 0.9, 0.6, 0.6, 0.6, 0.7],
        fault_rows(l, tz, faults),
        empty,
    );
}

pub fn fault_rows(
    l: Language,
    tz: Tz,
    fs: &[linkledger_ledger::records::FaultView],
) -> Vec<Vec<String>> {
    fs.iter()
        .map(|f| {
            let mut r = vec![
                format!("#{}", f.id),
                class_name(l, f.class),
                at(tz, f.detected_at),
                opt_at(tz, f.resolved_at, l),
                dur(l, f.duration_s),
            ];
            for k in DeadlineKind::ALL {
                r.push(
                    f.deadlines
                        .iter()
                        .find(|x| x.kind == k)
                        .map(|x| state_name(l, x.state))
                        .unwrap_or_default(),
                );
            }
            r
        })
        .collect()
}

pub fn fault_head(l: Language) -> Vec<String> {
    let mut h = heads(
        l,
        &[
            ("故障", "Fault"),
            ("等级", "Class"),
            ("发现", "Detected"),
            ("恢复", "Resolved"),
            ("历时", "Duration"),
        ],
    );
    h.extend(DeadlineKind::ALL.map(|k| deadline_name(l, k)));
    h
}

/// The key figures of a line or the egress: downtime, what was excluded,
/// what was charged, the contract year's budget, coverage.
fn downtime_figures(
    l: Language,
    tz: Tz,
    a: &Availability,
    y: &BudgetView,
    down: (&str, &str),
) -> Vec<(String, String)> {
    vec![
        (tr(l, "可用率", "Availability"), availability(l, a)),
        (tr(l, down.0, down.1), dur(l, a.down_s)),
        (
            tr(l, "不可抗力扣除", "Force majeure excluded"),
            dur(l, a.excluded_force_majeure_s),
        ),
        (
            tr(l, "计划维护扣除", "Maintenance excluded"),
            dur(l, a.excluded_maintenance_s),
        ),
        (
            tr(l, "本期计费中断", "Charged downtime, period"),
            dur(l, a.charged_s),
        ),
        (
            tr(l, "合同年累计计费中断", "Charged, contract year to date"),
            format!("{} / {}", dur(l, y.charged_s), dur(l, y.cap_s)),
        ),
        (tr(l, "剩余预算", "Budget left"), dur(l, y.remaining_s)),
        (
            tr(l, "预计超限日期", "Projected breach"),
            y.projected_breach
                .map(|t| at(tz, t))
                .unwrap_or_else(|| tr(l, "本合同年内不会超限", "not within this contract year")),
        ),
        (tr(l, "未监测时长", "Unobserved"), dur(l, a.unobserved_s)),
        (
            tr(l, "确认中断计费", "Charged by agreement"),
            dur(l, a.agreed_s),
        ),
        (
            tr(l, "争议时段（不计费）", "Disputed (not charged)"),
            dur(l, a.disputed_s),
        ),
        (tr(l, "监测覆盖率", "Coverage"), pct(Some(a.coverage), 2)),
    ]
}

/// Time the monitor did not see: agreed outages (charged) and disputed
/// spans (down on both sides, not charged), shown only when there are any.
fn agreed_and_disputed(d: &mut Doc, tz: Tz, f: &LineFigures) {
    let l = d.language;
    if !f.agreed.is_empty() {
        d.heading(2, tr(l, "双方确认的中断", "Outages agreed by both sides"));
        let head = heads(
            l,
            &[
                ("编号", "Id"),
                ("开始", "Start"),
                ("结束", "End"),
                ("依据", "Evidence"),
                ("批准人", "Approved by"),
                ("录入", "Recorded"),
            ],
        );
        let rows = f
            .agreed
            .iter()
            .map(|a| {
                vec![
                    a.id.to_string(),
                    at(tz, a.start),
                    at(tz, a.end),
                    a.evidence.clone(),
                    a.approved_by.clone(),
                    format!("{} {}", a.recorded_by, at(tz, a.recorded_at)),
                ]
            })
            .collect();
        d.table(&head, &[0.4, 1.3, 1.3, 1.8, 0.8, 1.4], rows, "");
        d.note(tr(
            l,
            &format!(
                "双方确认的中断计入其覆盖的未监测时间：本期因此计费 {}。监测到的时间仍以监测结果为准。",
                dur(l, f.availability.agreed_s)
            ),
            &format!(
                "An agreed outage charges the unobserved time it covers: {} charged this period. Observed time stays as the monitor saw it.",
                dur(l, f.availability.agreed_s)
            ),
        ));
    }
    if !f.availability.disputed.is_empty() {
        d.heading(2, tr(l, "争议时段", "Disputed time"));
        let head = heads(
            l,
            &[("开始", "Start"), ("结束", "End"), ("时长", "Duration")],
        );
        let rows = f
            .availability
            .disputed
            .iter()
            .map(|(a, b)| {
                vec![
                    at(tz, *a),
                    at(tz, *b),
                    dur(l, linkledger_core::budget::secs(*b - *a)),
                ]
            })
            .collect();
        d.table(&head, &[1.5, 1.5, 1.0], rows, "");
        d.note(tr(
            l,
            "争议时段：监测系统未能观测、但其前后线路均处于中断状态的时间，不计费。经双方确认后，可由合同管理人员录入为双方确认的中断。",
            "Disputed time: time the monitor did not see with the line down on both sides of it. Not charged; once both sides agree, record it as an agreed outage (linkledger outage agree).",
        ));
    }
}

/// Force-majeure exclusions with their approver, evidence and standing.
pub fn exclusions_table(
    d: &mut Doc,
    tz: Tz,
    exclusions: &[linkledger_ledger::records::ExclusionView],
    empty: &str,
) {
    let l = d.language;
    let head = heads(
        l,
        &[
            ("编号", "Id"),
            ("开始", "Start"),
            ("结束", "End"),
            ("原因", "Reason"),
            ("批准人", "Approved by"),
            ("证据", "Evidence"),
            ("状态", "Status"),
        ],
    );
    let rows = exclusions
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                at(tz, e.start),
                at(tz, e.end),
                e.reason.clone(),
                format!("{} ({})", e.approved_by, at(tz, e.approved_at)),
                e.evidence.clone(),
                if e.withdrawn.is_some() {
                    tr(l, "已撤销", "withdrawn")
                } else {
                    tr(l, "有效", "in force")
                },
            ]
        })
        .collect();
    d.table(&head, &[0.4, 1.2, 1.2, 1.2, 1.4, 1.0, 0.6], rows, empty);
}

/// One line's section.
pub fn line_section(d: &mut Doc, p: &PeriodFigures, f: &LineFigures, n: usize, advice: &[Advice]) {
    let l = d.language;
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    d.heading(
        1,
        format!(
            "{}{}",
            tr(l, &format!("{}、线路 ", zh_num(n)), &format!("{n}. Line ")),
            line_title(l, f)
        ),
    );
    d.figures(downtime_figures(
        l,
        tz,
        &f.availability,
        &f.year_to_date,
        ("中断时长（有监测）", "Outage time (observed)"),
    ));

    d.heading(2, tr(l, "中断记录", "Outages"));
    let head = heads(
        l,
        &[
            ("编号", "Id"),
            ("开始", "Start"),
            ("结束", "End"),
            ("本期时长", "In period"),
            ("计费", "Charged"),
            ("扣除", "Excluded"),
            ("原因", "Cause"),
            ("故障/等级", "Fault/class"),
        ],
    );
    let rows = f
        .outages
        .iter()
        .map(|o| {
            vec![
                format!("{}{}", o.id, if o.split { "*" } else { "" }),
                at(tz, o.start),
                opt_at(tz, o.end, l),
                dur(l, o.duration_s),
                dur(l, o.charged_s),
                dur(l, o.excluded_s),
                cause_name(l, &o.cause),
                o.fault
                    .map(|id| {
                        format!(
                            "#{id} {}",
                            o.class.map(|c| class_name(l, c)).unwrap_or_default()
                        )
                    })
                    .unwrap_or_default(),
            ]
        })
        .collect();
    d.table(
        &head,
        &[0.5, 1.5, 1.5, 0.9, 0.9, 0.8, 1.1, 0.9],
        rows,
        &tr(l, "本期无中断。", "No outages in the period."),
    );
    if f.outages.iter().any(|o| o.split) {
        d.note(tr(
            l,
            "* 跨越报告期边界的中断只计算本期内的部分。",
            "* The outage crosses the period's edge; only the part inside is counted here.",
        ));
    }

    agreed_and_disputed(d, tz, f);
    local_faults_part(d, tz, f);

    d.heading(2, tr(l, "故障与处理时限", "Faults and deadlines"));
    let empty = tr(l, "本期无故障。", "No faults in the period.");
    faults_part(d, tz, &f.fault_classes, &f.faults, &empty);

    d.heading(2, tr(l, "线路质量（按月）", "Line quality by month"));
    let head = heads(
        l,
        &[
            ("月份", "Month"),
            ("发包", "Sent"),
            ("丢包率", "Loss"),
            ("平均时延", "RTT avg"),
            ("P50", "P50"),
            ("P95", "P95"),
            ("P99", "P99"),
            ("抖动", "Jitter"),
        ],
    );
    let mut rows: Vec<Vec<String>> = f
        .quality_by_month
        .iter()
        .map(|(m, q)| {
            vec![
                m.clone(),
                q.sent.to_string(),
                pct(q.loss_ratio, 3),
                ms(q.rtt_avg_ms),
                ms(q.rtt_p50_ms),
                ms(q.rtt_p95_ms),
                ms(q.rtt_p99_ms),
                ms(q.jitter_avg_ms),
            ]
        })
        .collect();
    let q = &f.quality;
    rows.push(vec![
        tr(l, "本期", "Period"),
        q.sent.to_string(),
        pct(q.loss_ratio, 3),
        ms(q.rtt_avg_ms),
        ms(q.rtt_p50_ms),
        ms(q.rtt_p95_ms),
        ms(q.rtt_p99_ms),
        ms(q.jitter_avg_ms),
    ]);
    d.table(&head, &[0.9, 1.0, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7], rows, "");
    d.note(tr(l, "时延单位为毫秒，取自运营商之外的上游探测目标；百分位由对数直方图得出（误差 ±12%）。", "RTT in ms to the upstream anchors beyond the carrier; percentiles from a log-scale histogram (±12 %)."));
    d.note(match l {
        Language::ZhCn => format!(
            "丢包率与时延只计线路正常期间的探测：中断（已计入中断时长）、本端故障（我方设备）和未监测期间的探测不计入，本期共去除 {} 分钟。",
            q.excluded_minutes
        ),
        Language::En => format!(
            "Loss and RTT count only probes while the line was up: those inside outages (charged as downtime already), local faults (our own side) and unobserved time are left out, {} minutes in the period.",
            q.excluded_minutes
        ),
    });

    d.heading(2, tr(l, "流量与带宽", "Traffic and bandwidth"));
    match &f.traffic {
        Some(t) => {
            let head = heads(
                l,
                &[
                    ("方向", "Direction"),
                    ("平均", "Average"),
                    ("最大", "Maximum"),
                    ("P95", "P95"),
                    ("P95/合同带宽", "P95 / contracted"),
                ],
            );
            let rows = [
                (tr(l, "入", "in"), &t.inbound),
                (tr(l, "出", "out"), &t.outbound),
            ]
            .into_iter()
            .map(|(n, x)| {
                vec![
                    n,
                    mbps(x.avg_bps),
                    mbps(x.max_bps),
                    mbps(x.p95_bps),
                    pct(Some(x.p95_utilization), 1),
                ]
            })
            .collect();
            d.table(&head, &[1.0, 1.0, 1.0, 1.0, 1.2], rows, "");
            d.note(tr(
                l,
                &format!(
                    "单位 Mbit/s；合同带宽 {} Mbit/s；对称性：{}；{} 个 5 分钟样本。",
                    f.bandwidth_mbps, t.symmetry, t.samples
                ),
                &format!(
                    "Mbit/s; contracted {} Mbit/s; symmetry: {}; {} five-minute samples.",
                    f.bandwidth_mbps, t.symmetry, t.samples
                ),
            ));
        }
        None => d.note(tr(
            l,
            "本期无 SNMP 流量数据。",
            "No SNMP traffic data in the period.",
        )),
    }

    d.heading(2, tr(l, "流量异常", "Traffic anomalies"));
    let head = heads(
        l,
        &[
            ("类型", "Kind"),
            ("方向", "Direction"),
            ("开始", "Start"),
            ("结束", "End"),
            ("峰值 Mbit/s", "Peak Mbit/s"),
            ("同期故障", "Faults at the time"),
        ],
    );
    let rows = f
        .anomalies
        .iter()
        .map(|a| {
            vec![
                match a.kind {
                    "saturation" => tr(l, "满载", "saturation"),
                    _ => tr(l, "突增", "surge"),
                },
                a.direction.to_string(),
                at(tz, a.start),
                at(tz, a.end),
                mbps(a.peak_bps),
                a.faults
                    .iter()
                    .map(|i| format!("#{i}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    d.table(
        &head,
        &[0.8, 0.6, 1.4, 1.4, 0.9, 1.0],
        rows,
        &tr(l, "本期无流量异常。", "No traffic anomalies in the period."),
    );

    d.heading(2, tr(l, "计划维护", "Planned maintenance"));
    let head = heads(
        l,
        &[
            ("编号", "Id"),
            ("开始", "Start"),
            ("结束", "End"),
            ("通知时间", "Notice given"),
            ("提前通知", "Notice in time"),
            ("结论", "Status"),
            ("文号", "Reference"),
        ],
    );
    let rows = f
        .maintenance
        .iter()
        .map(|m| {
            vec![
                m.id.to_string(),
                at(tz, m.start),
                at(tz, m.end),
                at(tz, m.notice_at),
                if m.status == "late_notice" {
                    tr(l, "否", "no")
                } else {
                    tr(l, "是", "yes")
                },
                match (m.withdrawn, m.status, &m.late_approval) {
                    (true, _, _) => tr(l, "已撤销", "withdrawn"),
                    (_, "approved", _) if p.approved_maintenance_counts => tr(
                        l,
                        "已批准（本合同仍计入中断）",
                        "approved (this contract still counts it as downtime)",
                    ),
                    (_, "approved", _) => tr(l, "已批准，不计中断", "approved, not downtime"),
                    (_, "late_notice", _) => tr(l, "通知过晚，计为中断", "late notice: downtime"),
                    (_, "recorded_late", Some((by, why))) => tr(
                        l,
                        &format!("开始后补录，经{by}批准（{why}）：不计违约，仍计为中断"),
                        &format!("recorded after it began, approved by {by} ({why}): no breach, still downtime"),
                    ),
                    (_, "recorded_late", None) => tr(
                        l,
                        "开始后补录，计为未通知的中断",
                        "recorded after it began: an interruption without notice",
                    ),
                    _ => tr(l, "未经同意，计为中断", "not consented: downtime"),
                },
                m.reference.clone(),
            ]
        })
        .collect();
    d.table(
        &head,
        &[0.4, 1.3, 1.3, 1.3, 0.7, 1.4, 1.0],
        rows,
        &tr(
            l,
            "本期无计划维护。",
            "No planned maintenance in the period.",
        ),
    );

    d.heading(2, tr(l, "不可抗力扣除", "Force-majeure exclusions"));
    let empty = tr(
        l,
        "本期无不可抗力扣除。",
        "No force-majeure exclusions in the period.",
    );
    exclusions_table(d, tz, &f.exclusions, &empty);

    d.heading(2, tr(l, "优化建议", "Optimisation advice"));
    for a in advice.iter().filter(|a| a.line == f.line) {
        d.paragraph(match l {
            // The rule's name is an identifier: English readers get it.
            Language::ZhCn => format!("• {}", a.text),
            Language::En => format!("• {} [{}]", a.text, a.rule),
        });
    }
}

/// The egress's section.
pub fn egress_section(d: &mut Doc, p: &PeriodFigures, n: usize) {
    let Some(e) = &p.egress else { return };
    let l = d.language;
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    d.heading(
        1,
        tr(
            l,
            &format!("{}、出口整体", zh_num(n)),
            &format!("{n}. The whole egress"),
        ),
    );
    d.figures(downtime_figures(
        l,
        tz,
        &e.availability,
        &e.year_to_date,
        ("全部线路同时中断", "All lines down at once"),
    ));
    let head = heads(
        l,
        &[("开始", "Start"), ("结束", "End"), ("时长", "Duration")],
    );
    let rows = e
        .outages
        .iter()
        .map(|(s, t)| {
            vec![
                at(tz, *s),
                at(tz, *t),
                dur(l, (*t - *s).num_milliseconds() as f64 / 1000.0),
            ]
        })
        .collect();
    d.table(
        &head,
        &[1.0, 1.0, 1.0],
        rows,
        &tr(
            l,
            "本期出口未曾整体中断。",
            "The egress was never down as a whole in the period.",
        ),
    );
    let empty = tr(l, "本期无出口级故障。", "No egress faults in the period.");
    faults_part(d, tz, &e.fault_classes, &e.faults, &empty);
}

/// 1 → 一 … for section numbers up to 20.
pub fn zh_num(n: usize) -> String {
    const D: [&str; 11] = [
        "零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
    ];
    match n {
        0..=10 => D[n].to_string(),
        11..=19 => format!("十{}", D[n - 10]),
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn never_minus_zero() {
        assert_eq!(fixed(-0.001, 2), "0.00");
        assert_eq!(fixed(-0.0, 1), "0.0");
        assert_eq!(fixed(-0.5, 2), "-0.50");
        assert_eq!(pct(Some(-0.000_001), 3), "0.000%");
    }
}
