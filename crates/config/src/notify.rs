//! Alerting: `[alerts]` (what queues a notice: the deadline lead, budget
//! shares, flapping) and `[[notify]]` channels (email, the WeCom, DingTalk
//! and Feishu group robots, a signed webhook) with their routing. Secrets
//! (SMTP password, robot URLs with their keys, signing secrets) come inline,
//! from the environment or from a file, and never show in Debug output,
//! logs or errors.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveTime;
use serde::Deserialize;

use crate::values::Dur;
use linkledger_core::fault::FaultClass;
use linkledger_core::notice::NoticeKind;

/// `[alerts]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    #[serde(default = "ten_minutes")]
    pub deadline_lead: Dur,
    #[serde(default = "default_shares")]
    pub budget_shares: Vec<f64>,
    #[serde(default = "three")]
    pub flap_count: u32,
    #[serde(default = "fifteen_minutes")]
    pub flap_window: Dur,
}

impl Default for RawAlerts {
    fn default() -> Self {
        Self {
            deadline_lead: ten_minutes(),
            budget_shares: default_shares(),
            flap_count: three(),
            flap_window: fifteen_minutes(),
        }
    }
}

fn ten_minutes() -> Dur {
    Dur(Duration::from_secs(600))
}
fn fifteen_minutes() -> Dur {
    Dur(Duration::from_secs(900))
}
fn five_minutes() -> Dur {
    Dur(Duration::from_secs(300))
}
fn three() -> u32 {
    3
}
fn default_shares() -> Vec<f64> {
    vec![0.5, 0.8, 1.0]
}

/// What queues a notice, and when a line counts as flapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    pub deadline_lead: Duration,
    /// Shares of the annual cap, ascending, each notified once a year.
    pub budget_shares: Vec<f64>,
    /// A line with this many faults opened within `flap_window` is flapping.
    pub flap_count: u32,
    pub flap_window: Duration,
}

/// `[[notify]]`: one channel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    pub name: String,
    pub kind: ChannelKind,
    #[serde(default)]
    pub language: Language,
    pub events: Option<Vec<String>>,
    pub lines: Option<Vec<String>>,
    pub classes: Option<Vec<FaultClass>>,
    pub quiet_hours: Option<String>,
    #[serde(default = "five_minutes")]
    pub retry_max: Dur,
    /// The channel reaches this carrier (its hotline mailbox or robot):
    /// the first delivery of a fault of its lines is the fault's 申告.
    pub carrier: Option<String>,
    // email
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub tls: Option<SmtpTls>,
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    // robots and webhook
    pub url: Option<String>,
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    pub secret: Option<String>,
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
    #[serde(default)]
    pub mention_mobiles: Vec<String>,
    #[serde(default)]
    pub mention_users: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Wecom,
    Dingtalk,
    Feishu,
    Webhook,
    /// Alertmanager's v2 API.
    Alertmanager,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Wecom => "wecom",
            ChannelKind::Dingtalk => "dingtalk",
            ChannelKind::Feishu => "feishu",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Alertmanager => "alertmanager",
        }
    }
}

pub use linkledger_core::vocab::Language;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host.
    None,
}

/// A secret value: shown as `<hidden>` in Debug output.
#[derive(Clone, PartialEq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Which notices a channel takes, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// None: every kind.
    pub events: Option<Vec<NoticeKind>>,
    /// None: every line; "egress" is the whole egress, "daemon" the
    /// notices about linkledger itself.
    pub lines: Option<Vec<String>>,
    /// None: every class; notices without a class always pass.
    pub classes: Option<Vec<FaultClass>>,
    /// Local time (the daemon's zone) in which non-major notices wait.
    pub quiet: Option<(NaiveTime, NaiveTime)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// An extra CA (PEM) to trust, e.g. a site's own mail server's.
    pub ca_file: Option<PathBuf>,
    pub login: Option<(String, Secret)>,
    pub from: String,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Robot {
    /// The robot's webhook URL (it carries the robot's key).
    pub url: Secret,
    /// DingTalk / Feishu signing secret; webhook HMAC-SHA256 key.
    pub secret: Option<Secret>,
    pub mention_mobiles: Vec<String>,
    pub mention_users: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Email(Email),
    /// wecom, dingtalk, feishu and webhook.
    Http(Robot),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    pub language: Language,
    pub route: Route,
    /// The longest wait between two attempts (backoff doubles up to it).
    pub retry_max: Duration,
    pub target: Target,
    /// The carrier the channel reaches: delivering a fault of that
    /// carrier's lines to it reports the fault (申告).
    pub carrier: Option<String>,
}

type Invalid = (String, String);

