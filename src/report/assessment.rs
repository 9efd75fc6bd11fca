//! The half-year payment assessment (第六条): the half's SLA figures, every
//! breach, and the deductions that `[[contract.penalty]]` rules give, per
//! consortium member, with the fee payable. A breach belongs to the
//! carrier of its line; a breach of the whole egress to the consortium
//! lead, who answers for the service as a whole.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::doc::{heads, tr, Doc};
use super::figures::PeriodFigures;
use super::period_report::subtitle;
use super::sections::{at, class_name, deadline_name, dur, pct};
use crate::config::report::{BreachKind, Penalty};
use crate::config::{Config, Language};
use crate::fault::deadline::{DeadlineKind, DeadlineState};
use crate::fault::FaultClass;

#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    pub carrier: String,
    /// The line, or "egress".
    pub line: String,
    pub kind: BreachKind,
    pub fault: Option<i64>,
    pub class: Option<FaultClass>,
    /// When it was breached (a deadline's due time, a window's start).
    pub at: Option<DateTime<Utc>>,
    /// How many units it counts for (hours over the cap; 1 otherwise).
    pub units: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Deduction {
    pub rule: String,
    pub carrier: String,
    pub units: u64,
    /// Before the rule's cap.
    pub uncapped: f64,
    pub amount: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberFee {
    pub carrier: String,
    pub half_year_fee: Option<f64>,
    pub deducted: f64,
    pub payable: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub breaches: Vec<Breach>,
    pub rules: Vec<Penalty>,
    pub deductions: Vec<Deduction>,
    pub members: Vec<MemberFee>,
}

fn deadline_breach(k: DeadlineKind) -> BreachKind {
    match k {
        DeadlineKind::Response => BreachKind::Response,
        DeadlineKind::OnSite => BreachKind::OnSite,
        DeadlineKind::Resolution => BreachKind::Resolution,
        DeadlineKind::RepairReport => BreachKind::RepairReport,
    }
}

pub fn assess(p: &PeriodFigures, c: &Config) -> Assessment {
    let lead = c
        .lines
        .iter()
        .find(|l| l.role == crate::config::raw::Role::Lead)
        .or(c.lines.first())
        .map(|l| l.carrier.clone())
        .unwrap_or_default();
    let mut breaches = Vec::new();
    let fault_breaches = |carrier: &str,
                          line: &str,
                          fs: &[crate::ledger::records::FaultView],
                          out: &mut Vec<Breach>| {
        for f in fs {
            for d in f
                .deadlines
                .iter()
                .filter(|d| d.state == DeadlineState::Breached)
            {
                out.push(Breach {
                    carrier: carrier.to_string(),
                    line: line.to_string(),
                    kind: deadline_breach(d.kind),
                    fault: Some(f.id),
                    class: Some(f.class),
                    at: d.due,
                    units: 1,
                });
            }
        }
    };
    for l in &p.lines {
        fault_breaches(&l.carrier, &l.line, &l.faults, &mut breaches);
        let cap = l.year_to_date.cap_s;
        let end = l.year_to_date.charged_s;
        let start = (end - l.availability.charged_s).max(0.0);
        let over = |s: f64| ((s - cap).max(0.0) / 3600.0).ceil() as u64;
        let hours = over(end).saturating_sub(over(start));
        if hours > 0 {
            breaches.push(Breach {
                carrier: l.carrier.clone(),
                line: l.line.clone(),
                kind: BreachKind::DowntimeOverCap,
                fault: None,
                class: None,
                at: None,
                units: hours,
            });
        }
        for m in l
            .maintenance
            .iter()
            .filter(|m| !m.withdrawn && m.status != "approved")
        {
            breaches.push(Breach {
                carrier: l.carrier.clone(),
                line: l.line.clone(),
                kind: BreachKind::LateMaintenance,
                fault: None,
                class: None,
                at: Some(m.start),
                units: 1,
            });
        }
    }
    if let Some(e) = &p.egress {
        fault_breaches(&lead, "egress", &e.faults, &mut breaches);
    }
    let mut carriers: Vec<String> = c.lines.iter().map(|l| l.carrier.clone()).collect();
    carriers.sort();
    carriers.dedup();
    let half_fee = |carrier: &str| {
        c.contract
            .members
            .iter()
            .find(|m| m.carrier == carrier)
            .map(|m| m.annual_fee / 2.0)
    };
    let mut deductions = Vec::new();
    for rule in &c.contract.penalties {
        for carrier in &carriers {
            let units: u64 = breaches
                .iter()
                .filter(|b| {
                    b.carrier == *carrier
                        && b.kind == rule.breach
                        && rule.class.is_none_or(|k| b.class == Some(k))
                })
                .map(|b| b.units)
                .sum();
            if units == 0 {
                continue;
            }
            let fee = half_fee(carrier);
            let each = rule
                .amount
                .or_else(|| Some(rule.share? * fee?))
                .unwrap_or(0.0);
            let uncapped = each * units as f64;
            let mut amount = uncapped;
            if let Some(cap) = rule.cap {
                amount = amount.min(cap);
            }
            if let (Some(s), Some(fee)) = (rule.cap_share, fee) {
                amount = amount.min(s * fee);
            }
            deductions.push(Deduction {
                rule: rule.name.clone(),
                carrier: carrier.clone(),
                units,
                uncapped,
                amount,
            });
        }
    }
    let members = carriers
        .iter()
        .map(|carrier| {
            let fee = half_fee(carrier);
            let sum: f64 = deductions
                .iter()
                .filter(|d| d.carrier == *carrier)
                .map(|d| d.amount)
                .sum();
            let deducted = fee.map_or(sum, |f| sum.min(f));
            MemberFee {
                carrier: carrier.clone(),
                half_year_fee: fee,
                deducted,
                payable: fee.map(|f| f - deducted),
            }
        })
        .collect();
    Assessment {
        breaches,
        rules: c.contract.penalties.clone(),
        deductions,
        members,
    }
}

fn breach_name(l: Language, k: BreachKind) -> String {
    match k {
        BreachKind::Response => {
            deadline_name(l, DeadlineKind::Response) + &tr(l, "超时", " deadline breached")
        }
        BreachKind::OnSite => {
            deadline_name(l, DeadlineKind::OnSite) + &tr(l, "超时", " deadline breached")
        }
        BreachKind::Resolution => {
            deadline_name(l, DeadlineKind::Resolution) + &tr(l, "超时", " deadline breached")
        }
        BreachKind::RepairReport => {
            deadline_name(l, DeadlineKind::RepairReport) + &tr(l, "逾期", " late")
        }
        BreachKind::DowntimeOverCap => tr(
            l,
            "中断超出年度上限（小时）",
            "downtime over the annual cap (hours)",
        ),
        BreachKind::LateMaintenance => tr(l, "维护未按约定通知", "maintenance without due notice"),
    }
}

pub fn money(v: f64) -> String {
    format!("{v:.2}")
}

pub fn document(p: &PeriodFigures, a: &Assessment, l: Language, generated: DateTime<Utc>) -> Doc {
    let mut d = Doc::new(
        l,
        tr(
            l,
            &format!("半年服务考核 {}", p.period.label),
            &format!("Half-year service assessment {}", p.period.label),
        ),
    );
    subtitle(&mut d, p, generated);
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    d.heading(1, tr(l, "一、服务水平", "1. Service level"));
    let head = heads(
        l,
        &[
            ("线路", "Line"),
            ("运营商", "Carrier"),
            ("可用率", "Availability"),
            ("本期计费中断", "Charged, half"),
            ("合同年累计", "Year to date"),
            ("故障数", "Faults"),
            ("监测覆盖率", "Coverage"),
        ],
    );
    let mut rows: Vec<Vec<String>> = p
        .lines
        .iter()
        .map(|f| {
            vec![
                f.line.clone(),
                f.carrier.clone(),
                pct(f.availability.availability, 4),
                dur(l, f.availability.charged_s),
                format!(
                    "{} / {}",
                    dur(l, f.year_to_date.charged_s),
                    dur(l, f.year_to_date.cap_s)
                ),
                f.faults.len().to_string(),
                pct(Some(f.availability.coverage), 2),
            ]
        })
        .collect();
    if let Some(e) = &p.egress {
        rows.push(vec![
            tr(l, "出口整体", "egress"),
            String::new(),
            pct(e.availability.availability, 4),
            dur(l, e.availability.charged_s),
            format!(
                "{} / {}",
                dur(l, e.year_to_date.charged_s),
                dur(l, e.year_to_date.cap_s)
            ),
            e.faults.len().to_string(),
            pct(Some(e.availability.coverage), 2),
        ]);
    }
    d.table(&head, &[0.9, 0.9, 1.0, 1.1, 1.6, 0.6, 0.9], rows, "");

    d.heading(1, tr(l, "二、违约事项", "2. Breaches"));
    let head = heads(
        l,
        &[
            ("运营商", "Carrier"),
            ("线路", "Line"),
            ("事项", "Breach"),
            ("故障", "Fault"),
            ("等级", "Class"),
            ("时间", "When"),
            ("数量", "Units"),
        ],
    );
    let rows = a
        .breaches
        .iter()
        .map(|b| {
            vec![
                b.carrier.clone(),
                b.line.clone(),
                breach_name(l, b.kind),
                b.fault.map(|f| format!("#{f}")).unwrap_or_default(),
                b.class.map(|c| class_name(l, c)).unwrap_or_default(),
                b.at.map(|t| at(tz, t)).unwrap_or_default(),
                b.units.to_string(),
            ]
        })
        .collect();
    d.table(
        &head,
        &[0.8, 0.8, 1.8, 0.5, 0.5, 1.4, 0.5],
        rows,
        &tr(l, "本期无违约事项。", "No breaches in the half."),
    );

    d.heading(1, tr(l, "三、扣减规则", "3. Deduction rules"));
    let head = heads(
        l,
        &[
            ("规则", "Rule"),
            ("事项", "Breach"),
            ("等级", "Class"),
            ("每次扣减", "Per breach"),
            ("上限", "Cap"),
        ],
    );
    let rows = a
        .rules
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                breach_name(l, r.breach),
                r.class
                    .map(|c| class_name(l, c))
                    .unwrap_or_else(|| tr(l, "全部", "any")),
                match (r.amount, r.share) {
                    (Some(v), _) => format!("{} {}", money(v), tr(l, "元", "yuan")),
                    (_, Some(s)) => tr(
                        l,
                        &format!("半年费用的 {}", pct(Some(s), 2)),
                        &format!("{} of the half-year fee", pct(Some(s), 2)),
                    ),
                    _ => String::new(),
                },
                [
                    r.cap
                        .map(|c| format!("{} {}", money(c), tr(l, "元", "yuan"))),
                    r.cap_share.map(|s| {
                        tr(
                            l,
                            &format!("半年费用的 {}", pct(Some(s), 2)),
                            &format!("{} of the fee", pct(Some(s), 2)),
                        )
                    }),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
            ]
        })
        .collect();
    d.table(
        &head,
        &[1.6, 1.6, 0.6, 1.2, 1.4],
        rows,
        &tr(
            l,
            "未配置扣减规则（[[contract.penalty]]）。合同第六条约定按考核结果确定实际支付费用，但未规定服务违约的扣减金额，因此本报告只列出违约事项，不计算扣减。",
            "No deduction rules are configured ([[contract.penalty]]). Clause 6 ties the payment to the assessment but states no amounts for service breaches, so this report lists the breaches and deducts nothing.",
        ),
    );

    d.heading(
        1,
        tr(
            l,
            "四、各成员应付费用",
            "4. Fee payable per consortium member",
        ),
    );
    let head = heads(
        l,
        &[
            ("运营商", "Carrier"),
            ("半年服务费", "Half-year fee"),
            ("扣减", "Deducted"),
            ("应付", "Payable"),
        ],
    );
    let rows = a
        .members
        .iter()
        .map(|m| {
            vec![
                m.carrier.clone(),
                m.half_year_fee
                    .map(money)
                    .unwrap_or_else(|| tr(l, "未配置", "not configured")),
                money(m.deducted),
                m.payable.map(money).unwrap_or_else(|| "—".into()),
            ]
        })
        .collect();
    d.table(&head, &[1.2, 1.2, 1.0, 1.2], rows, "");
    let head = heads(
        l,
        &[
            ("规则", "Rule"),
            ("运营商", "Carrier"),
            ("数量", "Units"),
            ("按规则", "By the rule"),
            ("扣减（封顶后）", "Deducted (after caps)"),
        ],
    );
    let rows = a
        .deductions
        .iter()
        .map(|x| {
            vec![
                x.rule.clone(),
                x.carrier.clone(),
                x.units.to_string(),
                money(x.uncapped),
                money(x.amount),
            ]
        })
        .collect();
    d.table(
        &head,
        &[1.6, 1.0, 0.6, 1.0, 1.2],
        rows,
        &tr(l, "无扣减。", "No deductions."),
    );
    d.note(tr(
        l,
        "金额单位：元。半年服务费 = 年度服务费 / 2（[[contract.member]]）。扣减合计不超过半年服务费。出口整体的违约计入联合体牵头人。",
        "Amounts in yuan. Half-year fee = annual fee / 2 ([[contract.member]]). Deductions never exceed the half-year fee. Breaches of the whole egress count against the consortium lead.",
    ));
    d
}
