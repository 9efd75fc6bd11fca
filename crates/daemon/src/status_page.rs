//! The built-in status page at `/` for a site without Grafana: every line's
//! state, the contract year's charged downtime against the cap, open faults
//! with their deadlines counting down, and recent outages, in Chinese
//! (default) or English (`/?lang=en`). One self-contained HTML document:
//! inline CSS and a few lines of inline script for the countdowns, no
//! external asset; it reloads itself every 15 seconds.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::web::HttpState;
use linkledger_config::{Config, Language};
use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
use linkledger_core::text::html_escape as esc;
use linkledger_ledger::budget::{self, BudgetView};
use linkledger_ledger::read::{self, LocalFaultView, OutageView};
use linkledger_ledger::records::{self, FaultFilter, FaultView};

/// Seconds between reloads.
const REFRESH_S: u32 = 15;
/// Recent outages: those still going in the last this many days.
const RECENT_DAYS: i64 = 7;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
}

pub async fn page(State(s): State<HttpState>, Query(q): Query<PageQuery>) -> impl IntoResponse {
    let lang = match q.lang.as_deref() {
        Some("en") => Language::En,
        _ => Language::ZhCn,
    };
    let config = s.config.get();
    let now = s.clock.now();
    let states: Vec<(String, &'static str)> = config
        .lines
        .iter()
        .map(|l| (l.id.clone(), s.metrics.declared_state(&l.id)))
        .collect();
    let egress = linkledger_core::evaluator::egress_state(states.iter().map(|(_, st)| *st));
    // Each public block as the vantage agents see it (the judge's state).
    let blocks: Vec<(String, String, &'static str)> = config
        .probed_blocks()
        .into_iter()
        .map(|(line, block, _)| {
            let state = crate::metrics::BLOCK_STATES
                .into_iter()
                .find(|st| {
                    s.metrics
                        .vantage
                        .block_state
                        .with_label_values(&[&line, &block, st])
                        .get()
                        == 1
                })
                .unwrap_or("unobserved");
            (line, block, state)
        })
        .collect();
    let data = async {
        let budget = budget::budget(&s.db, &config, now).await?;
        // Open faults, and resolved ones whose repair report is still owed
        // (shown until it is received or its deadline is breached).
        let terms = &config.contract.terms;
        let horizon = TimeDelta::from_std(terms.repair_report).unwrap_or(TimeDelta::MAX);
        let recent = FaultFilter {
            since: now
                .checked_sub_signed(horizon)
                .and_then(|t| t.checked_sub_signed(TimeDelta::hours(1))),
            ..Default::default()
        };
        // (Faults still going at `since` include every open one.)
        let mut faults = records::faults(&s.db, &recent, terms, now).await?;
        faults.retain(|f| f.open || report_owed(f));
        let since = now - TimeDelta::days(RECENT_DAYS);
        let mut outages =
            read::outages(&s.db, None, Some(since), now, &config.contract.terms).await?;
        outages.reverse();
        outages.truncate(20);
        let mut local = read::local_faults(&s.db, None, Some(since), None, now).await?;
        local.reverse();
        local.truncate(20);
        let head = linkledger_ledger::chain::head(&s.db, None).await?;
        Ok::<_, linkledger_ledger::LedgerError>((budget, faults, outages, local, head))
    };
    match data.await {
        Ok((budget, faults, outages, local_faults, head)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            render(&Page {
                lang,
                config: &config,
                now,
                states: &states,
                egress,
                blocks: &blocks,
                budget: &budget,
                faults: &faults,
                outages: &outages,
                local_faults: &local_faults,
                head: head.as_ref(),
                pair: s
                    .role
                    .paired
                    .then(|| (s.role.instance.clone(), s.role.leading(), s.role.leader())),
            }),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("cannot read the ledger: {e}\n"),
        ),
    }
}

/// A resolved fault whose repair report is due and not yet received.
fn report_owed(f: &FaultView) -> bool {
    f.deadlines
        .iter()
        .any(|d| d.kind == DeadlineKind::RepairReport && d.state == DeadlineState::Pending)
}

struct Page<'a> {
    lang: Language,
    config: &'a Config,
    now: DateTime<Utc>,
    states: &'a [(String, &'static str)],
    /// The whole egress's state, from the lines'.
    egress: &'static str,
    /// (line, block, state) of each block the agents probe.
    blocks: &'a [(String, String, &'static str)],
    budget: &'a budget::Budget,
    faults: &'a [FaultView],
    outages: &'a [OutageView],
    /// Our own side's faults in the last days, newest first.
    local_faults: &'a [LocalFaultView],
    /// The ledger hash chain's head now.
    head: Option<&'a linkledger_ledger::chain::Head>,
    /// One of a pair: this instance, whether it leads, who leads.
    pair: Option<(String, bool, Option<String>)>,
}

