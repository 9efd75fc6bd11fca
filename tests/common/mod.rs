//! Test harness: the namespace lab (deploy/lab/lab.sh) and a linkledger
//! daemon running inside it, both removed on drop, also when a test fails.
#![allow(dead_code)]
// These tests drive external processes in real time; tokio's clock is not involved.
#![allow(clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod postgres;
pub mod receivers;
pub mod skip;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_linkledger");

/// A child process, killed and reaped on drop (also when a test fails).
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the daemon in this namespace (`linkledger run -c CONFIG`), its
/// log appended to `log`.
pub fn start_loopback(config: &Path, log: &Path) -> Running {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Running(
        Command::new(BIN)
            .args(["run", "-c"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// True when `program` runs; a missing one fails the test, naming the
/// Debian package, unless skipping was asked for (see [`skip`]).
pub fn have_tool(program: &str, package: &str) -> bool {
    if Command::new(program).arg("--version").output().is_ok() {
        return true;
    }
    skip::cannot_run(
        &skip::this_test(),
        &format!("{program} is not installed (apt-get install {package})"),
    )
}

/// True when this process may send ICMP (root, CAP_NET_RAW or the
/// kernel's ping sockets); otherwise the test fails unless skipping was
/// asked for (see [`skip`]).
pub fn can_ping() -> bool {
    // Raw sockets (root, CAP_NET_RAW) or the kernel's ping sockets.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    let open = range
        .split_whitespace()
        .map(|v| v.parse::<i64>().unwrap_or(0))
        .collect::<Vec<_>>();
    let allowed = open.len() == 2 && open[0] <= open[1];
    if root || allowed {
        return true;
    }
    skip::cannot_run(
        &skip::this_test(),
        "no permission to send ICMP (root, CAP_NET_RAW or net.ipv4.ping_group_range)",
    )
}

/// Creates a ledger at `db` (the daemon's schema) holding the rows `sql`
/// inserts: a crafted ledger, its times worked out by hand in the test.
pub fn write_ledger(db: &Path, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        linkledger_ledger::open(db).await.unwrap().close().await;
        let raw = raw_ledger(db).await;
        sqlx::raw_sql(sql).execute(&raw).await.unwrap();
        raw.close().await;
    });
}

/// [`write_ledger`] on either backend: the schema applied by the ledger
/// crate, then the rows `sql` inserts.
pub fn write_ledger_to(l: &postgres::TestLedger, sql: &str) {
    if l.backend == postgres::Backend::Sqlite {
        return write_ledger(Path::new(&l.database), sql);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        linkledger_ledger::open_postgres(&l.database, None)
            .await
            .unwrap()
            .close()
            .await;
        let raw = l.raw().await;
        sqlx::raw_sql(sql).execute(&raw).await.unwrap();
        raw.close().await;
    });
}

/// The ledger of `c` as the daemon writes it: a run begun at `at` (from
/// `begun_by`), then `writes` through the daemon's own writer, written to
/// the end. Returns the ledger, still open.
pub async fn written_ledger(
    c: &linkledger_config::Config,
    at: chrono::DateTime<chrono::Utc>,
    begun_by: &str,
    writes: Vec<linkledger_ledger::write::LedgerWrite>,
) -> linkledger_ledger::Ledger {
    use linkledger_ledger::write::{run_writer, WriterRun, WriterStatus};
    let db = linkledger_ledger::connect(&c.daemon).await.unwrap();
    let start = linkledger_ledger::run::begin(&db, at, begun_by, 1000, &c.lines)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let writer = tokio::spawn(run_writer(
        db.clone(),
        WriterRun {
            run_id: start.run_id,
            clock: linkledger_ledger::clock::RunClock::start(),
            interval_ms: 1000,
        },
        c.fault_rules(),
        rx,
        std::sync::Arc::new(WriterStatus::default()),
        Duration::from_secs(5),
        None,
    ));
    for w in writes {
        tx.send(w).unwrap();
    }
    drop(tx);
    writer.await.unwrap();
    db
}

/// The ledger file at `db` opened bare, past the ledger crate: what a
/// test crafting rows by hand (or an attacker editing the file) uses.
pub async fn raw_ledger(db: &Path) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .busy_timeout(std::time::Duration::from_secs(5));
    sqlx::SqlitePool::connect_with(options).await.unwrap()
}

