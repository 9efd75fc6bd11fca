//! What an alert says, in Chinese or English: a subject line and body
//! lines built from a notice and, for a fault's notices, the fault as the
//! ledger holds it when the message goes out. Each channel lays the same
//! lines out in its own format (plain text and HTML mail, robot markdown,
//! webhook JSON).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use linkledger_config::Language;
use linkledger_core::fault::deadline::{DeadlineKind, DeadlineState};
use linkledger_core::fault::FaultClass;
use linkledger_ledger::outbox::{Notice, NoticeKind};
use linkledger_ledger::records::FaultView;

mod headlines;
use headlines::headline;

/// A rendered alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    /// Body lines, each a sentence or a "label: value" pair.
    pub lines: Vec<String>,
    /// major, or anything that needs someone now.
    pub urgent: bool,
}

/// Several messages owed at once as one: the first's subject with how many
/// more, then each in full (subject, then its lines), the first `full` of
/// them within `max_bytes`; the rest by subject only, as far as they fit.
pub fn combine(messages: &[Message], full: usize, max_bytes: usize, cx: &Context) -> Message {
    let Some(first) = messages.first() else {
        return Message {
            subject: String::new(),
            lines: Vec::new(),
            urgent: false,
        };
    };
    let more = messages.len() - 1;
    let subject = if cx.zh() {
        format!("{}（另有 {more} 条）", first.subject)
    } else {
        format!("{} (+{more} more)", first.subject)
    };
    let mut lines: Vec<String> = Vec::new();
    let size = |lines: &[String]| lines.iter().map(|l| l.len() + 4).sum::<usize>();
    // In full while both the count and the size allow (a robot has a
    // limit on a message's length), then by subject, then only a count.
    let mut in_full = 0;
    for (i, m) in messages.iter().enumerate() {
        let subject = m.subject.trim_start_matches("[linkledger] ");
        let mut part = Vec::new();
        if i > 0 {
            part.push(String::new());
        }
        part.push(format!("【{subject}】"));
        part.extend(m.lines.iter().cloned());
        if in_full == i && i < full && (i == 0 || size(&lines) + size(&part) <= max_bytes) {
            lines.extend(part);
            in_full += 1;
            continue;
        }
        if in_full == i {
            lines.push(if cx.zh() {
                format!("另有 {} 条（仅列标题）：", messages.len() - i)
            } else {
                format!("{} more (subjects only):", messages.len() - i)
            });
        }
        let line = format!("· {subject}");
        if size(&lines) + line.len() + 4 > max_bytes {
            lines.push(if cx.zh() {
                format!("……以及另外 {} 条", messages.len() - i)
            } else {
                format!("… and {} more", messages.len() - i)
            });
            break;
        }
        lines.push(line);
    }
    Message {
        subject,
        lines,
        urgent: messages.iter().any(|m| m.urgent),
    }
}

/// The special period in force at `t` as a message says it.
pub fn special_at(
    config: &linkledger_config::Config,
    t: DateTime<Utc>,
) -> Option<(String, Vec<String>)> {
    let p = *linkledger_config::special::at(&config.special_periods, t).first()?;
    let roster = p
        .on_duty
        .iter()
        .map(|o| {
            let mut s = [o.carrier.as_deref(), Some(&o.name), Some(&o.phone)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            if let Some(place) = &o.place {
                s += &format!("（{place}）");
            }
            s
        })
        .collect();
    Some((p.name.clone(), roster))
}

/// What the renderer needs beside the notice.
pub struct Context<'a> {
    pub language: Language,
    pub tz: Tz,
    pub contract: &'a str,
    /// The config file, for commands that run as printed.
    pub config_path: String,
    /// The status page as people reach it (`daemon.public_url`).
    pub public_url: Option<String>,
    /// The special period in force when sent (name, people on duty as
    /// "carrier name phone (place)").
    pub special: Option<(String, Vec<String>)>,
    /// (line id, carrier) of the configured lines.
    pub carriers: &'a [(String, String)],
}

