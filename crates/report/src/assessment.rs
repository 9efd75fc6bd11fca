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
use linkledger_config::report::{BreachKind, Penalty};
use linkledger_config::terms::EgressBreaches;
use linkledger_config::{Config, Language};
use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
use linkledger_core::fault::FaultClass;
use linkledger_ledger::records::FaultView;

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
    /// Why it is where it is: `year:N` (the contract year of hours over
    /// the cap); for a breach not charged, `egress:ID:lines` (the egress
    /// fault's breach, answered by the line faults it contains),
    /// `egress:ID:lead` (answered by the lead on the egress fault),
    /// `egress:ID:report` (the member gave one repair report for the
    /// incident).
    pub note: Option<String>,
}

/// A correction recorded in this half of a fault judged in an earlier one:
/// what it changed, with its own units (−1: a breach credited back).
#[derive(Debug, Clone, Serialize)]
pub struct CorrectionLine {
    pub carrier: String,
    pub line: String,
    pub kind: BreachKind,
    pub fault: i64,
    pub from: FaultClass,
    pub to: FaultClass,
    pub recorded_at: DateTime<Utc>,
    pub by: Option<String>,
    pub reason: Option<String>,
    pub units: i64,
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
    /// The breaches charged in this half.
    pub breaches: Vec<Breach>,
    /// Breaches shown but not charged: one incident is one bill.
    pub uncharged: Vec<Breach>,
    pub corrections: Vec<CorrectionLine>,
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

/// The deadline breaches of one fault as known at `cutoff` (corrections
/// recorded later are the next assessment's), by kind.
fn breached_kinds(f: &FaultView, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Vec<DeadlineKind> {
    f.deadlines_known_at(cutoff, now)
        .iter()
        .filter(|d| d.state == DeadlineState::Breached)
        .map(|d| d.kind)
        .collect()
}

/// The line faults an egress fault contains: those about the same outages.
fn contained<'a>(
    egress: &FaultView,
    lines: &'a [(String, String, &'a FaultView)],
) -> Vec<&'a (String, String, &'a FaultView)> {
    lines
        .iter()
        .filter(|(_, _, f)| f.outages.iter().any(|o| egress.outages.contains(o)))
        .collect()
}