impl Page<'_> {
    fn t<'s>(&self, zh: &'s str, en: &'s str) -> &'s str {
        if self.lang == Language::ZhCn {
            zh
        } else {
            en
        }
    }

    fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.config.daemon.timezone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn state(&self, s: &str) -> &str {
        linkledger_core::vocab::state(self.lang, s)
    }

    /// An outage's cause as the reader says it.
    fn cause(&self, o: &OutageView) -> String {
        let said = linkledger_core::vocab::cause(self.lang, &o.cause);
        match &o.block {
            Some(b) => format!("{} {}", esc(said), esc(b)),
            None => esc(said),
        }
    }

    fn deadline(&self, k: DeadlineKind) -> &str {
        match k {
            DeadlineKind::Response => self.t("响应", "response"),
            DeadlineKind::OnSite => self.t("到场", "on site"),
            DeadlineKind::Resolution => self.t("修复", "resolution"),
            DeadlineKind::RepairReport => linkledger_core::vocab::repair_report(self.lang),
        }
    }

    /// What has been done about a fault: reported (申告), acknowledged by
    /// whom, the carrier's ticket, resolved.
    fn handling(&self, f: &FaultView) -> String {
        let mut done = Vec::new();
        let by = |kind: &str| {
            f.timeline
                .iter()
                .find(|e| e.kind == kind)
                .and_then(|e| e.actor.clone())
        };
        if let Some(t) = f.reported_at {
            done.push(format!("{} {}", self.t("已申告", "reported"), self.time(t)));
        }
        if let Some(t) = f.acknowledged_at {
            let who = by("acknowledged")
                .map(|a| format!("（{}）", esc(&a)))
                .unwrap_or_default();
            done.push(format!(
                "{} {}{who}",
                self.t("已确认", "acknowledged"),
                self.time(t)
            ));
        }
        if let Some(ticket) = &f.carrier_ticket {
            done.push(format!(
                "{} {}",
                self.t("运营商工单", "carrier ticket"),
                esc(ticket)
            ));
        }
        if let Some(t) = f.resolved_at {
            done.push(format!("{} {}", self.t("已修复", "resolved"), self.time(t)));
        }
        if done.is_empty() {
            self.t("尚无处理记录", "nothing recorded yet").to_string()
        } else {
            done.join("<br>")
        }
    }

    /// An end time, or "ongoing".
    fn end(&self, t: Option<DateTime<Utc>>) -> String {
        t.map(|e| self.time(e))
            .unwrap_or_else(|| self.t("进行中", "ongoing").to_string())
    }

    fn duration(&self, secs: f64) -> String {
        linkledger_notify::message::duration(self.lang, secs)
    }
}

const STYLE: &str = "body{font-family:'Noto Sans CJK SC','Noto Sans SC',sans-serif;margin:1.5em;color:#222;background:#fafafa}\
h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin-top:1.6em}.sub{color:#666;font-size:.9em}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #ddd;padding:.35em .6em;text-align:left}\
th{background:#f0f0f0}.num{text-align:right;font-variant-numeric:tabular-nums}\
.state{display:inline-block;padding:.1em .6em;border-radius:.8em;color:#fff;font-weight:bold}\
.up{background:#2e7d32}.down{background:#c62828}.local_fault{background:#ef6c00}.unobserved{background:#757575}\
.bar{background:#e0e0e0;height:.8em;width:12em;display:inline-block;vertical-align:middle}\
.bar span{display:block;height:100%;background:#1565c0}.bar span.over{background:#c62828}\
.banner{background:#c62828;color:#fff;font-weight:bold;padding:.6em 1em;margin:1em 0;border-radius:.3em}\
.banner.special{background:#1565c0}\
.late{color:#c62828;font-weight:bold}.none{color:#666}";