/// `linkledger budget --json -c CONFIG`, parsed.
pub fn budget_json(config: &Path) -> Value {
    let out = run(Command::new(BIN)
        .args(["budget", "--json", "-c"])
        .arg(config));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One line's view in `budget --json`.
pub fn budget_line<'a>(budget: &'a Value, line: &str) -> &'a Value {
    budget["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["line"] == line)
        .unwrap_or_else(|| panic!("no line {line:?} in the budget: {budget}"))
}

/// `linkledger report ARGS -c CONFIG --format json`, parsed; the file is
/// written in `dir`.
pub fn report_json(config: &Path, dir: &Path, args: &[&str]) -> Value {
    let out = dir.join("report.json");
    let o = Command::new(BIN)
        .arg("report")
        .args(args)
        .arg("-c")
        .arg(config)
        .args(["--format", "json", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "report {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// One HTTP/1.1 request to the daemon on loopback: the status (0 when it
/// cannot connect) and the body. The body is written after the head even
/// if the server answers first (413) and closes.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `f` holds, checking every 100 ms; fails naming `what`
/// after `within`.
pub fn wait_for(what: &str, within: Duration, f: impl FnMut() -> bool) {
    wait_every(what, within, Duration::from_millis(100), f)
}

/// [`wait_for`], checking every `every` (for checks that start a process).
pub fn wait_every(what: &str, within: Duration, every: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(every);
    }
}

pub fn sleep(s: f64) {
    std::thread::sleep(Duration::from_secs_f64(s));
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// True when the tests may create namespaces (root); otherwise the test
/// fails unless skipping was asked for (see [`skip`]).
pub fn can_use_netns(test: &str) -> bool {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if uid.unwrap_or(false) {
        return true;
    }
    skip::cannot_run(test, "needs root to create network namespaces")
}

/// Runs a command to its end; panics with its stderr unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One lab; its namespaces are named `<prefix>-mon` etc.
pub struct Lab {
    pub prefix: String,
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn up(prefix: &str) -> Lab {
        let lab = Lab {
            prefix: prefix.to_string(),
            dir: tempfile::tempdir().unwrap(),
        };
        lab.script(&["up"]);
        lab
    }

    pub fn script(&self, args: &[&str]) -> Output {
        let script = repo().join("deploy/lab/lab.sh");
        let (cmd, rest) = args.split_first().unwrap();
        run(Command::new(script).arg(cmd).arg(&self.prefix).args(rest))
    }

    pub fn fault(&self, what: &str, arg: &str) {
        self.script(&["fault", what, arg]);
    }

    /// Injects a fault, returning the times before and after the command:
    /// it took effect somewhere in between.
    pub fn timed_fault(&self, what: &str, arg: &str) -> (f64, f64) {
        let before = now_epoch();
        self.fault(what, arg);
        (before, now_epoch())
    }

    /// Writes the lab's linkledger config into the lab's directory.
    pub fn config(&self) -> PathBuf {
        let db = self.dir.path().join("ledger.db");
        let out = self.script(&["config", db.to_str().unwrap(), "127.0.0.1:9798"]);
        let path = self.dir.path().join("linkledger.toml");
        std::fs::write(&path, out.stdout).unwrap();
        path
    }

    /// Starts the daemon in the monitor namespace.
    pub fn start_daemon(&self, config: &Path) -> Daemon {
        self.start_daemon_with(config, &[])
    }

    /// Starts the daemon in the monitor namespace with extra environment
    /// (libfaketime's, say).
    pub fn start_daemon_with(&self, config: &Path, env: &[(String, String)]) -> Daemon {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &format!("{}-mon", self.prefix),
                BIN,
                "run",
                "-c",
            ])
            .arg(config)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start linkledger");
        Daemon {
            child: Some(child),
            ns: format!("{}-mon", self.prefix),
            config: config.to_path_buf(),
            log: self.dir.path().join("daemon.log"),
        }
    }

    /// Runs a command in one of the lab's namespaces, in the background.
    pub fn spawn_in(&self, ns: &str, program: &str, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &format!("{}-{ns}", self.prefix), program])
            .args(args)
            .spawn()
            .expect("spawn in namespace")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let script = repo().join("deploy/lab/lab.sh");
        let _ = Command::new(script).args(["down", &self.prefix]).status();
        if std::thread::panicking() {
            if let Ok(log) = std::fs::read_to_string(self.dir.path().join("daemon.log")) {
                eprintln!("--- daemon log ({}) ---\n{log}", self.prefix);
            }
        }
    }
}

