//! Reports for the contract manager: the quarterly line-quality report,
//! the annual summary with its acceptance view, the half-year payment
//! assessment and the record of one fault, in Chinese or English, as
//! HTML, PDF, Markdown, CSV or JSON. Figures come from the ledger through
//! [`figures`]; each report kind builds a [`doc::Doc`], which the
//! renderers draw; JSON is the figures themselves.

pub mod advice;
pub mod assessment;
pub mod charts;
pub mod csv;
pub mod doc;
pub mod fault_record;
pub mod figures;
pub mod html;
pub mod markdown;
pub mod pdf;
pub use linkledger_core::period;
pub mod period_report;
pub mod schedule;
pub mod sections;
pub mod traffic_figures;

use chrono::{DateTime, Utc};
use linkledger_ledger::Ledger;
use serde_json::json;

use linkledger_config::report::ReportFormat;
use linkledger_config::{Config, Language};
use linkledger_ledger::LedgerError;
use period::Period;

/// Which report.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportKind {
    Quarterly(Period),
    Annual(Period),
    Assessment(Period),
    Fault(i64),
}

impl ReportKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReportKind::Quarterly(_) => "quarterly",
            ReportKind::Annual(_) => "annual",
            ReportKind::Assessment(_) => "assessment",
            ReportKind::Fault(_) => "fault",
        }
    }

    /// A file name stem: "quarterly-2025Q1", "fault-12".
    pub fn stem(&self) -> String {
        match self {
            ReportKind::Quarterly(p) | ReportKind::Assessment(p) => {
                format!("{}-{}", self.as_str(), p.label)
            }
            // The label starts with the local start date: the calendar
            // year the contract year starts in.
            ReportKind::Annual(p) => format!("annual-{}", p.label.get(..4).unwrap_or(&p.label)),
            ReportKind::Fault(id) => format!("fault-{id}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("no fault #{0} in the ledger")]
    NoFault(i64),
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
}

/// A report ready to render: its document and its figures as JSON.
pub struct Report {
    pub kind: ReportKind,
    pub doc: doc::Doc,
    pub json: serde_json::Value,
}

impl Report {
    pub fn title(&self) -> &str {
        &self.doc.title
    }

    /// The report in `format` (PDF needs the CJK font).
    pub fn render(
        &self,
        format: ReportFormat,
        font: Option<&pdf::PdfFont>,
    ) -> Result<Vec<u8>, ReportError> {
        Ok(match format {
            ReportFormat::Html => html::render(&self.doc).into_bytes(),
            ReportFormat::Md => markdown::render(&self.doc).into_bytes(),
            ReportFormat::Csv => csv::render(&self.doc).into_bytes(),
            ReportFormat::Json => {
                let mut s = serde_json::to_string_pretty(&self.json).expect("figures serialise");
                s.push('\n');
                s.into_bytes()
            }
            ReportFormat::Pdf => match font {
                Some(f) => pdf::render(&self.doc, f)?,
                None => pdf::render(&self.doc, &pdf::PdfFont::load(None)?)?,
            },
        })
    }
}

/// Builds a report from the ledger, counted up to `now`.
pub async fn build(
    ledger: &Ledger,
    c: &Config,
    kind: ReportKind,
    line: Option<&str>,
    language: Language,
    now: DateTime<Utc>,
) -> Result<Report, ReportError> {
    // The moment the report's own chain head is taken at: its period's
    // end (once over), a fault's resolution.
    let mut pinned_at = None;
    let (doc, mut json) = match &kind {
        ReportKind::Quarterly(p) => {
            let f = figures::period_figures(ledger, c, p, line, now).await?;
            let (doc, advice) = period_report::quarterly(&f, language, now);
            (doc, json!({ "figures": f, "advice": advice }))
        }
        ReportKind::Annual(p) => {
            let f = figures::period_figures(ledger, c, p, line, now).await?;
            let drills = linkledger_ledger::records::drills(ledger).await?;
            let (doc, advice, clauses) = period_report::annual(&f, &drills, language, now);
            (
                doc,
                json!({ "figures": f, "advice": advice, "acceptance": clauses }),
            )
        }
        ReportKind::Assessment(p) => {
            let f = figures::period_figures(ledger, c, p, line, now).await?;
            let a = assessment::assess(&f, c);
            let doc = assessment::document(&f, &a, language, now);
            (doc, json!({ "figures": f, "assessment": a }))
        }
        ReportKind::Fault(id) => {
            let r = linkledger_ledger::evidence::gather(ledger, c, *id, now)
                .await?
                .ok_or(ReportError::NoFault(*id))?;
            pinned_at = r.fault.resolved_at;
            let doc = fault_record::document(&r, c, language, now);
            (doc, json!({ "fault": r }))
        }
    };
    if let ReportKind::Quarterly(p) | ReportKind::Annual(p) | ReportKind::Assessment(p) = &kind {
        pinned_at = Some(p.end);
    }
    let pinned_at = pinned_at.filter(|t| *t <= now);
    // What every report kind carries: its number, the chain heads that pin
    // the ledger it came from, and a sign-off block.
    let mut doc = doc;
    let heads = chain_heads(ledger, pinned_at).await?;
    heads.section(&mut doc, &kind);
    let (code, of) = match &kind {
        ReportKind::Quarterly(p) => ("QR", p.label.clone()),
        ReportKind::Annual(p) => ("AR", p.label.get(..4).unwrap_or(&p.label).to_string()),
        ReportKind::Assessment(p) => ("AS", p.label.clone()),
        ReportKind::Fault(id) => ("FR", id.to_string()),
    };
    let number = format!(
        "LL-{code}-{of}-{}",
        now.with_timezone(&c.daemon.timezone).format("%Y%m%d%H%M%S")
    );
    doc.subtitle.insert(
        0,
        format!(
            "{}: {number}",
            doc::tr(language, "报告编号", "Report number")
        ),
    );
    doc.sign_off();
    json["report_number"] = json!(number);
    json["schema"] = json!("linkledger.report/v1");
    json["kind"] = json!(kind.as_str());
    json["generated_at"] = json!(now);
    json["chain"] = json!(heads);
    Ok(Report { kind, doc, json })
}

/// The ledger's hash chain as a report prints it: the head as of the
/// period's end (a fault's resolution) and as of the report's making.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChainHeads {
    /// When `at_period_end` was taken (None: the period is not over, or
    /// the fault not resolved).
    pub period_end: Option<DateTime<Utc>>,
    pub at_period_end: Option<linkledger_ledger::chain::Head>,
    pub at_generation: Option<linkledger_ledger::chain::Head>,
}

async fn chain_heads(
    ledger: &Ledger,
    pinned_at: Option<DateTime<Utc>>,
) -> Result<ChainHeads, LedgerError> {
    let at_period_end = match pinned_at {
        Some(t) => linkledger_ledger::chain::head(ledger, Some(t)).await?,
        None => None,
    };
    Ok(ChainHeads {
        period_end: pinned_at,
        at_period_end,
        at_generation: linkledger_ledger::chain::head(ledger, None).await?,
    })
}

impl ChainHeads {
    /// 账本哈希链: the two heads, and what a holder of the report can do
    /// with them.
    fn section(&self, d: &mut doc::Doc, kind: &ReportKind) {
        let l = d.language;
        let fault = matches!(kind, ReportKind::Fault(_));
        // Sequence number and hash on rows of their own: a hash is as wide
        // as a PDF's value column.
        let rows =
            |label: (&str, &str), h: &Option<linkledger_ledger::chain::Head>, none: String| {
                let seq_label = doc::tr(
                    l,
                    &format!("{}序号", label.0),
                    &format!("{} (seq)", label.1),
                );
                let hash_label = doc::tr(l, label.0, label.1);
                match h {
                    Some(h) => vec![
                        (seq_label, h.seq.to_string()),
                        (hash_label, h.chain.clone()),
                    ],
                    None => vec![(hash_label, none)],
                }
            };
        let end_label = if fault {
            ("故障恢复时链头", "Chain head at resolution")
        } else {
            ("报告期末链头", "Chain head at period end")
        };
        let mut figures = if self.period_end.is_none() {
            let why = if fault {
                doc::tr(l, "故障尚未恢复", "the fault is not resolved yet")
            } else {
                doc::tr(l, "报告期尚未结束", "the period is not over yet")
            };
            vec![(doc::tr(l, end_label.0, end_label.1), why)]
        } else {
            rows(
                end_label,
                &self.at_period_end,
                doc::tr(l, "当时尚无记录入链", "nothing was chained by then"),
            )
        };
        figures.extend(rows(
            ("生成时链头", "Chain head at generation"),
            &self.at_generation,
            doc::tr(l, "尚无记录入链", "nothing chained yet"),
        ));
        d.heading(2, doc::tr(l, "账本哈希链", "Ledger hash chain"));
        d.figures(figures);
        d.note(doc::tr(
            l,
            "账本中每条可作为证据的记录（中断、故障及其处理、排除、维护、演练、操作审计等）都以 SHA-256 哈希链接其前的全部记录。持有本报告者可凭上列序号与链头核对账本：此后对这些记录的任何改动、删除或插入都会被发现。",
            "Every record in the ledger that can count as evidence (outages, faults and their handling, exclusions, maintenance, drills, the audit log) is linked by SHA-256 to every record before it. Whoever holds this report can check the ledger against the sequence numbers and heads above: any later change, removal or insertion of those records shows.",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_use_the_local_calendar() {
        let tz = chrono_tz::Asia::Shanghai;
        // A contract year from 1 January local starts on 31 December in UTC.
        let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let y = Period::contract_year(1, start, tz).unwrap();
        assert_eq!(ReportKind::Annual(y).stem(), "annual-2025");
        let q = Period::quarter("2025Q1", tz).unwrap();
        assert_eq!(ReportKind::Quarterly(q).stem(), "quarterly-2025Q1");
        assert_eq!(ReportKind::Fault(7).stem(), "fault-7");
    }
}