pub fn assess(p: &PeriodFigures, c: &Config) -> Assessment {
    let lead = c
        .lines
        .iter()
        .find(|l| l.role == linkledger_config::raw::Role::Lead)
        .or(c.lines.first())
        .map(|l| l.carrier.clone())
        .unwrap_or_default();
    let by_lead = c.contract.terms.egress_breaches == EgressBreaches::Lead;
    let (mut breaches, uncharged) = fault_breaches(p, &lead, by_lead);
    breaches.extend(line_breaches(p));
    let corrections = corrections(p, c, &lead);
    let mut carriers: Vec<String> = c.lines.iter().map(|l| l.carrier.clone()).collect();
    carriers.sort();
    carriers.dedup();
    let deductions = deductions(c, &carriers, &breaches, &corrections);
    let members = carriers
        .iter()
        .map(|carrier| {
            let fee = half_fee(c, carrier);
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
        uncharged,
        corrections,
        rules: c.contract.penalties.clone(),
        deductions,
        members,
    }
}

/// A member's half of its annual fee, when the contract names one.
fn half_fee(c: &Config, carrier: &str) -> Option<f64> {
    c.contract
        .members
        .iter()
        .find(|m| m.carrier == carrier)
        .map(|m| m.annual_fee / 2.0)
}

/// The deadline breaches of the half's faults as judged at its cutoff:
/// those charged, and those answered by another fault of the same
/// incident (one incident, one bill). The incident rules (lead answers,
/// one repair report per member) read together, so kept in one function.
fn fault_breaches(p: &PeriodFigures, lead: &str, by_lead: bool) -> (Vec<Breach>, Vec<Breach>) {
    let cutoff = p.until;
    let now = p.generated_at;
    let mut breaches = Vec::new();
    let mut uncharged = Vec::new();
    // Every line fault of the half with its carrier and line.
    let line_faults: Vec<(String, String, &FaultView)> = p
        .lines
        .iter()
        .flat_map(|l| {
            l.faults
                .iter()
                .map(move |f| (l.carrier.clone(), l.line.clone(), f))
        })
        .collect();
    let egress_faults: &[FaultView] = p.egress.as_ref().map_or(&[], |e| &e.faults);
    // One incident, one bill: which fault answers for what.
    let mut answered_by_lead: Vec<(i64, i64)> = Vec::new(); // (line fault, egress fault)
    let mut report_given: Vec<(i64, String)> = Vec::new(); // (egress fault, carrier) with a repair report in time
    for e in egress_faults {
        for (carrier, _, f) in contained(e, &line_faults) {
            if by_lead {
                answered_by_lead.push((f.id, e.id));
            }
            if !breached_kinds(f, cutoff, now).contains(&DeadlineKind::RepairReport)
                && f.repair_report_at.is_some()
            {
                report_given.push((e.id, carrier.clone()));
            }
        }
    }
    let incident_of = |fault: i64| {
        egress_faults.iter().find(|e| {
            contained(e, &line_faults)
                .iter()
                .any(|(_, _, f)| f.id == fault)
        })
    };
    // The breach as judged at the cutoff: its due time, and the class the
    // resolution deadline was judged against.
    let breach = |carrier: &str, line: &str, f: &FaultView, k: DeadlineKind| {
        let ds = f.deadlines_known_at(cutoff, now);
        Breach {
            carrier: carrier.to_string(),
            line: line.to_string(),
            kind: deadline_breach(k),
            fault: Some(f.id),
            class: ds
                .iter()
                .find(|d| d.kind == DeadlineKind::Resolution)
                .and_then(|d| d.class)
                .or(Some(f.class)),
            at: ds.iter().find(|d| d.kind == k).and_then(|d| d.due),
            units: 1,
            note: None,
        }
    };
    for (carrier, line, f) in &line_faults {
        for k in breached_kinds(f, cutoff, now) {
            let mut b = breach(carrier, line, f, k);
            if let Some((_, e)) = answered_by_lead.iter().find(|(l, _)| *l == f.id) {
                b.note = Some(format!("egress:{e}:lead"));
                uncharged.push(b);
                continue;
            }
            // One repair report per member per incident is enough.
            if k == DeadlineKind::RepairReport {
                if let Some(e) = incident_of(f.id) {
                    if report_given
                        .iter()
                        .any(|(id, c)| *id == e.id && c == carrier)
                    {
                        b.note = Some(format!("egress:{}:report", e.id));
                        uncharged.push(b);
                        continue;
                    }
                }
            }
            breaches.push(b);
        }
    }
    for e in egress_faults {
        for k in breached_kinds(e, cutoff, now) {
            let mut b = breach(lead, linkledger_core::EGRESS, e, k);
            let lead_reported = report_given.iter().any(|(id, c)| *id == e.id && *c == lead);
            if !by_lead || (k == DeadlineKind::RepairReport && lead_reported) {
                b.note = Some(format!("egress:{}:lines", e.id));
                uncharged.push(b);
            } else {
                breaches.push(b);
            }
        }
    }
    (breaches, uncharged)
}

/// Each line's downtime over a contract year's cap, and its maintenance
/// announced too late.
fn line_breaches(p: &PeriodFigures) -> Vec<Breach> {
    let mut breaches = Vec::new();
    for l in &p.lines {
        // Each contract year the half touches against its own cap.
        for y in &l.years {
            let hours = y.hours_over_cap();
            if hours > 0 {
                breaches.push(Breach {
                    carrier: l.carrier.clone(),
                    line: l.line.clone(),
                    kind: BreachKind::DowntimeOverCap,
                    fault: None,
                    class: None,
                    at: y.budget.projected_breach.filter(|_| y.budget.breached),
                    units: hours,
                    note: Some(format!("year:{}", y.contract_year)),
                });
            }
        }
        for m in l.maintenance_breaches() {
            breaches.push(Breach {
                carrier: l.carrier.clone(),
                line: l.line.clone(),
                kind: BreachKind::LateMaintenance,
                fault: None,
                class: None,
                at: Some(m.start),
                units: 1,
                note: None,
            });
        }
    }
    breaches
}

/// Corrections recorded in this half of faults judged before it: the
/// difference each made, as lines of their own.
fn corrections(p: &PeriodFigures, c: &Config, lead: &str) -> Vec<CorrectionLine> {
    let now = p.generated_at;
    let mut corrections = Vec::new();
    for f in &p.corrected_faults {
        let carrier = f
            .line
            .as_ref()
            .and_then(|id| c.lines.iter().find(|l| l.id == *id))
            .map_or(lead.to_string(), |l| l.carrier.clone());
        for k in f
            .corrections
            .iter()
            .filter(|k| k.recorded_at >= p.period.start && k.recorded_at < p.until)
        {
            let before = breached_kinds(f, k.recorded_at - chrono::TimeDelta::milliseconds(1), now);
            let after = breached_kinds(f, k.recorded_at, now);
            for kind in DeadlineKind::ALL {
                let units = match (before.contains(&kind), after.contains(&kind)) {
                    (true, false) => -1,
                    (false, true) => 1,
                    _ => continue,
                };
                corrections.push(CorrectionLine {
                    carrier: carrier.clone(),
                    line: f
                        .line
                        .clone()
                        .unwrap_or_else(|| linkledger_core::EGRESS.into()),
                    kind: deadline_breach(kind),
                    fault: f.id,
                    from: k.from,
                    to: k.to,
                    recorded_at: k.recorded_at,
                    by: k.by.clone(),
                    reason: k.reason.clone(),
                    units,
                });
            }
        }
    }
    corrections
}

/// What each penalty rule deducts from each member for the breaches and
/// corrections of the half, with the rule's caps applied.
fn deductions(
    c: &Config,
    carriers: &[String],
    breaches: &[Breach],
    corrections: &[CorrectionLine],
) -> Vec<Deduction> {
    let mut deductions = Vec::new();
    for rule in &c.contract.penalties {
        for carrier in carriers {
            let applies = |c: &str, kind: BreachKind, class: Option<FaultClass>| {
                c == carrier && kind == rule.breach && rule.class.is_none_or(|k| class == Some(k))
            };
            let breached: i64 = breaches
                .iter()
                .filter(|b| applies(&b.carrier, b.kind, b.class))
                .map(|b| b.units as i64)
                .sum();
            let corrected: i64 = corrections
                .iter()
                // A breach credited back was charged under the class it
                // had; a breach the correction adds is under the new one.
                .filter(|k| {
                    applies(
                        &k.carrier,
                        k.kind,
                        Some(if k.units < 0 { k.from } else { k.to }),
                    )
                })
                .map(|k| k.units)
                .sum();
            // A credit never turns a rule into a payment to the carrier.
            let units = (breached + corrected).max(0) as u64;
            if units == 0 {
                continue;
            }
            let fee = half_fee(c, carrier);
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
    deductions
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

fn uncharged_why(l: Language, note: &str) -> String {
    let parts: Vec<&str> = note.split(':').collect();
    match parts.as_slice() {
        ["egress", id, "lines"] => tr(
            l,
            &format!("出口整体故障 #{id} 已由其包含的各线路故障计入"),
            &format!("egress fault #{id}: answered by the line faults it contains"),
        ),
        ["egress", id, "lead"] => tr(
            l,
            &format!("由牵头人就出口整体故障 #{id} 一次承担"),
            &format!("answered once by the lead on egress fault #{id}"),
        ),
        ["egress", id, "report"] => tr(
            l,
            &format!("同一事件（出口整体故障 #{id}）该成员已按时提交维修报告"),
            &format!(
                "the member gave its repair report for the incident (egress fault #{id}) in time"
            ),
        ),
        _ => note.to_string(),
    }
}

pub fn money(v: f64) -> String {
    linkledger_core::text::fixed(v, 2)
}

pub fn document(p: &PeriodFigures, a: &Assessment, l: Language, generated: DateTime<Utc>) -> Doc {
    let mut d = Doc::new(
        l,
        tr(
            l,
            &format!("半年服务考核 {}", p.period.title(l)),
            &format!("Half-year service assessment {}", p.period.title(l)),
        ),
    );
    subtitle(&mut d, p, generated);
    let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    service_level(&mut d, p);
    breaches(&mut d, a, tz);
    deduction_rules(&mut d, a);
    fees(&mut d, a);
    d
}

/// 一、服务水平: each line's and the egress's availability against the cap, and the year in parts.
fn service_level(d: &mut Doc, p: &PeriodFigures) {
    let l = d.language;
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
    super::sections::year_parts_table(d, p);
}

/// 二、违约事项: the breaches the period is assessed on, what was not charged and why, corrections since.
fn breaches(d: &mut Doc, a: &Assessment, tz: Tz) {
    let l = d.language;
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
    if !a.uncharged.is_empty() {
        uncharged(d, a);
    }
    if !a.corrections.is_empty() {
        corrections_table(d, a, tz);
    }
}

/// Breaches another fault of the same incident answers for.
fn uncharged(d: &mut Doc, a: &Assessment) {
    let l = d.language;
    d.heading(
        2,
        tr(
            l,
            "同一事件不重复计费的事项",
            "Breaches of one incident not charged twice",
        ),
    );
    let head = heads(
        l,
        &[
            ("运营商", "Carrier"),
            ("线路", "Line"),
            ("事项", "Breach"),
            ("故障", "Fault"),
            ("原因", "Why not charged"),
        ],
    );
    let rows = a
        .uncharged
        .iter()
        .map(|b| {
            vec![
                b.carrier.clone(),
                b.line.clone(),
                breach_name(l, b.kind),
                b.fault.map(|f| format!("#{f}")).unwrap_or_default(),
                uncharged_why(l, b.note.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    d.table(&head, &[0.8, 0.8, 1.6, 0.5, 2.6], rows, "");
}

/// Corrections of faults judged in an earlier half, as differences.
fn corrections_table(d: &mut Doc, a: &Assessment, tz: Tz) {
    let l = d.language;
    d.heading(2, tr(l, "更正", "Corrections"));
    let head = heads(
        l,
        &[
            ("运营商", "Carrier"),
            ("故障", "Fault"),
            ("事项", "Breach"),
            ("等级更正", "Class corrected"),
            ("更正时间", "Corrected at"),
            ("更正人", "By"),
            ("理由", "Reason"),
            ("数量", "Units"),
        ],
    );
    let rows = a
        .corrections
        .iter()
        .map(|k| {
            vec![
                k.carrier.clone(),
                format!("#{}", k.fault),
                breach_name(l, k.kind),
                format!("{} → {}", class_name(l, k.from), class_name(l, k.to)),
                at(tz, k.recorded_at),
                k.by.clone().unwrap_or_default(),
                k.reason.clone().unwrap_or_default(),
                format!("{:+}", k.units),
            ]
        })
        .collect();
    d.table(&head, &[0.8, 0.5, 1.4, 1.0, 1.3, 0.7, 2.0, 0.5], rows, "");
    d.note(tr(
        l,
        "更正针对以往考核期已判定的故障：原考核结果保持不变，更正造成的差额（−1 为退回一次违约）在本期单列计算。",
        "Corrections concern faults judged in an earlier assessment: that assessment stands, and the difference a correction makes (−1: a breach credited back) is counted here as a line of its own.",
    ));
}

/// 三、扣减规则: each configured rule and what it deducts.
fn deduction_rules(d: &mut Doc, a: &Assessment) {
    let l = d.language;
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
            "未配置扣减规则。合同第六条约定按考核结果确定实际支付费用，但未规定服务违约的扣减金额，因此本报告只列出违约事项，不计算扣减。",
            "No deduction rules are configured ([[contract.penalty]]). Clause 6 ties the payment to the assessment but states no amounts for service breaches, so this report lists the breaches and deducts nothing.",
        ),
    );
}

/// 四、各成员应付费用: each consortium member's fee, its deductions and what is payable.
fn fees(d: &mut Doc, a: &Assessment) {
    let l = d.language;
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
        "金额单位：元。半年服务费 = 年度服务费 / 2（年度服务费按合同各成员约定）。扣减合计不超过半年服务费。出口整体的违约计入联合体牵头人。",
        "Amounts in yuan. Half-year fee = annual fee / 2 ([[contract.member]]). Deductions never exceed the half-year fee. Breaches of the whole egress count against the consortium lead.",
    ));
}
