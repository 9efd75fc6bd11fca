//! The journal: writes the database refused to the end of a run. A disk
//! that fills, a read-only remount or a lock held elsewhere can leave the
//! writer with a backlog when the daemon is told to stop; those writes are
//! the ledger's evidence (an outage's edges, the minutes probed), so they
//! are kept in `<database>.journal` beside the ledger and replayed at the
//! next start before anything else is recorded.
//!
//! The space is reserved at start (written with zeros and synced, so the
//! blocks are the file's own): on a disk that has since filled, the backlog
//! still fits. Each record carries the SHA-256 of its text; the header
//! names the run and how many records follow. A journal is replayed in one
//! transaction together with the `journal_replays` row that says so, so it
//! is replayed exactly once, also when the daemon dies while replaying.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Connection;

use super::{apply, is_permanent, Ctx, LedgerWrite, WriterRun};
use crate::clock::RunClock;
use crate::faults::FaultRules;
use crate::{query_err, Ledger, LedgerError};
use linkledger_core::time::ledger_ts;

/// Space reserved for a journal: some ten thousand outage edges, or an
/// hour of minute rows for a few lines.
pub const RESERVE: usize = 4 << 20;
const MAGIC: &str = "LINKLEDGER-JOURNAL 1";

/// `<database>.journal`.
pub fn journal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    id: String,
    run_id: i64,
    interval_ms: i64,
    written_at: String,
    writes: usize,
}

/// The reserved journal of a running daemon.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
}

/// What the writer does with writes it could not make: keep them (the
/// journal) or say why not.
pub(super) trait Keep {
    fn keep(&mut self, run: &WriterRun, writes: &[LedgerWrite]) -> std::io::Result<String>;
}

