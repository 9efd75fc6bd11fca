//! Alerts end to end across the namespace lab (root only): a line goes
//! down, and the email (real SMTP, STARTTLS, login) and the WeCom robot
//! message arrive within 5 s of the outage being declared; it comes back,
//! and the resolution arrives, the email threaded under the first. The same
//! fault through Debian's real Alertmanager: an active alert with the
//! fault's labels, a grouped notification, and its resolution.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::time::Duration;

use common::receivers::{Receiver, SmtpSink};
use common::*;

#[test]
fn a_line_down_alerts_by_email_and_robot_within_5_s_and_its_resolution_threads_under_it() {
    if !can_use_netns("alerts e2e") {
        return;
    }
    let lab = Lab::up("llntf");
    let ns = format!("{}-mon", lab.prefix);
    // The far ends run beside the daemon, on the monitor namespace's loopback.
    let sink = SmtpSink::start("starttls", Some("alerts:lab-password"), Some(&ns));
    let robot = Receiver::start("wecom", None, &[], Some(&ns));
    let config = lab.config();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += &format!(
        r#"
[[notify]]
name = "noc-mail"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
ca_file = "{}"
username = "alerts"
password_env = "LAB_SMTP_PASSWORD"
from = "linkledger <linkledger@noc.example.gov.cn>"
to = ["noc@example.gov.cn"]

[[notify]]
name = "noc-robot"
kind = "wecom"
url = "{}"
events = ["fault_opened", "fault_resolved"]
"#,
        sink.port,
        sink.ca().display(),
        robot.url("/cgi-bin/webhook/send?key=lab")
    );
    let text = text.replacen(
        "[daemon]\n",
        "[daemon]\npublic_url = \"https://noc.example.gov.cn/linkledger/\"\n",
        1,
    );
    assert!(text.contains("public_url"), "{text}");
    std::fs::write(&config, text).unwrap();
    std::env::set_var("LAB_SMTP_PASSWORD", "lab-password");
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    // The start itself queues nothing for these channels: no gap before
    // the first run. Let the lines settle, then cut telecom's anchors.
    std::thread::sleep(Duration::from_secs(2));
    let cut = lab.timed_fault("silent-anchors", "on");

    let mails = sink.wait_messages(1, Duration::from_secs(20));
    let robots = robot.wait_accepted(1, Duration::from_secs(10));
    let db = lab.dir.path().join("ledger.db");
    let declared = sql(
        &db,
        "SELECT (julianday(created_at) - 2440587.5) * 86400.0 FROM notices WHERE kind = 'fault_opened'",
    );
    let declared: f64 = declared.parse().unwrap_or_else(|_| panic!("{declared:?}"));
    let opened = &mails[0];
    assert_eq!(
        opened["subject"],
        "[linkledger] 故障 #1 线路 telecom（China Telecom） 一般故障：线路中断"
    );
    // Actionable: when (Beijing time with its offset), the cause, what to
    // do, commands that run as printed, the status page.
    let body = opened["text"].as_str().unwrap();
    let config_path = config.display().to_string();
    for want in [
        "北京时间（UTC+08:00）",
        "原因: 线路中断",
        "探测结果: 本端与运营商网关应答，上游锚点无应答",
        "处理: 向运营商申告",
        &format!("linkledger fault ack 1 -c {config_path} --by 姓名"),
        &format!("linkledger fault ticket 1 -c {config_path} --ticket 工单号 --by 姓名"),
        "状态页: https://noc.example.gov.cn/linkledger/",
    ] {
        assert!(body.contains(want), "lacks {want:?}: {body}");
    }
    let mail_delay = opened["received_at"].as_f64().unwrap() - declared;
    let robot_delay = robots[0]["received_at"].as_f64().unwrap() - declared;
    eprintln!("alert delays after the outage was declared: email {mail_delay:.2} s, robot {robot_delay:.2} s");
    assert!(
        (0.0..5.0).contains(&mail_delay),
        "email after {mail_delay} s"
    );
    assert!(
        (0.0..5.0).contains(&robot_delay),
        "robot after {robot_delay} s"
    );
    // Measured from the fault itself, not from the daemon's own record:
    // declared after down_after = 3 failed rounds (the first within an
    // interval of the fault), then within 5 s.
    for (what, at) in [
        ("email", opened["received_at"].as_f64().unwrap()),
        ("robot", robots[0]["received_at"].as_f64().unwrap()),
    ] {
        assert!(
            at > cut.0 + 2.0 && at < cut.1 + 3.0 + 1.0 + 5.0,
            "{what} {:.2} s after the fault was injected",
            at - cut.0
        );
    }
    assert!(robots[0]["body"]["markdown"]["content"]
        .as_str()
        .unwrap()
        .contains("一般故障：线路中断"));
    // The outage opened before it was declared (down_after rounds earlier).
    let outage = &outages(&daemon.config, "telecom")[0];
    assert!(epoch(&outage["start"]) < declared);

    // The path evidence follows in the fault's thread: the way to each
    // anchor stops after the carrier's edge (the anchors stay silent).
    let mails = sink.wait_messages(2, Duration::from_secs(20));
    let path = &mails[1];
    assert_eq!(
        path["subject"],
        "[linkledger] 故障 #1 线路 telecom（China Telecom） 路径证据（监测端）：止于 198.18.1.1"
    );
    assert_eq!(path["in_reply_to"], opened["message_id"]);

    std::thread::sleep(Duration::from_secs(10));
    lab.fault("silent-anchors", "off");
    let mails = sink.wait_messages(3, Duration::from_secs(20));
    let resolved = &mails[2];
    assert!(
        resolved["subject"]
            .as_str()
            .unwrap()
            .starts_with("[linkledger] 故障 #1 线路 telecom（China Telecom） 已恢复，历时"),
        "{resolved}"
    );
    assert_eq!(resolved["in_reply_to"], opened["message_id"]);
    assert_eq!(resolved["references"], opened["message_id"]);
    let text = resolved["text"].as_str().unwrap();
    assert!(text.contains("修复时限: 已达标"), "{text}");
    assert!(
        !text.contains("fault ack"),
        "no ack offered once resolved: {text}"
    );
    let robots = robot.wait_accepted(2, Duration::from_secs(10));
    assert!(robots[1]["body"]["markdown"]["content"]
        .as_str()
        .unwrap()
        .contains("已恢复"));
    // Exactly these: nothing per probe, nothing twice.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.messages().len(), 3);
    assert_eq!(robot.requests().len(), 2);
    daemon.signal_and_wait("TERM");
}

