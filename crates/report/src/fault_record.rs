//! The record of one fault (第四条 1): its timeline from detection to the
//! repair report with each deadline, the probe evidence around it (which
//! tiers failed, loss and RTT per tier, the interface's traffic and
//! errors), the outages it covers, notes and exclusions.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::doc::{heads, tr, Doc};
use super::sections::{
    at, cause_name, class_name, deadline_name, dur, exclusions_table, mbps, ms, opt_at, pct,
    state_name,
};
use linkledger_config::{Config, Language};
use linkledger_ledger::evidence::FaultRecord;

/// What opened a fault, as a reader says it.
pub fn trigger_name(l: Language, t: &str) -> String {
    linkledger_core::vocab::trigger(l, t).to_string()
}

fn degradation_name(l: Language, kind: &str) -> String {
    linkledger_core::vocab::degradation(l, kind).to_string()
}

fn via_name(l: Language, via: &str) -> String {
    match via {
        "phone" => tr(l, "电话", "phone"),
        "ticket" => tr(l, "工单", "ticket"),
        "email" => tr(l, "电子邮件", "email"),
        "im" => tr(l, "即时通讯", "instant message"),
        other => match other.strip_prefix("notify:") {
            Some(ch) => tr(
                l,
                &format!("告警通道 {ch} 自动申告"),
                &format!("alert channel {ch}"),
            ),
            None => other.to_string(),
        },
    }
}

fn event_name(l: Language, kind: &str) -> String {
    let (zh, en) = match kind {
        "escalated" => ("升级", "escalated"),
        "reclassified" => ("人工调整等级", "reclassified"),
        "corrected" => ("更正等级", "class corrected"),
        "reported" => ("申告", "reported to the carrier"),
        "acknowledged" => ("运营商响应", "acknowledged by the carrier"),
        "on_site" => ("到场", "on site"),
        "repair_report" => ("收到维修报告", "repair report received"),
        "carrier_ticket" => ("运营商工单", "carrier ticket"),
        "note" => ("备注", "note"),
        "detected" => ("发现", "detected"),
        "resolved" => ("恢复", "resolved"),
        "deadline_breached" => ("时限超时", "deadline breached"),
        "breach_withdrawn" => ("撤销超时", "breach withdrawn"),
        other => (other, other),
    };
    tr(l, zh, en)
}

pub fn document(r: &FaultRecord, c: &Config, l: Language, generated: DateTime<Utc>) -> Doc {
    let tz: Tz = c.daemon.timezone;
    let f = &r.fault;
    let mut d = Doc::new(
        l,
        tr(
            l,
            &format!("链路故障维修记录 #{}", f.id),
            &format!("Fault record #{}", f.id),
        ),
    );
    let line = f
        .line
        .clone()
        .unwrap_or_else(|| tr(l, "出口整体", "whole egress"));
    d.subtitle = vec![
        format!("{}: {}", tr(l, "合同", "Contract"), c.contract.name),
        format!(
            "{}: {}{}",
            tr(l, "线路", "Line"),
            line,
            r.fault
                .line
                .as_ref()
                .and_then(|id| c.lines.iter().find(|x| &x.id == id))
                .map(|x| x.carrier_for(l).to_string())
                .or_else(|| r.carrier.clone())
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ),
        format!(
            "{}: {}（{}）",
            tr(l, "生成时间", "Generated"),
            at(tz, generated),
            tz.name()
        ),
    ];
    summary(&mut d, r, l, tz);
    deadlines(&mut d, r, l, tz);
    timeline(&mut d, r, l, tz);
    evidence(&mut d, r, l, tz);
    exclusions(&mut d, r, l, tz);
    d
}

