//! Optimisation advice from a rule table: each rule looks at a line's (or
//! the egress's) figures and, when it applies, gives a sentence in the
//! report's language with the figures filled in. No advice is written by
//! hand; a reader can trace each sentence to its rule and figures.

use serde::Serialize;

use super::figures::{LineFigures, PeriodFigures};
use linkledger_config::Language;
use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};

/// One piece of advice, with the rule that gave it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Advice {
    /// The line, or "egress".
    pub line: String,
    pub rule: &'static str,
    pub text: String,
}

/// A rule: its id, what it checks, and its sentence in zh-CN and en.
pub struct Rule {
    pub id: &'static str,
    pub when: &'static str,
    check: fn(&LineFigures, &PeriodFigures) -> Option<[String; 2]>,
}

fn pct(v: f64) -> String {
    format!("{}%", linkledger_core::text::fixed(v * 100.0, 1))
}

fn breached(l: &LineFigures, k: DeadlineKind) -> usize {
    l.faults
        .iter()
        .filter(|f| {
            f.deadlines
                .iter()
                .any(|d| d.kind == k && d.state == DeadlineState::Breached)
        })
        .count()
}

/// The rule table, in the order advice is shown.
pub const RULES: &[Rule] = &[
    Rule {
        id: "budget_projected_breach",
        when: "at the last 30 days' rate the annual downtime cap is reached within this contract year",
        check: |l, _| {
            let at = l.year_to_date.projected_breach?;
            (!l.year_to_date.breached).then(|| {
                let d = at.format("%Y-%m-%d");
                [
                    format!("按近 30 天的速度，年度中断时长上限将于 {d} 前后用尽：请约谈运营商，要求整改并提交改进计划。"),
                    format!("At the last 30 days' rate the annual downtime cap runs out around {d}: ask the carrier for a remediation plan."),
                ]
            })
        },
    },
    Rule {
        id: "budget_breached",
        when: "charged downtime in the contract year is over the cap",
        check: |l, _| {
            let over: Vec<i32> = l
                .years
                .iter()
                .filter(|y| y.budget.breached)
                .map(|y| y.contract_year)
                .collect();
            (!over.is_empty()).then(|| {
                let zh: Vec<String> = over.iter().map(|n| format!("第{n}合同年度")).collect();
                let en: Vec<String> = over.iter().map(|n| format!("contract year {n}")).collect();
                [
                    format!("{}计费中断时长已超过合同上限：依第六条在半年考核中核减费用，并要求运营商书面说明。", zh.join("、")),
                    format!("Charged downtime in {} is over the cap: apply the deduction in the half-year assessment (clause 6) and ask the carrier for a written account.", en.join(" and ")),
                ]
            })
        },
    },
    Rule {
        id: "budget_half_used",
        when: "half or more of the annual cap is used",
        check: |l, _| {
            let s = l.year_to_date.used_share;
            (0.5..1.0).contains(&s).then(|| {
                [
                    format!("年度中断时长预算已用 {}：建议提前与运营商复盘故障原因，必要时启用备用线路。", pct(s)),
                    format!("{} of the annual downtime budget is used: review the causes with the carrier and be ready to shift traffic to the other lines.", pct(s)),
                ]
            })
        },
    },
    Rule {
        id: "resolution_breached",
        when: "a fault was not resolved within its class's deadline",
        check: |l, _| {
            let n = breached(l, DeadlineKind::Resolution);
            (n > 0).then(|| {
                [
                    format!("{n} 起故障未在合同时限内修复：要求运营商提交根因分析和防范措施。"),
                    format!("{n} fault(s) were not resolved within the contract's deadline: ask the carrier for a root-cause analysis and preventive measures."),
                ]
            })
        },
    },
    Rule {
        id: "response_breached",
        when: "the carrier responded or came on site late",
        check: |l, _| {
            let n = breached(l, DeadlineKind::Response) + breached(l, DeadlineKind::OnSite);
            (n > 0).then(|| {
                [
                    format!("响应或到场超时 {n} 次：核对运营商的值班联系人与升级流程。"),
                    format!("{n} late response(s) or on-site arrival(s): check the carrier's on-call contacts and escalation path."),
                ]
            })
        },
    },
    Rule {
        id: "repair_report_late",
        when: "a repair report came later than 8 hours after resolution, or not at all",
        check: |l, _| {
            let n = breached(l, DeadlineKind::RepairReport);
            (n > 0).then(|| {
                [
                    format!("{n} 份故障维修报告逾期（第四条：处理完成后 8 小时内提供）：催交并在考核中记录。"),
                    format!("{n} repair report(s) late (clause 4: due 8 h after resolution): chase them and record it for the assessment."),
                ]
            })
        },
    },
    Rule {
        id: "recurring_outages",
        when: "three or more outages in the period",
        check: |l, _| {
            let n = l.outages.len();
            (n >= 3).then(|| {
                [
                    format!("本期发生 {n} 次中断：要求运营商排查线路的共性原因（光缆、设备、割接）。"),
                    format!("{n} outages in the period: ask the carrier to look for a common cause (fibre, equipment, cut-overs)."),
                ]
            })
        },
    },
    Rule {
        id: "loss_high",
        when: "monthly packet loss over 1 %",
        check: |l, _| {
            let worst = l
                .quality_by_month
                .iter()
                .filter_map(|(m, q)| Some((m, q.loss_ratio?)))
                .filter(|(_, v)| *v > 0.01)
                .max_by(|a, b| a.1.total_cmp(&b.1))?;
            Some([
                format!("{} 月丢包率 {}，超过 1%：请运营商检查线路质量。", worst.0, pct(worst.1)),
                format!("Packet loss was {} in {}, over 1 %: ask the carrier to check the line.", pct(worst.1), worst.0),
            ])
        },
    },
    Rule {
        id: "latency_high",
        when: "the period's 95th-percentile RTT is over the line's rtt_threshold",
        check: |l, p| {
            let limit = p.rtt_thresholds.iter().find(|(id, _)| *id == l.line)?.1?;
            let p95 = l.quality.rtt_p95_ms?;
            (p95 > limit).then(|| {
                [
                    format!("时延 P95 为 {p95:.1} ms，高于阈值 {limit:.0} ms：请运营商优化路由。"),
                    format!("The 95th-percentile RTT was {p95:.1} ms, over the {limit:.0} ms threshold: ask the carrier to improve routing."),
                ]
            })
        },
    },
    Rule {
        id: "bandwidth_upgrade",
        when: "the 95th percentile of traffic is over contract.upgrade_advice_share of the contracted bandwidth",
        check: |l, p| {
            let t = l.traffic.as_ref()?;
            let u = t.inbound.p95_utilization.max(t.outbound.p95_utilization);
            (u > p.upgrade_advice_share).then(|| {
                [
                    format!("流量 95 百分位已达合同带宽的 {}：建议评估扩容（第二条 10）。", pct(u)),
                    format!("The traffic's 95th percentile reached {} of the contracted bandwidth: consider an upgrade (clause 2.10).", pct(u)),
                ]
            })
        },
    },
    Rule {
        id: "traffic_anomaly",
        when: "traffic ran at the contracted bandwidth or surged far above its usual level",
        check: |l, _| {
            let n = l.anomalies.len();
            (n > 0).then(|| {
                [
                    format!("出现 {n} 次流量异常（满载或突增）：核对是否为攻击流量，必要时启用运营商的抗 DDoS 清洗（第二条 11）。"),
                    format!("{n} traffic anomal(ies) (saturation or surge): check for attack traffic and use the carrier's DDoS scrubbing if needed (clause 2.11)."),
                ]
            })
        },
    },
    Rule {
        id: "maintenance_late_notice",
        when: "a maintenance window was announced less than the notice period ahead or without consent",
        check: |l, _| {
            let n = l.maintenance_breaches().count();
            (n > 0).then(|| {
                [
                    format!("{n} 次计划维护未提前通知或未经同意，按中断计算：提醒运营商遵守提前 24 小时通知的约定（第二条 14）。"),
                    format!("{n} maintenance window(s) without timely notice or consent count as outages: remind the carrier of the 24-hour notice (clause 2.14)."),
                ]
            })
        },
    },
    Rule {
        id: "coverage_low",
        when: "less than 99 % of the period was observed",
        check: |l, _| {
            let c = l.availability.coverage;
            (c < 0.99).then(|| {
                [
                    format!("本期监测覆盖率仅 {}：未监测时间不计入中断，请检查监测主机与探测目标。", pct(c)),
                    format!("Only {} of the period was observed: unobserved time is never charged, so check the monitoring host and targets.", pct(c)),
                ]
            })
        },
    },
];

/// The advice for every line in the figures, in rule order per line; a
/// line no rule applies to gets the "none" sentence.
pub fn advise(p: &PeriodFigures, language: Language) -> Vec<Advice> {
    let i = usize::from(language != Language::ZhCn);
    let mut out = Vec::new();
    for l in &p.lines {
        let before = out.len();
        for r in RULES {
            if let Some(t) = (r.check)(l, p) {
                out.push(Advice {
                    line: l.line.clone(),
                    rule: r.id,
                    text: t[i].clone(),
                });
            }
        }
        if out.len() == before {
            out.push(Advice {
                line: l.line.clone(),
                rule: "none",
                text: [
                    "各项指标符合合同要求，暂无优化建议。",
                    "Every figure is within the contract; no advice.",
                ][i]
                    .to_string(),
            });
        }
    }
    out
}