impl Context<'_> {
    fn zh(&self) -> bool {
        self.language == Language::ZhCn
    }

    fn t<'s>(&self, zh: &'s str, en: &'s str) -> &'s str {
        if self.zh() {
            zh
        } else {
            en
        }
    }

    /// "2026-11-28 12:00:00 北京时间（UTC+08:00）" / "… UTC+08:00 (Asia/Shanghai)".
    fn time(&self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.tz);
        let offset = local.format("UTC%:z");
        let when = local.format("%Y-%m-%d %H:%M:%S");
        match (self.zh(), self.tz) {
            (true, chrono_tz::Asia::Shanghai) => format!("{when} 北京时间（{offset}）"),
            (true, tz) => format!("{when} {}（{offset}）", tz.name()),
            (false, tz) => format!("{when} {offset} ({})", tz.name()),
        }
    }

    /// "line ct (China Telecom)" / "线路 ct（中国电信）"; the egress when None.
    fn line(&self, line: Option<&str>) -> String {
        let Some(id) = line else {
            return self
                .t("出口整体（全部线路）", "the whole egress (every line)")
                .into();
        };
        match self.carriers.iter().find(|(l, _)| l == id) {
            Some((_, c)) if self.zh() => format!("线路 {id}（{c}）"),
            Some((_, c)) => format!("line {id} ({c})"),
            None => format!("{} {id}", self.t("线路", "line")),
        }
    }

    fn class(&self, c: FaultClass) -> String {
        if self.zh() {
            format!("{}故障", c.zh())
        } else {
            format!("{} fault", c.as_str())
        }
    }

    pub fn duration(&self, secs: f64) -> String {
        duration(self.language, secs)
    }

    fn deadline(&self, k: DeadlineKind) -> &'static str {
        match (self.zh(), k) {
            (true, DeadlineKind::Response) => "响应时限",
            (true, DeadlineKind::OnSite) => "到场时限",
            (true, DeadlineKind::Resolution) => "修复时限",
            (true, DeadlineKind::RepairReport) => "维修报告时限",
            (false, DeadlineKind::Response) => "response deadline",
            (false, DeadlineKind::OnSite) => "on-site deadline",
            (false, DeadlineKind::Resolution) => "resolution deadline",
            (false, DeadlineKind::RepairReport) => "repair-report deadline",
        }
    }

    fn state(&self, s: DeadlineState) -> &'static str {
        match (self.zh(), s) {
            (true, DeadlineState::Pending) => "未到期",
            (true, DeadlineState::Met) => "已达标",
            (true, DeadlineState::Breached) => "已超时",
            (true, DeadlineState::NotRequired) => "不适用",
            (false, DeadlineState::Pending) => "pending",
            (false, DeadlineState::Met) => "met",
            (false, DeadlineState::Breached) => "breached",
            (false, DeadlineState::NotRequired) => "not required",
        }
    }
}

/// A duration as a person writes it: "3分12秒", "2小时15分" / "3m 12s", "2h 15m".
pub fn duration(language: Language, secs: f64) -> String {
    let s = secs.max(0.0).round() as i64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (language == Language::ZhCn, h, m, s) {
        (true, 0, 0, _) => format!("{s}秒"),
        (true, 0, _, 0) => format!("{m}分钟"),
        (true, 0, _, _) => format!("{m}分{s}秒"),
        (true, _, 0, _) => format!("{h}小时"),
        (true, _, _, _) => format!("{h}小时{m}分"),
        (false, 0, 0, _) => format!("{s}s"),
        (false, 0, _, 0) => format!("{m}m"),
        (false, 0, _, _) => format!("{m}m {s}s"),
        (false, _, 0, _) => format!("{h}h"),
        (false, _, _, _) => format!("{h}h {m}m"),
    }
}

/// A path as one shell word (quoted when it needs to be).
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub use linkledger_core::text::html_escape;

fn detail_str<'a>(n: &'a Notice, key: &str) -> &'a str {
    n.detail.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

fn detail_f64(n: &Notice, key: &str) -> f64 {
    n.detail.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0)
}

fn deadline_of(n: &Notice) -> Option<DeadlineKind> {
    let d = detail_str(n, "deadline");
    DeadlineKind::ALL.into_iter().find(|k| k.as_str() == d)
}

/// Renders a notice; `fault` is the fault it is about, read at send time.
/// What every alert message starts from: the line's name as the reader
/// says it, the fault's class, and the fault's label (故障 #12).
struct Head {
    line: String,
    class: Option<FaultClass>,
    fault_label: String,
}