/// Each `[data-due]` cell counts down to its epoch milliseconds.
const SCRIPT: &str = "function tick(){var n=Date.now();document.querySelectorAll('[data-due]').forEach(function(e){\
var d=Math.round((+e.dataset.due-n)/1000),a=Math.abs(d),h=Math.floor(a/3600),m=Math.floor(a/60)%60,s=a%60;\
var t=(h?h+':'+String(m).padStart(2,'0'):m)+':'+String(s).padStart(2,'0');\
e.textContent=d>=0?e.dataset.left.replace('{}',t):e.dataset.late.replace('{}',t);e.className=d>=0?'':'late';});}\
tick();setInterval(tick,1000);";

/// A table of rows under its header, or "none" when there is no row.
fn listing(p: &Page, id: &str, cells: &[&str], rows: &[String]) -> String {
    if rows.is_empty() {
        return format!("<p class=\"none\" id=\"{id}\">{}</p>", p.t("无", "none"));
    }
    table_head(id, cells) + &rows.concat() + "</table>"
}

/// A table's opening tag and its header row.
fn table_head(id: &str, cells: &[&str]) -> String {
    let cells: String = cells.iter().map(|c| format!("<th>{c}</th>")).collect();
    format!("<table id=\"{id}\"><tr>{cells}</tr>")
}

fn budget_row(p: &Page, v: &BudgetView, label: &str, state: Option<&str>) -> String {
    let share = if v.cap_s > 0.0 {
        v.charged_s / v.cap_s
    } else {
        0.0
    };
    let over = if share >= 1.0 { " class=\"over\"" } else { "" };
    let state = state.map_or(String::from("—"), |s| {
        format!("<span class=\"state {s}\">{}</span>", p.state(s))
    });
    let projected = v
        .projected_breach
        .map(|t| p.time(t)[..10].to_string())
        .unwrap_or_else(|| p.t("无", "none").to_string());
    format!(
        "<tr data-line=\"{id}\"><td>{label}</td><td>{state}</td>\
         <td class=\"num\" data-charged-s=\"{charged:.3}\">{used}</td><td><span class=\"bar\"><span{over} style=\"width:{pct:.1}%\"></span></span> {shown}%</td>\
         <td class=\"num\">{left}</td><td>{projected}</td></tr>",
        id = esc(&v.line),
        charged = v.charged_s,
        used = p.duration(v.charged_s),
        pct = (share * 100.0).min(100.0),
        shown = if share < 0.01 {
            format!("{:.2}", share * 100.0)
        } else {
            format!("{:.1}", share * 100.0)
        },
        left = if v.remaining_s < 0.0 {
            format!("-{}", p.duration(-v.remaining_s))
        } else {
            p.duration(v.remaining_s)
        },
    )
}

