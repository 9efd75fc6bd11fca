//! The history of the contract terms (`contract_terms`): a new row each
//! time the daemon starts or reloads with terms that differ from the
//! latest recorded. A fault is judged by the terms in force when it was
//! detected, so shortening a deadline by SIGHUP changes only the faults
//! detected after it.

use crate::Ledger;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use super::{query_err, LedgerError};
use linkledger_config::Terms;
use linkledger_core::time::{ledger_ts, parse_ledger_ts};

/// Appends `terms` valid from `at` when they differ from the latest
/// recorded, on a connection of its own (a run's start).
pub async fn record_in_force(
    ledger: &Ledger,
    terms: &Terms,
    at: DateTime<Utc>,
    run_id: Option<i64>,
) -> Result<bool, LedgerError> {
    let mut conn = ledger
        .pool()
        .acquire()
        .await
        .map_err(query_err("record the contract terms"))?;
    record(&mut conn, terms, at, run_id).await
}

/// Appends `terms` valid from `at` when they differ from the latest recorded.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    terms: &Terms,
    at: DateTime<Utc>,
    run_id: Option<i64>,
) -> Result<bool, LedgerError> {
    let json = serde_json::to_string(terms).expect("terms serialize");
    let latest: Option<String> = sqlx::query_scalar(
        "SELECT terms_json FROM contract_terms ORDER BY valid_from DESC, id DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(query_err("read contract terms"))?;
    let same = latest
        .as_deref()
        .and_then(|j| serde_json::from_str::<Terms>(j).ok())
        .is_some_and(|t| t == *terms);
    if same {
        return Ok(false);
    }
    sqlx::query("INSERT INTO contract_terms (terms_json, valid_from, run_id) VALUES ($1, $2, $3)")
        .bind(json)
        .bind(ledger_ts(at))
        .bind(run_id)
        .execute(&mut *conn)
        .await
        .map_err(query_err("record contract terms"))?;
    Ok(true)
}

/// Every recorded version of the terms, oldest first, with the configured
/// terms to fall back on for a ledger that recorded none.
#[derive(Debug, Clone)]
pub struct TermsHistory {
    versions: Vec<(DateTime<Utc>, Terms)>,
    configured: Terms,
}

impl TermsHistory {
    pub(crate) async fn load(
        conn: &mut AnyConnection,
        configured: &Terms,
    ) -> Result<Self, LedgerError> {
        let rows = sqlx::query(
            "SELECT valid_from, terms_json FROM contract_terms ORDER BY valid_from, id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(query_err("read contract terms"))?;
        let versions = rows
            .iter()
            .filter_map(|r| {
                let at = parse_ledger_ts(&r.get::<String, _>(0))?;
                let terms = serde_json::from_str(&r.get::<String, _>(1)).ok()?;
                Some((at, terms))
            })
            .collect();
        Ok(Self {
            versions,
            configured: configured.clone(),
        })
    }

    /// Only the configured terms (a ledger read without its history).
    pub fn configured(terms: &Terms) -> Self {
        Self {
            versions: Vec::new(),
            configured: terms.clone(),
        }
    }

    /// The terms in force at `at`: the latest version recorded by then.
    /// Before the first recorded version (a fault from before the ledger
    /// kept terms), the first version; with none recorded, the configured.
    pub fn in_force(&self, at: DateTime<Utc>) -> &Terms {
        self.versions
            .iter()
            .rev()
            .find(|(from, _)| *from <= at)
            .or(self.versions.first())
            .map(|(_, t)| t)
            .unwrap_or(&self.configured)
    }
}
