//! The far ends of alert channels, as real servers: an SMTP server
//! (aiosmtpd, `tests/support/smtp_sink.py`) and HTTP receivers standing in
//! for the WeCom, DingTalk and Feishu robots and a webhook endpoint
//! (`tests/support/robot_receiver.py`). Each runs on loopback, in the test's
//! own namespace or a lab namespace, and is killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The venv `.ci/run` builds with aiosmtpd and trustme.
pub const SMTP_PYTHON: &str = "/opt/linkledger-smtp/bin/python";

fn support(script: &str) -> PathBuf {
    super::repo().join("tests/support").join(script)
}

/// Starts `program args` (inside namespace `ns` if given) and waits for
/// its "READY <port>" line.
fn spawn_ready(ns: Option<&str>, program: &str, args: &[String]) -> (Child, u16) {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => Command::new(program),
    };
    let mut child = cmd
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("READY ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{program} did not start: {line:?}"));
    (child, port)
}

/// A robot or webhook receiver.
pub struct Receiver {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Receiver {
    /// kind: wecom | dingtalk | feishu | webhook; extra: --fail-first N,
    /// --stop-after N, --port P.
    pub fn start(kind: &str, secret: Option<&str>, extra: &[&str], ns: Option<&str>) -> Receiver {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            support("robot_receiver.py").display().to_string(),
            "--kind".into(),
            kind.into(),
            "--out".into(),
            dir.path().display().to_string(),
        ];
        if let Some(s) = secret {
            args.extend(["--secret".into(), s.into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let (child, port) = spawn_ready(ns, "python3", &args);
        Receiver { child, port, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        read_dir_sorted(self.dir.path(), "json")
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// The requests it accepted (answered 200 after checking them).
    pub fn accepted(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["status"] == 200 && r["verified"] == true)
            .collect()
    }

    pub fn wait_accepted(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "receiver accepted {} of {n} requests within {within:?}: {:#?}",
                got.len(),
                self.requests()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the receiver has exited (--stop-after).
    pub fn wait_exit(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "receiver did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_dir_sorted(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// An SMTP server.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpSink {
    /// tls: "starttls" (required), "tls" (implicit) or "none", with a test
    /// CA written to `ca()`; auth: "user:password" checked at login.
    pub fn start(tls: &str, auth: Option<&str>, ns: Option<&str>) -> SmtpSink {
        assert!(
            Path::new(SMTP_PYTHON).exists(),
            "{SMTP_PYTHON} is missing: .ci/run builds it (python3 -m venv /opt/linkledger-smtp; pip install aiosmtpd trustme)"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            support("smtp_sink.py").display().to_string(),
            "--out".into(),
            dir.path().display().to_string(),
        ];
        match tls {
            "starttls" => args.push("--tls".into()),
            "tls" => args.push("--implicit-tls".into()),
            _ => {}
        }
        if let Some(a) = auth {
            args.extend(["--auth".into(), a.into()]);
        }
        let (child, port) = spawn_ready(ns, SMTP_PYTHON, &args);
        SmtpSink { child, port, dir }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Every message received, parsed by Python's email package the way a
    /// mail client reads it: subject (decoded), from, to, message_id,
    /// in_reply_to, references, text, html, envelope_to, tls, received_at
    /// (Unix seconds), attachments (filename, content_type, sha256).
    pub fn messages(&self) -> Vec<Value> {
        read_dir_sorted(self.dir.path(), "eml")
            .iter()
            .map(|p| parse_eml(p))
            .collect()
    }

    pub fn wait_messages(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages arrived within {within:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PARSE_EML: &str = r#"
import email, email.policy, json, sys
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
def part(t):
    p = m.get_body(preferencelist=(t,))
    return p.get_content() if p is not None else None
print(json.dumps({
    'subject': str(m['subject']), 'from': str(m['from']), 'to': str(m['to']),
    'message_id': str(m['message-id']), 'in_reply_to': m['in-reply-to'] and str(m['in-reply-to']),
    'references': m['references'] and str(m['references']),
    'text': part('plain'), 'html': part('html'),
    'envelope_to': str(m['x-envelope-to']), 'tls': str(m['x-peer-tls']),
    'received_at': float(str(m['x-received-at'])),
    'attachments': [{'filename': a.get_filename(), 'content_type': a.get_content_type(),
                     'sha256': __import__('hashlib').sha256(a.get_payload(decode=True)).hexdigest()}
                    for a in m.iter_attachments()],
}, ensure_ascii=False))
"#;

fn parse_eml(p: &Path) -> Value {
    let out = super::run(Command::new("python3").args(["-c", PARSE_EML]).arg(p));
    serde_json::from_slice(&out.stdout).unwrap()
}