/// A running daemon; killed on drop.
pub struct Daemon {
    child: Option<Child>,
    pub ns: String,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends a signal and waits for the process to exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        run(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not exit within 10 s of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET a path from the daemon's listener (inside its namespace).
    pub fn get(&self, path: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "curl", "-s", "-m", "2"])
            .arg(format!("http://127.0.0.1:9798{path}"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A request to the daemon's API with a bearer token; returns the
    /// HTTP status and the parsed JSON body.
    pub fn api(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns", "exec", &self.ns, "curl", "-s", "-m", "5", "-X", method,
        ])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args([
            "-H",
            "Content-Type: application/json",
            "-w",
            "\n%{http_code}",
        ]);
        if let Some(b) = body {
            cmd.args(["--data-binary", &b.to_string()]);
        }
        let out = cmd
            .arg(format!("http://127.0.0.1:9798{path}"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (
            code.trim().parse().unwrap_or(0),
            serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
        )
    }

    /// The value of one metric sample, e.g. `linkledger_line_up{line="telecom"}`.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        metric_value(&self.get("/metrics"), sample)
    }

    /// The sum of every sample whose name and labels start with `prefix`.
    pub fn metric_sum(&self, prefix: &str) -> f64 {
        self.get("/metrics")
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Waits until every listed line is up (the lab has settled).
    pub fn wait_up(&self, lines: &[&str], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let text = self.get("/metrics");
            if lines.iter().all(|l| {
                metric_value(&text, &format!("linkledger_line_up{{line=\"{l}\"}}")) == Some(1.0)
            }) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "lines {lines:?} not up within {within:?}; metrics:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn metric_value(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
}

/// Runs `linkledger outages --json` (or `gaps --json`) and parses the list.
pub fn ledger_json(config: &Path, command: &str, extra: &[&str]) -> Vec<Value> {
    let out = run(Command::new(BIN)
        .arg(command)
        .arg("-c")
        .arg(config)
        .arg("--json")
        .args(extra));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Outages of one line.
pub fn outages(config: &Path, line: &str) -> Vec<Value> {
    ledger_json(config, "outages", &["--line", line])
}

/// RFC 3339 of a JSON field, as seconds since the epoch.
pub fn epoch(v: &Value) -> f64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis() as f64
        / 1000.0
}

pub fn now_epoch() -> f64 {
    linkledger_ledger::clock::wall_now().timestamp_millis() as f64 / 1000.0
}

/// Runs a SQL query against the ledger with sqlite through the daemon's own
/// reader: here via python3's sqlite3 module, which every CI machine has.
pub fn sql(db: &Path, query: &str) -> String {
    let out = run(Command::new("python3").args([
        "-c",
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('\\n'.join('|'.join(str(x) for x in r) for r in c.execute(sys.argv[2])))",
        db.to_str().unwrap(),
        query,
    ]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether an edge the daemon recorded fits a fault injected between
/// `when.0` and `when.1`: the first round after it took effect is at most
/// one interval later, and no round before the command began saw it (a
/// few milliseconds for the daemon's timeline against this clock).
pub fn edge_fits(edge: f64, when: (f64, f64), interval: f64) -> bool {
    edge >= when.0 - 0.02 && edge <= when.1 + interval + 0.02
}