/// Debian's Alertmanager, started in a lab namespace; killed on drop.
struct Alertmanager {
    _process: Running,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start(ns: &str, port: u16, webhook: &str) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: hook\n  group_by: [line]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n"
            ),
        )
        .unwrap();
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "prometheus-alertmanager"])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("alertmanager.log")).unwrap())
            .spawn()
            .expect("start prometheus-alertmanager");
        let am = Alertmanager {
            _process: Running(child),
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !am.get(ns, port, "/-/ready").contains("OK") {
            assert!(
                std::time::Instant::now() < deadline,
                "Alertmanager did not become ready"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        am
    }

    fn get(&self, ns: &str, port: u16, path: &str) -> String {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "curl", "-s", "-m", "3"])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

#[test]
fn alertmanager_receives_groups_and_resolves_a_line_fault() {
    if !can_use_netns("alertmanager e2e") {
        return;
    }
    if !have_tool("prometheus-alertmanager", "prometheus-alertmanager") {
        return;
    }
    let lab = Lab::up("llalm");
    let ns = format!("{}-mon", lab.prefix);
    let hook = Receiver::start("any", None, &[], Some(&ns));
    let am = Alertmanager::start(&ns, 19093, &hook.url("/alertmanager"));
    let config = lab.config();
    let text = std::fs::read_to_string(&config).unwrap()
        + "\n[[notify]]\nname = \"am\"\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:19093\"\n";
    std::fs::write(&config, text).unwrap();
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    lab.fault("silent-anchors", "on");

    // Alertmanager holds the fault as an active alert with its labels ...
    let got = hook.wait_accepted(1, Duration::from_secs(20));
    let firing = &got[0]["body"];
    assert_eq!(firing["status"], "firing", "{firing:#}");
    assert_eq!(firing["groupLabels"]["line"], "telecom");
    let labels = &firing["alerts"][0]["labels"];
    assert_eq!(labels["alertname"], "LinkledgerFault");
    assert_eq!(labels["line"], "telecom");
    assert_eq!(labels["carrier"], "China Telecom");
    assert_eq!(labels["class"], "general");
    assert_eq!(labels["fault_id"], "1");
    assert_eq!(labels["severity"], "warning");
    let active: serde_json::Value =
        serde_json::from_str(&am.get(&ns, 19093, "/api/v2/alerts?active=true")).unwrap();
    let faults: Vec<&serde_json::Value> = active
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "LinkledgerFault")
        .collect();
    assert_eq!(faults.len(), 1, "{active:#}");
    assert_eq!(faults[0]["status"]["state"], "active");

    // ... and resolves it when the line comes back.
    std::thread::sleep(Duration::from_secs(5));
    lab.fault("silent-anchors", "off");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let resolved = loop {
        let r = hook
            .accepted()
            .into_iter()
            .find(|r| r["body"]["status"] == "resolved");
        if let Some(r) = r {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no resolved notification: {:#?}",
            hook.requests()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(resolved["body"]["alerts"][0]["labels"]["fault_id"], "1");
    let active: serde_json::Value =
        serde_json::from_str(&am.get(&ns, 19093, "/api/v2/alerts?active=true")).unwrap();
    assert!(
        !active
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["alertname"] == "LinkledgerFault"),
        "{active:#}"
    );
    daemon.signal_and_wait("TERM");
}

#[test]
fn a_whole_egress_outage_is_one_message_per_step_the_egress_first() {
    if !can_use_netns("egress alerts") {
        return;
    }
    let lab = Lab::up("llnte");
    let ns = format!("{}-mon", lab.prefix);
    let sink = SmtpSink::start("starttls", Some("alerts:lab-password"), Some(&ns));
    let config = lab.config();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += &format!(
        "\n[[notify]]\nname = \"noc-mail\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nca_file = \"{}\"\n\
         username = \"alerts\"\npassword_env = \"LAB_SMTP_PASSWORD\"\nfrom = \"linkledger <linkledger@noc.example.gov.cn>\"\nto = [\"noc@example.gov.cn\"]\n",
        sink.port,
        sink.ca().display(),
    );
    std::fs::write(&config, text).unwrap();
    std::env::set_var("LAB_SMTP_PASSWORD", "lab-password");
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    sleep(2.0);
    // Both lines lose their anchors for 13 s: two line faults, the egress
    // fault, two escalations, path evidence, three resolutions.
    let cut = lab.timed_fault("blackhole", "on");
    let first = sink.wait_messages(1, Duration::from_secs(20));
    let db = lab.dir.path().join("ledger.db");
    let declared: f64 = sql(
        &db,
        "SELECT (julianday(min(created_at)) - 2440587.5) * 86400.0 FROM notices WHERE kind = 'fault_opened'",
    )
    .parse()
    .unwrap();
    sleep(11.0);
    lab.fault("blackhole", "off");
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    sleep(6.0);
    let mails = sink.messages();
    let notices: i64 = sql(&db, "SELECT count(*) FROM notices").parse().unwrap();
    daemon.signal_and_wait("TERM");

    let delay = first[0]["received_at"].as_f64().unwrap() - declared;
    assert!((0.0..5.0).contains(&delay), "first mail after {delay} s");
    let from_fault = first[0]["received_at"].as_f64().unwrap() - cut.0;
    assert!(
        from_fault > 2.0 && from_fault < cut.1 - cut.0 + 9.0,
        "first mail {from_fault:.2} s after the blackout began"
    );
    let subject = first[0]["subject"].as_str().unwrap();
    assert!(
        subject.contains("出口整体（全部线路）")
            && subject.contains("重大故障")
            && subject.contains("另有"),
        "the egress's fault leads: {subject}"
    );
    let body = first[0]["text"].as_str().unwrap();
    for line in ["线路 telecom（", "线路 telecom6（"] {
        assert!(body.contains(line), "the line faults are folded in: {body}");
    }
    assert!(
        body.find("出口整体").unwrap() < body.find("线路 telecom（").unwrap(),
        "{body}"
    );
    // One message per step of the incident, not one per notice.
    assert!(notices >= 8, "{notices} notices");
    assert!(
        mails.len() <= 4,
        "{} mails for {notices} notices: {:#?}",
        mails.len(),
        mails
            .iter()
            .map(|m| m["subject"].clone())
            .collect::<Vec<_>>()
    );
    // Every notice was delivered, each recorded once.
    let sent: i64 = sql(
        &db,
        "SELECT count(DISTINCT notice_id) FROM deliveries WHERE channel = 'noc-mail' AND outcome = 'sent'",
    )
    .parse()
    .unwrap();
    assert_eq!(sent, notices);
}
