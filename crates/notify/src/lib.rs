//! Alerts: notices from the ledger's outbox delivered to each configured
//! channel, in order, with retries and backoff, resuming after a restart.
//!
//! - [`plan`]: which notices a channel takes and when (routing, quiet
//!   hours), pure.
//! - [`message`]: what a notice says, in Chinese or English.
//! - [`email`], [`robots`]: the channels.
//! - [`sender`]: the delivery loop per channel.

pub mod alertmanager;
pub mod email;
pub mod message;
pub mod metrics;
pub mod plan;
pub mod robots;
pub mod sender;
pub mod status;

use serde_json::json;

use linkledger_config::notify::Target;
use linkledger_config::Channel;
use linkledger_ledger::outbox::{Notice, NoticeKind};
use message::Message;

/// One message on its way to one channel.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The notice's idempotency key (Message-ID, Idempotency-Key).
    pub key: String,
    pub kind: NoticeKind,
    /// The fault's class, which colours the message.
    pub class: Option<linkledger_core::fault::FaultClass>,
    pub message: Message,
    /// The key of the fault's first notice, to thread under.
    pub thread: Option<String>,
    /// The webhook's JSON document.
    pub document: serde_json::Value,
}

impl Outgoing {
    /// The message's colour by class: (HTML colour, Feishu card template,
    /// WeCom font colour). Major red, serious orange, general amber; a
    /// recovery green; anything else grey.
    pub fn colour(&self) -> (&'static str, &'static str, &'static str) {
        use linkledger_core::fault::FaultClass;
        match (self.kind, self.class) {
            (NoticeKind::FaultResolved | NoticeKind::LocalFaultResolved, _) => {
                ("#2e7d32", "green", "info")
            }
            (_, Some(FaultClass::Major)) => ("#b00020", "red", "warning"),
            (_, Some(FaultClass::Serious)) => ("#e65100", "orange", "warning"),
            (_, Some(FaultClass::General)) => ("#8a5a00", "yellow", "comment"),
            _ if self.message.urgent => ("#b00020", "red", "warning"),
            _ => ("#555555", "grey", "comment"),
        }
    }

    pub fn new(n: &Notice, message: Message, channel: &Channel, carrier: Option<&str>) -> Self {
        let thread = match (n.fault, n.kind) {
            (Some(_), NoticeKind::FaultOpened) | (None, _) => None,
            (Some(id), _) => Some(format!("fault:{id}:opened")),
        };
        let document = json!({
            "schema": robots::WEBHOOK_SCHEMA,
            "id": n.key,
            "notice_id": n.id,
            "kind": n.kind.as_str(),
            "at": linkledger_core::time::ledger_ts(n.at),
            "line": n.line,
            "carrier": carrier,
            "fault_id": n.fault,
            "class": n.class.map(|c| c.as_str()),
            "urgent": message.urgent,
            "subject": message.subject,
            "lines": message.lines,
            "detail": n.detail,
            "thread": thread,
            "channel": channel.name,
            "language": match channel.language {
                linkledger_config::Language::ZhCn => "zh-CN",
                linkledger_config::Language::En => "en",
            },
            "sent_at": linkledger_core::time::ledger_ts(linkledger_ledger::clock::wall_now()),
        });
        Outgoing {
            key: n.key.clone(),
            kind: n.kind,
            class: n.class,
            message,
            thread,
            document,
        }
    }
}

/// Why a delivery failed, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The far end is down or busy: retry for as long as it takes.
    Transient,
    /// The channel is misconfigured (login, key, signature): retry for as
    /// long as it takes, so that fixing the config delivers the backlog.
    Channel,
    /// The far end refuses this message: rejected after a few attempts so
    /// it does not hold up the rest.
    Message,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// A metric label from a small fixed set.
    pub reason: &'static str,
    pub kind: FailureKind,
    /// What the far end said (never a secret).
    pub detail: String,
}

impl Failure {
    pub fn new(reason: &'static str, kind: FailureKind, detail: String) -> Self {
        Failure {
            reason,
            kind,
            detail,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.reason)
    }
}

/// Delivers one message through a channel; Ok is the far end's answer.
pub async fn deliver(
    client: &reqwest::Client,
    channel: &Channel,
    o: &Outgoing,
) -> Result<String, Failure> {
    match &channel.target {
        Target::Email(e) => email::send(e, &channel.name, o).await,
        Target::Http(r) if channel.kind == linkledger_config::ChannelKind::Alertmanager => {
            let alerts = alertmanager::alerts_of(o, linkledger_ledger::clock::wall_now());
            if alerts.is_empty() {
                return Ok("nothing for Alertmanager".into());
            }
            alertmanager::post(client, &r.url.0, &alerts).await
        }
        Target::Http(r) => robots::send(client, channel.kind, r, o).await,
    }
}

/// A request that got no HTTP answer: what went wrong, down the error's
/// chain of causes ("error sending request: client error (Connect): tcp
/// connect error: Connection refused"), without the URL, which may hold a
/// robot's key.
pub fn request_failure(e: reqwest::Error) -> Failure {
    let e = e.without_url();
    let reason = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "http"
    };
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail += &format!(": {s}");
        source = s.source();
    }
    Failure::new(reason, FailureKind::Transient, detail)
}

/// Sends a test message through each channel, one after another; the
/// results in the same order.
pub async fn test_channels<'a>(
    c: &linkledger_config::Config,
    channels: &[&'a Channel],
) -> Vec<(&'a Channel, Result<String, Failure>)> {
    let client = http_client();
    let carriers: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for ch in channels {
        let now = linkledger_ledger::clock::wall_now();
        let n = Notice {
            id: 0,
            key: format!("test:{}", now.timestamp_millis()),
            kind: NoticeKind::Test,
            line: None,
            fault: None,
            class: None,
            at: now,
            queued_at: now,
            detail: json!({}),
        };
        let cx = message::Context {
            language: ch.language,
            tz: c.daemon.timezone,
            contract: &c.contract.name,
            config_path: c.path.display().to_string(),
            public_url: c.daemon.public_url.clone(),
            special: message::special_at(c, linkledger_ledger::clock::wall_now()),
            carriers: &carriers,
        };
        let o = Outgoing::new(&n, message::render(&n, None, &cx), ch, None);
        out.push((*ch, deliver(&client, ch, &o).await));
    }
    out
}

/// The HTTP client the robots and webhooks share: rustls, honours
/// HTTPS_PROXY / NO_PROXY from the environment, timeouts bound every attempt.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("linkledger/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a rustls HTTP client builds")
}
