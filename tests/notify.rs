//! Alert channels against real far ends on loopback: an SMTP server
//! (aiosmtpd) with STARTTLS and login, and HTTP receivers that check each
//! robot's documented format and signature scheme. Messages are made by
//! the same code the daemon's sender uses; the daemon's own delivery
//! (order, retries, restarts) is tested in `tests/notify_daemon.rs`.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::receivers::{Receiver, SmtpSink};
use common::BIN;
use linkledger_config::Config;
use linkledger_core::fault::FaultClass;
use linkledger_ledger::outbox::{Notice, NoticeKind};
use linkledger_notify::{deliver, http_client, message, Outgoing};
use serde_json::json;

fn config(dir: &Path, channels: &str) -> (std::path::PathBuf, Config) {
    let demo = std::fs::read_to_string(common::repo().join("config/demo.toml")).unwrap();
    let text = demo.replace(
        "database = \"linkledger-demo.db\"",
        &format!("database = {:?}", dir.join("ledger.db")),
    ) + channels;
    let path = dir.join("linkledger.toml");
    std::fs::write(&path, &text).unwrap();
    let c = Config::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    (path, c)
}

fn notice(id: i64, kind: NoticeKind, what: &str, detail: serde_json::Value) -> Notice {
    Notice {
        id,
        key: format!("fault:12:{what}"),
        kind,
        line: Some("telecom".into()),
        fault: Some(12),
        class: Some(FaultClass::Serious),
        at: linkledger_ledger::clock::wall_now(),
        queued_at: linkledger_ledger::clock::wall_now(),
        detail,
    }
}

fn outgoing(c: &Config, channel: usize, n: &Notice) -> Outgoing {
    let ch = &c.channels[channel];
    let carriers: Vec<(String, String)> = c
        .lines
        .iter()
        .map(|l| (l.id.clone(), l.carrier.clone()))
        .collect();
    let cx = message::Context {
        language: ch.language,
        tz: c.daemon.timezone,
        contract: &c.contract.name,
        config_path: c.path.display().to_string(),
        public_url: c.daemon.public_url.clone(),
        special: None,
        carriers: &carriers,
    };
    Outgoing::new(n, message::render(n, None, &cx), ch, Some("China Telecom"))
}

fn email_channel(name: &str, lang: &str, sink: &SmtpSink, password: &str) -> String {
    email_channel_tls(name, lang, sink, password, "starttls")
}

fn email_channel_tls(name: &str, lang: &str, sink: &SmtpSink, password: &str, tls: &str) -> String {
    format!(
        r#"
[[notify]]
name = "{name}"
kind = "email"
language = "{lang}"
smtp_host = "127.0.0.1"
smtp_port = {port}
tls = "{tls}"
ca_file = "{ca}"
username = "alerts"
password = "{password}"
from = "linkledger <alerts@noc.example.gov.cn>"
to = ["noc@example.gov.cn", "duty@example.gov.cn"]
"#,
        port = sink.port,
        ca = sink.ca().display()
    )
}

