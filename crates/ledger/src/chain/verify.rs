//! Walking the chain again: each link's encoding recomputed from its
//! record as it is now and its hash from the link before it, every row of
//! a table of record checked for its link, and a head printed on a report
//! checked against the ledger (`linkledger verify`, and the tail at the
//! daemon's start).

use serde::Serialize;
use sqlx::{AnyConnection, Connection};

use super::encoding::{fields_of, items};
use super::{
    encode, head_on, link_hash, link_of, parse_chain, record_now, seal, Head, Link, CHAINED,
    GENESIS, LINK_COLUMNS,
};
use crate::{query_err, Ledger, LedgerError};
use linkledger_core::time::ledger_ts;

/// How much of the chain to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// The newest `n` links (and every row's link).
    Tail(i64),
}

/// What was wrong with a link or a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// The record's fields are not what was chained.
    Changed,
    /// The link's own hash does not follow from the link before it.
    LinkAltered,
    /// The record the link names is gone or cannot be read.
    Gone,
    /// Links are missing from the sequence (deleted).
    LinksMissing,
    /// A row of a table of record, or its completion, has no link
    /// (inserted or completed behind the chain's back).
    Unchained,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Break {
    pub kind: BreakKind,
    /// The link's sequence number (None: a row with no link).
    pub seq: Option<i64>,
    pub table: String,
    pub record_id: Option<i64>,
    pub event: Option<String>,
    /// What differs, in words.
    pub detail: String,
    /// Accepted by an operator at a start (`--accept-broken-chain`).
    #[serde(default)]
    pub accepted: bool,
}

impl Break {
    fn same_as(&self, o: &Break) -> bool {
        self.kind == o.kind
            && self.seq == o.seq
            && self.table == o.table
            && self.record_id == o.record_id
    }

    /// "outages #12 (link 40, close): end_at was …, is now …".
    pub fn describe(&self) -> String {
        let what = match self.record_id {
            Some(id) => format!("{} #{id}", self.table),
            None => self.table.clone(),
        };
        let link = match (&self.seq, &self.event) {
            (Some(s), Some(e)) => format!(" (link {s}, {e})"),
            (Some(s), None) => format!(" (link {s})"),
            _ => String::new(),
        };
        format!("{what}{link}: {}", self.detail)
    }
}

/// A head printed on a report, checked against the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinCheck {
    pub seq: i64,
    pub head: String,
    /// The hash the ledger holds at that link now (None: no such link).
    pub found: Option<String>,
    /// The ledger still holds exactly the history that head pinned.
    pub holds: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// No break at all (accepted ones included).
    pub intact: bool,
    /// The first link walked.
    pub from_seq: i64,
    /// Links whose record and hash were checked.
    pub checked: u64,
    /// Links not sealed yet (their transaction's writer seals them).
    pub unsealed: u64,
    pub head: Option<Head>,
    pub breaks: Vec<Break>,
    pub pinned: Option<PinCheck>,
}

impl Verification {
    pub fn unaccepted(&self) -> impl Iterator<Item = &Break> {
        self.breaks.iter().filter(|b| !b.accepted)
    }
}

/// Walks the chain (`scope`) and every table of record; `pin` checks a
/// (seq, head) printed on a report against it.
pub async fn verify(
    ledger: &Ledger,
    scope: Scope,
    pin: Option<(i64, &str)>,
) -> Result<Verification, LedgerError> {
    let mut conn = ledger
        .pool()
        .acquire()
        .await
        .map_err(query_err("verify the chain"))?;
    // One snapshot: a writer committing meanwhile is not half seen.
    let mut tx = conn.begin().await.map_err(query_err("verify the chain"))?;
    let mut v = walk(&mut tx, scope)
        .await
        .map_err(query_err("verify the chain"))?;
    unchained(&mut tx, &mut v.breaks)
        .await
        .map_err(query_err("find rows without a link"))?;
    mark_accepted(&mut tx, &mut v.breaks)
        .await
        .map_err(query_err("read accepted breaks"))?;
    if let Some((seq, given)) = pin {
        let found: Option<String> =
            sqlx::query_scalar("SELECT chain FROM ledger_chain WHERE seq = $1")
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_err("read a link"))?
                .flatten();
        // Every link up to `seq` walked and intact, and no row slipped in
        // without a link (when, nobody can tell).
        let walked_all = v.from_seq == 1;
        let clean = v.breaks.iter().all(|b| b.seq.is_some_and(|s| s > seq));
        let holds = walked_all
            && clean
            && found
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case(given.trim()));
        v.pinned = Some(PinCheck {
            seq,
            head: given.trim().to_ascii_lowercase(),
            found,
            holds,
        });
    }
    v.head = head_on(&mut tx, None)
        .await
        .map_err(query_err("read the chain head"))?;
    v.intact = v.breaks.is_empty();
    Ok(v)
}

