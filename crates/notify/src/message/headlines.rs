//! The first line of each kind of message and the lines under it: a
//! fault's, a deadline's, the budget's, the monitor's own, a path's.

use super::*;

/// The subject of the notice's message; its first lines go to `lines`.
pub(super) fn headline(n: &Notice, head: &Head, cx: &Context, lines: &mut Vec<String>) -> String {
    use NoticeKind::*;
    match n.kind {
        FaultOpened | FaultEscalated | FaultReclassified | FaultResolved => {
            fault_headline(n, head, cx, lines)
        }
        DeadlineApproaching | DeadlineBreached | RepairReportOverdue => {
            deadline_headline(n, head, cx, lines)
        }
        BudgetShare | BudgetProjectedBreach => budget_headline(n, head, cx, lines),
        DaemonGap | MonitorFailover | LocalFault | LocalFaultResolved | ProbeFailed
        | SnmpFailing => monitor_headline(n, head, cx, lines),
        PathEvidence => path_headline(n, head, cx, lines),
        ReportReady | Test => other_headline(n, head, cx, lines),
    }
}

/// A fault opened, escalated or reclassified, resolved: what happened and what to do.
fn fault_headline(n: &Notice, head: &Head, cx: &Context, lines: &mut Vec<String>) -> String {
    let Head {
        line,
        class,
        fault_label,
    } = head;
    match n.kind {
        NoticeKind::FaultOpened => {
            let c = class.map(|c| cx.class(c)).unwrap_or_default();
            lines.push(format!(
                "{}: {}",
                cx.t("检测时间", "Detected"),
                cx.time(n.at)
            ));
            let trigger = detail_str(n, "trigger");
            lines.push(format!(
                "{}: {}",
                cx.t("原因", "Cause"),
                linkledger_core::vocab::trigger(cx.language, trigger)
            ));
            let cause = detail_str(n, "cause");
            if !cause.is_empty() {
                lines.push(format!(
                    "{}: {}",
                    cx.t("探测结果", "Probes"),
                    linkledger_core::vocab::tiers_answered(cx.language, cause)
                ));
            }
            lines.push(format!(
                "{}: {}",
                cx.t("处理", "What to do"),
                match (trigger, cx.zh()) {
                    ("egress_down", true) => "立即通知全部运营商和合同负责人；先确认我方防火墙正常。",
                    ("egress_down", false) => "Call every carrier and the contract manager now; check our own firewall first.",
                    ("degradation", true) => "线路可用但质量不达标：向运营商申告并附上质量数据。",
                    ("degradation", false) => "The line is up but below the contract's quality: report it to the carrier with the figures.",
                    (_, true) => "向运营商申告（电话或工单），记录其受理时间与工单号；响应与修复时限自检测时起算。",
                    (_, false) => "Report it to the carrier (phone or ticket) and record when they acknowledged it and their ticket; the deadlines run from detection.",
                }
            ));
            if cx.zh() {
                format!(
                    "{fault_label} {line} {c}：{}",
                    trigger_zh(detail_str(n, "trigger"))
                )
            } else {
                format!(
                    "{fault_label} on {line}: {c}, {}",
                    trigger_en(detail_str(n, "trigger"))
                )
            }
        }
        NoticeKind::FaultEscalated | NoticeKind::FaultReclassified => {
            let to = class.map(|c| cx.class(c)).unwrap_or_default();
            let reason = detail_str(n, "reason");
            if !reason.is_empty() {
                lines.push(format!("{}: {reason}", cx.t("原因", "Reason")));
            }
            let by = detail_str(n, "actor");
            if !by.is_empty() {
                lines.push(format!("{}: {by}", cx.t("操作人", "By")));
            }
            let verb = match (n.kind, cx.zh()) {
                (NoticeKind::FaultEscalated, true) => "升级为",
                (NoticeKind::FaultEscalated, false) => "escalated to",
                (_, true) => "重新定级为",
                (_, false) => "reclassified as",
            };
            if cx.zh() {
                format!("{fault_label} {line} {verb}{to}")
            } else {
                format!("{fault_label} on {line} {verb} {to}")
            }
        }
        NoticeKind::FaultResolved => {
            let d = cx.duration(detail_f64(n, "duration_seconds"));
            lines.push(format!(
                "{}: {}",
                cx.t("恢复时间", "Resolved"),
                cx.time(n.at)
            ));
            lines.push(format!("{}: {d}", cx.t("历时", "Duration")));
            if cx.zh() {
                format!("{fault_label} {line} 已恢复，历时 {d}")
            } else {
                format!("{fault_label} on {line} resolved after {d}")
            }
        }
        other => unreachable!("not a notice of this group: {other:?}"),
    }
}

