//! The optional `[line.snmp]` section: which agent to poll for the line's
//! interface, how to authenticate, and how often. Secrets come from the file,
//! an environment variable (`*_env`) or a file path (`*_file`), and never
//! appear in errors, logs or `check-config` output.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use linkledger_probes::snmp::interface::IfSelector;
use linkledger_probes::snmp::{Credentials, V3Auth};
use serde::Deserialize;

use crate::values::{secret, Dur};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSnmp {
    pub agent: String,
    pub version: String,
    pub community: Option<String>,
    pub community_env: Option<String>,
    pub community_file: Option<PathBuf>,
    pub user: Option<String>,
    pub auth: Option<String>,
    pub auth_password: Option<String>,
    pub auth_password_env: Option<String>,
    pub auth_password_file: Option<PathBuf>,
    pub privacy_password: Option<String>,
    pub privacy_password_env: Option<String>,
    pub privacy_password_file: Option<PathBuf>,
    pub if_name: Option<String>,
    pub if_alias: Option<String>,
    pub if_index: Option<u32>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    pub retries: Option<u32>,
}

/// A validated `[line.snmp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSnmp {
    pub agent: SocketAddr,
    pub credentials: Credentials,
    pub interface: IfSelector,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
}

impl LineSnmp {
    /// One line for `check-config`, without secrets.
    pub fn describe(&self) -> String {
        let version = match &self.credentials {
            Credentials::V2c { .. } => "v2c".to_string(),
            Credentials::V3 { user, .. } => format!("v3 user {user:?} authPriv"),
        };
        format!(
            "{} {version}, {}, every {:?}",
            self.agent, self.interface, self.interval
        )
    }
}

impl serde::Serialize for LineSnmp {
    /// For the ledger's line history: everything but the secrets.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("LineSnmp", 4)?;
        st.serialize_field("agent", &self.agent.to_string())?;
        st.serialize_field(
            "version",
            match self.credentials {
                Credentials::V2c { .. } => "2c",
                Credentials::V3 { .. } => "3",
            },
        )?;
        st.serialize_field("interface", &self.interface.to_string())?;
        st.serialize_field("interval_s", &self.interval.as_secs_f64())?;
        st.end()
    }
}

/// Validates a `[line.snmp]`; errors are (key suffix, message).
pub fn validate(raw: RawSnmp) -> Result<LineSnmp, (String, String)> {
    let err = |k: &str, m: String| Err((k.to_string(), m));
    let agent = match raw.agent.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => match raw.agent.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, 161),
            Err(_) => {
                return err(
                    "agent",
                    format!("{:?} is not an IP address or IP:port, e.g. \"198.18.0.2\" or \"198.18.0.2:161\"", raw.agent),
                )
            }
        },
    };
    let credentials = match raw.version.as_str() {
        "2c" => v2c_credentials(&raw)?,
        "3" => v3_credentials(&raw)?,
        other => {
            return err(
                "version",
                format!("{other:?} is not supported; use \"2c\" or \"3\""),
            )
        }
    };
    let interface = match (raw.if_name, raw.if_alias, raw.if_index) {
        (Some(n), None, None) => IfSelector::Name(n),
        (None, Some(a), None) => IfSelector::Alias(a),
        (None, None, Some(i)) => IfSelector::Index(i),
        _ => {
            return err(
                "if_name",
                "give exactly one of if_name, if_alias and if_index".into(),
            )
        }
    };
    let interval = raw.interval.map_or(Duration::from_secs(10), |d| d.0);
    let timeout = raw.timeout.map_or(Duration::from_secs(2), |d| d.0);
    if interval < Duration::from_secs(1) {
        return err(
            "interval",
            format!("{interval:?} is too short; use at least 1s (default 10s)"),
        );
    }
    crate::bounds::check("interval", interval)?;
    if timeout.is_zero() || timeout * (raw.retries.unwrap_or(2) + 1) >= interval {
        return err(
            "timeout",
            format!("{timeout:?} with its retries must fit in the poll interval ({interval:?})"),
        );
    }
    Ok(LineSnmp {
        agent,
        credentials,
        interface,
        interval,
        timeout,
        retries: raw.retries.unwrap_or(2),
    })
}

/// SNMPv2c: a community, and none of v3's keys.
fn v2c_credentials(raw: &RawSnmp) -> Result<Credentials, (String, String)> {
    let err = |k: &str, m: String| Err((k.to_string(), m));
    if raw.user.is_some() || raw.auth.is_some() {
        return err(
            "user",
            "user and auth belong to version \"3\"; version \"2c\" uses a community".into(),
        );
    }
    let community = secret(
        "community",
        raw.community.clone(),
        raw.community_env.clone(),
        raw.community_file.clone(),
    )?
    .ok_or_else(|| {
        (
            "community".to_string(),
            "version \"2c\" needs community, community_env or community_file".to_string(),
        )
    })?;
    Ok(Credentials::V2c { community })
}

/// SNMPv3: a user with authentication and privacy passwords, and no
/// community.
fn v3_credentials(raw: &RawSnmp) -> Result<Credentials, (String, String)> {
    let err = |k: &str, m: String| Err((k.to_string(), m));
    let need = |key: &str, v: Option<String>| {
        v.ok_or_else(|| (key.to_string(), format!("{key} is required for SNMPv3")))
    };
    if raw.community.is_some() || raw.community_env.is_some() || raw.community_file.is_some() {
        return err(
            "community",
            "version \"3\" authenticates with user and passwords, not a community".into(),
        );
    }
    let auth = match raw.auth.as_deref().unwrap_or("sha") {
        "sha" | "sha1" => V3Auth::Sha1,
        "sha256" => V3Auth::Sha256,
        other => {
            return err(
                "auth",
                format!("{other:?} is not supported; use \"sha\" or \"sha256\" (privacy is AES)"),
            )
        }
    };
    let auth_password = secret(
        "auth_password",
        raw.auth_password.clone(),
        raw.auth_password_env.clone(),
        raw.auth_password_file.clone(),
    )?;
    let privacy_password = secret(
        "privacy_password",
        raw.privacy_password.clone(),
        raw.privacy_password_env.clone(),
        raw.privacy_password_file.clone(),
    )?;
    let (user, auth_password, privacy_password) = (
        need("user", raw.user.clone())?,
        need("auth_password", auth_password)?,
        need("privacy_password", privacy_password)?,
    );
    for (key, p) in [
        ("auth_password", &auth_password),
        ("privacy_password", &privacy_password),
    ] {
        if p.len() < 8 {
            return err(key, "SNMPv3 passwords have at least 8 characters".into());
        }
    }
    Ok(Credentials::V3 {
        user,
        auth,
        auth_password,
        privacy_password,
    })
}