fn render(p: &Page) -> String {
    let c = p.config;
    let lang = if p.lang == Language::ZhCn {
        "zh-CN"
    } else {
        "en"
    };
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>linkledger · {name}</title><style>{STYLE}</style></head><body>\
         <h1>{name}</h1><div class=\"sub\">{year} {n} ({from} – {to}) · {cap_label} {cap} · {updated} {now} · {refresh}</div>",
        name = esc(&c.contract.name),
        year = p.t("合同年度", "contract year"),
        n = p.budget.contract_year,
        from = &p.time(p.budget.year_start)[..10],
        to = &p.time(p.budget.year_end)[..10],
        cap_label = p.t("年度中断上限", "annual downtime cap"),
        cap = p.duration(c.contract.annual_downtime_cap.as_secs_f64()),
        updated = p.t("更新于", "updated"),
        now = p.time(p.now),
        refresh = p.t("每 15 秒自动刷新", "reloads every 15 s"),
    );
    if let Some((instance, leading, leader)) = &p.pair {
        h += &format!(
            "<div class=\"sub\" id=\"pair\" data-leading=\"{leading}\">{} {} {} · {}{}</div>",
            p.t("主备监测：本实例", "Active/standby: this instance"),
            esc(instance),
            if *leading {
                p.t(
                    "为主用，写入账本、发送告警",
                    "leads: it writes the ledger and sends the alerts",
                )
            } else {
                p.t(
                    "为备用，持续探测，主用失效时接替",
                    "stands by: it probes and takes over if the leader fails",
                )
            },
            p.t("当前主用：", "leader now: "),
            esc(leader.as_deref().unwrap_or(p.t("无", "none"))),
        );
    }
    if p.egress == "down" {
        h += &format!(
            "<div id=\"egress-banner\" class=\"banner\">{}</div>",
            esc(&match p.lang {
                Language::ZhCn => format!(
                    "出口整体中断：全部 {} 条线路同时中断，属重大故障。",
                    c.lines.len()
                ),
                Language::En => format!(
                    "The whole egress is down: all {} lines are down at once, a major fault.",
                    c.lines.len()
                ),
            })
        );
    }
    for sp in linkledger_config::special::at(&c.special_periods, p.now) {
        h += &format!(
            "<div class=\"banner special\" data-special=\"{}\">{} {} · {} – {} · {}</div>",
            esc(&sp.name),
            p.t("特殊时期：", "Special period:"),
            esc(&sp.name),
            p.time(sp.from),
            p.time(sp.to),
            p.t(
                "免打扰时段暂停，告警即时发出",
                "quiet hours suspended, alerts go out at once"
            ),
        );
        if !sp.on_duty.is_empty() {
            h += &table_head(
                "on-duty",
                &[
                    p.t("值班单位", "for"),
                    p.t("姓名", "name"),
                    p.t("电话", "phone"),
                    p.t("当值地点", "place"),
                ],
            );
            for o in &sp.on_duty {
                h += &format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(o.carrier.as_deref().unwrap_or(p.t("我方", "us"))),
                    esc(&o.name),
                    esc(&o.phone),
                    esc(o.place.as_deref().unwrap_or("—")),
                );
            }
            h += "</table>";
        }
    }
    h += &lines_part(p);
    h += &blocks_part(p);
    h += &faults_part(p);
    h += &outages_part(p);
    h += &local_faults_part(p);
    h += &match p.head {
        Some(head) => format!(
            "<p class=\"sub\" id=\"chain-head\">{} {} {}{}<code>{}</code> · {}</p>",
            p.t("账本哈希链头", "Ledger chain head"),
            p.t("序号", "seq"),
            head.seq,
            p.t("：", ": "),
            esc(&head.chain),
            p.t(
                "报告载有链头，可据以核对账本未被改动",
                "reports print the head, which pins the ledger"
            ),
        ),
        None => format!(
            "<p class=\"sub\" id=\"chain-head\">{}</p>",
            p.t("账本哈希链尚无记录", "Ledger chain: nothing chained yet")
        ),
    };
    h += &format!(
        "<p class=\"sub\">linkledger {} · <a href=\"?lang={}\">{}</a> · <a href=\"/metrics\">/metrics</a></p><script>{SCRIPT}</script></body></html>",
        env!("CARGO_PKG_VERSION"),
        if p.lang == Language::ZhCn { "en" } else { "zh-CN" },
        if p.lang == Language::ZhCn { "English" } else { "中文" },
    );
    h
}

/// Each line's state and budget, and the egress's.
fn lines_part(p: &Page) -> String {
    let c = p.config;
    let mut h = String::new();
    h += &format!("<h2>{}</h2>", p.t("线路", "Lines"));
    h += &table_head(
        "lines",
        &[
            p.t("线路", "line"),
            p.t("状态", "state"),
            p.t("本年度计费中断", "charged this year"),
            p.t("占上限", "of the cap"),
            p.t("剩余", "left"),
            p.t("预计超限日期", "projected breach"),
        ],
    );
    for v in &p.budget.lines {
        let line = c.lines.iter().find(|l| l.id == v.line);
        let label = match line {
            Some(l) => format!(
                "{} <span class=\"sub\">{}</span>",
                esc(&l.id),
                esc(l.carrier_for(p.lang))
            ),
            None => esc(&v.line),
        };
        let state = p
            .states
            .iter()
            .find(|(id, _)| *id == v.line)
            .map(|(_, s)| *s);
        h += &budget_row(p, v, &label, state);
    }
    h += &budget_row(
        p,
        &p.budget.egress,
        linkledger_core::vocab::egress(p.lang),
        Some(p.egress),
    );
    h += "</table>";
    h
}

/// The IP blocks as the vantage agents see them (when any are probed).
fn blocks_part(p: &Page) -> String {
    let mut h = String::new();
    if !p.blocks.is_empty() {
        h += &format!(
            "<h2>{}</h2>",
            p.t(
                "公网 IP 地址段（外部探测）",
                "Public IP blocks (seen from outside)"
            )
        );
        h += &table_head(
            "blocks",
            &[
                p.t("线路", "line"),
                p.t("地址段", "block"),
                p.t("状态", "state"),
            ],
        );
        for (line, block, state) in p.blocks {
            h += &format!(
                "<tr data-block=\"{b}\"><td>{l}</td><td>{b}</td><td><span class=\"state {state}\">{}</span></td></tr>",
                p.state(state),
                l = esc(line),
                b = esc(block),
            );
        }
        h += "</table>";
    }
    h
}