pub fn render(n: &Notice, fault: Option<&FaultView>, cx: &Context) -> Message {
    let line = cx.line(n.line.as_deref());
    let class = n.class.or(fault.map(|f| f.class));
    let urgent = class == Some(FaultClass::Major);
    let fault_label = n
        .fault
        .map(|id| format!("{} #{id}", cx.t("故障", "Fault")))
        .unwrap_or_default();
    let mut lines = Vec::new();
    let head = Head {
        line,
        class,
        fault_label,
    };
    let subject = headline(n, &head, cx, &mut lines);
    if let Some(f) = fault {
        fault_lines(f, cx, &mut lines);
    }
    if let (Some((name, roster)), Some(_)) = (&cx.special, n.fault) {
        lines.push(format!(
            "{}: {name}",
            cx.t(
                "特殊时期（免打扰暂停）",
                "Special period (quiet hours suspended)"
            )
        ));
        if !roster.is_empty() {
            lines.push(format!(
                "{}: {}",
                cx.t("值班人员", "On duty"),
                roster.join("；")
            ));
        }
    }
    if let Some(url) = &cx.public_url {
        lines.push(format!("{}: {url}", cx.t("状态页", "Status page")));
    }
    Message {
        subject: format!("[linkledger] {subject}"),
        lines,
        urgent,
    }
}

/// Where the fault stands: each deadline's state, and the commands that
/// record the carrier's acknowledgement and ticket while they are owed.
fn fault_lines(f: &FaultView, cx: &Context, lines: &mut Vec<String>) {
    lines.push(format!(
        "{}: {}",
        cx.t("故障等级", "Class"),
        cx.class(f.class)
    ));
    for d in &f.deadlines {
        // Said as the status page says it: a deadline that runs from
        // the resolution is pending until there is one.
        let said = match (d.state, d.due) {
            (DeadlineState::Pending, None) => cx
                .t("待定（故障修复后起算）", "pending (runs from resolution)")
                .to_string(),
            (DeadlineState::Pending, Some(due)) => {
                format!("{} {}", cx.t("截止", "due"), cx.time(due))
            }
            (state, Some(due)) => format!(
                "{}{}{}{}",
                cx.state(state),
                cx.t("（时限 ", " (due "),
                cx.time(due),
                cx.t("）", ")")
            ),
            (state, None) => cx.state(state).to_string(),
        };
        lines.push(format!("{}: {said}", cx.deadline(d.kind)));
    }
    // What to do next, as commands that run as printed.
    if f.open && f.acknowledged_at.is_none() {
        lines.push(format!(
            "{}: linkledger fault ack {} -c {} --by {}",
            cx.t(
                "运营商受理后记录（把“姓名”换成你的名字）",
                "Once the carrier has acknowledged it, record it (put your name)"
            ),
            f.id,
            shell_word(&cx.config_path),
            cx.t("姓名", "NAME"),
        ));
    }
    if f.open && f.carrier_ticket.is_none() && f.line.is_some() {
        lines.push(format!(
            "{}: linkledger fault ticket {} -c {} --ticket {} --by {}",
            cx.t("记录运营商工单号", "Record the carrier's ticket"),
            f.id,
            shell_word(&cx.config_path),
            cx.t("工单号", "TICKET"),
            cx.t("姓名", "NAME"),
        ));
    }
}

/// The summary sent instead of the fault that makes a line flap.
pub fn flapping(n: &Notice, count: usize, window_s: f64, cx: &Context) -> Message {
    let line = cx.line(n.line.as_deref());
    let w = cx.duration(window_s);
    let subject = if cx.zh() {
        format!("{line} 频繁中断：{w}内 {count} 次故障")
    } else {
        format!("{line} is flapping: {count} faults within {w}")
    };
    let lines = vec![
        format!("{}: {}", cx.t("最近一次", "Latest"), cx.time(n.at)),
        cx.t(
            "此后该线路的单次故障不再逐条通知，直至稳定；升级和时限提醒照常发送。",
            "Further faults of this line are not sent one by one until it is stable; escalations and deadline alerts still are.",
        )
        .into(),
    ];
    Message {
        subject: format!("[linkledger] {subject}"),
        lines,
        urgent: false,
    }
}

fn trigger_zh(t: &str) -> &'static str {
    linkledger_core::vocab::trigger(Language::ZhCn, t)
}

