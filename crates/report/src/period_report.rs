//! The quarterly line-quality report (第二条 13) and the annual summary
//! with its acceptance view (第三条, 第四条 2) as documents.

use chrono::DateTime;
use chrono_tz::Tz;
use serde::Serialize;

use super::advice::{advise, Advice};
use super::doc::{heads, tr, Doc};
use super::figures::PeriodFigures;
use super::sections::{at, charts, dur, egress_section, line_section, pct, summary};
use linkledger_config::Language;
use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
use linkledger_ledger::records::DrillView;

/// A clause of the contract the ledger can check, and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Clause {
    pub clause: &'static str,
    pub requirement: String,
    pub met: Option<bool>,
    pub evidence: String,
}

pub fn subtitle(d: &mut Doc, p: &PeriodFigures, generated: DateTime<chrono::Utc>) {
    let l = d.language;
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    d.subtitle = vec![
        format!("{}: {}", tr(l, "合同", "Contract"), p.contract),
        format!(
            "{}: {} {} {} {}（{}）",
            tr(l, "报告期", "Period"),
            if p.period.kind == "contract_year" {
                tr(
                    l,
                    &format!("第 {} 合同年", p.contract_year),
                    &format!("contract year {}", p.contract_year),
                )
            } else {
                p.period.title(l)
            },
            p.period.start.with_timezone(&tz).date_naive(),
            tr(l, "至", "to"),
            (p.period.end.with_timezone(&tz) - chrono::TimeDelta::days(1)).date_naive(),
            p.timezone
        ),
        format!(
            "{}: {}{}",
            tr(l, "生成时间", "Generated"),
            at(tz, generated),
            if p.until < p.period.end {
                tr(
                    l,
                    &format!("（报告期未结束，数据截至 {}）", at(tz, p.until)),
                    &format!(" (period not over; figures up to {})", at(tz, p.until)),
                )
            } else {
                String::new()
            }
        ),
    ];
}

pub fn quarterly(
    p: &PeriodFigures,
    language: Language,
    generated: DateTime<chrono::Utc>,
) -> (Doc, Vec<Advice>) {
    let mut d = Doc::new(
        language,
        tr(
            language,
            &format!("线路运行质量分析报告 {}", p.period.title(language)),
            &format!("Line quality report {}", p.period.title(language)),
        ),
    );
    subtitle(&mut d, p, generated);
    let advice = advise(p, language);
    summary(&mut d, p, 1);
    charts(&mut d, p, 2);
    for (i, f) in p.lines.iter().enumerate() {
        line_section(&mut d, p, f, i + 3, &advice);
    }
    egress_section(&mut d, p, p.lines.len() + 3);
    (d, advice)
}

/// The contract's checkable clauses over a contract year.
/// The drills held within the report's period (its contract year).
fn drills_in<'a>(p: &PeriodFigures, drills: &'a [DrillView]) -> Vec<&'a DrillView> {
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    drills
        .iter()
        .filter(|d| {
            chrono::NaiveDate::parse_from_str(&d.held_on, "%Y-%m-%d").is_ok_and(|day| {
                let t = linkledger_core::contract::local_midnight(tz, day);
                t >= p.period.start && t < p.period.end
            })
        })
        .collect()
}

pub fn acceptance(p: &PeriodFigures, drills: &[DrillView], l: Language) -> Vec<Clause> {
    let mut out = vec![downtime_clause(p, l)];
    out.extend(deadline_clauses(p, l));
    out.push(maintenance_clause(p, l));
    out.push(traffic_clause(p, l));
    out.push(coverage_clause(p, l));
    out.push(drills_clause(p, drills, l));
    out
}

