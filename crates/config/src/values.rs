//! The leaf values of the config file, each checking its own shape so a
//! bad duration, date, address or network is reported by toml with its
//! line and column, and the one way a secret is given (inline, from the
//! environment or from a file).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use ipnet::IpNet;
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

/// Resolves one secret given inline, by environment variable or by file.
pub fn secret(
    key: &str,
    inline: Option<String>,
    env: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<String>, (String, String)> {
    let read = read_secret(key, inline, env, file);
    match read {
        // Only what cannot be read; a config that gives two sources stays
        // an error.
        Err((k, _))
            if STAND_IN.with(|s| s.get()).is_some()
                && (k.ends_with("_env") || k.ends_with("_file")) =>
        {
            let n = STAND_IN.with(|s| {
                let n = s.get().unwrap_or(0) + 1;
                s.set(Some(n));
                n
            });
            // Shaped to pass every check on a secret (an http URL, a token
            // of 32 characters and more), and unusable: `.invalid` never
            // resolves.
            Ok(Some(format!(
                "https://secret-not-read.invalid/{key}/{n:032}"
            )))
        }
        other => other,
    }
}

thread_local! {
    static STAND_IN: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` (a config load) with secrets it cannot read (an unset
/// `*_env` variable, an unreadable `*_file`) replaced by unusable stand-ins,
/// for commands that send nothing and so need none of them.
pub fn without_secrets<T>(f: impl FnOnce() -> T) -> T {
    STAND_IN.with(|s| s.set(Some(0)));
    let out = f();
    STAND_IN.with(|s| s.set(None));
    out
}

fn read_secret(
    key: &str,
    inline: Option<String>,
    env: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<String>, (String, String)> {
    match (inline, env, file) {
        (None, None, None) => Ok(None),
        (Some(v), None, None) => Ok(Some(v)),
        (None, Some(var), None) => std::env::var(&var).map(Some).map_err(|_| {
            (
                format!("{key}_env"),
                format!("the environment variable {var:?} is not set (or not UTF-8)"),
            )
        }),
        (None, None, Some(path)) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
            .map_err(|e| {
                (
                    format!("{key}_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            }),
        _ => Err((
            key.to_string(),
            format!("give only one of {key}, {key}_env and {key}_file"),
        )),
    }
}

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

/// A duration written the humantime way: "800ms", "1s", "4h", "1h 30m".
#[derive(Debug, Clone, Copy)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        humantime::parse_duration(&s).map(Dur).map_err(|e| {
            D::Error::custom(format!(
                "invalid duration {s:?} ({e}); write a number with a unit, e.g. \"800ms\", \"1s\", \"30m\", \"4h\""
            ))
        })
    }
}

/// A calendar date, "YYYY-MM-DD".
#[derive(Debug, Clone, Copy)]
pub struct Date(pub NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(Date)
            .map_err(|e| {
                D::Error::custom(format!(
                    "invalid date {s:?} ({e}); write it as YYYY-MM-DD, e.g. \"2024-07-01\""
                ))
            })
    }
}

/// An IANA time zone name.
#[derive(Debug, Clone, Copy)]
pub struct TimeZone(pub chrono_tz::Tz);

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        s.parse().map(TimeZone).map_err(|_| {
            D::Error::custom(format!(
                "unknown time zone {s:?}; use an IANA name such as \"Asia/Shanghai\" or \"UTC\""
            ))
        })
    }
}

/// The HTTP listen address, "IP:port".
#[derive(Debug, Clone, Copy)]
pub struct Listen(pub SocketAddr);

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        s.parse().map(Listen).map_err(|_| {
            D::Error::custom(format!(
                "invalid listen address {s:?}; write IP:port, e.g. \"127.0.0.1:9798\" or \"[::1]:9798\""
            ))
        })
    }
}

/// A probe target or source: an IP literal, never a host name (a name would
/// make the answer depend on DNS, which is not the carrier's line).
#[derive(Debug, Clone, Copy)]
pub struct Target(pub IpAddr);

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        if let Ok(ip) = s.parse() {
            return Ok(Target(ip));
        }
        let looks_like_name = s.chars().any(|c| c.is_ascii_alphabetic()) && !s.contains(':');
        Err(D::Error::custom(if looks_like_name {
            format!(
                "{s:?} is a host name; probe targets must be IP literals (e.g. \"198.19.100.1\" or \"2001:db8::1\") so that DNS cannot decide whether a line is up"
            )
        } else {
            format!("{s:?} is not an IP address; write e.g. \"198.19.100.1\" or \"2001:db8::1\"")
        }))
    }
}

/// A public IP block in CIDR notation, with no host bits set.
#[derive(Debug, Clone, Copy)]
pub struct Block(pub IpNet);

impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        let net: IpNet = s.parse().map_err(|_| {
            D::Error::custom(format!(
                "{s:?} is not a CIDR block; write e.g. \"198.19.100.0/29\""
            ))
        })?;
        if net.trunc() != net {
            return Err(D::Error::custom(format!(
                "{s:?} has host bits set; the block is {}",
                net.trunc()
            )));
        }
        Ok(Block(net))
    }
}

/// What a TOML parse error says, in the words of the config file: a value
/// cut short is said so, and the parser's names for our internal types
/// (`expected struct RawContract`) become what the file should hold.
pub fn toml_message(e: &toml::de::Error) -> String {
    let m = e.message().trim();
    if m.is_empty() {
        return "the file ends, or a line breaks off, in the middle of a value (is the file cut short?)".into();
    }
    let mut out = String::new();
    let mut rest = m;
    while let Some(i) = rest.find("struct ").or_else(|| rest.find("enum ")) {
        let (before, after) = rest.split_at(i);
        out.push_str(before);
        let word_start = after.find(' ').map_or(after.len(), |k| k + 1);
        let name_len = after[word_start..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len() - word_start);
        let is_struct = after.starts_with("struct ");
        out.push_str(if is_struct {
            "a table"
        } else {
            "one of the documented values"
        });
        rest = &after[word_start + name_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod toml_message_tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct RawThing {
        contract: RawInner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct RawInner {
        name: String,
    }

    #[test]
    fn internal_type_names_and_empty_messages_are_said_in_the_files_words() {
        let e = toml::from_str::<RawThing>("contract = 5\n").unwrap_err();
        let m = toml_message(&e);
        assert!(!m.contains("RawInner") && !m.contains("struct"), "{m}");
        assert!(m.contains("expected a table"), "{m}");
        let e = toml::from_str::<RawThing>("[contract]\nname =").unwrap_err();
        assert!(!toml_message(&e).is_empty());
    }
}