/// Recomputes each link of `scope`.
async fn walk(conn: &mut AnyConnection, scope: Scope) -> Result<Verification, sqlx::Error> {
    let last: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM ledger_chain")
        .fetch_one(&mut *conn)
        .await?;
    let from_seq = match scope {
        Scope::All => 1,
        Scope::Tail(n) => (last - n + 1).max(1),
    };
    let mut previous = if from_seq == 1 {
        GENESIS
    } else {
        let c: Option<String> = sqlx::query_scalar("SELECT chain FROM ledger_chain WHERE seq = $1")
            .bind(from_seq - 1)
            .fetch_optional(&mut *conn)
            .await?
            .flatten();
        c.as_deref().and_then(parse_chain).unwrap_or(GENESIS)
    };
    let mut v = Verification {
        intact: true,
        from_seq,
        checked: 0,
        unsealed: 0,
        head: None,
        breaks: Vec::new(),
        pinned: None,
    };
    let mut expected = from_seq;
    loop {
        let page: Vec<Link> = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM ledger_chain WHERE seq >= $1 ORDER BY seq LIMIT 2000"
        ))
        .bind(expected)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(link_of)
        .collect();
        let Some(end) = page.last().map(|l| l.seq) else {
            break;
        };
        for link in page {
            if link.seq != expected {
                v.breaks.push(Break {
                    kind: BreakKind::LinksMissing,
                    seq: Some(expected),
                    table: "ledger_chain".into(),
                    record_id: None,
                    event: None,
                    detail: format!(
                        "links {expected} to {} are missing from the chain (deleted)",
                        link.seq - 1
                    ),
                    accepted: false,
                });
            }
            expected = link.seq + 1;
            let Some(stored_chain) = link.chain.clone() else {
                v.unsealed += 1;
                continue;
            };
            v.checked += 1;
            check_link(conn, &link, &previous, &stored_chain, &mut v.breaks).await?;
            previous = parse_chain(&stored_chain).unwrap_or(GENESIS);
        }
        expected = end + 1;
    }
    Ok(v)
}

/// One link: its record against its encoding, its hash against the one
/// before it.
async fn check_link(
    conn: &mut AnyConnection,
    link: &Link,
    previous: &[u8; 32],
    stored_chain: &str,
    breaks: &mut Vec<Break>,
) -> Result<(), sqlx::Error> {
    let stored = link.encoding.clone().unwrap_or_default();
    let at = |kind, detail: String| Break {
        kind,
        seq: Some(link.seq),
        table: link.table.clone(),
        record_id: Some(link.record_id),
        event: Some(link.event.clone()),
        detail,
        accepted: false,
    };
    match record_now(conn, link).await? {
        Err(why) => breaks.push(at(BreakKind::Gone, why)),
        Ok(values) => {
            let now = encode(
                link.seq,
                &link.table,
                link.record_id,
                &link.event,
                &link.recorded_at,
                Some(&values),
            );
            if now != stored {
                breaks.push(at(BreakKind::Changed, differences(&stored, &now)));
            }
        }
    }
    if hex::encode(link_hash(previous, &stored)) != stored_chain {
        breaks.push(at(
            BreakKind::LinkAltered,
            "the link's hash does not follow from the link before it and its encoding".into(),
        ));
    }
    Ok(())
}

/// Which items differ between the chained encoding and the record now.
fn differences(chained: &str, now: &str) -> String {
    const HEADS: [&str; 5] = ["seq", "table", "record id", "event", "recorded at"];
    let (Some(a), Some(b)) = (items(chained), items(now)) else {
        return "the link's stored encoding is not well formed".into();
    };
    let mut out = Vec::new();
    for (i, name) in HEADS.iter().enumerate() {
        if a.get(i) != b.get(i) {
            out.push(format!(
                "{name} was {}, is now {}",
                a.get(i).unwrap_or(&"nothing"),
                b.get(i).unwrap_or(&"nothing")
            ));
        }
    }
    let (fa, fb) = (
        fields_of(chained).unwrap_or_default(),
        fields_of(now).unwrap_or_default(),
    );
    for (name, was) in &fa {
        match fb.iter().find(|(n, _)| n == name) {
            Some((_, is)) if is != was => {
                out.push(format!("{name} was {}, is now {}", shown(was), shown(is)))
            }
            Some(_) => {}
            None => out.push(format!("{name} was {}, is now not chained", shown(was))),
        }
    }
    if out.is_empty() {
        "its encoding differs".into()
    } else {
        out.join("; ")
    }
}