#[tokio::test]
async fn email_in_chinese_and_english_threads_a_fault_over_starttls_with_login() {
    let sink = SmtpSink::start("starttls", Some("alerts:s3cret-pass"), None);
    let dir = tempfile::tempdir().unwrap();
    let channels = email_channel("mail-zh", "zh-CN", &sink, "s3cret-pass")
        + &email_channel("mail-en", "en", &sink, "s3cret-pass");
    let (_, c) = config(dir.path(), &channels);
    let opened = notice(
        1,
        NoticeKind::FaultOpened,
        "opened",
        json!({"trigger": "line_down"}),
    );
    let resolved = notice(
        2,
        NoticeKind::FaultResolved,
        "resolved",
        json!({"duration_seconds": 192.0}),
    );
    let client = http_client();
    for n in [&opened, &resolved] {
        for ch in 0..2 {
            let answer = deliver(&client, &c.channels[ch], &outgoing(&c, ch, n))
                .await
                .unwrap_or_else(|f| panic!("{f}"));
            assert!(answer.starts_with("SMTP 250"), "{answer}");
        }
    }
    let m = sink.wait_messages(4, Duration::from_secs(10));
    // Order of sending: opened zh, opened en, resolved zh, resolved en.
    assert_eq!(
        m[0]["subject"],
        "[linkledger] 故障 #12 线路 telecom（China Telecom） 严重故障：线路中断"
    );
    assert_eq!(
        m[1]["subject"],
        "[linkledger] Fault #12 on line telecom (China Telecom): serious fault, line down"
    );
    assert_eq!(
        m[2]["subject"],
        "[linkledger] 故障 #12 线路 telecom（China Telecom） 已恢复，历时 3分12秒"
    );
    assert_eq!(
        m[3]["subject"],
        "[linkledger] Fault #12 on line telecom (China Telecom) resolved after 3m 12s"
    );
    for msg in &m {
        assert_eq!(msg["tls"], "yes", "the message went over STARTTLS");
        assert_eq!(msg["from"], "linkledger <alerts@noc.example.gov.cn>");
        assert_eq!(msg["to"], "noc@example.gov.cn, duty@example.gov.cn");
        assert_eq!(
            msg["envelope_to"],
            "noc@example.gov.cn, duty@example.gov.cn"
        );
        let text = msg["text"].as_str().unwrap();
        let html = msg["html"].as_str().unwrap();
        assert!(html.contains("<h2") && html.contains("<li>"), "{html}");
        assert!(text.contains(msg["subject"].as_str().unwrap()), "{text}");
    }
    assert!(m[0]["text"].as_str().unwrap().contains("检测时间"));
    assert!(m[1]["text"].as_str().unwrap().contains("Detected"));
    // Threading: each resolution replies to its channel's opening message.
    assert_eq!(
        m[0]["message_id"],
        "<linkledger.fault-12-opened.mail-zh@noc.example.gov.cn>"
    );
    assert_eq!(m[0]["in_reply_to"], serde_json::Value::Null);
    assert_eq!(m[2]["in_reply_to"], m[0]["message_id"]);
    assert_eq!(m[2]["references"], m[0]["message_id"]);
    assert_eq!(m[3]["in_reply_to"], m[1]["message_id"]);
    assert_ne!(m[0]["message_id"], m[1]["message_id"]);
    // A retry of the same notice carries the same Message-ID.
    deliver(&client, &c.channels[0], &outgoing(&c, 0, &opened))
        .await
        .unwrap();
    let again = sink.wait_messages(5, Duration::from_secs(10));
    assert_eq!(again[4]["message_id"], m[0]["message_id"]);
}

#[tokio::test]
async fn a_wrong_smtp_password_is_a_clear_error_without_the_password() {
    let sink = SmtpSink::start("starttls", Some("alerts:right-password"), None);
    let dir = tempfile::tempdir().unwrap();
    let (_, c) = config(
        dir.path(),
        &email_channel("mail", "en", &sink, "wrong-password"),
    );
    let n = notice(1, NoticeKind::FaultOpened, "opened", json!({}));
    let f = deliver(&http_client(), &c.channels[0], &outgoing(&c, 0, &n))
        .await
        .expect_err("the login must fail");
    assert_eq!(f.reason, "smtp_auth");
    assert!(
        f.detail
            .contains("the SMTP server refused the login of \"alerts\""),
        "{f}"
    );
    assert!(f.detail.contains("535"), "{f}");
    assert!(!f.to_string().contains("wrong-password"));
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_delivers_with_login() {
    let sink = SmtpSink::start("tls", Some("alerts:s3cret-pass"), None);
    let dir = tempfile::tempdir().unwrap();
    let (_, c) = config(
        dir.path(),
        &email_channel_tls("mail", "en", &sink, "s3cret-pass", "tls"),
    );
    let n = notice(1, NoticeKind::FaultOpened, "opened", json!({}));
    deliver(&http_client(), &c.channels[0], &outgoing(&c, 0, &n))
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let m = sink.wait_messages(1, Duration::from_secs(5));
    assert!(m[0]["subject"]
        .as_str()
        .unwrap()
        .starts_with("[linkledger] Fault #12"));
}

#[tokio::test]
async fn starttls_fails_closed_against_an_untrusted_certificate() {
    let sink = SmtpSink::start("starttls", None, None);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "\n[[notify]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"a@b.cn\"\nto = [\"c@d.cn\"]\n",
        sink.port
    );
    let (_, c) = config(dir.path(), &text);
    let n = notice(1, NoticeKind::FaultOpened, "opened", json!({}));
    let f = deliver(&http_client(), &c.channels[0], &outgoing(&c, 0, &n))
        .await
        .expect_err("a certificate from an unknown CA must be refused");
    assert_eq!(f.reason, "tls", "{f}");
    assert!(sink.messages().is_empty());
}