/// A fault's deadline approaching or passed, or its repair report overdue.
fn deadline_headline(n: &Notice, head: &Head, cx: &Context, lines: &mut Vec<String>) -> String {
    let Head {
        line, fault_label, ..
    } = head;
    match n.kind {
        NoticeKind::DeadlineApproaching
        | NoticeKind::DeadlineBreached
        | NoticeKind::RepairReportOverdue => {
            let dl = deadline_of(n).map(|k| cx.deadline(k)).unwrap_or_default();
            let due = linkledger_core::time::parse_ledger_ts(detail_str(n, "due"));
            if let Some(due) = due {
                lines.push(format!("{}: {}", cx.t("到期时间", "Due"), cx.time(due)));
            }
            match (n.kind, cx.zh()) {
                (NoticeKind::DeadlineApproaching, true) => {
                    format!("{fault_label} {line} {dl}即将到期")
                }
                (NoticeKind::DeadlineApproaching, false) => {
                    format!("{fault_label} on {line}: {dl} is close")
                }
                (NoticeKind::RepairReportOverdue, true) => {
                    format!("{fault_label} {line} 维修报告逾期未提交")
                }
                (NoticeKind::RepairReportOverdue, false) => {
                    format!("{fault_label} on {line}: repair report overdue")
                }
                (_, true) => format!("{fault_label} {line} 已超出{dl}"),
                (_, false) => format!("{fault_label} on {line}: {dl} breached"),
            }
        }
        other => unreachable!("not a notice of this group: {other:?}"),
    }
}

