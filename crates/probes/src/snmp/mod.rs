//! SNMP: a client with a deadline and bounded retries on every request (the
//! `snmp2` crate has neither), GETBULK walks, and the interface readings the
//! daemon polls. Numeric OIDs only (Debian ships no IF-MIB).
//!
//! Credentials never appear in errors or in `Debug` output.

pub mod interface;
pub mod oids;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use snmp2::v3::{Auth, AuthProtocol, Cipher, Security};
use snmp2::{AsyncSession, Oid, Value};

/// SNMP v3 authentication protocols linkledger accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum V3Auth {
    Sha1,
    Sha256,
}

/// How to authenticate to an agent. `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    V2c {
        community: String,
    },
    /// authPriv with AES-128 privacy.
    V3 {
        user: String,
        auth: V3Auth,
        auth_password: String,
        privacy_password: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::V2c { .. } => f.write_str("V2c { community: <redacted> }"),
            Credentials::V3 { user, .. } => {
                write!(f, "V3 {{ user: {user:?}, passwords: <redacted> }}")
            }
        }
    }
}

/// One agent to ask.
#[derive(Debug, Clone)]
pub struct Agent {
    pub address: SocketAddr,
    pub credentials: Credentials,
    /// Deadline of one attempt.
    pub timeout: Duration,
    /// Further attempts after the first.
    pub retries: u32,
}

/// What went wrong; never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnmpError {
    #[error(
        "SNMP agent {agent} did not answer {operation} ({attempts} attempts, {timeout:?} each)"
    )]
    Timeout {
        agent: SocketAddr,
        operation: &'static str,
        attempts: u32,
        timeout: Duration,
    },
    #[error("SNMP agent {agent} refused the v3 credentials of user {user:?}: {detail}")]
    Authentication {
        agent: SocketAddr,
        user: String,
        detail: String,
    },
    #[error("SNMP agent {agent} sent a malformed or unexpected reply to {operation}: {detail}")]
    Malformed {
        agent: SocketAddr,
        operation: &'static str,
        detail: String,
    },
    #[error(
        "SNMP agent {agent} answered {operation} with error status {status} at varbind {index}"
    )]
    ErrorStatus {
        agent: SocketAddr,
        operation: &'static str,
        status: u32,
        index: u32,
    },
    #[error("SNMP agent {agent}: {operation}: {detail}")]
    Io {
        agent: SocketAddr,
        operation: &'static str,
        detail: String,
    },
    #[error("SNMP agent {agent} has no {what}")]
    NotFound { agent: SocketAddr, what: String },
}

impl SnmpError {
    /// A short label for metrics: timeout, auth, malformed, error_status, io.
    pub fn reason(&self) -> &'static str {
        match self {
            SnmpError::Timeout { .. } => "timeout",
            SnmpError::Authentication { .. } => "auth",
            SnmpError::Malformed { .. } => "malformed",
            SnmpError::ErrorStatus { .. } => "error_status",
            SnmpError::Io { .. } => "io",
            SnmpError::NotFound { .. } => "not_found",
        }
    }
}

/// A value as linkledger uses it (owned, so it outlives the reply buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnmpValue {
    Integer(i64),
    Counter32(u32),
    Counter64(u64),
    Unsigned32(u32),
    Timeticks(u32),
    OctetString(Vec<u8>),
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
    Other(&'static str),
}

impl SnmpValue {
    fn from_value(v: &Value<'_>) -> Self {
        match v {
            Value::Integer(i) => SnmpValue::Integer(*i),
            Value::Counter32(c) => SnmpValue::Counter32(*c),
            Value::Counter64(c) => SnmpValue::Counter64(*c),
            Value::Unsigned32(u) => SnmpValue::Unsigned32(*u),
            Value::Timeticks(t) => SnmpValue::Timeticks(*t),
            Value::OctetString(s) => SnmpValue::OctetString(s.to_vec()),
            Value::NoSuchObject => SnmpValue::NoSuchObject,
            Value::NoSuchInstance => SnmpValue::NoSuchInstance,
            Value::EndOfMibView => SnmpValue::EndOfMibView,
            _ => SnmpValue::Other("unsupported type"),
        }
    }