fn robot_channels(w: &Receiver, d: &Receiver, f: &Receiver, h: &Receiver) -> String {
    format!(
        r#"
[[notify]]
name = "wecom"
kind = "wecom"
url = "{}"
mention_users = ["zhangsan"]

[[notify]]
name = "dingtalk"
kind = "dingtalk"
url = "{}"
secret = "SEC0123456789abcdef"
mention_mobiles = ["13800000000"]

[[notify]]
name = "feishu"
kind = "feishu"
language = "en"
url = "{}"
secret = "feishu-secret"

[[notify]]
name = "hook"
kind = "webhook"
url = "{}"
secret = "hook-secret"
"#,
        w.url("/cgi-bin/webhook/send?key=wecom-key"),
        d.url("/robot/send?access_token=ding-token"),
        f.url("/open-apis/bot/v2/hook/feishu-token"),
        h.url("/alerts"),
    )
}

#[tokio::test]
async fn each_robot_gets_its_documented_format_and_a_valid_signature() {
    let w = Receiver::start("wecom", None, &[], None);
    let d = Receiver::start("dingtalk", Some("SEC0123456789abcdef"), &[], None);
    let f = Receiver::start("feishu", Some("feishu-secret"), &[], None);
    let h = Receiver::start("webhook", Some("hook-secret"), &[], None);
    let dir = tempfile::tempdir().unwrap();
    let (_, c) = config(dir.path(), &robot_channels(&w, &d, &f, &h));
    let n = notice(
        7,
        NoticeKind::FaultOpened,
        "opened",
        json!({"trigger": "line_down"}),
    );
    let client = http_client();
    for ch in 0..4 {
        let answer = deliver(&client, &c.channels[ch], &outgoing(&c, ch, &n))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", c.channels[ch].name));
        assert!(answer.starts_with("HTTP 200"), "{answer}");
    }
    let subject = "[linkledger] 故障 #12 线路 telecom（China Telecom） 严重故障：线路中断";
    let wr = &w.wait_accepted(1, Duration::from_secs(5))[0];
    assert_eq!(wr["query"]["key"], "wecom-key");
    let content = wr["body"]["markdown"]["content"].as_str().unwrap();
    // Coloured by class: a serious fault in WeCom's warning colour.
    assert!(
        content.starts_with(&format!("<font color=\"warning\">**{subject}**</font>")),
        "{content}"
    );
    assert!(content.contains("<@zhangsan>"), "{content}");

    let dr = &d.wait_accepted(1, Duration::from_secs(5))[0];
    assert_eq!(dr["query"]["access_token"], "ding-token");
    assert_eq!(dr["body"]["markdown"]["title"], subject);
    assert!(dr["body"]["markdown"]["text"]
        .as_str()
        .unwrap()
        .contains("@13800000000"));
    assert_eq!(dr["body"]["at"]["atMobiles"], json!(["13800000000"]));

    let fr = &f.wait_accepted(1, Duration::from_secs(5))[0];
    assert_eq!(fr["path"], "/open-apis/bot/v2/hook/feishu-token");
    assert_eq!(
        fr["body"]["card"]["header"]["title"]["content"],
        "[linkledger] Fault #12 on line telecom (China Telecom): serious fault, line down"
    );

    let hr = &h.wait_accepted(1, Duration::from_secs(5))[0];
    let doc = &hr["body"];
    assert_eq!(doc["schema"], "linkledger.notice/v1");
    assert_eq!(doc["id"], "fault:12:opened");
    assert_eq!(doc["kind"], "fault_opened");
    assert_eq!(doc["line"], "telecom");
    assert_eq!(doc["carrier"], "China Telecom");
    assert_eq!(doc["fault_id"], 12);
    assert_eq!(doc["class"], "serious");
    assert_eq!(hr["headers"]["idempotency-key"], "fault:12:opened");
    assert_eq!(hr["headers"]["x-linkledger-event"], "fault_opened");
}