pub fn validate_alerts(raw: RawAlerts) -> Result<Alerts, Invalid> {
    let key = |k: &str| format!("alerts.{k}");
    let mut shares = raw.budget_shares;
    if let Some(bad) = shares.iter().find(|s| !(**s > 0.0 && **s <= 10.0)) {
        return Err((
            key("budget_shares"),
            format!("{bad} is not a share of the cap; use numbers above 0, e.g. [0.5, 0.8, 1.0]"),
        ));
    }
    shares.sort_by(f64::total_cmp);
    shares.dedup();
    if raw.flap_count < 2 {
        return Err((
            key("flap_count"),
            "must be at least 2 (faults within flap_window)".into(),
        ));
    }
    if raw.flap_window.0 < Duration::from_secs(60) {
        return Err((key("flap_window"), "must be at least 1m".into()));
    }
    crate::bounds::check(&key("flap_window"), raw.flap_window.0)?;
    crate::bounds::check(&key("deadline_lead"), raw.deadline_lead.0)?;
    Ok(Alerts {
        deadline_lead: raw.deadline_lead.0,
        budget_shares: shares,
        flap_count: raw.flap_count,
        flap_window: raw.flap_window.0,
    })
}

fn parse_quiet(s: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (a, b) = s.split_once('-')?;
    let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").ok();
    Some((t(a)?, t(b)?)).filter(|(a, b)| a != b)
}

/// Validates `[[notify]]`; `lines` are the configured line ids.
pub fn validate_channels(raw: Vec<RawChannel>, lines: &[String]) -> Result<Vec<Channel>, Invalid> {
    let mut out: Vec<Channel> = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        let channel = validate_channel(i, c, lines, &out)?;
        out.push(channel);
    }
    Ok(out)
}

/// One `[[notify]]` table: its name, routing and target.
fn validate_channel(
    i: usize,
    c: RawChannel,
    lines: &[String],
    earlier: &[Channel],
) -> Result<Channel, Invalid> {
    let key = |k: &str| format!("notify[{i}].{k}");
    let name = c.name.trim().to_string();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err((
            key("name"),
            "must be a non-empty word; it names the channel in metrics and `notify test --channel`"
                .into(),
        ));
    }
    if earlier.iter().any(|o| o.name == name) {
        return Err((key("name"), format!("duplicate channel name {name:?}")));
    }
    check_keys_fit_kind(&c).map_err(|(k, m)| (key(&k), m))?;
    let events = match &c.events {
        None => None,
        Some(list) => Some(events_of(i, list)?),
    };
    if let Some(l) = c.lines.iter().flatten().find(|l| {
        !lines.contains(l) && l.as_str() != linkledger_core::EGRESS && l.as_str() != "daemon"
    }) {
        return Err((
            key("lines"),
            format!("{l:?} is not a configured line (nor \"egress\" or \"daemon\")"),
        ));
    }
    let quiet = match c.quiet_hours.as_deref() {
        None => None,
        Some(q) => Some(parse_quiet(q).ok_or_else(|| {
            (
                key("quiet_hours"),
                format!("{q:?} is not a span of local time; write it as \"22:00-07:00\""),
            )
        })?),
    };
    if c.retry_max.0 < Duration::from_secs(1) {
        return Err((key("retry_max"), "must be at least 1s".into()));
    }
    crate::bounds::check(&key("retry_max"), c.retry_max.0)?;
    let secret = |k: &str, v, env, file| {
        crate::values::secret(k, v, env, file).map_err(|(k, m)| (key(&k), m))
    };
    let target = match c.kind {
        ChannelKind::Email => email_target(i, &c)?,
        kind => {
            let url = secret("url", c.url, c.url_env, c.url_file)?
                .ok_or_else(|| (key("url"), format!("a {} channel needs url (or url_env, url_file): the robot's webhook address", kind.as_str())))?;
            let u = url.trim();
            if !(u.starts_with("http://") || u.starts_with("https://"))
                || url::Url::parse(u).is_err()
            {
                return Err((
                    key("url"),
                    "is not an http:// or https:// URL (its value is not shown: it may hold a key)"
                        .into(),
                ));
            }
            let secret = secret("secret", c.secret, c.secret_env, c.secret_file)?.map(Secret);
            Target::Http(Robot {
                url: Secret(u.to_string()),
                secret,
                mention_mobiles: c.mention_mobiles,
                mention_users: c.mention_users,
            })
        }
    };
    Ok(Channel {
        name,
        kind: c.kind,
        language: c.language,
        route: Route {
            events,
            lines: c.lines,
            classes: c.classes,
            quiet,
        },
        retry_max: c.retry_max.0,
        carrier: c.carrier,
        target,
    })
}

/// The notice kinds a channel is limited to.
fn events_of(i: usize, list: &[String]) -> Result<Vec<NoticeKind>, Invalid> {
    let key = |k: &str| format!("notify[{i}].{k}");
    list.iter()
        .map(|e| {
            NoticeKind::parse(e)
                .filter(|k| *k != NoticeKind::Test)
                .ok_or_else(|| {
                    let all: Vec<&str> = NoticeKind::ALL
                        .iter()
                        .filter(|k| **k != NoticeKind::Test)
                        .map(|k| k.as_str())
                        .collect();
                    (
                        key("events"),
                        format!("unknown event {e:?}; the events are {}", all.join(", ")),
                    )
                })
        })
        .collect()
}

