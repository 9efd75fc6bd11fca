//! An active/standby pair on one PostgreSQL ledger, across the namespace
//! lab (root only): two daemons in the monitor namespace, the PostgreSQL
//! server on the lab's database host (each daemon reaches it at its own
//! address, so one can be cut off alone). The leader killed in an outage,
//! the leader cut off from the database for 30 s, the database restarted
//! under both: one outage with the right edges, no gap, every alert once,
//! nothing lost or written twice.

#![allow(clippy::disallowed_types)] // real-time orchestration of child processes

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::receivers::Receiver;
use common::*;
use serde_json::Value;

/// The lab's PostgreSQL server, on its database host; stopped on drop.
struct LabPg {
    dir: PathBuf,
}

impl LabPg {
    fn start(lab: &Lab) -> LabPg {
        let dir = PathBuf::from(format!("/tmp/{}-pg", lab.prefix));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(repo().join("tests/support/pg_cluster.sh"))
            .arg("start")
            .arg(&dir)
            .arg("5432")
            .env("PG_NETNS", format!("{}-db", lab.prefix))
            .env("PG_LISTEN", "198.18.70.1,198.18.71.1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = LabPg { dir };
        pg.sql("postgres", "CREATE DATABASE ledger");
        pg
    }

    /// One value (or rows, tab-separated) from psql over the server's
    /// socket (reachable from any namespace).
    fn sql(&self, db: &str, query: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", "5432", "-U", "linkledger", "-d", db, "-c", query])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{query}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn script(&self, what: &str) {
        let ok = Command::new(repo().join("tests/support/pg_cluster.sh"))
            .arg(what)
            .arg(&self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "pg_cluster.sh {what}");
    }
}

impl Drop for LabPg {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/support/pg_cluster.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// One daemon of the pair, in the monitor namespace; killed on drop.
struct Instance {
    name: &'static str,
    ns: String,
    port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Instance {
    /// The lab's config for instance `name`: the same lines and terms as
    /// its partner's; its own listener, state folder and database address
    /// (`db`: 1 or 2), and `extra` appended (alert channels).
    fn configure(lab: &Lab, name: &'static str, db: u8, port: u16, extra: &str) -> Instance {
        let dir = lab.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let out = lab.script(&["config", "unused.db", &format!("127.0.0.1:{port}")]);
        let text = String::from_utf8(out.stdout).unwrap().replacen(
            "database = \"unused.db\"\n",
            &format!(
                "database = \"postgres://linkledger@198.18.7{}.1:5432/ledger\"\nactive_standby = true\ninstance = \"{name}\"\nstate_dir = \"{}\"\n",
                db - 1,
                dir.display()
            ),
            1,
        ) + extra;
        let config = dir.join("linkledger.toml");
        std::fs::write(&config, text).unwrap();
        Instance {
            name,
            ns: format!("{}-mon", lab.prefix),
            port,
            log: dir.join("daemon.log"),
            config,
            child: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.child = Some(
            Command::new("ip")
                .args(["netns", "exec", &self.ns, BIN, "run", "-c"])
                .arg(&self.config)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }

    fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        run(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn metrics(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "curl", "-s", "-m", "5"])
            .arg(format!("http://127.0.0.1:{}/metrics", self.port))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether it leads (None: no answer).
    fn leads(&self) -> Option<bool> {
        metric_value(
            &self.metrics(),
            &format!("linkledger_leader{{daemon=\"{}\"}}", self.name),
        )
        .map(|v| v == 1.0)
    }

    fn wait_role(&self, leading: bool, within: Duration) {
        let deadline = Instant::now() + within;
        while self.leads() != Some(leading) {
            assert!(
                Instant::now() < deadline,
                "{} did not {} within {within:?}:\n{}",
                self.name,
                if leading { "lead" } else { "stand by" },
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_lines_up(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let m = self.metrics();
            let up = ["telecom", "telecom6"].iter().all(|l| {
                metric_value(&m, &format!("linkledger_line_up{{line=\"{l}\"}}")) == Some(1.0)
            });
            if up {
                return;
            }
            assert!(Instant::now() < deadline, "{}: lines not up", self.name);
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A CLI command on the ledger (in the monitor namespace, which
    /// reaches the database), parsed.
    fn cli(&self, args: &[&str]) -> Value {
        let out = run(Command::new("ip")
            .args(["netns", "exec", &self.ns, BIN])
            .args(args)
            .arg("-c")
            .arg(&self.config));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- {} log ---\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// A lab with its database, and the pair started: `a` leading, `b`
/// standing by, both seeing both lines up.
fn pair(lab: Lab, extra: &str) -> (Lab, LabPg, Instance, Instance) {
    let pg = LabPg::start(&lab);
    let mut a = Instance::configure(&lab, "monitor-a", 1, 9798, extra);
    let mut b = Instance::configure(&lab, "monitor-b", 2, 9799, extra);
    a.start();
    a.wait_role(true, Duration::from_secs(20));
    b.start();
    b.wait_role(false, Duration::from_secs(20));
    a.wait_lines_up(Duration::from_secs(15));
    b.wait_lines_up(Duration::from_secs(15));
    (lab, pg, a, b)
}

/// Sleeps until 3 s into the next minute.
fn into_next_minute() {
    sleep(60.0 - now_epoch().rem_euclid(60.0) + 3.0);
}

/// The start of the minute `t` (Unix seconds) is in.
fn minute_of(t: f64) -> f64 {
    t - t.rem_euclid(60.0)
}

/// The daemon gaps in the ledger.
fn daemon_gaps(pg: &LabPg) -> String {
    pg.sql(
        "ledger",
        "SELECT count(*) FROM gaps WHERE reason = 'daemon_not_running'",
    )
}

/// Every full minute in which the ledger holds fewer or more echoes to the
/// telecom anchor 198.19.100.1 than one a second: (minute, sent).
fn minutes_off(pg: &LabPg, from: f64, to: f64) -> Vec<(String, i64)> {
    let rows = pg.sql(
        "ledger",
        "SELECT minute, CAST(sum(sent) AS BIGINT) FROM probe_minutes WHERE line = 'telecom' AND target = '198.19.100.1' GROUP BY minute ORDER BY minute",
    );
    rows.lines()
        .filter_map(|r| {
            let (minute, sent) = r.split_once('\t')?;
            let at = chrono::DateTime::parse_from_rfc3339(minute)
                .ok()?
                .timestamp() as f64;
            let sent: i64 = sent.parse().ok()?;
            let inside = at >= from && at + 60.0 <= to;
            (inside && !(58..=61).contains(&sent)).then(|| (minute.to_string(), sent))
        })
        .collect()
}

/// The leader killed during an outage: the standby leads within 3
/// intervals, the outage is one with the edges of the fault, no daemon
/// gap is recorded, and every alert goes out once.
#[test]
fn the_leader_killed_in_an_outage_hands_over_with_one_outage_no_gap_and_each_alert_once() {
    if !can_use_netns("pair kill") || !have_tool("psql", "postgresql-client") {
        return;
    }
    let lab = Lab::up("llpk");
    let robot = Receiver::start("wecom", None, &[], Some("llpk-mon"));
    let channel = format!(
        "\n[[notify]]\nname = \"noc-robot\"\nkind = \"wecom\"\nurl = \"{}\"\nevents = [\"fault_opened\", \"fault_resolved\"]\n",
        robot.url("/cgi-bin/webhook/send?key=lab")
    );
    let (lab, pg, mut a, mut b) = pair(lab, &channel);
    sleep(2.0);
    let cut = lab.timed_fault("blackhole", "on");
    // Declared by the leader, its alert sent.
    let opened = robot.wait_accepted(1, Duration::from_secs(15));
    assert!(!opened.is_empty());
    sleep(1.0);
    let killed = now_epoch();
    a.signal("KILL");
    let t = Instant::now();
    b.wait_role(true, Duration::from_secs(10));
    let took = t.elapsed().as_secs_f64();
    assert!(
        took <= 3.0,
        "the standby took {took:.2} s to lead, more than 3 intervals"
    );
    sleep(5.0);
    let restored = lab.timed_fault("blackhole", "off");
    sleep(5.0);
    assert!(b.signal("TERM").success());

    assert_eq!(daemon_gaps(&pg), "0", "no time unobserved");
    for line in ["telecom", "telecom6"] {
        let list = b.cli(&["outages", "--json", "--line", line]);
        let list = list.as_array().unwrap();
        assert_eq!(
            list.len(),
            1,
            "{line}: one outage across the failover: {list:#?}"
        );
        let o = &list[0];
        let (start, end) = (epoch(&o["start"]), epoch(&o["end"]));
        assert!(
            edge_fits(start, cut, 1.0),
            "{line}: start {start} vs cut {cut:?}"
        );
        assert!(
            edge_fits(end, restored, 1.0),
            "{line}: end {end} vs restored {restored:?}"
        );
        assert!(start < killed && end > killed, "{line}: spans the kill");
        assert_eq!(o["unobserved_s"].as_f64(), Some(0.0), "{line}: {o}");
        assert_eq!(o["charged_s"], o["duration_s"], "{line}: {o}");
    }
    let runs = pg.sql("ledger", "SELECT count(*) FROM runs");
    assert_eq!(runs, "2", "one run per leadership");
    let failover = pg.sql(
        "ledger",
        "SELECT detail FROM notices WHERE kind = 'monitor_failover'",
    );
    let failover: Value = serde_json::from_str(&failover).unwrap();
    assert_eq!(
        (&failover["from"], &failover["to"]),
        (&Value::from("monitor-a"), &Value::from("monitor-b")),
        "the administrators are told"
    );
    // Each fault once; each alert delivered once, by whichever instance led.
    let faults = pg.sql("ledger", "SELECT count(*) FROM faults");
    let resolved: usize = pg
        .sql(
            "ledger",
            "SELECT count(*) FROM notices WHERE kind = 'fault_resolved'",
        )
        .parse()
        .unwrap();
    assert!(resolved >= 1, "the faults were resolved");
    // (Alerts due together go out in one message, each recorded as sent.)
    let not_once = pg.sql(
        "ledger",
        "SELECT count(*) FROM notices n WHERE n.kind IN ('fault_opened', 'fault_resolved') AND \
         (SELECT count(*) FROM deliveries d WHERE d.notice_id = n.id AND d.channel = 'noc-robot' AND d.outcome = 'sent') <> 1",
    );
    assert_eq!(not_once, "0", "every alert recorded as sent exactly once");
    let bodies = robot.accepted();
    let mut texts: Vec<String> = bodies.iter().map(|b| b.to_string()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), bodies.len(), "no message twice: {bodies:#?}");
    assert!(
        bodies.len() >= 2,
        "the opening and the resolution: {bodies:#?}"
    );
    assert!(faults.parse::<usize>().unwrap() >= 1);
}

/// The leader cut off from the database for 30 s while it goes on
/// probing: the standby takes over, the old leader's queued writes are
/// refused by the fence, it stands by once it reaches the database again,
/// and the ledger has every second once: no gap, one outage.
#[test]
fn a_leader_cut_off_from_the_database_is_fenced_and_stands_by_when_it_heals() {
    if !can_use_netns("pair partition") || !have_tool("psql", "postgresql-client") {
        return;
    }
    let (lab, pg, mut a, mut b) = pair(Lab::up("llpp"), "");
    // Into a minute of which both saw every second (the minute the pair
    // started in is partly before it).
    into_next_minute();
    let began = now_epoch();
    lab.script(&["fault", "db-partition", "1", "on"]);
    let t = Instant::now();
    b.wait_role(true, Duration::from_secs(10));
    let took = t.elapsed().as_secs_f64();
    // An outage while the old leader is cut off: both see it.
    sleep(3.0);
    let cut = lab.timed_fault("blackhole", "on");
    sleep(10.0);
    let restored = lab.timed_fault("blackhole", "off");
    let left = 30.0 - t.elapsed().as_secs_f64();
    if left > 0.0 {
        sleep(left);
    }
    lab.script(&["fault", "db-partition", "1", "off"]);
    // It finds the lease another's and stands by.
    wait_for("the old leader deposed", Duration::from_secs(10), || {
        std::fs::read_to_string(&a.log).is_ok_and(|l| l.contains("DEPOSED"))
    });
    a.wait_role(false, Duration::from_secs(10));
    // Still standing by, the new leader still leading.
    sleep(5.0);
    assert_eq!(a.leads(), Some(false));
    assert_eq!(b.leads(), Some(true));
    assert!(took <= 3.5, "took {took:.2} s");
    sleep(60.0 - (now_epoch() - began).rem_euclid(60.0) + 1.0);
    let ended = now_epoch();
    assert!(b.signal("TERM").success());
    assert!(a.signal("TERM").success());

    assert_eq!(daemon_gaps(&pg), "0", "no time unobserved");
    let list = b.cli(&["outages", "--json", "--line", "telecom"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:#?}");
    let (start, end) = (epoch(&list[0]["start"]), epoch(&list[0]["end"]));
    assert!(edge_fits(start, cut, 1.0), "start {start} vs {cut:?}");
    assert!(edge_fits(end, restored, 1.0), "end {end} vs {restored:?}");
    // Nothing the old leader queued while cut off reached the ledger: its
    // run's heartbeat stops where it was cut off.
    let a_run_heartbeat = pg.sql(
        "ledger",
        "SELECT heartbeat_at FROM runs ORDER BY id LIMIT 1",
    );
    let hb = chrono::DateTime::parse_from_rfc3339(&a_run_heartbeat)
        .unwrap()
        .timestamp_millis() as f64
        / 1000.0;
    assert!(
        hb < began + 1.5,
        "old leader's heartbeat {hb} after the cut at {began}"
    );
    let off = minutes_off(&pg, minute_of(began), ended);
    assert!(
        off.is_empty(),
        "minutes with echoes lost or doubled: {off:?}"
    );
    let v = b.cli(&["verify", "--json"]);
    assert_eq!(v["intact"], true, "{v}");
}

/// PostgreSQL restarted under the pair: the leader queues (the gauge shows
/// the backlog), reconnects and writes everything; it still leads, the
/// standby still stands by, and no second is lost or doubled.
#[test]
fn postgresql_restarted_under_the_pair_keeps_the_leader_and_loses_nothing() {
    if !can_use_netns("pair restart") || !have_tool("psql", "postgresql-client") {
        return;
    }
    let (_lab, pg, mut a, mut b) = pair(Lab::up("llpr"), "");
    into_next_minute();
    let began = now_epoch();
    pg.script("down");
    let mut backlog = 0.0f64;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if let Some(v) = metric_value(&a.metrics(), "linkledger_ledger_pending_writes") {
            backlog = backlog.max(v);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    pg.script("up");
    let t = Instant::now();
    loop {
        let pending = metric_value(&a.metrics(), "linkledger_ledger_pending_writes");
        if pending == Some(0.0) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "backlog not written");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(backlog > 0.0, "the gauge showed the backlog");
    sleep(5.0);
    assert_eq!(a.leads(), Some(true), "the leader still leads");
    assert_eq!(b.leads(), Some(false), "the standby still stands by");
    sleep(60.0 - (now_epoch() - began).rem_euclid(60.0) + 1.0);
    let ended = now_epoch();
    assert!(b.signal("TERM").success());
    assert!(a.signal("TERM").success());
    assert_eq!(daemon_gaps(&pg), "0");
    assert_eq!(pg.sql("ledger", "SELECT count(*) FROM runs"), "1");
    let off = minutes_off(&pg, minute_of(began), ended);
    assert!(
        off.is_empty(),
        "minutes with echoes lost or doubled: {off:?}"
    );
    let v = a.cli(&["verify", "--json"]);
    assert_eq!(v["intact"], true, "{v}");
}