fn trigger_en(t: &str) -> &'static str {
    linkledger_core::vocab::trigger(Language::En, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cx(language: Language) -> Context<'static> {
        static CARRIERS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
        Context {
            language,
            tz: chrono_tz::Asia::Shanghai,
            contract: "Demo lease",
            config_path: "/etc/linkledger/linkledger.toml".into(),
            public_url: None,
            special: None,
            carriers: CARRIERS.get_or_init(|| vec![("ct".into(), "China Telecom".into())]),
        }
    }

    #[test]
    fn several_messages_combine_the_first_leading_within_a_length() {
        let m = |i: usize| Message {
            subject: format!("[linkledger] 故障 #{i}"),
            lines: vec!["检测时间: 2026-12-01".into(); 5],
            urgent: i == 3,
        };
        let all: Vec<Message> = (1..=30).map(m).collect();
        let c = combine(&all, 12, usize::MAX / 2, &cx(Language::ZhCn));
        assert_eq!(c.subject, "[linkledger] 故障 #1（另有 29 条）");
        assert!(c.urgent);
        assert_eq!(c.lines[0], "【故障 #1】");
        assert!(
            c.lines.contains(&"另有 18 条（仅列标题）：".to_string()),
            "{:?}",
            c.lines
        );
        assert!(c.lines.contains(&"· 故障 #30".to_string()));
        // Within a robot's length: fewer in full, the rest counted.
        let short = combine(&all, 12, 600, &cx(Language::ZhCn));
        let bytes: usize = short.lines.iter().map(|l| l.len() + 4).sum();
        assert!(bytes <= 600 + 64, "{bytes}");
        assert!(
            short.lines.iter().any(|l| l.starts_with("……以及另外")),
            "{:?}",
            short.lines
        );
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        let (zh, en) = (cx(Language::ZhCn), cx(Language::En));
        let cases = [
            (42.0, "42秒", "42s"),
            (192.0, "3分12秒", "3m 12s"),
            (900.0, "15分钟", "15m"),
            (7200.0, "2小时", "2h"),
            (8100.0, "2小时15分", "2h 15m"),
        ];
        for (secs, z, e) in cases {
            assert_eq!(zh.duration(secs), z);
            assert_eq!(en.duration(secs), e);
        }
    }

    #[test]
    fn a_failover_says_who_took_over_from_whom_and_that_nothing_went_unobserved() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = Notice {
            id: 7,
            key: "run:2:failover".into(),
            kind: NoticeKind::MonitorFailover,
            line: None,
            fault: None,
            class: None,
            at,
            queued_at: at,
            detail: json!({"from": "monitor-a", "to": "monitor-b", "since": "2026-12-07T01:59:58.500Z"}),
        };
        let m = render(&n, None, &cx(Language::ZhCn));
        assert_eq!(
            m.subject,
            "[linkledger] linkledger 主备切换：monitor-b 接替 monitor-a 成为主用"
        );
        assert!(
            m.lines.iter().any(|l| l.contains("没有未监测时段")),
            "{:?}",
            m.lines
        );
        let m = render(&n, None, &cx(Language::En));
        assert!(
            m.subject
                .ends_with("linkledger failover: monitor-b took over from monitor-a"),
            "{}",
            m.subject
        );
    }

    #[test]
    fn every_kind_renders_in_both_languages_with_its_own_subject() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-28T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for lang in [Language::ZhCn, Language::En] {
            let mut subjects = std::collections::HashSet::new();
            for kind in NoticeKind::ALL {
                let n = Notice {
                    id: 1,
                    key: "k".into(),
                    kind,
                    line: Some("ct".into()),
                    fault: Some(3),
                    class: Some(FaultClass::Serious),
                    at,
                    queued_at: at,
                    detail: json!({"deadline": "response", "due": "2026-11-28T02:30:00.000Z",
                        "share": 0.8, "charged_seconds": 11520.0, "cap_seconds": 14400.0,
                        "gap_seconds": 600.0, "since": "x", "seconds": 60.0, "reason": "timeout",
                        "projected_breach": "2027-01-05T00:00:00.000Z", "trigger": "line_down"}),
                };
                let m = render(&n, None, &cx(lang));
                assert!(m.subject.starts_with("[linkledger] "), "{m:?}");
                assert!(
                    subjects.insert(m.subject.clone()),
                    "{kind:?} repeats {}",
                    m.subject
                );
                let zh_chars = m
                    .subject
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
                assert_eq!(zh_chars, lang == Language::ZhCn, "{}", m.subject);
            }
        }
        let n = Notice {
            id: 1,
            key: "k".into(),
            kind: NoticeKind::DeadlineApproaching,
            line: Some("ct".into()),
            fault: Some(3),
            class: Some(FaultClass::Major),
            at,
            queued_at: at,
            detail: json!({"deadline": "resolution", "due": "2026-11-28T04:00:00.000Z"}),
        };
        let m = render(&n, None, &cx(Language::ZhCn));
        assert_eq!(
            m.subject,
            "[linkledger] 故障 #3 线路 ct（China Telecom） 修复时限即将到期"
        );
        assert_eq!(
            m.lines,
            vec!["到期时间: 2026-11-28 12:00:00 北京时间（UTC+08:00）"]
        );
        assert!(m.urgent);
    }
}
