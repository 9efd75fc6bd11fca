//! Alerts end to end across the namespace lab (root only): a line goes
//! down, and the email (real SMTP, STARTTLS, login) and the WeCom robot
//! message arrive within 5 s of the outage being declared; it comes back,
//! and the resolution arrives, the email threaded under the first.

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
    std::fs::write(&config, text).unwrap();
    std::env::set_var("LAB_SMTP_PASSWORD", "lab-password");
    let mut daemon = lab.start_daemon(&config);
    daemon.wait_up(&["telecom", "telecom6"], Duration::from_secs(15));
    // The start itself queues nothing for these channels: no gap before
    // the first run. Let the lines settle, then cut telecom's anchors.
    std::thread::sleep(Duration::from_secs(2));
    lab.fault("silent-anchors", "on");

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
        "[linkledger] 故障 #1 线路 telecom（China Telecom） 严重故障：线路中断"
    );
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
    assert!(robots[0]["body"]["markdown"]["content"]
        .as_str()
        .unwrap()
        .contains("严重故障：线路中断"));
    // The outage opened before it was declared (down_after rounds earlier).
    let outage = &outages(&daemon.config, "telecom")[0];
    assert!(epoch(&outage["start"]) < declared);

    std::thread::sleep(Duration::from_secs(10));
    lab.fault("silent-anchors", "off");
    let mails = sink.wait_messages(2, Duration::from_secs(20));
    let resolved = &mails[1];
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
    let robots = robot.wait_accepted(2, Duration::from_secs(10));
    assert!(robots[1]["body"]["markdown"]["content"]
        .as_str()
        .unwrap()
        .contains("已恢复"));
    // Exactly these: nothing per probe, nothing twice.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.messages().len(), 2);
    assert_eq!(robot.requests().len(), 2);
    daemon.signal_and_wait("TERM");
}