/// 一、概要: what the fault was, its class, when it was detected, reported, acknowledged and resolved.
fn summary(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    let f = &r.fault;
    d.heading(1, tr(l, "一、概要", "1. Summary"));
    d.figures(vec![
        (
            tr(l, "等级", "Class"),
            format!(
                "{}{}",
                class_name(l, f.class),
                if f.class != f.opened_class {
                    tr(
                        l,
                        &format!("（发现时为{}）", class_name(l, f.opened_class)),
                        &format!(" (opened as {})", class_name(l, f.opened_class)),
                    )
                } else {
                    String::new()
                }
            ),
        ),
        (tr(l, "触发", "Trigger"), trigger_name(l, &f.trigger)),
        (tr(l, "发现时间", "Detected"), at(tz, f.detected_at)),
        (tr(l, "恢复时间", "Resolved"), opt_at(tz, f.resolved_at, l)),
        (tr(l, "历时", "Duration"), dur(l, f.duration_s)),
        (
            tr(l, "运营商工单号", "Carrier ticket"),
            f.carrier_ticket.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            tr(l, "同一事件的其他故障", "Other faults of the incident"),
            if r.incident.is_empty() {
                "—".into()
            } else {
                r.incident
                    .iter()
                    .map(|i| format!("#{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
    ]);
}

/// 二、处理时限: each deadline, when it runs from, when it was due and whether it was met.
fn deadlines(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    let f = &r.fault;
    d.heading(1, tr(l, "二、处理时限", "2. Deadlines"));
    let head = heads(
        l,
        &[
            ("时限", "Deadline"),
            ("计时起点", "Runs from"),
            ("到期", "Due"),
            ("完成", "Done"),
            ("结论", "Verdict"),
        ],
    );
    use linkledger_core::fault::deadline::RunsFrom;
    let rows = f
        .deadlines
        .iter()
        .map(|x| {
            let from = match x.runs_from {
                RunsFrom::Reported => tr(l, "申告", "fault report"),
                RunsFrom::Detected
                    if x.kind == linkledger_core::fault::deadline::DeadlineKind::Response =>
                {
                    tr(l, "发现（未申告）", "detection (not reported)")
                }
                RunsFrom::Detected => tr(l, "发现", "detection"),
                RunsFrom::Resolved => tr(l, "恢复", "resolution"),
            };
            let from = match x.class {
                Some(c) => format!("{from}（{}）", class_name(l, c)),
                None => from,
            };
            vec![
                deadline_name(l, x.kind),
                from,
                x.due.map(|t| at(tz, t)).unwrap_or_else(|| "—".into()),
                x.done_at.map(|t| at(tz, t)).unwrap_or_else(|| "—".into()),
                state_name(l, x.state),
            ]
        })
        .collect();
    d.table(&head, &[1.0, 1.2, 1.4, 1.4, 0.8], rows, "");
    d.note(match (f.reported_at, f.reported_via.as_deref()) {
        (Some(t), via) => tr(
            l,
            &format!("申告时间 {}（{}）：响应时限按合同第二条第17项自申告起算。", at(tz, t), via_name(l, via.unwrap_or(""))),
            &format!("Reported to the carrier at {} ({}): the response time runs from the report (clause 2.17).", at(tz, t), via_name(l, via.unwrap_or(""))),
        ),
        (None, _) => tr(
            l,
            "未记录申告（含因静默时段暂缓发送的告警）：响应时限自发现起算。",
            "No fault report recorded (an alert held by quiet hours is not a report): the response time runs from detection.",
        ),
    });
}

/// 三、时间线: every step of the fault in time order.
fn timeline(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    let f = &r.fault;
    d.heading(1, tr(l, "三、时间线", "3. Timeline"));
    let head = heads(
        l,
        &[
            ("时间", "When"),
            ("事件", "Event"),
            ("内容", "Details"),
            ("记录人", "By"),
            ("记录时间", "Recorded"),
        ],
    );
    // The ledger's timeline already holds detection and resolution.
    let mut rows: Vec<Vec<String>> = f
        .timeline
        .iter()
        .map(|e| {
            let class = e
                .class
                .as_deref()
                .and_then(linkledger_core::fault::FaultClass::parse)
                .map(|c| class_name(l, c));
            let deadline = e
                .deadline
                .as_deref()
                .and_then(linkledger_core::fault::deadline::DeadlineKind::parse)
                .map(|k| deadline_name(l, k));
            // The ledger's own texts for detection and breaches are codes
            // and English; the event, class and deadline already say them.
            let text = match e.kind.as_str() {
                "detected" => e.text.as_deref().map(|t| trigger_name(l, t)),
                "deadline_breached" => None,
                _ => e.text.clone(),
            };
            vec![
                at(tz, e.at),
                event_name(l, &e.kind),
                [class, deadline, text]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                e.actor.clone().unwrap_or_else(|| "linkledger".into()),
                at(tz, e.recorded_at),
            ]
        })
        .collect();
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    d.table(&head, &[1.3, 1.0, 2.0, 0.9, 1.3], rows, "");
}

/// 四、探测证据: the outages it covers, the paths traced, its degradations and the probes minute by minute.
fn evidence(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    d.heading(1, tr(l, "四、探测证据", "4. Probe evidence"));
    outages_table(d, r, l, tz);
    paths_table(d, r, l, tz);
    degradations_table(d, r, l, tz);
    probe_tables(d, r, l, tz);
}

/// The outages the fault covers.
fn outages_table(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    let head = heads(
        l,
        &[
            ("编号", "Outage"),
            ("开始（最后正常）", "Start (last good)"),
            ("结束（最后失败）", "End (last failed)"),
            ("失败层级", "Failing tiers"),
        ],
    );
    let rows = r
        .outages
        .iter()
        .map(|o| {
            vec![
                format!("{} {}", o.id, o.line),
                format!(
                    "{} ({})",
                    at(tz, o.start),
                    o.start_after
                        .map(|t| at(tz, t))
                        .unwrap_or_else(|| "—".into())
                ),
                format!(
                    "{} ({})",
                    opt_at(tz, o.end, l),
                    o.end_after.map(|t| at(tz, t)).unwrap_or_else(|| "—".into())
                ),
                o.causes
                    .iter()
                    .map(|(t, c)| format!("{} {}", &at(tz, *t)[11..], cause_name(l, c)))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    d.table(
        &head,
        &[0.8, 1.6, 1.6, 1.6],
        rows,
        &tr(l, "该故障不涉及中断。", "The fault covers no outage."),
    );
}

/// The paths traced when the outage was declared (when any were).
fn paths_table(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    if !r.paths.is_empty() {
        d.paragraph(tr(
            l,
            "路径证据：中断判定时的逐跳路由追踪（监测端至各上游锚点；外部探测点至地址段）。路径在最后应答的一跳之后中断。",
            "Path evidence: hop-by-hop traces taken when the outage was declared (the monitor to each upstream anchor; vantage agents to the block). The path stops after the last hop that answered.",
        ));
        let head = heads(
            l,
            &[
                ("中断", "Outage"),
                ("探测端", "From"),
                ("目标", "Target"),
                ("时间", "Taken"),
                ("逐跳", "Hops"),
                ("最后应答的一跳", "Last hop that answered"),
            ],
        );
        let rows = r
            .paths
            .iter()
            .map(|p| {
                let hops = p
                    .hops
                    .iter()
                    .map(|h| match (h.addr, h.rtt_ms) {
                        (Some(a), Some(ms)) => format!("{} {a} {ms:.1} ms", h.ttl),
                        (Some(a), None) => format!("{} {a}", h.ttl),
                        _ => format!("{} *", h.ttl),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let last = match (&p.last_hop, p.reached) {
                    (Some(h), true) => tr(
                        l,
                        &format!("{h}（已到达目标）"),
                        &format!("{h} (target reached)"),
                    ),
                    (Some(h), false) => h.clone(),
                    (None, _) => tr(l, "无应答", "none answered"),
                };
                vec![
                    p.outage.map_or("—".into(), |o| o.to_string()),
                    if p.origin == "monitor" {
                        tr(l, "监测端", "monitor")
                    } else {
                        format!("{}{}", tr(l, "外部探测点 ", "agent "), p.origin)
                    },
                    p.target.clone(),
                    at(tz, p.taken_at),
                    hops,
                    last,
                ]
            })
            .collect();
        d.table(&head, &[0.6, 0.9, 1.0, 1.2, 2.6, 1.2], rows, "");
    }
}

/// The degradations the fault covers (when any).
fn degradations_table(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    if !r.degradations.is_empty() {
        let head = heads(
            l,
            &[
                ("编号", "Id"),
                ("劣化", "Degradation"),
                ("开始", "Start"),
                ("结束", "End"),
                ("数据", "Figures"),
            ],
        );
        let rows = r
            .degradations
            .iter()
            .map(|g| {
                vec![
                    format!("{} {}", g.id, g.line),
                    degradation_name(l, &g.kind),
                    at(tz, g.start),
                    opt_at(tz, g.end, l),
                    g.detail.to_string(),
                ]
            })
            .collect();
        d.table(&head, &[0.8, 1.0, 1.4, 1.4, 2.0], rows, "");
    }
}

/// The probes minute by minute around the fault, and per target.
fn probe_tables(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    d.paragraph(tr(
        l,
        &format!(
            "各层探测结果，每 {} 分钟一行，{} 至 {}：",
            r.slot_minutes,
            at(tz, r.window.0),
            at(tz, r.window.1)
        ),
        &format!(
            "Probes per tier, one row per {} minute(s), {} to {}:",
            r.slot_minutes,
            at(tz, r.window.0),
            at(tz, r.window.1)
        ),
    ));
    let head = heads(
        l,
        &[
            ("时间", "From"),
            ("层级", "Tier"),
            ("发包", "Sent"),
            ("收包", "Received"),
            ("丢包率", "Loss"),
            ("平均时延 ms", "RTT avg ms"),
        ],
    );
    let rows = r
        .probes
        .iter()
        .map(|p| {
            vec![
                at(tz, p.start),
                match p.tier.split_once('/') {
                    Some((line, t)) => format!("{line} {}", linkledger_core::vocab::tier(l, t)),
                    None => linkledger_core::vocab::tier(l, &p.tier).to_string(),
                },
                p.sent.to_string(),
                p.received.to_string(),
                pct(p.loss_ratio, 1),
                ms(p.rtt_avg_ms),
            ]
        })
        .collect();
    d.table(
        &head,
        &[1.4, 1.0, 0.7, 0.7, 0.7, 0.9],
        rows,
        &tr(l, "该时段无探测记录。", "No probe records in the window."),
    );
    let head = heads(
        l,
        &[
            ("时间", "From"),
            ("入 Mbit/s", "In Mbit/s"),
            ("出 Mbit/s", "Out Mbit/s"),
            ("入错误/丢弃", "In errors/discards"),
            ("出错误/丢弃", "Out errors/discards"),
        ],
    );
    let rows = r
        .interface
        .iter()
        .map(|s| {
            vec![
                format!("{} {}", s.line, at(tz, s.start)),
                mbps(s.avg_in_bps),
                mbps(s.avg_out_bps),
                format!("{}/{}", s.errors[0], s.errors[2]),
                format!("{}/{}", s.errors[1], s.errors[3]),
            ]
        })
        .collect();
    d.table(
        &head,
        &[1.6, 0.8, 0.8, 1.0, 1.0],
        rows,
        &tr(
            l,
            "该时段无 SNMP 接口数据（接口流量样本每 5 分钟一个）。",
            "No SNMP interface samples in the window (one per 5 minutes).",
        ),
    );
}

/// 五、不可抗力与扣除: the exclusions that touch it.
fn exclusions(d: &mut Doc, r: &FaultRecord, l: Language, tz: Tz) {
    d.heading(1, tr(l, "五、不可抗力与扣除", "5. Exclusions"));
    exclusions_table(d, tz, &r.exclusions, &tr(l, "无。", "None."));
}
