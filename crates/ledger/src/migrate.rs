//! `linkledger migrate`: copies an SQLite ledger, row for row with its
//! keys and its hash chain, into an empty PostgreSQL ledger, in one
//! transaction, then checks that every table holds as many rows and that
//! the copy's chain verifies to the same head. Run again on a copy already
//! made, it finds the same rows and head and does nothing; on a database
//! holding anything else, it refuses.

use serde::Serialize;
use sqlx::Row;

use crate::chain::{self, Head, Scope};
use crate::{query_err, Backend, Ledger, LedgerError};

/// Rows fetched from SQLite and inserted into PostgreSQL at a time.
const BATCH: i64 = 500;

/// What a migration did.
#[derive(Debug, Serialize)]
pub struct Copied {
    /// Each table with the rows it holds on both sides.
    pub tables: Vec<(String, i64)>,
    /// The chain head both ledgers end at.
    pub head: Option<Head>,
    /// The copy was there already: nothing was written.
    pub already: bool,
}

fn refused(why: String) -> LedgerError {
    LedgerError::Migration(why)
}

/// The target's tables of record in the order they were created (an
/// order in which every reference points back), with their columns and
/// types.
async fn target_tables(to: &Ledger) -> Result<Vec<(String, Vec<(String, String)>)>, LedgerError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c WHERE c.relkind = 'r' \
         AND c.relnamespace = current_schema()::regnamespace AND c.relname NOT IN ('_sqlx_migrations', 'leadership') ORDER BY c.oid",
    )
    .fetch_all(to.pool())
    .await
    .map_err(query_err("read the PostgreSQL ledger's tables"))?;
    let mut out = Vec::with_capacity(names.len());
    for t in names {
        let cols = sqlx::query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&t)
        .fetch_all(to.pool())
        .await
        .map_err(query_err("read the PostgreSQL ledger's columns"))?
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect();
        out.push((t, cols));
    }
    Ok(out)
}

async fn count(ledger: &Ledger, table: &str) -> Result<i64, LedgerError> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM \"{table}\""))
        .fetch_one(ledger.pool())
        .await
        .map_err(query_err("count a table's rows"))
}

/// Copies `from` (SQLite, its chain sealed, no daemon writing it) into
/// `to` (PostgreSQL, its schema applied, empty).
pub async fn copy(from: &Ledger, to: &Ledger) -> Result<Copied, LedgerError> {
    if from.backend() != Backend::Sqlite || to.backend() != Backend::Postgres {
        return Err(refused(
            "migrate copies an SQLite ledger (--from FILE) into a PostgreSQL one (--to postgres://…)".into(),
        ));
    }
    let tables = target_tables(to).await?;
    let from_head = chain::head(from, None).await?;
    let mut counts = Vec::with_capacity(tables.len());
    let mut held = Vec::new();
    for (t, _) in &tables {
        counts.push((t.clone(), count(from, t).await?));
        let n = count(to, t).await?;
        if n > 0 {
            held.push((t.clone(), n));
        }
    }
    if !held.is_empty() {
        let to_head = chain::head(to, None).await?;
        let same_rows = counts
            .iter()
            .all(|(t, n)| held.iter().find(|(h, _)| h == t).map_or(0, |(_, m)| *m) == *n);
        let same_head = to_head.as_ref().map(|h| (h.seq, &h.chain))
            == from_head.as_ref().map(|h| (h.seq, &h.chain));
        if same_rows && same_head {
            return Ok(Copied {
                tables: counts,
                head: from_head,
                already: true,
            });
        }
        let (t, n) = &held[0];
        return Err(refused(format!(
            "the PostgreSQL database already holds a ledger that is not this one ({n} row(s) in {t}{}); migrate copies only into an empty database, or finds its own earlier copy complete",
            match &to_head {
                Some(h) => format!(", chain head seq {}", h.seq),
                None => String::new(),
            }
        )));
    }
    let err = query_err("copy the ledger");
    let mut tx = crate::sql::begin_write_pooled(to).await.map_err(err)?;
    // The links are copied with their records: no trigger adds new ones.
    sqlx::query("SELECT count(*) FROM (SELECT set_config('linkledger.copying', 'on', true)) AS c")
        .execute(&mut *tx)
        .await
        .map_err(query_err("copy the ledger"))?;
    for (table, cols) in &tables {
        copy_table(from, &mut tx, table, cols).await?;
    }
    tx.commit().await.map_err(query_err("commit the copy"))?;
    sqlx::query("SELECT count(*) FROM (SELECT ledger_resync_identities()) AS r")
        .execute(to.pool())
        .await
        .map_err(query_err("move the copy's key sequences past its rows"))?;
    // The copy holds every row, and its own chain walks to the same head.
    for (t, n) in &counts {
        let m = count(to, t).await?;
        if m != *n {
            return Err(refused(format!(
                "{t}: {n} row(s) in the SQLite ledger, {m} in the copy"
            )));
        }
    }
    let pin = from_head.as_ref().map(|h| (h.seq, h.chain.as_str()));
    let v = chain::verify(to, Scope::All, pin).await?;
    if !v.intact || v.pinned.as_ref().is_some_and(|p| !p.holds) {
        let first = v
            .breaks
            .first()
            .map(|b| format!("{} #{:?}: {}", b.table, b.record_id, b.detail))
            .unwrap_or_else(|| "the head does not hold".into());
        return Err(refused(format!(
            "the copy's hash chain does not verify to the SQLite ledger's head: {first}"
        )));
    }
    Ok(Copied {
        tables: counts,
        head: from_head,
        already: false,
    })
}

async fn copy_table(
    from: &Ledger,
    tx: &mut sqlx::AnyConnection,
    table: &str,
    cols: &[(String, String)],
) -> Result<(), LedgerError> {
    // SQLite's rowid is the key of every table (an alias of `id`, or the
    // hidden one a chain link names); PostgreSQL's `rowid` column holds it.
    let select: Vec<String> = cols.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let names = select.join(", ");
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT rowid, {names} FROM \"{table}\" WHERE rowid > $1 ORDER BY rowid LIMIT {BATCH}"
        ))
        .bind(after)
        .fetch_all(from.pool())
        .await
        .map_err(query_err("read the SQLite ledger"))?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        let n = cols.len();
        let values: Vec<String> = (0..rows.len())
            .map(|r| {
                let p: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
                format!("({})", p.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO \"{table}\" ({names}) OVERRIDING SYSTEM VALUE VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for row in &rows {
            for (i, (col, ty)) in cols.iter().enumerate() {
                let bad = |e: sqlx::Error| {
                    refused(format!(
                        "{table}.{col} (row id {}): cannot be read as {ty}: {e}",
                        row.get::<i64, _>(0)
                    ))
                };
                q = match ty.as_str() {
                    "bigint" | "integer" => {
                        q.bind(row.try_get::<Option<i64>, _>(i + 1).map_err(bad)?)
                    }
                    "double precision" => {
                        q.bind(row.try_get::<Option<f64>, _>(i + 1).map_err(bad)?)
                    }
                    "bytea" => q.bind(row.try_get::<Option<Vec<u8>>, _>(i + 1).map_err(bad)?),
                    _ => q.bind(row.try_get::<Option<String>, _>(i + 1).map_err(bad)?),
                };
            }
        }
        q.execute(&mut *tx)
            .await
            .map_err(|e| refused(format!("{table}: the copy was refused: {e}")))?;
        if (rows.len() as i64) < BATCH {
            break;
        }
    }
    Ok(())
}
