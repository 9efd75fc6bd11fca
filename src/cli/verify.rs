//! `linkledger verify`: walks the ledger's whole hash chain against the
//! records as they are now, names every record changed, removed or added
//! behind linkledger's back, and checks a head printed on a report
//! (`--head`, `--seq`) against the ledger. Exit 0 intact, 1 broken (or the
//! pinned head does not hold), 2 a mistake in the command line.

use linkledger_config::Config;
use linkledger_ledger::chain::{self, Scope, Verification};

use crate::usage::UsageError;

/// The verdict when the chain is broken or a pinned head does not hold
/// (exit 1; the report itself was printed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Broken(String);

pub(crate) async fn verify(
    c: &Config,
    json: bool,
    head: Option<String>,
    seq: Option<i64>,
) -> anyhow::Result<()> {
    let pin = match (head, seq) {
        (Some(h), Some(s)) => {
            let h = h.trim().to_ascii_lowercase();
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(UsageError(format!(
                    "--head {h:?}: a chain head is 64 hex digits, as a report prints it"
                ))
                .into());
            }
            if s < 1 {
                return Err(UsageError(format!("--seq {s}: sequence numbers start at 1")).into());
            }
            Some((s, h))
        }
        (None, None) => None,
        _ => {
            return Err(UsageError(
                "--head and --seq go together: the head and sequence number a report printed"
                    .into(),
            )
            .into())
        }
    };
    let db = linkledger_ledger::connect_for_reading(&c.daemon).await?;
    let v = chain::verify(&db, Scope::All, pin.as_ref().map(|(s, h)| (*s, h.as_str())))
        .await
        .map_err(|e| {
            anyhow::anyhow!("{e} (a ledger from before the hash chain gets it at the daemon's next start, or from any writing command)")
        })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_human(c, &v);
    }
    let pin_fails = v.pinned.as_ref().is_some_and(|p| !p.holds);
    if !v.intact || pin_fails {
        let mut why = Vec::new();
        if !v.intact {
            why.push(format!(
                "the ledger's hash chain is broken ({} break(s))",
                v.breaks.len()
            ));
        }
        if pin_fails {
            why.push("the ledger no longer holds exactly the history the given head pinned".into());
        }
        return Err(Broken(why.join("; ")).into());
    }
    Ok(())
}

fn print_human(c: &Config, v: &Verification) {
    let path = c.daemon.ledger_name();
    let head = match &v.head {
        Some(h) => format!(
            "head: seq {} {} (recorded {})",
            h.seq, h.chain, h.recorded_at
        ),
        None => "head: none (nothing chained yet)".into(),
    };
    if v.intact {
        say!(
            "ledger {path}: hash chain intact, {} link(s) checked",
            v.checked
        );
    } else {
        say!(
            "ledger {path}: hash chain BROKEN, {} break(s) in {} link(s) checked",
            v.breaks.len(),
            v.checked
        );
        if let Some(first) = v.breaks.first() {
            say!("first: {}", first.describe());
        }
        for b in &v.breaks {
            let kind = serde_json::to_value(b.kind).unwrap_or_default();
            let accepted = if b.accepted {
                " [accepted at a start]"
            } else {
                ""
            };
            say!(
                "  {:<12} {}{accepted}",
                kind.as_str().unwrap_or(""),
                b.describe()
            );
        }
    }
    say!("{head}");
    if v.unsealed > 0 {
        say!(
            "{} link(s) not sealed yet (written by a transaction still open, or cut off before its seal; sealed at the next write)",
            v.unsealed
        );
    }
    if let Some(p) = &v.pinned {
        let verdict = if p.holds {
            "holds: the ledger still holds exactly the history it pinned".to_string()
        } else {
            match &p.found {
                None => format!("does NOT hold: the ledger has no link {}", p.seq),
                Some(f) if *f != p.head => {
                    format!("does NOT hold: the ledger's link {} is {f}", p.seq)
                }
                Some(_) => format!(
                    "does NOT hold: a record up to link {} was changed, removed or added since",
                    p.seq
                ),
            }
        };
        say!("pinned head seq {} {}: {verdict}", p.seq, p.head);
    }
}
