//! The daemon's alert sender against real receivers on loopback: every
//! robot gets the outbox in order, a receiver answering 500 three times
//! gets the alert exactly once, one that is down for two minutes gets
//! everything in order when it returns, and a daemon SIGKILLed with alerts
//! pending delivers them after its restart, none twice.
//!
//! The outbox is filled the way the ledger writer fills it: a first run
//! registers the channels, then notices about a (resolved) fault are
//! queued in the ledger, and every later start queues its own
//! "restarted after a gap" notice.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::receivers::Receiver;
use common::{metric_value, sql, wait_for, BIN};
use serde_json::Value;

struct Site {
    dir: tempfile::TempDir,
    port: u16,
    config: PathBuf,
}

impl Site {
    fn new(channels: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let demo = std::fs::read_to_string(common::repo().join("config/demo.toml")).unwrap();
        let text = demo
            .replace(
                "database = \"linkledger-demo.db\"",
                &format!("database = {:?}", dir.path().join("ledger.db")),
            )
            .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}"))
            + channels;
        let config = dir.path().join("linkledger.toml");
        std::fs::write(&config, text).unwrap();
        Site { dir, port, config }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("ledger.db")
    }

    fn start(&self) -> Running {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "-c"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let r = Running {
            child,
            log: self.dir.path().join("daemon.log"),
        };
        wait_for(
            "the daemon to serve /metrics",
            Duration::from_secs(15),
            || self.metrics().contains("linkledger_build_info"),
        );
        r
    }

    fn metrics(&self) -> String {
        common::http(self.port, "GET", "/metrics", None, b"").1
    }

    fn metric(&self, sample: &str) -> Option<f64> {
        metric_value(&self.metrics(), sample)
    }

    /// A first run: creates the ledger and registers the channels.
    fn first_run(&self) {
        let mut r = self.start();
        r.stop("TERM");
    }

    /// Queues three notices about fault 1 on line telecom (opened,
    /// escalated to major, resolved), as the ledger writer does.
    fn queue_fault_notices(&self) {
        let script = r#"
import sqlite3, sys, datetime
c = sqlite3.connect(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc)
ts = lambda d: (now - datetime.timedelta(minutes=d)).strftime('%Y-%m-%dT%H:%M:%S.000Z')
c.execute("INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at) VALUES (1, 'telecom', ?, 'line_down', 'serious', ?)", (ts(10), ts(7)))
for key, kind, cls, at, detail in [
    ('fault:1:opened', 'fault_opened', 'serious', ts(10), '{"trigger": "line_down"}'),
    ('fault:1:escalated:major:' + ts(9), 'fault_escalated', 'major', ts(9), '{"from": "serious", "reason": "the whole egress is down (all 2 lines)"}'),
    ('fault:1:resolved', 'fault_resolved', 'major', ts(7), '{"duration_seconds": 180.0}'),
]:
    c.execute("INSERT INTO notices (key, kind, line, fault_id, class, at, created_at, detail) VALUES (?, ?, 'telecom', 1, ?, ?, ?, ?)", (key, kind, cls, at, ts(0), detail))
c.commit()
"#;
        self.python(script);
    }

    /// Runs a Python script with the ledger's path as its argument (to
    /// queue notices the way the writer does).
    fn python(&self, script: &str) {
        common::run(Command::new("python3").args(["-c", script]).arg(self.db()));
    }

    /// (notice key, outcome) of every delivery attempt to a channel.
    fn deliveries(&self, channel: &str) -> Vec<(String, String)> {
        sql(
            &self.db(),
            &format!("SELECT n.key, d.outcome FROM deliveries d JOIN notices n ON n.id = d.notice_id WHERE d.channel = '{channel}' ORDER BY d.id"),
        )
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(k, o)| (k.to_string(), o.to_string()))
        .collect()
    }

    /// `linkledger notify status --json`: the one channel's entry.
    fn notify_status(&self) -> Value {
        let out = common::run(
            Command::new(BIN)
                .args(["notify", "status", "--json", "-c"])
                .arg(&self.config),
        );
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        list[0].clone()
    }

    /// The keys of every notice in the outbox, oldest first.
    fn notice_keys(&self) -> Vec<String> {
        sql(&self.db(), "SELECT key FROM notices ORDER BY id")
            .lines()
            .map(str::to_string)
            .collect()
    }
}

struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn stop(&mut self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- daemon log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

fn webhook(name: &str, url: &str, retry_max: &str) -> String {
    format!(
        "\n[[notify]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret = \"hook-secret\"\nretry_max = \"{retry_max}\"\n"
    )
}

/// The notice keys in the webhook documents a receiver accepted.
fn keys(accepted: &[Value]) -> Vec<String> {
    accepted
        .iter()
        .map(|r| r["body"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_robot_gets_the_outbox_in_order_once() {
    let w = Receiver::start("wecom", None, &[], None);
    let d = Receiver::start("dingtalk", Some("SECdaemon"), &[], None);
    let f = Receiver::start("feishu", Some("feishu-daemon"), &[], None);
    let h = Receiver::start("webhook", Some("hook-secret"), &[], None);
    let channels = format!(
        "\n[[notify]]\nname = \"wecom\"\nkind = \"wecom\"\nurl = \"{}\"\n\n[[notify]]\nname = \"ding\"\nkind = \"dingtalk\"\nurl = \"{}\"\nsecret = \"SECdaemon\"\n\n[[notify]]\nname = \"feishu\"\nkind = \"feishu\"\nlanguage = \"en\"\nurl = \"{}\"\nsecret = \"feishu-daemon\"\n",
        w.url("/cgi-bin/webhook/send?key=k"),
        d.url("/robot/send?access_token=t"),
        f.url("/open-apis/bot/v2/hook/x"),
    ) + &webhook("hook", &h.url("/alerts"), "5s");
    let site = Site::new(&channels);
    site.first_run();
    site.queue_fault_notices();
    let _daemon = site.start();
    // The three fault notices, then this start's "restarted after a gap".
    let hooked = h.wait_accepted(4, Duration::from_secs(15));
    let expected = site.notice_keys();
    assert_eq!(expected.len(), 4, "{expected:?}");
    assert!(expected[3].ends_with(":gap"), "{expected:?}");
    assert_eq!(keys(&hooked), expected);
    // A person's channel gets what it owes at once as one message, the
    // fault's notices in order, then the restart.
    let wecom = w.wait_accepted(1, Duration::from_secs(10));
    let text = wecom[0]["body"]["markdown"]["content"].as_str().unwrap();
    let at = |what: &str| {
        text.find(what)
            .unwrap_or_else(|| panic!("no {what:?} in {text}"))
    };
    assert!(
        at("故障 #1 线路 telecom（China Telecom） 严重故障：线路中断") < at("升级为重大故障")
            && at("升级为重大故障") < at("已恢复，历时 3分钟")
            && at("已恢复，历时 3分钟") < at("linkledger 已重新启动"),
        "{text}"
    );
    let ding = d.wait_accepted(1, Duration::from_secs(10));
    assert!(ding[0]["body"]["markdown"]["title"]
        .as_str()
        .unwrap()
        .contains("严重故障：线路中断（另有 3 条）"));
    let feishu = f.wait_accepted(1, Duration::from_secs(10));
    assert!(feishu[0]["body"]["card"]["header"]["title"]["content"]
        .as_str()
        .unwrap()
        .contains("(+3 more)"));
    assert!(feishu[0].to_string().contains("resolved after 3m"));
    // The major escalation in it draws the message red.
    assert_eq!(feishu[0]["body"]["card"]["header"]["template"], "red");
    // The machine's webhook keeps one document per notice.
    assert_eq!(h.requests().len(), 4, "{:#?}", h.requests());
    // Nothing was refused along the way, and the ledger says each went once.
    for r in [&w, &d, &f] {
        assert_eq!(r.requests().len(), 1, "{:#?}", r.requests());
    }
    for ch in ["wecom", "ding", "feishu", "hook"] {
        let got = site.deliveries(ch);
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|k| (k.clone(), "sent".to_string()))
            .collect();
        assert_eq!(got, want, "{ch}");
    }
    wait_for("the pending gauge to empty", Duration::from_secs(5), || {
        site.metric("linkledger_outbox_pending{channel=\"hook\"}") == Some(0.0)
    });
    assert_eq!(
        site.metric("linkledger_notifications_sent_total{channel=\"hook\",event=\"fault_opened\"}"),
        Some(1.0)
    );
    assert_eq!(
        site.metric("linkledger_outbox_oldest_pending_age_seconds"),
        Some(0.0)
    );
}

#[test]
fn a_receiver_failing_three_times_gets_the_alert_exactly_once() {
    let h = Receiver::start("webhook", Some("hook-secret"), &["--fail-first", "3"], None);
    let site = Site::new(&webhook("hook", &h.url("/alerts"), "2s"));
    site.first_run();
    site.queue_fault_notices();
    let _daemon = site.start();
    h.wait_accepted(4, Duration::from_secs(30));
    let all = h.requests();
    let statuses: Vec<i64> = all.iter().map(|r| r["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![500, 500, 500, 200, 200, 200, 200]);
    // The same alert four times, with the same idempotency key.
    for r in &all[..4] {
        assert_eq!(r["headers"]["idempotency-key"], "fault:1:opened");
    }
    let keys = keys(&h.accepted());
    assert_eq!(keys, site.notice_keys(), "each alert once, in order");
    let opened: Vec<String> = site
        .deliveries("hook")
        .into_iter()
        .filter(|(k, _)| k == "fault:1:opened")
        .map(|(_, o)| o)
        .collect();
    assert_eq!(opened, vec!["failed", "failed", "failed", "sent"]);
    // What an administrator sees.
    let status = site.notify_status();
    assert_eq!(status["channel"], "hook");
    assert_eq!(status["registered"], true);
    assert_eq!(status["pending"], 0);
    assert_eq!(status["sent"], 4);
    assert_eq!(status["failed_attempts"], 3);
    assert_eq!(status["rejected"], 0);
    assert_eq!(status["last_attempt"]["outcome"], "sent");
    assert!(status["last_attempt"]["detail"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 200"));
    assert_eq!(
        site.metric("linkledger_notifications_failed_total{channel=\"hook\",reason=\"http_5xx\"}"),
        Some(3.0)
    );
}

#[test]
fn a_receiver_down_for_two_minutes_gets_everything_in_order_when_it_returns() {
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}/alerts");
    let site = Site::new(&webhook("hook", &url, "10s"));
    site.first_run();
    site.queue_fault_notices();
    let _daemon = site.start();
    std::thread::sleep(Duration::from_secs(120));
    let failed = site
        .deliveries("hook")
        .iter()
        .filter(|(_, o)| o == "failed")
        .count();
    assert!(failed >= 5, "only {failed} attempts in two minutes");
    assert!(site
        .deliveries("hook")
        .iter()
        .all(|(k, _)| k == "fault:1:opened"));
    assert_eq!(
        site.metric("linkledger_outbox_pending{channel=\"hook\"}"),
        Some(4.0)
    );
    let status = site.notify_status();
    assert_eq!(status["pending"], 4);
    assert_eq!(status["sent"], 0);
    assert_eq!(status["last_attempt"]["notice"], "fault:1:opened");
    assert_eq!(status["last_attempt"]["outcome"], "failed");
    assert!(
        status["last_attempt"]["detail"]
            .as_str()
            .unwrap()
            .ends_with("Connection refused (os error 111) (connect)"),
        "the cause, down its chain: {status}"
    );
    let age = site
        .metric("linkledger_outbox_oldest_pending_age_seconds")
        .unwrap();
    assert!(age >= 115.0, "oldest pending age {age}");
    assert!(
        site.metric("linkledger_notifications_failed_total{channel=\"hook\",reason=\"connect\"}")
            .unwrap()
            >= 5.0
    );
    let h = Receiver::start(
        "webhook",
        Some("hook-secret"),
        &["--port", &port.to_string()],
        None,
    );
    // Backoff is capped at 10 s: everything arrives soon after.
    let got = h.wait_accepted(4, Duration::from_secs(20));
    assert_eq!(keys(&got), site.notice_keys());
    assert_eq!(h.requests().len(), 4);
}

#[test]
fn a_daemon_killed_with_alerts_pending_delivers_them_after_restart_none_twice() {
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}/alerts");
    let site = Site::new(&webhook("hook", &url, "2s"));
    site.first_run();
    site.queue_fault_notices();
    // The receiver takes two alerts, then goes away.
    let mut first = Receiver::start(
        "webhook",
        Some("hook-secret"),
        &["--port", &port.to_string(), "--stop-after", "2"],
        None,
    );
    let mut daemon = site.start();
    first.wait_exit(Duration::from_secs(15));
    wait_for(
        "a failed attempt at the third alert",
        Duration::from_secs(15),
        || site.deliveries("hook").iter().any(|(_, o)| o == "failed"),
    );
    daemon.stop("KILL");
    let before = keys(&first.accepted());
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(before[0], "fault:1:opened");
    assert!(
        before[1].starts_with("fault:1:escalated:major:"),
        "{before:?}"
    );

    let second = Receiver::start(
        "webhook",
        Some("hook-secret"),
        &["--port", &port.to_string()],
        None,
    );
    let _daemon = site.start();
    // The resolution, the first restart's gap notice, and this one's.
    let after = keys(&second.wait_accepted(3, Duration::from_secs(20)));
    let all: Vec<String> = before.into_iter().chain(after).collect();
    assert_eq!(all, site.notice_keys(), "every alert once, in order");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(second.requests().len(), 3, "nothing sent twice");
    let sent = site
        .deliveries("hook")
        .into_iter()
        .filter(|(_, o)| o == "sent")
        .count();
    assert_eq!(sent, 5);
}

#[test]
fn a_flapping_line_is_summarised_not_paged_per_fault() {
    let h = Receiver::start("webhook", Some("hook-secret"), &[], None);
    let site = Site::new(
        &(webhook("hook", &h.url("/alerts"), "2s")
            + "\n[alerts]\nflap_count = 3\nflap_window = \"15m\"\n"),
    );
    site.first_run();
    // Four short outages of telecom, two minutes apart, each its own fault.
    let script = r#"
import sqlite3, sys, datetime
c = sqlite3.connect(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc)
ts = lambda d: (now - datetime.timedelta(minutes=d)).strftime('%Y-%m-%dT%H:%M:%S.000Z')
for i in range(1, 5):
    opened, resolved = 12 - 2 * i, 11.5 - 2 * i
    c.execute("INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at) VALUES (?, 'telecom', ?, 'line_down', 'serious', ?)", (i, ts(opened), ts(resolved)))
    for what, kind, at, detail in [('opened', 'fault_opened', ts(opened), '{"trigger": "line_down"}'), ('resolved', 'fault_resolved', ts(resolved), '{"duration_seconds": 30.0}')]:
        c.execute("INSERT INTO notices (key, kind, line, fault_id, class, at, created_at, detail) VALUES (?, ?, 'telecom', ?, 'serious', ?, ?, ?)", (f'fault:{i}:{what}', kind, i, at, ts(0), detail))
c.commit()
"#;
    site.python(script);
    let _daemon = site.start();
    wait_for("every notice handled", Duration::from_secs(20), || {
        site.deliveries("hook").len() == 9
    });
    let outcomes: Vec<(String, String)> = site.deliveries("hook");
    let expect = |k: &str, o: &str| (k.to_string(), o.to_string());
    assert_eq!(
        outcomes[..8],
        [
            expect("fault:1:opened", "sent"),
            expect("fault:1:resolved", "sent"),
            expect("fault:2:opened", "sent"),
            expect("fault:2:resolved", "sent"),
            // The third fault within 15 minutes: one summary instead.
            expect("fault:3:opened", "sent"),
            expect("fault:3:resolved", "summarised"),
            expect("fault:4:opened", "summarised"),
            expect("fault:4:resolved", "summarised"),
        ]
    );
    let got = h.wait_accepted(6, Duration::from_secs(5));
    assert_eq!(got.len(), 6, "four messages, one summary, the restart");
    let summary = &got[4]["body"];
    assert_eq!(summary["id"], "fault:3:opened");
    assert_eq!(
        summary["subject"],
        "[linkledger] 线路 telecom（China Telecom） 频繁中断：15分钟内 3 次故障"
    );
}

/// A channel marked `carrier = "…"` reaches the carrier (its hotline
/// mailbox or robot): the first delivery of a fault of that carrier's
/// lines to it is the fault's 申告, recorded in the fault's timeline with
/// the channel's name; the other carrier's channel reports nothing. A
/// carrier channel holding the fault for quiet hours has not reported it.
#[test]
fn delivering_a_fault_to_the_carriers_channel_reports_it() {
    let telecom = Receiver::start("webhook", Some("hook-secret"), &[], None);
    let unicom = Receiver::start("webhook", Some("hook-secret"), &[], None);
    let channels = webhook("telecom-hotline", &telecom.url("/t"), "5s")
        + "carrier = \"China Telecom\"\n"
        + &webhook("unicom-hotline", &unicom.url("/u"), "5s")
        + "carrier = \"China Unicom\"\n";
    let site = Site::new(&channels);
    site.first_run();
    site.queue_fault_notices();
    let before = linkledger_ledger::clock::wall_now();
    let _daemon = site.start();
    telecom.wait_accepted(4, Duration::from_secs(15));
    unicom.wait_accepted(4, Duration::from_secs(15));
    let reported = sql(
        &site.db(),
        "SELECT fault_id, text, at FROM fault_events WHERE kind = 'reported'",
    );
    let fields: Vec<&str> = reported.split('|').collect();
    assert_eq!(&fields[..2], ["1", "notify:telecom-hotline"], "{reported}");
    let at = chrono::DateTime::parse_from_rfc3339(fields[2]).unwrap();
    assert!(
        at >= before && at <= linkledger_ledger::clock::wall_now(),
        "reported at its delivery: {at}"
    );
    let show = common::run(
        Command::new(BIN)
            .args(["fault", "show", "1", "--json", "-c"])
            .arg(&site.config),
    );
    let f: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(f["reported_via"], "notify:telecom-hotline");
    assert_eq!(f["deadlines"][0]["runs_from"], "reported");

    // Held by quiet hours all day: not reported.
    let quiet = Receiver::start("webhook", Some("hook-secret"), &[], None);
    let other = Receiver::start("webhook", Some("hook-secret"), &[], None);
    let channels = webhook("telecom-hotline", &quiet.url("/t"), "5s")
        + "carrier = \"China Telecom\"\nquiet_hours = \"00:00-23:59\"\n"
        + &webhook("noc", &other.url("/n"), "5s");
    let site = Site::new(&channels);
    site.first_run();
    // A general fault, opened and resolved (nothing major to release it).
    site.python(
        r#"
import sqlite3, sys, datetime
c = sqlite3.connect(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc)
ts = lambda d: (now - datetime.timedelta(minutes=d)).strftime('%Y-%m-%dT%H:%M:%S.000Z')
c.execute("INSERT INTO faults (id, line, detected_at, trigger, class, resolved_at) VALUES (1, 'telecom', ?, 'line_down', 'general', ?)", (ts(10), ts(7)))
c.execute("INSERT INTO notices (key, kind, line, fault_id, class, at, created_at, detail) VALUES ('fault:1:opened', 'fault_opened', 'telecom', 1, 'general', ?, ?, '{\"trigger\": \"line_down\"}')", (ts(10), ts(0)))
c.commit()
"#,
    );
    let _daemon = site.start();
    // The fault, then this start's "restarted after a gap".
    other.wait_accepted(2, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(2));
    assert!(quiet.accepted().is_empty(), "held by quiet hours");
    assert_eq!(
        sql(
            &site.db(),
            "SELECT count(*) FROM fault_events WHERE kind = 'reported'"
        ),
        "0",
        "a fault held back by quiet hours is not reported"
    );
}

/// A special period (国庆保障, with its on-duty roster) suspends quiet hours:
/// a general fault held all day otherwise goes out at once, with the
/// period and the people on duty in it.
#[test]
fn a_special_period_suspends_quiet_hours_and_names_who_is_on_duty() {
    let robot = Receiver::start("wecom", None, &[], None);
    let today = linkledger_ledger::clock::wall_now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let channels = format!(
        "\n[[notify]]\nname = \"noc-robot\"\nkind = \"wecom\"\nurl = \"{}\"\nquiet_hours = \"00:00-23:59\"\n\n\
         [[special_period]]\nname = \"国庆保障\"\nfrom = \"{}\"\nto = \"{}\"\nresponse = \"15m\"\n\
         [[special_period.on_duty]]\ncarrier = \"China Telecom\"\nname = \"张工\"\nphone = \"138-0000-0001\"\nplace = \"城东机房\"\n\
         [[special_period.on_duty]]\nname = \"李工\"\nphone = \"139-0000-0002\"\n",
        robot.url("/cgi-bin/webhook/send?key=k"),
        today.pred_opt().unwrap(),
        today.succ_opt().unwrap(),
    );
    let site = Site::new(&channels);
    site.first_run();
    site.python(
        r#"
import sqlite3, sys, datetime
c = sqlite3.connect(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc)
ts = lambda d: (now - datetime.timedelta(minutes=d)).strftime('%Y-%m-%dT%H:%M:%S.000Z')
c.execute("INSERT INTO faults (id, line, detected_at, trigger, class) VALUES (1, 'telecom', ?, 'line_down', 'general')", (ts(1),))
c.execute("INSERT INTO notices (key, kind, line, fault_id, class, at, created_at, detail) VALUES ('fault:1:opened', 'fault_opened', 'telecom', 1, 'general', ?, ?, '{\"trigger\": \"line_down\"}')", (ts(1), ts(0)))
c.commit()
"#,
    );
    let _daemon = site.start();
    let got = robot.wait_accepted(1, Duration::from_secs(15));
    let text = got[0]["body"]["markdown"]["content"].as_str().unwrap();
    assert!(text.contains("特殊时期（免打扰暂停）: 国庆保障"), "{text}");
    assert!(
        text.contains("China Telecom 张工 138-0000-0001（城东机房）")
            && text.contains("李工 139-0000-0002"),
        "{text}"
    );
    // Its response deadline is the special period's 15 minutes.
    let show = common::run(
        Command::new(BIN)
            .args(["fault", "show", "1", "--json", "-c"])
            .arg(&site.config),
    );
    let f: Value = serde_json::from_slice(&show.stdout).unwrap();
    let detected =
        chrono::DateTime::parse_from_rfc3339(f["detected_at"].as_str().unwrap()).unwrap();
    let due =
        chrono::DateTime::parse_from_rfc3339(f["deadlines"][0]["due"].as_str().unwrap()).unwrap();
    assert_eq!((due - detected).num_minutes(), 15, "{f}");
    // The status page shows the period and the roster.
    let page = common::http(site.port, "GET", "/", None, b"").1;
    assert!(
        page.contains("data-special=\"国庆保障\"") && page.contains("城东机房"),
        "{page}"
    );
}
