//! `agent.toml`: one `[agent]` table, parsed strictly like the daemon's
//! config (errors name the file and the line and column, or the key).
//!
//! ```toml
//! [agent]
//! id = "cloud-sh"                        # as in the central's [[vantage]]
//! central = "https://198.18.255.2:9798"  # the central daemon's listen address
//! # or, for an active/standby pair, both (the leader takes the rounds):
//! # central = ["https://198.18.255.2:9798", "https://198.18.255.3:9798"]
//! token_file = "/etc/linkledger/agent.token"   # or token / token_env (≥ 32 characters)
//! ca_file = "/etc/linkledger/central-ca.pem"   # optional: a private CA
//! interval = "5s"                        # one round of every block target
//! timeout = "2s"
//! buffer = "/var/lib/linkledger-agent/buffer.db"
//! buffer_max_age = "7d"                  # rounds kept while the central is unreachable
//! anchors = ["198.18.200.1"]             # the agent's own side: none answering = unobserved
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::values::{Dur, Target};
use crate::ConfigError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    agent: RawAgent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    id: String,
    central: RawCentral,
    token: Option<String>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    #[serde(default = "five_s")]
    interval: Dur,
    #[serde(default = "two_s")]
    timeout: Dur,
    buffer: PathBuf,
    #[serde(default = "seven_days")]
    buffer_max_age: Dur,
    #[serde(default)]
    anchors: Vec<Target>,
}

/// One central, or the two daemons of an active/standby pair.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawCentral {
    One(String),
    Many(Vec<String>),
}

fn five_s() -> Dur {
    Dur(Duration::from_secs(5))
}
fn two_s() -> Dur {
    Dur(Duration::from_secs(2))
}
fn seven_days() -> Dur {
    Dur(Duration::from_secs(7 * 86_400))
}

#[derive(Clone)]
pub struct AgentConfig {
    pub path: PathBuf,
    pub id: String,
    /// The central daemon (the first of `centrals`).
    pub central: url::Url,
    /// Every central given: the daemons of an active/standby pair, tried
    /// in turn until one takes the request (the standby refuses batches).
    pub centrals: Vec<url::Url>,
    pub token: String,
    pub ca_file: Option<PathBuf>,
    pub interval: Duration,
    pub timeout: Duration,
    pub buffer: PathBuf,
    pub buffer_max_age: Duration,
    pub anchors: Vec<IpAddr>,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("id", &self.id)
            .field("central", &self.central.as_str())
            .field("token", &"<hidden>")
            .field("interval", &self.interval)
            .field("buffer", &self.buffer)
            .field("anchors", &self.anchors)
            .finish()
    }
}

impl AgentConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let err = |place: String, message: String| ConfigError {
            file: file.clone(),
            place,
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(String::new(), format!("cannot read the agent config: {e}")))?;
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            let place = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    format!("{line}:{col}: ")
                })
                .unwrap_or_default();
            err(place, crate::values::toml_message(&e))
        })?;
        validate(path, raw.agent).map_err(|(k, m)| err(format!("agent.{k}: "), m))
    }
}

fn validate(path: &Path, a: RawAgent) -> Result<AgentConfig, (String, String)> {
    if !crate::valid_id(&a.id) {
        return Err((
            "id".into(),
            format!(
                "{:?}: use lowercase letters, digits, '-' and '_', as in the central's [[vantage]]",
                a.id
            ),
        ));
    }
    let given = match a.central {
        RawCentral::One(u) => vec![u],
        RawCentral::Many(list) => list,
    };
    if given.is_empty() || given.len() > 2 {
        return Err((
            "central".to_string(),
            "give the central daemon's URL, or the two of an active/standby pair".to_string(),
        ));
    }
    let mut centrals = Vec::with_capacity(given.len());
    for u in &given {
        centrals.push(
            url::Url::parse(u)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| {
                    (
                        "central".to_string(),
                        format!("{u:?} is not an http(s) URL of the central daemon, e.g. \"https://198.18.255.2:9798\""),
                    )
                })?,
        );
    }
    let central = centrals[0].clone();
    let token =
        crate::values::secret("token", a.token, a.token_env, a.token_file)?.ok_or_else(|| {
            (
                "token".to_string(),
                "give one of token, token_env and token_file".to_string(),
            )
        })?;
    let min = crate::vantage::AGENT_TOKEN_MIN;
    if token.chars().count() < min || token.chars().any(char::is_whitespace) {
        return Err((
            "token".into(),
            format!("an agent token needs at least {min} characters and no spaces"),
        ));
    }
    if a.interval.0 < Duration::from_secs(1) {
        return Err((
            "interval".into(),
            format!("{:?} is too short; use at least 1s", a.interval.0),
        ));
    }
    crate::bounds::check("interval", a.interval.0)?;
    if a.timeout.0.is_zero() || a.timeout.0 >= a.interval.0 {
        return Err((
            "timeout".into(),
            format!(
                "{:?} must be more than 0 and less than interval ({:?})",
                a.timeout.0, a.interval.0
            ),
        ));
    }
    if a.anchors.is_empty() {
        return Err((
            "anchors".into(),
            "give at least one anchor on the agent's own side (IP literals): a round in which none answers is unobserved, never a vote for \"down\"".into(),
        ));
    }
    if a.buffer_max_age.0 < Duration::from_secs(60) {
        return Err(("buffer_max_age".into(), "must be at least 1m".into()));
    }
    crate::bounds::check("buffer_max_age", a.buffer_max_age.0)?;
    Ok(AgentConfig {
        path: path.to_path_buf(),
        id: a.id,
        central,
        centrals,
        token,
        ca_file: a.ca_file,
        interval: a.interval.0,
        timeout: a.timeout.0,
        buffer: a.buffer,
        buffer_max_age: a.buffer_max_age.0,
        anchors: a.anchors.into_iter().map(|t| t.0).collect(),
    })
}