/// The yearly cap on interruption, against each line's and the egress's
/// year to date.
fn downtime_clause(p: &PeriodFigures, l: Language) -> Clause {
    let worst = p
        .lines
        .iter()
        .map(|f| (f.line.clone(), f.year_to_date.charged_s))
        .chain(
            p.egress
                .iter()
                .map(|e| (tr(l, "出口整体", "egress"), e.year_to_date.charged_s)),
        )
        .collect::<Vec<_>>();
    let over: Vec<_> = worst.iter().filter(|(_, s)| *s > p.cap_s).collect();
    Clause {
        clause: "第二条 23",
        requirement: tr(
            l,
            &format!("每年中断时间不高于 {}（不可抗力除外）", dur(l, p.cap_s)),
            &format!(
                "at most {} of interruption a year (force majeure excepted)",
                dur(l, p.cap_s)
            ),
        ),
        met: Some(over.is_empty()),
        evidence: worst
            .iter()
            .map(|(n, s)| format!("{n} {}", dur(l, *s)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The response, on-site, resolution and repair-report deadlines of
/// every fault of the period, counted by how each stands.
fn deadline_clauses(p: &PeriodFigures, l: Language) -> Vec<Clause> {
    let mut out = Vec::new();
    let all_faults: Vec<_> = p
        .lines
        .iter()
        .flat_map(|f| f.faults.iter())
        .chain(p.egress.iter().flat_map(|e| e.faults.iter()))
        .collect();
    for (clause, kinds, zh, en) in [
        (
            "第二条 17",
            &[DeadlineKind::Response][..],
            "故障响应不超过 30 分钟",
            "fault response within 30 minutes",
        ),
        (
            "第二条 17",
            &[DeadlineKind::OnSite][..],
            "故障持续时 30 分钟内到场",
            "on site within 30 minutes when a fault lasts",
        ),
        (
            "第二条 17",
            &[DeadlineKind::Resolution][..],
            "一般故障 30 分钟、严重和重大故障 120 分钟内修复",
            "general faults resolved in 30 min, serious and major in 120 min",
        ),
        (
            "第四条 1",
            &[DeadlineKind::RepairReport][..],
            "故障处理完成后 8 小时内提供维修报告",
            "repair report within 8 h of resolution",
        ),
    ] {
        let (mut met, mut breached, mut pending) = (0, 0, 0);
        for f in &all_faults {
            for d in f.deadlines.iter().filter(|d| kinds.contains(&d.kind)) {
                match d.state {
                    DeadlineState::Met => met += 1,
                    DeadlineState::Breached => breached += 1,
                    DeadlineState::Pending => pending += 1,
                    DeadlineState::NotRequired => {}
                }
            }
        }
        out.push(Clause {
            clause,
            requirement: tr(l, zh, en),
            met: Some(breached == 0),
            evidence: tr(
                l,
                &format!(
                    "{} 起故障：达标 {met}，超时 {breached}，进行中 {pending}",
                    all_faults.len()
                ),
                &format!(
                    "{} faults: met {met}, breached {breached}, pending {pending}",
                    all_faults.len()
                ),
            ),
        });
    }
    out
}

/// Maintenance windows announced and agreed in time.
fn maintenance_clause(p: &PeriodFigures, l: Language) -> Clause {
    let late: usize = p
        .lines
        .iter()
        .map(|f| f.maintenance_breaches().count())
        .sum();
    let windows: usize = p.lines.iter().map(|f| f.maintenance.len()).sum();
    Clause {
        clause: "第二条 14",
        requirement: tr(
            l,
            "中断线路须提前 24 小时通知并经同意",
            "interruptions announced 24 h ahead and agreed",
        ),
        met: Some(late == 0),
        evidence: tr(
            l,
            &format!("计划维护 {windows} 次，未按约定通知或未经同意 {late} 次"),
            &format!("{windows} maintenance windows, {late} without timely notice or consent"),
        ),
    }
}

/// Traffic monitoring: shown, never judged.
fn traffic_clause(p: &PeriodFigures, l: Language) -> Clause {
    let high: Vec<String> = p
        .lines
        .iter()
        .filter_map(|f| {
            let t = f.traffic.as_ref()?;
            let u = t.inbound.p95_utilization.max(t.outbound.p95_utilization);
            Some(format!("{} P95 {}", f.line, pct(Some(u), 1)))
        })
        .collect();
    Clause {
        clause: "第二条 10",
        requirement: tr(
            l,
            "流量监测，带宽不足时提出升速建议",
            "traffic monitoring, upgrade advice when bandwidth is short",
        ),
        met: None,
        evidence: if high.is_empty() {
            tr(l, "无 SNMP 流量数据", "no SNMP traffic data")
        } else {
            high.join("; ")
        },
    }
}

/// This monitor's own coverage of each line.
fn coverage_clause(p: &PeriodFigures, l: Language) -> Clause {
    let coverage: Vec<String> = p
        .lines
        .iter()
        .map(|f| format!("{} {}", f.line, pct(Some(f.availability.coverage), 2)))
        .collect();
    Clause {
        clause: "第二条 12",
        requirement: tr(
            l,
            "持续监测线路质量（本系统的监测覆盖率）",
            "continuous quality monitoring (this monitor's coverage)",
        ),
        // Coverage is this monitor's, not the carrier's: shown, never judged.
        met: None,
        evidence: tr(
            l,
            &format!(
                "{}（覆盖率反映本监测系统的运行情况，不作为对运营商的考核依据）",
                coverage.join("; ")
            ),
            &format!(
                "{} (coverage is this monitor's own record, not a measure of the carrier)",
                coverage.join("; ")
            ),
        ),
    }
}

/// Emergency drills held in the contract year.
fn drills_clause(p: &PeriodFigures, drills: &[DrillView], l: Language) -> Clause {
    let held = drills_in(p, drills);
    Clause {
        clause: "第二条 19",
        requirement: tr(
            l,
            "每年组织不少于 2 次应急演练",
            "at least 2 emergency drills a year",
        ),
        met: Some(held.len() >= 2),
        evidence: tr(
            l,
            &format!("已记录 {} 次", held.len()),
            &format!("{} recorded", held.len()),
        ) + &held
            .iter()
            .map(|d| format!("; {} {}", d.held_on, d.scenario))
            .collect::<String>(),
    }
}

pub fn annual(
    p: &PeriodFigures,
    drills: &[DrillView],
    language: Language,
    generated: DateTime<chrono::Utc>,
) -> (Doc, Vec<Advice>, Vec<Clause>) {
    let l = language;
    let mut d = Doc::new(
        l,
        tr(
            l,
            &format!("链路租用服务年度总结报告 第 {} 合同年", p.contract_year),
            &format!("Annual service summary, contract year {}", p.contract_year),
        ),
    );
    subtitle(&mut d, p, generated);
    let advice = advise(p, l);
    let clauses = acceptance(p, drills, l);
    d.heading(1, tr(l, "一、年度验收", "1. Annual acceptance"));
    let head = heads(
        l,
        &[
            ("条款", "Clause"),
            ("要求", "Requirement"),
            ("结论", "Verdict"),
            ("依据", "Evidence"),
        ],
    );
    let rows = clauses
        .iter()
        .map(|c| {
            vec![
                c.clause.to_string(),
                c.requirement.clone(),
                match c.met {
                    Some(true) => tr(l, "符合", "met"),
                    Some(false) => tr(l, "不符合", "not met"),
                    None => tr(l, "见数据", "see figures"),
                },
                c.evidence.clone(),
            ]
        })
        .collect();
    d.table(&head, &[0.8, 2.2, 0.7, 2.8], rows, "");
    d.heading(2, tr(l, "应急演练", "Emergency drills"));
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let head = heads(
        l,
        &[
            ("日期", "Date"),
            ("场景", "Scenario"),
            ("参加人员", "Participants"),
            ("结果", "Result"),
            ("记录人", "Recorded by"),
        ],
    );
    let rows = drills_in(p, drills)
        .into_iter()
        .map(|x| {
            vec![
                x.held_on.clone(),
                x.scenario.clone(),
                x.participants.clone(),
                x.result.clone(),
                format!("{} {}", x.recorded_by, at(tz, x.recorded_at)),
            ]
        })
        .collect();
    d.table(
        &head,
        &[0.8, 1.6, 1.4, 1.2, 1.4],
        rows,
        &tr(
            l,
            "本合同年无演练记录。",
            "No drills recorded this contract year.",
        ),
    );
    summary(&mut d, p, 2);
    charts(&mut d, p, 3);
    for (i, f) in p.lines.iter().enumerate() {
        line_section(&mut d, p, f, i + 4, &advice);
    }
    egress_section(&mut d, p, p.lines.len() + 4);
    (d, advice, clauses)
}
