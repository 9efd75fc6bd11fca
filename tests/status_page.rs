//! The built-in status page in a real browser: Debian's Chromium, headless,
//! loads `/` from the daemon on loopback, runs its countdown script, and the
//! page's figures are checked against the ledger (`linkledger budget --json`
//! and `outages --json`). A screenshot is saved to `target/status-page.png`
//! (the README's picture was taken this way).

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{ledger_json, run, start_loopback, BIN};

fn wait_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = Command::new("curl")
            .args(["-s", "-m", "2", &format!("http://127.0.0.1:{port}/metrics")])
            .output()
            .unwrap();
        let m = String::from_utf8_lossy(&out.stdout);
        if ["telecom", "unicom"].iter().all(|l| {
            common::metric_value(&m, &format!("linkledger_line_up{{line=\"{l}\"}}")) == Some(1.0)
        }) {
            return;
        }
        assert!(Instant::now() < deadline, "lines not up");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn chromium(args: &[&str]) -> String {
    let out = run(Command::new("timeout")
        .args([
            "90",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args(args));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The text of the element that opens with `start` (up to its `</tr>`).
fn row<'a>(dom: &'a str, start: &str) -> &'a str {
    let at = dom
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in\n{dom}"));
    let end = dom[at..].find("</tr>").unwrap();
    &dom[at..at + end]
}

fn charged(row: &str) -> f64 {
    let at = row.find("data-charged-s=\"").unwrap() + "data-charged-s=\"".len();
    row[at..].split('"').next().unwrap().parse().unwrap()
}

#[test]
fn the_status_page_shows_the_ledger_in_a_real_browser() {
    if !common::have_tool("chromium", "chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let demo = std::fs::read_to_string(common::repo().join("config/demo.toml")).unwrap();
    let config = dir.path().join("linkledger.toml");
    std::fs::write(
        &config,
        demo.replace(
            "database = \"linkledger-demo.db\"",
            &format!("database = {:?}", dir.path().join("ledger.db")),
        )
        .replace("127.0.0.1:9798", &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let log = dir.path().join("daemon.log");
    // A first run observes both lines for a few seconds ...
    let first = start_loopback(&config, &log);
    wait_up(port);
    std::thread::sleep(Duration::from_secs(5));
    drop(first);
    // ... during which unicom had a 3-second outage (recorded as the writer
    // does), and telecom has an open general fault since 5 minutes ago.
    let db = dir.path().join("ledger.db");
    run(Command::new("python3").args(["-c", r#"
import sqlite3, sys, datetime
c = sqlite3.connect(sys.argv[1])
run, started = c.execute("SELECT id, started_at FROM runs ORDER BY id DESC LIMIT 1").fetchone()
t0 = datetime.datetime.strptime(started, '%Y-%m-%dT%H:%M:%S.%fZ')
f = lambda d: (t0 + datetime.timedelta(seconds=d)).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'
c.execute("INSERT INTO outages (line, start_at, start_after, end_at, end_after, cause, interval_ms, run_opened, run_closed) VALUES ('unicom', ?, ?, ?, ?, 'upstream_unreachable', 1000, ?, ?)", (f(1), f(0), f(4), f(3), run, run))
now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
c.execute("INSERT INTO faults (id, line, detected_at, trigger, class) VALUES (1, 'telecom', ?, 'degradation', 'general')", (now.strftime('%Y-%m-%dT%H:%M:%S.000Z'),))
c.commit()
"#]).arg(&db));
    let _daemon = start_loopback(&config, &log);
    wait_up(port);
    let url = format!("http://127.0.0.1:{port}/");
    let dom = chromium(&["--dump-dom", &url]);

    // Every line's state.
    for line in ["telecom", "unicom"] {
        let r = row(&dom, &format!("<tr data-line=\"{line}\">"));
        assert!(
            r.contains("class=\"state up\"") && r.contains("正常"),
            "{r}"
        );
    }
    // The budget and the outage, as the ledger has them.
    let budget: serde_json::Value = serde_json::from_slice(
        &run(Command::new(BIN)
            .args(["budget", "--json", "-c"])
            .arg(&config))
        .stdout,
    )
    .unwrap();
    let unicom_budget = budget["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["line"] == "unicom")
        .unwrap();
    let charged_year = unicom_budget["charged_s"].as_f64().unwrap();
    assert!((charged_year - 3.0).abs() < 0.01, "{unicom_budget}");
    let r = row(&dom, "<tr data-line=\"unicom\">");
    assert!((charged(r) - charged_year).abs() < 0.001, "{r}");
    assert!(r.contains("3秒"), "{r}");
    let outages = ledger_json(&config, "outages", &[]);
    assert_eq!(outages.len(), 1);
    let r = row(&dom, &format!("<tr data-outage=\"{}\">", outages[0]["id"]));
    assert!(
        (charged(r) - outages[0]["charged_s"].as_f64().unwrap()).abs() < 0.001,
        "{r}"
    );
    assert!(
        r.contains("unicom") && r.contains("上游锚点不可达") && !r.contains("upstream_unreachable"),
        "{r}"
    );
    // The open fault, its deadlines counting down (the script has run:
    // the server wrote due times, the browser shows what is left).
    let r = row(&dom, "<tr data-fault=\"1\">");
    assert!(r.contains("一般故障"), "{r}");
    assert!(
        r.contains("响应: <span data-due=") && r.contains(">剩余 2"),
        "{r}"
    );
    assert!(r.contains("维修报告: 待定（故障修复后起算）"), "{r}");
    assert!(r.contains("尚无处理记录"), "{r}");
    // Our own side's faults have their section (none here).
    assert!(dom.contains("id=\"local-faults\""), "{dom}");
    // The egress row has its state: up, since both lines are.
    let r = row(&dom, "<tr data-line=\"egress\">");
    assert!(r.contains("class=\"state up\""), "{r}");
    assert!(!dom.contains("egress-banner"));
    // One language: no identifier of the ledger's in the text (tags and
    // attributes aside).
    let mut text = String::new();
    let mut in_tag = false;
    let shown = &dom[dom.find("</style>").unwrap()..dom.find("<script>").unwrap_or(dom.len())];
    for c in shown.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let codes: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.contains('_') && w.chars().any(|c| c.is_ascii_lowercase()))
        .collect();
    assert!(
        codes.is_empty(),
        "identifiers on the Chinese page: {codes:?}"
    );
    // One document: nothing fetched from anywhere.
    for external in ["src=\"http", "href=\"http", "<link", "@import", "url("] {
        assert!(!dom.contains(external), "external reference {external}");
    }
    assert!(dom.contains("<meta http-equiv=\"refresh\" content=\"15\">"));

    let en = chromium(&["--dump-dom", &format!("{url}?lang=en")]);
    assert!(
        en.contains("Open faults") && en.contains(">up<") && en.contains(" left<"),
        "{en}"
    );

    let shot = common::repo().join("target/status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&[
        "--window-size=1200,760",
        &format!("--screenshot={}", shot.display()),
        &url,
    ]);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 20_000, "screenshot of {size} bytes");
}