impl Keep for Option<Journal> {
    fn keep(&mut self, run: &WriterRun, writes: &[LedgerWrite]) -> std::io::Result<String> {
        match self {
            Some(j) => j.keep(run, writes, run.clock.now()),
            None => Err(std::io::Error::other(
                "no journal space was reserved at start",
            )),
        }
    }
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

impl Journal {
    /// Reserves the journal beside the ledger `db`. Refuses (an error) when
    /// the file still holds a journal: that is replayed first.
    pub fn reserve(db: &Path) -> std::io::Result<Journal> {
        let path = journal_path(db);
        if read(&path)?.is_some() {
            return Err(std::io::Error::other(format!(
                "{} still holds writes not replayed",
                path.display()
            )));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let zeros = vec![0u8; 64 << 10];
        let reserved = file.seek(SeekFrom::Start(0)).and_then(|_| {
            for _ in 0..RESERVE / zeros.len() {
                file.write_all(&zeros)?;
            }
            file.sync_all()
        });
        if let Err(e) = reserved {
            // A partial reservation would only take room the ledger needs.
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        sync_dir(&path);
        Ok(Journal { file, path })
    }

    /// Writes `writes` into the journal from its start and syncs it; the
    /// journal's path on success.
    pub fn keep(
        &mut self,
        run: &WriterRun,
        writes: &[LedgerWrite],
        at: DateTime<Utc>,
    ) -> std::io::Result<String> {
        let mut records = Vec::new();
        for w in writes {
            match serde_json::to_string(w) {
                Ok(text) => records.push(text),
                // Only what a reload sends cannot be serialized; the next
                // start records the lines and terms in force again.
                Err(_) => {
                    tracing::warn!(write = ?w, "not kept in the journal (recorded again at the next start)")
                }
            }
        }
        let header = Header {
            id: format!("run-{}-{}", run.run_id, ledger_ts(at)),
            run_id: run.run_id,
            interval_ms: run.interval_ms,
            written_at: ledger_ts(at),
            writes: records.len(),
        };
        let head = serde_json::to_string(&header).map_err(std::io::Error::other)?;
        let mut text = format!("{MAGIC}\n{} {head}\n", digest(&head));
        for r in &records {
            text += &format!("{} {r}\n", digest(r));
        }
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()?;
        Ok(self.path.display().to_string())
    }
}

/// A journal read back.
#[derive(Debug)]
struct Kept {
    header: Header,
    writes: Vec<LedgerWrite>,
    /// Records the header announced that could not be read (a damaged or
    /// torn record and every one after it).
    damaged: usize,
}

/// Reads the journal at `path`; None when there is none or it holds
/// nothing (the reservation's zeros).
fn read(path: &Path) -> std::io::Result<Option<Kept>> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => f.read_to_end(&mut bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = text.lines();
    match lines.next() {
        None => return Ok(None),
        Some(MAGIC) => {}
        Some(_) => {
            return Err(std::io::Error::other(format!(
                "{} is not a linkledger journal",
                path.display()
            )))
        }
    }
    let checked = |line: &str| -> Option<String> {
        let (sum, body) = line.split_once(' ')?;
        (digest(body) == sum).then(|| body.to_string())
    };
    let header: Header = lines
        .next()
        .and_then(checked)
        .and_then(|h| serde_json::from_str(&h).ok())
        .ok_or_else(|| {
            std::io::Error::other(format!("{}: its header is damaged", path.display()))
        })?;
    let mut writes = Vec::new();
    for line in lines.take(header.writes) {
        match checked(line).and_then(|b| serde_json::from_str::<LedgerWrite>(&b).ok()) {
            Some(w) => writes.push(w),
            None => break,
        }
    }
    let damaged = header.writes - writes.len();
    Ok(Some(Kept {
        header,
        writes,
        damaged,
    }))
}

/// What a start found in the journal.
#[derive(Debug, Default, PartialEq)]
pub struct Replayed {
    pub writes: usize,
    pub damaged: usize,
    /// Where a journal with damaged records was kept aside.
    pub kept_aside: Option<String>,
    /// Where a journal another daemon's run superseded was kept aside,
    /// not replayed (see [`replay`]).
    pub superseded: Option<String>,
}

/// Replays the journal beside `db`, if it holds writes, into the ledger:
/// every write in order, in one transaction with its `journal_replays`
/// row, then removes the file (or, when records were damaged, keeps it
/// aside as `<journal>.damaged-<time>`). Nothing is replayed twice.
///
/// A journal whose run is no longer the ledger's latest is not replayed:
/// another instance of an active/standby pair led after it and recorded
/// that time from its own rounds, so these writes would count it twice.
/// It is kept aside as `<journal>.superseded-<time>`.
pub async fn replay(
    ledger: &Ledger,
    db: &Path,
    rules: &FaultRules,
    clock: RunClock,
) -> Result<Replayed, LedgerError> {
    let path = journal_path(db);
    let journal_err = |e: std::io::Error| LedgerError::Journal {
        path: path.display().to_string(),
        source: e,
    };
    let Some(kept) = read(&path).map_err(journal_err)? else {
        return Ok(Replayed::default());
    };
    let h = &kept.header;
    let mut tx = crate::sql::begin_write_pooled(ledger)
        .await
        .map_err(query_err("begin replaying the journal"))?;
    let done: Option<String> =
        sqlx::query_scalar("SELECT journal FROM journal_replays WHERE journal = $1")
            .bind(&h.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_err("read journal replays"))?;
    let mut out = Replayed {
        writes: kept.writes.len(),
        damaged: kept.damaged,
        kept_aside: None,
        superseded: None,
    };
    let latest: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM runs")
        .fetch_one(&mut *tx)
        .await
        .map_err(query_err("read the latest run"))?;
    if done.is_none() && latest.is_some_and(|l| l > h.run_id) {
        drop(tx);
        let aside = PathBuf::from(format!(
            "{}.superseded-{}",
            path.display(),
            clock.now().format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::rename(&path, &aside).map_err(journal_err)?;
        sync_dir(&path);
        out.writes = 0;
        out.superseded = Some(aside.display().to_string());
        return Ok(out);
    }
    if done.is_none() {
        let mut rules = rules.clone();
        for w in &kept.writes {
            if let LedgerWrite::FaultRules(r) = w {
                rules = r.clone();
                continue;
            }
            let ctx = Ctx {
                run_id: h.run_id,
                clock: &clock,
                interval_ms: h.interval_ms,
                rules: &rules,
            };
            let mut one = tx
                .begin()
                .await
                .map_err(query_err("replay a journal write"))?;
            match apply::apply(&mut one, &ctx, w).await {
                Ok(()) => one
                    .commit()
                    .await
                    .map_err(query_err("replay a journal write"))?,
                Err(e) if is_permanent(&e) => {
                    drop(one);
                    tracing::error!(error = %e, write = ?w, "journal write rejected by a constraint; skipped");
                }
                Err(e) => return Err(query_err("replay a journal write")(e)),
            }
        }
        sqlx::query("INSERT INTO journal_replays (journal, run_id, writes, damaged, replayed_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&h.id)
            .bind(h.run_id)
            .bind(kept.writes.len() as i64)
            .bind(kept.damaged as i64)
            .bind(ledger_ts(clock.now()))
            .execute(&mut *tx)
            .await
            .map_err(query_err("record the journal's replay"))?;
    }
    crate::chain::seal(&mut tx)
        .await
        .map_err(query_err("seal the journal's replay"))?;
    tx.commit()
        .await
        .map_err(query_err("commit the journal's replay"))?;
    if kept.damaged > 0 {
        let aside = PathBuf::from(format!(
            "{}.damaged-{}",
            path.display(),
            clock.now().format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::rename(&path, &aside).map_err(journal_err)?;
        out.kept_aside = Some(aside.display().to_string());
    } else {
        std::fs::remove_file(&path).map_err(journal_err)?;
    }
    sync_dir(&path);
    if done.is_some() {
        tracing::warn!(
            journal = h.id,
            "the journal had already been replayed; removed"
        );
        out.writes = 0;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn backlog() -> Vec<LedgerWrite> {
        vec![
            LedgerWrite::OutageOpened {
                line: "telecom".into(),
                start: at(0),
                start_after: Some(at(-1)),
                cause: "gateway_unreachable",
            },
            LedgerWrite::OutageClosed {
                line: "telecom".into(),
                end: at(8),
                end_after: at(7),
            },
            LedgerWrite::Stopped { at: at(9) },
        ]
    }

    fn rules() -> FaultRules {
        FaultRules {
            classes: Default::default(),
            lines: vec!["telecom".into()],
        }
    }

    /// A new ledger in `dir` with one run begun: its path, the ledger, the
    /// run's clock and what its writer records for.
    async fn fresh_run(
        dir: &tempfile::TempDir,
    ) -> (std::path::PathBuf, crate::Ledger, RunClock, WriterRun) {
        let db = dir.path().join("ledger.db");
        let ledger = crate::open(&db).await.unwrap();
        let clock = RunClock::start();
        let start = crate::run::begin(&ledger, at(-10), "test.toml", 1000, &[])
            .await
            .unwrap();
        let run = WriterRun {
            run_id: start.run_id,
            clock: clock.clone(),
            interval_ms: 1000,
        };
        (db, ledger, clock, run)
    }

    #[tokio::test]
    async fn a_kept_backlog_is_replayed_once_and_the_journal_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (db, ledger, clock, run) = fresh_run(&dir).await;
        let mut j = Journal::reserve(&db).unwrap();
        assert_eq!(
            std::fs::metadata(journal_path(&db)).unwrap().len(),
            RESERVE as u64,
            "the space is reserved at start"
        );
        j.keep(&run, &backlog(), at(9)).unwrap();
        drop(j);
        assert!(
            Journal::reserve(&db).is_err(),
            "a journal holding writes is never overwritten"
        );

        let r = replay(&ledger, &db, &rules(), clock.clone()).await.unwrap();
        assert_eq!((r.writes, r.damaged, r.kept_aside), (3, 0, None));
        assert!(!journal_path(&db).exists());
        let outages: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT line, start_at, end_at FROM outages")
                .fetch_all(ledger.pool())
                .await
                .unwrap();
        assert_eq!(
            outages,
            [(
                "telecom".to_string(),
                ledger_ts(at(0)),
                Some(ledger_ts(at(8)))
            )]
        );
        let stopped: Option<String> =
            sqlx::query_scalar("SELECT stopped_at FROM runs WHERE id = $1")
                .bind(run.run_id)
                .fetch_one(ledger.pool())
                .await
                .unwrap();
        assert_eq!(stopped, Some(ledger_ts(at(9))));

        // The same journal again (a start that died after the commit, before
        // the file was removed) changes nothing.
        let mut j = Journal::reserve(&db).unwrap();
        j.keep(&run, &backlog(), at(9)).unwrap();
        drop(j);
        let again = replay(&ledger, &db, &rules(), clock).await.unwrap();
        assert_eq!(again.writes, 0);
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outages")
            .fetch_one(ledger.pool())
            .await
            .unwrap();
        assert_eq!(n, 1, "replayed exactly once");
    }

    #[tokio::test]
    async fn a_damaged_record_stops_the_replay_there_and_the_file_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let (db, ledger, clock, run) = fresh_run(&dir).await;
        let mut j = Journal::reserve(&db).unwrap();
        j.keep(&run, &backlog(), at(9)).unwrap();
        drop(j);
        // One byte of the second record flipped (a torn write).
        let path = journal_path(&db);
        let mut bytes = std::fs::read(&path).unwrap();
        let second = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(2)
            .unwrap()
            .0;
        bytes[second + 70] ^= 0x20;
        std::fs::write(&path, &bytes).unwrap();

        let r = replay(&ledger, &db, &rules(), clock).await.unwrap();
        assert_eq!((r.writes, r.damaged), (1, 2));
        let aside = r.kept_aside.expect("kept aside");
        assert!(std::path::Path::new(&aside).exists(), "{aside}");
        assert!(!path.exists());
        let open: Option<String> = sqlx::query_scalar("SELECT end_at FROM outages")
            .fetch_one(ledger.pool())
            .await
            .unwrap();
        assert_eq!(
            open, None,
            "the readable opening was replayed, nothing invented"
        );
    }

    #[tokio::test]
    async fn a_journal_another_run_followed_is_kept_aside_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let (db, ledger, clock, run) = fresh_run(&dir).await;
        let mut j = Journal::reserve(&db).unwrap();
        j.keep(&run, &backlog(), at(9)).unwrap();
        drop(j);
        // The other instance of a pair took over and began its run.
        crate::run::begin(&ledger, at(20), "other.toml", 1000, &[])
            .await
            .unwrap();
        let r = replay(&ledger, &db, &rules(), clock).await.unwrap();
        assert_eq!(r.writes, 0);
        let aside = r.superseded.expect("kept aside");
        assert!(aside.contains(".superseded-"), "{aside}");
        assert!(std::path::Path::new(&aside).exists(), "{aside}");
        assert!(!journal_path(&db).exists());
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outages")
            .fetch_one(ledger.pool())
            .await
            .unwrap();
        assert_eq!(n, 0, "the other run recorded that time: nothing replayed");
    }
}