#[tokio::test]
async fn a_wrong_robot_secret_is_refused_by_the_receiver_and_reported() {
    let d = Receiver::start("dingtalk", Some("the-right-secret"), &[], None);
    let h = Receiver::start("webhook", Some("the-right-secret"), &[], None);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "\n[[notify]]\nname = \"ding\"\nkind = \"dingtalk\"\nurl = \"{}\"\nsecret = \"a-wrong-secret\"\n\n[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"a-wrong-secret\"\n",
        d.url("/robot/send?access_token=t"),
        h.url("/x")
    );
    let (_, c) = config(dir.path(), &text);
    let n = notice(1, NoticeKind::FaultOpened, "opened", json!({}));
    let client = http_client();
    let ding = deliver(&client, &c.channels[0], &outgoing(&c, 0, &n))
        .await
        .unwrap_err();
    assert_eq!(ding.reason, "robot_error");
    assert!(
        ding.detail.contains("310000") && ding.detail.contains("sign not match"),
        "{ding}"
    );
    let hook = deliver(&client, &c.channels[1], &outgoing(&c, 1, &n))
        .await
        .unwrap_err();
    assert_eq!(hook.reason, "http_auth");
    assert!(hook.detail.starts_with("HTTP 401"), "{hook}");
    for msg in [ding.to_string(), hook.to_string()] {
        assert!(
            !msg.contains("a-wrong-secret") && !msg.contains("access_token"),
            "{msg}"
        );
    }
}

#[test]
fn notify_test_reports_what_each_far_end_answered() {
    let sink = SmtpSink::start("starttls", Some("alerts:s3cret-pass"), None);
    let w = Receiver::start("wecom", None, &[], None);
    let d = Receiver::start("dingtalk", Some("SEC0123456789abcdef"), &[], None);
    let f = Receiver::start("feishu", Some("feishu-secret"), &[], None);
    let h = Receiver::start("webhook", Some("hook-secret"), &[], None);
    let dir = tempfile::tempdir().unwrap();
    let channels = email_channel("mail", "zh-CN", &sink, "s3cret-pass")
        + &robot_channels(&w, &d, &f, &h)
        + &email_channel("mail-bad", "en", &sink, "not-the-password");
    let (path, _) = config(dir.path(), &channels);
    let out = Command::new(BIN)
        .args(["notify", "test", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for line in [
        "mail (email): accepted: SMTP 250 OK queued as 0001",
        "wecom (wecom): accepted: HTTP 200 {\"errcode\": 0, \"errmsg\": \"ok\"}",
        "dingtalk (dingtalk): accepted: HTTP 200 {\"errcode\": 0, \"errmsg\": \"ok\"}",
        "feishu (feishu): accepted: HTTP 200 {\"code\": 0, \"msg\": \"success\", \"data\": {}}",
        "hook (webhook): accepted: HTTP 200 {\"ok\": true}",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    assert!(
        stdout
            .contains("mail-bad (email): FAILED: the SMTP server refused the login of \"alerts\""),
        "{stdout}"
    );
    assert!(stderr.contains("1 of 6 channel(s) failed"), "{stderr}");
    assert!(!stdout.contains("not-the-password") && !stderr.contains("not-the-password"));
    let m = sink.wait_messages(1, Duration::from_secs(5));
    assert_eq!(m[0]["subject"], "[linkledger] linkledger 测试消息");

    // One channel by name; an unknown name is a usage error.
    let out = common::run(
        Command::new(BIN)
            .args(["notify", "test", "--channel", "hook", "-c"])
            .arg(&path),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert_eq!(h.accepted().len(), 2);
    let out = Command::new(BIN)
        .args(["notify", "test", "--channel", "nope", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no channel named \"nope\" in [[notify]] (configured: mail, wecom, dingtalk, feishu, hook, mail-bad)"));
}