/// The downtime budget: a share of the cap used, or a breach projected.
fn budget_headline(n: &Notice, head: &Head, cx: &Context, lines: &mut Vec<String>) -> String {
    let Head { line, .. } = head;
    match n.kind {
        NoticeKind::BudgetShare => {
            let share = detail_f64(n, "share") * 100.0;
            let used = cx.duration(detail_f64(n, "charged_seconds"));
            let cap = cx.duration(detail_f64(n, "cap_seconds"));
            lines.push(format!(
                "{}: {used} / {cap}",
                cx.t("已计中断", "Charged downtime")
            ));
            lines.push(format!("{}: {}", cx.t("合同", "Contract"), cx.contract));
            if cx.zh() {
                format!("{line} 本合同年度中断时长已达上限的 {share:.0}%")
            } else {
                format!("{line} has used {share:.0} % of this contract year's downtime cap")
            }
        }
        NoticeKind::BudgetProjectedBreach => {
            let when = detail_str(n, "projected_breach");
            let when = linkledger_core::time::parse_ledger_ts(when)
                .map(|t| t.with_timezone(&cx.tz).format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            lines.push(format!("{}: {}", cx.t("合同", "Contract"), cx.contract));
            if cx.zh() {
                format!("{line} 按近30天速度预计于 {when} 超出年度中断上限")
            } else {
                format!("{line} will exceed the annual downtime cap by {when} at the last 30 days' rate")
            }
        }
        other => unreachable!("not a notice of this group: {other:?}"),
    }
}

/// The monitor's own side: the daemon away, a local fault and its end, a probe or SNMP failing.
fn monitor_headline(n: &Notice, head: &Head, cx: &Context, lines: &mut Vec<String>) -> String {
    let Head { line, .. } = head;
    match n.kind {
        NoticeKind::DaemonGap => {
            let d = cx.duration(detail_f64(n, "gap_seconds"));
            lines.push(format!(
                "{}: {}",
                cx.t("上次在线", "Last seen"),
                detail_str(n, "since")
            ));
            lines.push(
                cx.t(
                    "这段时间记为“未监测”，不计入任何线路的可用或中断。",
                    "This time is recorded as unobserved: neither up nor down for any line.",
                )
                .into(),
            );
            if cx.zh() {
                format!("linkledger 已重新启动，此前 {d} 未监测")
            } else {
                format!("linkledger restarted after {d} unobserved")
            }
        }
        NoticeKind::MonitorFailover => {
            let (from, to) = (detail_str(n, "from"), detail_str(n, "to"));
            lines.push(format!(
                "{}: {}",
                cx.t("原主用最后心跳", "Previous leader last seen"),
                detail_str(n, "since")
            ));
            lines.push(
                cx.t(
                    "备用实例一直在探测：切换期间的探测结果已由新主用写入账本，没有未监测时段；进行中的中断延续为同一次中断。请检查原主用实例所在主机。",
                    "The standby was probing all along: its rounds since then are in the ledger, nothing is unobserved, and an outage in progress continues as the same outage. Check the previous leader's host.",
                )
                .into(),
            );
            if cx.zh() {
                format!("linkledger 主备切换：{to} 接替 {from} 成为主用")
            } else {
                format!("linkledger failover: {to} took over from {from}")
            }
        }
        NoticeKind::LocalFault => {
            lines.push(format!("{}: {}", cx.t("开始时间", "Since"), cx.time(n.at)));
            lines.push(
                cx.t(
                    "我方本端（防火墙或 CPE）无响应：不计入运营商中断，期间线路未监测。",
                    "Our own side (firewall or CPE) does not answer: not charged to the carrier; the line is unobserved meanwhile.",
                )
                .into(),
            );
            lines.push(format!(
                "{}: {}",
                cx.t("处理", "What to do"),
                cx.t(
                    "检查我方防火墙、CPE 与监测主机的链路；无需联系运营商。",
                    "Check our firewall, the CPE and the monitor's own link; do not call the carrier."
                )
            ));
            if cx.zh() {
                format!("{line} 本端故障")
            } else {
                format!("Local fault on {line}")
            }
        }
        NoticeKind::LocalFaultResolved => {
            let d = cx.duration(detail_f64(n, "duration_seconds"));
            lines.push(format!(
                "{}: {}",
                cx.t("恢复时间", "Over at"),
                cx.time(n.at)
            ));
            lines.push(format!("{}: {d}", cx.t("历时", "Duration")));
            if cx.zh() {
                format!("{line} 本端故障已恢复，历时 {d}")
            } else {
                format!("Local fault on {line} over after {d}")
            }
        }
        NoticeKind::ProbeFailed => {
            let d = cx.duration(detail_f64(n, "seconds"));
            if cx.zh() {
                format!("{line} 探测失败 {d}，期间未监测")
            } else {
                format!("Probing {line} failed for {d}; unobserved")
            }
        }
        NoticeKind::SnmpFailing => {
            lines.push(format!(
                "{}: {}",
                cx.t("原因", "Reason"),
                detail_str(n, "reason")
            ));
            if cx.zh() {
                format!("{line} SNMP 采集失败")
            } else {
                format!("SNMP polling of {line} is failing")
            }
        }
        other => unreachable!("not a notice of this group: {other:?}"),
    }
}

/// Where the paths to the line's anchors (or the IP block) stop.
fn path_headline(n: &Notice, head: &Head, cx: &Context, lines: &mut Vec<String>) -> String {
    let Head {
        line, fault_label, ..
    } = head;
    match n.kind {
        NoticeKind::PathEvidence => {
            let traces = n
                .detail
                .get("traces")
                .and_then(|t| t.as_array())
                .cloned()
                .unwrap_or_default();
            let mut stops = Vec::new();
            for t in &traces {
                let target = t.get("target").and_then(|v| v.as_str()).unwrap_or("");
                // An agent's trace names the agent it was taken from.
                let target = match t.get("origin").and_then(|v| v.as_str()) {
                    Some(o) if o != "monitor" && cx.zh() => format!("{target}（外部探测点 {o}）"),
                    Some(o) if o != "monitor" => format!("{target} (agent {o})"),
                    _ => target.to_string(),
                };
                let last = t.get("last_hop").and_then(|v| v.as_str());
                let reached = t.get("reached").and_then(|v| v.as_bool()) == Some(true);
                let said = match (last, reached, cx.zh()) {
                    (_, true, true) => format!("至 {target}：已到达目标"),
                    (_, true, false) => format!("to {target}: target reached"),
                    (Some(h), false, true) => {
                        format!("至 {target}：路径止于 {h}（最后应答的一跳）")
                    }
                    (Some(h), false, false) => {
                        format!(
                            "to {target}: the path stops after {h} (the last hop that answered)"
                        )
                    }
                    (None, false, true) => format!("至 {target}：无任何一跳应答"),
                    (None, false, false) => format!("to {target}: no hop answered"),
                };
                lines.push(said);
                if !reached {
                    stops.extend(last.map(str::to_string));
                }
            }
            let origin = detail_str(n, "origin");
            let from = match (origin, cx.zh()) {
                ("monitor", true) => "监测端".to_string(),
                ("monitor", false) => "the monitor".to_string(),
                ("agents", true) => "外部探测点".to_string(),
                ("agents", false) => "the vantage agents".to_string(),
                (a, true) => format!("外部探测点 {a}"),
                (a, false) => format!("agent {a}"),
            };
            stops.dedup();
            if cx.zh() {
                format!(
                    "{fault_label} {line} 路径证据（{from}）：{}",
                    if stops.is_empty() {
                        "路径可达".to_string()
                    } else {
                        format!("止于 {}", stops.join("、"))
                    }
                )
            } else {
                format!(
                    "{fault_label} on {line}: path evidence from {from}: {}",
                    if stops.is_empty() {
                        "paths complete".to_string()
                    } else {
                        format!("stops after {}", stops.join(", "))
                    }
                )
            }
        }
        other => unreachable!("not a notice of this group: {other:?}"),
    }
}

/// A report written; a test message.
fn other_headline(n: &Notice, _: &Head, cx: &Context, lines: &mut Vec<String>) -> String {
    match n.kind {
        NoticeKind::ReportReady => {
            if let Some(files) = n.detail.get("files").and_then(|f| f.as_object()) {
                for (format, path) in files {
                    lines.push(format!(
                        "{}: {}",
                        format.to_uppercase(),
                        path.as_str().unwrap_or("")
                    ));
                }
            }
            if cx.zh() {
                format!("报告已生成：{}", detail_str(n, "title"))
            } else {
                format!("Report ready: {}", detail_str(n, "title"))
            }
        }
        NoticeKind::Test => {
            lines.push(
                cx.t(
                    "这是一条测试消息，收到即表示该通知渠道工作正常。",
                    "This is a test message: the channel works.",
                )
                .into(),
            );
            cx.t("linkledger 测试消息", "linkledger test message")
                .into()
        }
        other => unreachable!("not a notice of this group: {other:?}"),
    }
}
