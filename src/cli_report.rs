//! `linkledger report …`: a report from the ledger to a file or stdout.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::usage::{check_line, UsageError};
use linkledger_config::report::ReportFormat;
use linkledger_config::{Config, Language};
use linkledger_ledger as ledger;
use linkledger_report::period::Period;
use linkledger_report::{build, ReportKind};

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// The quarterly line-quality report (calendar quarter in the contract's zone).
    Quarterly {
        #[command(flatten)]
        common: Common,
        /// YYYYQn, e.g. 2025Q1.
        #[arg(long, value_name = "QUARTER")]
        quarter: String,
    },
    /// The annual summary with the acceptance view, for a contract year.
    Annual {
        #[command(flatten)]
        common: Common,
        /// The contract year's number counted from the contract start (1, 2, 3),
        /// as `budget --contract-year` takes it.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        contract_year: i64,
    },
    /// The half-year payment assessment with deductions per consortium member.
    Assessment {
        #[command(flatten)]
        common: Common,
        /// YYYYHn, e.g. 2025H1.
        #[arg(long, value_name = "HALF")]
        half: String,
    },
    /// The record of one fault: timeline, deadlines, probe evidence.
    Fault {
        #[command(flatten)]
        common: Common,
        /// The fault's id.
        id: i64,
    },
}

#[derive(Debug, Args)]
pub struct Common {
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Only this line (default: every line and the whole egress).
    #[arg(long, value_name = "ID")]
    pub line: Option<String>,
    /// zh-CN or en (default: [report] language).
    #[arg(long, value_name = "LANG")]
    pub lang: Option<String>,
    /// html, pdf, md, csv or json (default: from -o's extension, else html).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Write here (default: stdout; a PDF goes to <report>.pdf).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl ReportCmd {
    pub fn config_path(&self) -> &PathBuf {
        match self {
            ReportCmd::Quarterly { common, .. }
            | ReportCmd::Annual { common, .. }
            | ReportCmd::Assessment { common, .. }
            | ReportCmd::Fault { common, .. } => &common.config,
        }
    }
}

pub async fn run(c: &Config, cmd: ReportCmd) -> anyhow::Result<()> {
    let tz = c.daemon.timezone;
    let (kind, common) = match cmd {
        ReportCmd::Quarterly { common, quarter } => (
            ReportKind::Quarterly(Period::quarter(&quarter, tz).map_err(UsageError)?),
            common,
        ),
        ReportCmd::Annual {
            common,
            contract_year,
        } => (
            ReportKind::Annual(
                Period::contract_year(contract_year, c.contract.start, tz).map_err(UsageError)?,
            ),
            common,
        ),
        ReportCmd::Assessment { common, half } => (
            ReportKind::Assessment(Period::half(&half, tz).map_err(UsageError)?),
            common,
        ),
        ReportCmd::Fault { common, id } => (ReportKind::Fault(id), common),
    };
    let now = linkledger_ledger::clock::wall_now();
    if let ReportKind::Quarterly(p) | ReportKind::Annual(p) | ReportKind::Assessment(p) = &kind {
        if p.start > now {
            return Err(UsageError(format!(
                "{} has not begun yet (it starts {}); a report covers a period that has begun",
                p.label,
                p.start.with_timezone(&tz).date_naive()
            ))
            .into());
        }
    }
    check_line(c, common.line.as_deref())?;
    if common.line.is_some() && matches!(kind, ReportKind::Fault(_)) {
        return Err(UsageError(
            "--line does not apply to a fault record; the fault names its line".into(),
        )
        .into());
    }
    let language = match common.lang.as_deref() {
        None => c.report.language,
        Some("zh-CN" | "zh" | "zh-cn") => Language::ZhCn,
        Some("en") => Language::En,
        Some(other) => return Err(UsageError(format!("--lang {other:?}: use zh-CN or en")).into()),
    };
    let from_ext = common
        .output
        .as_ref()
        .and_then(|p| p.extension())
        .and_then(|e| ReportFormat::parse(&e.to_string_lossy().to_ascii_lowercase()));
    let format = match common.format.as_deref() {
        Some(f) => ReportFormat::parse(f)
            .ok_or_else(|| UsageError(format!("--format {f:?}: use html, pdf, md, csv or json")))?,
        None => from_ext.unwrap_or(ReportFormat::Html),
    };
    // Check the font before the ledger work, so a missing font fails fast.
    let font = match format {
        ReportFormat::Pdf => Some(linkledger_report::pdf::PdfFont::load(
            c.report.font.as_deref(),
        )?),
        _ => None,
    };
    let db = ledger::connect_for_reading(&c.daemon).await?;
    let report = build(&db, c, kind.clone(), common.line.as_deref(), language, now).await?;
    let bytes = report.render(format, font.as_ref())?;
    let output = common.output.or_else(|| {
        (format == ReportFormat::Pdf).then(|| PathBuf::from(format!("{}.pdf", kind.stem())))
    });
    match output {
        Some(path) => {
            std::fs::write(&path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "{} → {} ({} bytes)",
                report.title(),
                path.display(),
                bytes.len()
            );
        }
        None => std::io::stdout()
            .write_all(&bytes)
            .context("cannot write to stdout")?,
    }
    Ok(())
}