    /// The value as text (ifName, ifAlias).
    pub fn text(&self) -> Option<String> {
        match self {
            SnmpValue::OctetString(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }
}

/// A varbind: numeric OID and value.
pub type Varbind = (Vec<u64>, SnmpValue);

/// A session with one agent. Each request has `timeout` and up to `retries`
/// further attempts; a stale reply to an earlier attempt is skipped.
pub struct SnmpClient {
    agent: Agent,
    session: Box<AsyncSession>,
}

impl SnmpClient {
    /// Opens a session; for v3, discovers the agent's engine first.
    pub async fn connect(agent: Agent) -> Result<Self, SnmpError> {
        let io = |e: std::io::Error| SnmpError::Io {
            agent: agent.address,
            operation: "connect",
            detail: e.to_string(),
        };
        let req_id: i32 = rand::random::<i32>() & 0x3fff_ffff;
        let session = match &agent.credentials {
            Credentials::V2c { community } => {
                AsyncSession::new_v2c(agent.address, community.as_bytes(), req_id)
                    .await
                    .map_err(io)?
            }
            Credentials::V3 {
                user,
                auth,
                auth_password,
                privacy_password,
            } => {
                let security = Security::new(user.as_bytes(), auth_password.as_bytes())
                    .with_auth_protocol(match auth {
                        V3Auth::Sha1 => AuthProtocol::Sha1,
                        V3Auth::Sha256 => AuthProtocol::Sha256,
                    })
                    .with_auth(Auth::AuthPriv {
                        cipher: Cipher::Aes128,
                        privacy_password: privacy_password.as_bytes().to_vec(),
                    });
                AsyncSession::new_v3(agent.address, req_id, security)
                    .await
                    .map_err(io)?
            }
        };
        let mut client = Self {
            agent,
            session: Box::new(session),
        };
        if matches!(client.agent.credentials, Credentials::V3 { .. }) {
            client.init_v3().await?;
        }
        Ok(client)
    }

    async fn init_v3(&mut self) -> Result<(), SnmpError> {
        let (timeout, attempts) = (self.agent.timeout, self.agent.retries + 1);
        for _ in 0..attempts {
            match tokio::time::timeout(timeout, self.session.init()).await {
                Err(_) => continue,
                Ok(Ok(())) => return Ok(()),
                Ok(Err(snmp2::Error::RequestIdMismatch)) => continue,
                Ok(Err(e)) => return Err(self.map_error("engine discovery", e)),
            }
        }
        Err(SnmpError::Timeout {
            agent: self.agent.address,
            operation: "engine discovery",
            attempts,
            timeout,
        })
    }

    /// The agent this client asks.
    pub fn address(&self) -> SocketAddr {
        self.agent.address
    }

    /// Whether the session is SNMPv3 (which has engine boots).
    pub fn is_v3(&self) -> bool {
        matches!(self.agent.credentials, Credentials::V3 { .. })
    }

    fn map_error(&self, operation: &'static str, e: snmp2::Error) -> SnmpError {
        let agent = self.agent.address;
        match e {
            snmp2::Error::AuthFailure(kind) => SnmpError::Authentication {
                agent,
                user: match &self.agent.credentials {
                    Credentials::V3 { user, .. } => user.clone(),
                    Credentials::V2c { .. } => String::new(),
                },
                detail: format!("{kind:?}"),
            },
            snmp2::Error::Send | snmp2::Error::Receive => SnmpError::Io {
                agent,
                operation,
                detail: format!("{e:?}"),
            },
            other => SnmpError::Malformed {
                agent,
                operation,
                detail: format!("{other:?}"),
            },
        }
    }

    /// GET of several OIDs in one request.
    pub async fn get(&mut self, oids: &[&[u64]]) -> Result<Vec<Varbind>, SnmpError> {
        let owned: Vec<Oid<'static>> = oids.iter().map(|o| to_oid(o)).collect();
        self.request("get", Request::Get(&owned)).await
    }

    /// GETBULK from `oid` with `max` repetitions.
    pub async fn getbulk(&mut self, oid: &[u64], max: u32) -> Result<Vec<Varbind>, SnmpError> {
        let owned = to_oid(oid);
        self.request("getbulk", Request::Bulk(&owned, max)).await
    }

    /// Every varbind under `base`, by GETBULK.
    pub async fn walk(&mut self, base: &[u64]) -> Result<Vec<Varbind>, SnmpError> {
        let mut out: Vec<Varbind> = Vec::new();
        let mut next = base.to_vec();
        loop {
            let page = self.getbulk(&next, 25).await?;
            let before = out.len();
            for (oid, value) in page {
                if !oid.starts_with(base) || matches!(value, SnmpValue::EndOfMibView) {
                    return Ok(out);
                }
                if oid <= next {
                    return Err(SnmpError::Malformed {
                        agent: self.agent.address,
                        operation: "walk",
                        detail: format!("OID {} does not increase", dotted(&oid)),
                    });
                }
                next.clone_from(&oid);
                out.push((oid, value));
            }
            if out.len() == before {
                return Ok(out);
            }
        }
    }

    async fn request(
        &mut self,
        operation: &'static str,
        req: Request<'_>,
    ) -> Result<Vec<Varbind>, SnmpError> {
        let (timeout, attempts) = (self.agent.timeout, self.agent.retries + 1);
        let agent = self.agent.address;
        let mut repeated_for_auth_update = false;
        let mut attempt = 0;
        while attempt < attempts {
            attempt += 1;
            let reply = match tokio::time::timeout(timeout, once(&mut self.session, &req)).await {
                Err(_) => continue,
                // A late reply to an earlier attempt: skipped, the attempt counts.
                Ok(Err(snmp2::Error::RequestIdMismatch)) => continue,
                Ok(Err(snmp2::Error::AuthUpdated)) if !repeated_for_auth_update => {
                    // The agent's engine time moved on; the crate asks to repeat.
                    repeated_for_auth_update = true;
                    attempt -= 1;
                    continue;
                }
                Ok(Err(e)) => return Err(self.map_error(operation, e)),
                Ok(Ok(reply)) => reply,
            };
            let (status, index, varbinds) = reply;
            if status != 0 {
                return Err(SnmpError::ErrorStatus {
                    agent,
                    operation,
                    status,
                    index,
                });
            }
            return varbinds.ok_or_else(|| SnmpError::Malformed {
                agent,
                operation,
                detail: "an OID with an arc beyond 64 bits".into(),
            });
        }
        Err(SnmpError::Timeout {
            agent,
            operation,
            attempts,
            timeout,
        })
    }
}

enum Request<'a> {
    Get(&'a [Oid<'static>]),
    Bulk(&'a Oid<'static>, u32),
}

type Reply = (u32, u32, Option<Vec<Varbind>>);

/// One attempt, its reply copied out of the session's buffer.
async fn once(session: &mut AsyncSession, req: &Request<'_>) -> Result<Reply, snmp2::Error> {
    let pdu = match req {
        Request::Get(oids) => {
            let refs: Vec<&Oid<'_>> = oids.iter().collect();
            session.get_many(&refs).await?
        }
        Request::Bulk(oid, max) => session.getbulk(&[*oid], 0, *max).await?,
    };
    let varbinds: Option<Vec<Varbind>> = pdu
        .varbinds
        .map(|(oid, value)| Some((oid.iter()?.collect(), SnmpValue::from_value(&value))))
        .collect();
    Ok((pdu.error_status, pdu.error_index, varbinds))
}

fn to_oid(numbers: &[u64]) -> Oid<'static> {
    Oid::from(numbers).unwrap_or_else(|_| Oid::from(&[0, 0]).expect("0.0 is an OID"))
}

/// "1.3.6.1..." for messages.
pub fn dotted(oid: &[u64]) -> String {
    oid.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}