/// An email channel's server, sender, recipients and login.
fn email_target(i: usize, c: &RawChannel) -> Result<Target, Invalid> {
    let key = |k: &str| format!("notify[{i}].{k}");
    let secret = |k: &str, v, env, file| {
        crate::values::secret(k, v, env, file).map_err(|(k, m)| (key(&k), m))
    };
    let host = c.smtp_host.clone().ok_or_else(|| {
        (
            key("smtp_host"),
            "an email channel needs smtp_host".to_string(),
        )
    })?;
    let tls = c.tls.unwrap_or(SmtpTls::Starttls);
    let port = c.smtp_port.unwrap_or(match tls {
        SmtpTls::Starttls => 587,
        SmtpTls::Tls => 465,
        SmtpTls::None => 25,
    });
    let from = c.from.clone().ok_or_else(|| {
        (
            key("from"),
            "an email channel needs a from address".to_string(),
        )
    })?;
    check_mailbox(&from).map_err(|m| (key("from"), m))?;
    if c.to.is_empty() {
        return Err((
            key("to"),
            "an email channel needs at least one recipient".into(),
        ));
    }
    for (j, t) in c.to.iter().enumerate() {
        check_mailbox(t).map_err(|m| (key(&format!("to[{j}]")), m))?;
    }
    let password = secret(
        "password",
        c.password.clone(),
        c.password_env.clone(),
        c.password_file.clone(),
    )?;
    let login = match (c.username.clone(), password) {
        (None, None) => None,
        (Some(u), Some(p)) => Some((u, Secret(p))),
        _ => {
            return Err((
                key("username"),
                "give both username and a password (or neither)".into(),
            ))
        }
    };
    if let Some(f) = c.ca_file.as_ref().filter(|f| !f.is_file()) {
        return Err((
            key("ca_file"),
            format!("{} is not a readable file", f.display()),
        ));
    }
    Ok(Target::Email(Email {
        host,
        port,
        tls,
        ca_file: c.ca_file.clone(),
        login,
        from,
        to: c.to.clone(),
    }))
}

/// Refuses keys that belong to another kind of channel, so that a
/// misplaced key is not silently ignored.
fn check_keys_fit_kind(c: &RawChannel) -> Result<(), (String, String)> {
    let email_keys = [
        ("smtp_host", c.smtp_host.is_some()),
        ("smtp_port", c.smtp_port.is_some()),
        ("tls", c.tls.is_some()),
        ("ca_file", c.ca_file.is_some()),
        ("username", c.username.is_some()),
        (
            "password",
            c.password.is_some() || c.password_env.is_some() || c.password_file.is_some(),
        ),
        ("from", c.from.is_some()),
        ("to", !c.to.is_empty()),
    ];
    let http_keys = [
        (
            "url",
            c.url.is_some() || c.url_env.is_some() || c.url_file.is_some(),
        ),
        (
            "secret",
            c.secret.is_some() || c.secret_env.is_some() || c.secret_file.is_some(),
        ),
        ("mention_mobiles", !c.mention_mobiles.is_empty()),
        ("mention_users", !c.mention_users.is_empty()),
    ];
    let kind = c.kind.as_str();
    let misplaced = |keys: &[(&'static str, bool)], for_what: &str| {
        keys.iter().find(|(_, set)| *set).map(|(k, _)| {
            (
                k.to_string(),
                format!("is for {for_what} channels, not {kind}"),
            )
        })
    };
    let wrong = match c.kind {
        ChannelKind::Email => misplaced(&http_keys, "wecom, dingtalk, feishu and webhook"),
        _ => misplaced(&email_keys, "email"),
    };
    if let Some(e) = wrong {
        return Err(e);
    }
    match c.kind {
        ChannelKind::Wecom | ChannelKind::Feishu if !c.mention_mobiles.is_empty() => Err((
            "mention_mobiles".into(),
            format!("{kind} robots mention by user id in markdown; use mention_users (mobiles are DingTalk's)"),
        )),
        ChannelKind::Wecom if c.secret.is_some() || c.secret_env.is_some() || c.secret_file.is_some() => Err((
            "secret".into(),
            "WeCom robots do not sign requests; the key is in the url".into(),
        )),
        ChannelKind::Alertmanager
            if c.secret.is_some() || c.secret_env.is_some() || c.secret_file.is_some() =>
        {
            Err((
                "secret".into(),
                "Alertmanager's API takes no signature; put basic-auth credentials in the url if it needs them".into(),
            ))
        }
        ChannelKind::Webhook | ChannelKind::Alertmanager
            if !c.mention_users.is_empty() || !c.mention_mobiles.is_empty() =>
        {
            Err((
                "mention_users".into(),
                format!("mentions are for the group robots, not {kind} channels"),
            ))
        }
        _ => Ok(()),
    }
}

fn check_mailbox(s: &str) -> Result<(), String> {
    s.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("{s:?} is not an email address ({e})"))
}
