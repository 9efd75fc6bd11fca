//! The parts every period report shares: the summary table, the charts,
//! and each line's section (outages, faults and deadlines, quality by
//! month, traffic, maintenance, exclusions, anomalies, advice), built
//! from [`PeriodFigures`] into a [`Doc`].

mod line;
mod period_charts;

pub use line::line_section;
pub use period_charts::charts;

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

/// An outage's cause as a reader says it.
pub fn cause_name(l: Language, code: &str) -> String {
    linkledger_core::vocab::cause(l, code).to_string()
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

/// The carrier's name as the report's reader says it.
fn shown_carrier(l: Language, f: &LineFigures) -> &str {
    match (&f.display_name, l) {
        (Some(n), Language::ZhCn) => n,
        _ => &f.carrier,
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
