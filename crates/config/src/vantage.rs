//! Vantage points: `[[vantage]]` names the agents allowed to push
//! observations of the public IP block (each with its own token), and
//! `[[line]] block_targets` the addresses inside a line's `ip_blocks` they
//! probe: ICMP echo (`"198.19.100.1"`) or a TCP connect
//! (`"198.19.100.2:tcp/443"`, `"[2001:db8::1]:tcp/443"`).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

type Invalid = (String, String);

/// `[[vantage]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVantage {
    pub id: String,
    pub token: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// An agent allowed to push batches; its token never shows in Debug output.
#[derive(Clone, PartialEq)]
pub struct Vantage {
    pub id: String,
    pub token: String,
}

impl fmt::Debug for Vantage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vantage")
            .field("id", &self.id)
            .field("token", &"<hidden>")
            .finish()
    }
}

/// The shortest agent token accepted.
pub const AGENT_TOKEN_MIN: usize = 32;

/// Validates `[[vantage]]`; `api_secrets` are the operator tokens, which an
/// agent's must differ from.
pub fn validate_vantage(
    raw: Vec<RawVantage>,
    api_secrets: &[&str],
) -> Result<Vec<Vantage>, Invalid> {
    let mut out: Vec<Vantage> = Vec::new();
    for (i, v) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("vantage[{i}].{k}");
        if !super::valid_id(&v.id) {
            return Err((
                key("id"),
                format!("{:?}: use lowercase letters, digits, '-' and '_' (it names the agent in metrics and the ledger)", v.id),
            ));
        }
        if out.iter().any(|o| o.id == v.id) {
            return Err((key("id"), format!("duplicate vantage id {:?}", v.id)));
        }
        let token = crate::values::secret("token", v.token, v.token_env, v.token_file)
            .map_err(|(k, m)| (key(&k), m))?
            .ok_or_else(|| {
                (
                    key("token"),
                    "give one of token, token_env and token_file".to_string(),
                )
            })?;
        if token.chars().count() < AGENT_TOKEN_MIN || token.chars().any(char::is_whitespace) {
            return Err((
                key("token"),
                format!("an agent token needs at least {AGENT_TOKEN_MIN} characters and no spaces (e.g. from `openssl rand -hex 24`)"),
            ));
        }
        if out.iter().any(|o| o.token == token) || api_secrets.contains(&token.as_str()) {
            return Err((
                key("token"),
                "the same token is given twice; each agent and API user needs its own".into(),
            ));
        }
        out.push(Vantage { id: v.id, token });
    }
    Ok(out)
}

/// One address of the block an agent probes from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlockTarget {
    pub addr: IpAddr,
    /// Some: a TCP connect to this port; None: ICMP echo.
    pub tcp_port: Option<u16>,
}

impl fmt::Display for BlockTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.tcp_port, self.addr) {
            (None, a) => write!(f, "{a}"),
            (Some(p), IpAddr::V4(a)) => write!(f, "{a}:tcp/{p}"),
            (Some(p), IpAddr::V6(a)) => write!(f, "[{a}]:tcp/{p}"),
        }
    }
}

impl FromStr for BlockTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("{s:?} is not a block target; write an IP literal (\"198.19.100.1\", ICMP echo) or IP:tcp/PORT (\"198.19.100.2:tcp/443\", \"[2001:db8::1]:tcp/443\")")
        };
        if let Ok(addr) = s.parse::<IpAddr>() {
            return Ok(Self {
                addr,
                tcp_port: None,
            });
        }
        let (host, port) = s.rsplit_once(":tcp/").ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let addr = host.parse::<IpAddr>().map_err(|_| bad())?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(bad)?;
        Ok(Self {
            addr,
            tcp_port: Some(port),
        })
    }
}

impl TryFrom<String> for BlockTarget {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<BlockTarget> for String {
    fn from(t: BlockTarget) -> String {
        t.to_string()
    }
}

/// Validates a line's block targets: each inside one of its `ip_blocks`,
/// none twice.
pub fn validate_block_targets(
    line_key: &str,
    raw: &[String],
    blocks: &[IpNet],
) -> Result<Vec<BlockTarget>, Invalid> {
    let mut out: Vec<BlockTarget> = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let key = format!("{line_key}.block_targets[{i}]");
        let t: BlockTarget = s.parse().map_err(|e| (key.clone(), e))?;
        if !blocks.iter().any(|b| b.contains(&t.addr)) {
            return Err((
                key,
                format!("{} is not inside the line's ip_blocks {blocks:?}; block targets are addresses of the line's own public block", t.addr),
            ));
        }
        if out.contains(&t) {
            return Err((key, format!("{t} is given twice")));
        }
        out.push(t);
    }
    Ok(out)
}

/// The quorum in force for a line's blocks.
pub fn quorum(block_quorum: usize, agents: usize) -> usize {
    block_quorum.min(agents).max(1)
}

impl crate::Config {
    /// The blocks the configuration asks agents to probe: (line, block) with
    /// at least one block target inside.
    pub fn probed_blocks(&self) -> Vec<(String, String, usize)> {
        let mut out = Vec::new();
        for l in &self.lines {
            for b in &l.ip_blocks {
                if l.block_targets.iter().any(|t| b.contains(&t.addr)) {
                    out.push((
                        l.id.clone(),
                        b.to_string(),
                        quorum(l.block_quorum, self.vantage.len()),
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_targets_parse_and_print_back() {
        for s in [
            "198.19.100.1",
            "198.19.100.2:tcp/443",
            "[2001:db8::1]:tcp/443",
            "2001:db8::2",
        ] {
            assert_eq!(s.parse::<BlockTarget>().unwrap().to_string(), s);
        }
        for bad in [
            "portal.example.gov.cn:tcp/443",
            "198.19.100.2:udp/53",
            "198.19.100.2:tcp/0",
            "1.2.3",
        ] {
            assert!(bad.parse::<BlockTarget>().is_err(), "{bad}");
        }
        let blocks = ["198.19.100.0/29".parse().unwrap()];
        let e = validate_block_targets("line[0]", &["198.19.101.1".into()], &blocks).unwrap_err();
        assert_eq!(e.0, "line[0].block_targets[0]");
        assert!(e.1.contains("not inside"));
    }
}