/// The open faults and the repair reports owed.
fn faults_part(p: &Page) -> String {
    let mut h = String::new();
    h += &format!(
        "<h2>{}</h2>",
        p.t(
            "未关闭的故障与待交维修报告",
            "Open faults and repair reports owed"
        )
    );
    if p.faults.is_empty() {
        h += &format!("<p class=\"none\" id=\"faults\">{}</p>", p.t("无", "none"));
    } else {
        h += &table_head(
            "faults",
            &[
                "#",
                p.t("线路", "line"),
                p.t("等级", "class"),
                p.t("检测时间", "detected"),
                p.t("处理", "handling"),
                p.t("时限", "deadlines"),
            ],
        );
        for f in p.faults {
            let class = if p.lang == Language::ZhCn {
                format!("{}故障", f.class.zh())
            } else {
                f.class.as_str().to_string()
            };
            let mut deadlines = Vec::new();
            for d in &f.deadlines {
                let cell = match (d.state, d.due) {
                    (DeadlineState::Pending, Some(due)) => format!(
                        "<span data-due=\"{}\" data-left=\"{}\" data-late=\"{}\">{}</span>",
                        due.timestamp_millis(),
                        esc(p.t("剩余 {}", "{} left")),
                        esc(p.t("超时 {}", "{} late")),
                        p.time(due)
                    ),
                    (DeadlineState::Pending, None) => p
                        .t("待定（故障修复后起算）", "pending (runs from resolution)")
                        .to_string(),
                    (DeadlineState::Met, _) => p.t("已达标", "met").to_string(),
                    (DeadlineState::Breached, _) => {
                        format!("<span class=\"late\">{}</span>", p.t("已超时", "breached"))
                    }
                    (_, _) => p.t("不适用", "not required").to_string(),
                };
                deadlines.push(format!("{}: {cell}", p.deadline(d.kind)));
            }
            h += &format!(
                "<tr data-fault=\"{}\"><td>{}</td><td>{}</td><td>{class}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.id,
                f.id,
                esc(f.line.as_deref().unwrap_or(linkledger_core::vocab::egress(p.lang))),
                p.time(f.detected_at),
                p.handling(f),
                deadlines.join("<br>")
            );
        }
        h += "</table>";
    }
    h
}

/// The outages of the last 7 days.
fn outages_part(p: &Page) -> String {
    let mut h = String::new();
    h += &format!(
        "<h2>{}</h2>",
        p.t("近 7 天的中断", "Outages in the last 7 days")
    );
    let rows: Vec<String> = p
        .outages
        .iter()
        .map(|o| {
            format!(
                "<tr data-outage=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\" data-charged-s=\"{:.3}\">{}</td><td>{}</td></tr>",
                o.id,
                esc(&o.line),
                p.time(o.start),
                p.end(o.end),
                p.duration(o.duration_s),
                o.charged_s,
                p.duration(o.charged_s),
                p.cause(o),
            )
        })
        .collect();
    h += &listing(
        p,
        "outages",
        &[
            p.t("线路", "line"),
            p.t("开始", "start"),
            p.t("结束", "end"),
            p.t("时长", "duration"),
            p.t("计费", "charged"),
            p.t("原因", "cause"),
        ],
        &rows,
    );
    h
}

/// The local faults of the last 7 days (our own side, never charged).
fn local_faults_part(p: &Page) -> String {
    let mut h = String::new();
    h += &format!(
        "<h2>{}</h2>",
        p.t(
            "近 7 天的本端故障（我方设备，不计入运营商中断）",
            "Local faults in the last 7 days (our own side, never charged to the carrier)"
        )
    );
    let rows: Vec<String> = p
        .local_faults
        .iter()
        .map(|f| {
            format!(
                "<tr data-local-fault=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                f.id,
                esc(&f.line),
                p.time(f.start),
                p.end(f.end),
                p.duration(f.duration_s),
                p.t("不计费（期间未监测）", "never (unobserved meanwhile)"),
            )
        })
        .collect();
    h += &listing(
        p,
        "local-faults",
        &[
            p.t("线路", "line"),
            p.t("开始", "start"),
            p.t("结束", "end"),
            p.t("时长", "duration"),
            p.t("计费", "charged"),
        ],
        &rows,
    );
    h
}