/// An encoded value for a person: NULL, the number, the text quoted.
fn shown(v: &str) -> String {
    match v.split_at_checked(1) {
        Some(("n", _)) => "NULL".into(),
        Some(("i", n)) => n.into(),
        Some(("t", t)) => format!("{t:?}"),
        _ => v.into(),
    }
}

/// Rows of a table of record (and completions) without their link.
async fn unchained(conn: &mut AnyConnection, breaks: &mut Vec<Break>) -> Result<(), sqlx::Error> {
    for (table, done) in CHAINED {
        let mut checks = vec![("insert", None)];
        if let Some((event, column)) = done {
            checks.push((event, Some(column)));
        }
        for (event, column) in checks {
            let filter = column
                .map(|c| format!("{c} IS NOT NULL AND "))
                .unwrap_or_default();
            let key = crate::sql::row_key(table);
            let ids: Vec<i64> = sqlx::query_scalar(&format!(
                "SELECT {key} FROM \"{table}\" t WHERE {filter}NOT EXISTS (SELECT 1 FROM ledger_chain c WHERE c.record_table = $1 AND c.event = $2 AND c.record_id = t.{key}) ORDER BY {key} LIMIT 100"
            ))
            .bind(table)
            .bind(event)
            .fetch_all(&mut *conn)
            .await?;
            for id in ids {
                breaks.push(Break {
                    kind: BreakKind::Unchained,
                    seq: None,
                    table: table.to_string(),
                    record_id: Some(id),
                    event: Some(event.to_string()),
                    detail: if event == "insert" {
                        "the row has no link in the chain (inserted behind its back)".into()
                    } else {
                        format!("its {event} has no link in the chain (made behind its back)")
                    },
                    accepted: false,
                });
            }
        }
    }
    Ok(())
}

/// Marks the breaks an operator accepted at an earlier start.
async fn mark_accepted(conn: &mut AnyConnection, breaks: &mut [Break]) -> Result<(), sqlx::Error> {
    let details: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM chain_marks WHERE kind = 'break_accepted'")
            .fetch_all(&mut *conn)
            .await?;
    let accepted: Vec<Break> = details
        .iter()
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|d| serde_json::from_value::<Vec<Break>>(d["breaks"].clone()).ok())
        .flatten()
        .collect();
    for b in breaks.iter_mut() {
        b.accepted = accepted.iter().any(|a| a.same_as(b));
    }
    Ok(())
}

/// Records an operator's acceptance of `breaks` with their reason (a
/// chained mark), so the daemon starts on this ledger from now on; the
/// breaks stay in every `verify`.
pub async fn accept_breaks(
    ledger: &Ledger,
    reason: &str,
    breaks: &[Break],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), LedgerError> {
    let mut conn = ledger
        .pool()
        .acquire()
        .await
        .map_err(query_err("accept the chain's breaks"))?;
    let mut tx = crate::sql::begin_write(&mut conn)
        .await
        .map_err(query_err("accept the chain's breaks"))?;
    let detail = serde_json::json!({ "breaks": breaks });
    let r: Result<(), sqlx::Error> = async {
        sqlx::query(
            "INSERT INTO chain_marks (at, kind, reason, detail) VALUES ($1, 'break_accepted', $2, $3)",
        )
        .bind(ledger_ts(now))
        .bind(reason)
        .bind(detail.to_string())
        .execute(&mut *tx)
        .await?;
        seal(&mut tx).await?;
        Ok(())
    }
    .await;
    r.map_err(query_err("accept the chain's breaks"))?;
    tx.commit()
        .await
        .map_err(query_err("accept the chain's breaks"))?;
    Ok(())
}

/// The daemon's check at start: the newest links and every row's link.
/// Breaks nobody accepted stop the start, unless `accept` gives the
/// reason to go on (chained with the breaks it accepts).
pub async fn check_at_start(
    ledger: &Ledger,
    accept: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Verification, LedgerError> {
    let mut v = verify(ledger, Scope::Tail(super::TAIL_AT_START), None).await?;
    let open: Vec<Break> = v.unaccepted().cloned().collect();
    let Some(first) = open.first() else {
        return Ok(v);
    };
    match accept.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => {
            accept_breaks(ledger, reason, &open, now).await?;
            for b in &mut v.breaks {
                b.accepted = true;
            }
            tracing::warn!(
                breaks = open.len(),
                first = %first.describe(),
                reason,
                "the ledger's hash chain is broken; going on as accepted (the acceptance is chained)"
            );
            Ok(v)
        }
        None => Err(LedgerError::ChainBroken {
            first: first.describe(),
            count: open.len(),
        }),
    }
}
