//! A line's section of a period report: its downtime, outages, faults,
//! quality, traffic, maintenance, exclusions and advice.

use super::*;

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

    line_outages(d, f, tz);
    line_faults(d, f, tz);
    line_quality(d, f);
    line_traffic(d, f);
    line_anomalies(d, f, tz);
    line_maintenance(d, p, f, tz);
    line_exclusions(d, f, tz);
    line_advice(d, f, advice);
}

/// 中断记录: the line's outages, split where they cross the period, then what was agreed and disputed and its local faults.
fn line_outages(d: &mut Doc, f: &LineFigures, tz: Tz) {
    let l = d.language;
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
}

/// 故障与处理时限: the line's faults and how their deadlines went.
fn line_faults(d: &mut Doc, f: &LineFigures, tz: Tz) {
    let l = d.language;
    d.heading(2, tr(l, "故障与处理时限", "Faults and deadlines"));
    let empty = tr(l, "本期无故障。", "No faults in the period.");
    faults_part(d, tz, &f.fault_classes, &f.faults, &empty);
}

/// 线路质量（按月）: loss, latency and jitter month by month and for the period.
fn line_quality(d: &mut Doc, f: &LineFigures) {
    let l = d.language;
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
}

/// 流量与带宽: traffic against the contracted bandwidth.
fn line_traffic(d: &mut Doc, f: &LineFigures) {
    let l = d.language;
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
}

/// 流量异常: traffic anomalies (counter resets, agent restarts, stalls).
fn line_anomalies(d: &mut Doc, f: &LineFigures, tz: Tz) {
    let l = d.language;
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
}

/// 计划维护: the planned maintenance windows and whether they were notified in time.
fn line_maintenance(d: &mut Doc, p: &PeriodFigures, f: &LineFigures, tz: Tz) {
    let l = d.language;
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
}

/// 不可抗力扣除: the force-majeure exclusions.
fn line_exclusions(d: &mut Doc, f: &LineFigures, tz: Tz) {
    let l = d.language;
    d.heading(2, tr(l, "不可抗力扣除", "Force-majeure exclusions"));
    let empty = tr(
        l,
        "本期无不可抗力扣除。",
        "No force-majeure exclusions in the period.",
    );
    exclusions_table(d, tz, &f.exclusions, &empty);
}

/// 优化建议: the advice for this line.
fn line_advice(d: &mut Doc, f: &LineFigures, advice: &[Advice]) {
    let l = d.language;
    d.heading(2, tr(l, "优化建议", "Optimisation advice"));
    for a in advice.iter().filter(|a| a.line == f.line) {
        d.paragraph(match l {
            // The rule's name is an identifier: English readers get it.
            Language::ZhCn => format!("• {}", a.text),
            Language::En => format!("• {} [{}]", a.text, a.rule),
        });
    }
}
