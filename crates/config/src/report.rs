//! Reports: `[report]` (where the daemon writes its scheduled reports, in
//! which language and formats), `[[contract.member]]` (each consortium
//! member's annual fee) and `[[contract.penalty]]` (the deduction rules of
//! the half-year assessment). The contract states no deduction amounts for
//! service breaches, so no rule is assumed: an assessment without rules
//! lists the breaches and deducts nothing, and says so.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use linkledger_core::fault::FaultClass;
use linkledger_core::vocab::Language;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub language: Language,
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    #[serde(default = "yes")]
    pub schedule: bool,
    pub font: Option<PathBuf>,
}

impl Default for RawReport {
    fn default() -> Self {
        Self {
            dir: None,
            language: Language::ZhCn,
            formats: default_formats(),
            schedule: true,
            font: None,
        }
    }
}

fn default_formats() -> Vec<String> {
    vec!["pdf".into(), "html".into()]
}

fn yes() -> bool {
    true
}

/// `[report]`, validated.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// Scheduled reports go here (default: `reports/` beside the ledger).
    pub dir: PathBuf,
    pub language: Language,
    pub formats: Vec<ReportFormat>,
    /// Write each report when its period ends and queue a `report_ready` notice.
    pub schedule: bool,
    /// A CJK font (OpenType/TrueType or a collection) for PDFs; default:
    /// Noto Sans CJK from Debian's fonts-noto-cjk.
    pub font: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Html,
    Pdf,
    Md,
    Csv,
    Json,
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 5] = [Self::Html, Self::Pdf, Self::Md, Self::Csv, Self::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Pdf => "pdf",
            Self::Md => "md",
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// A consortium member's fee, by carrier name as in `[[line]] carrier`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub carrier: String,
    /// The annual service fee in yuan; a half-year's fee is half of it.
    pub annual_fee: f64,
}

/// What a penalty rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachKind {
    Response,
    OnSite,
    Resolution,
    RepairReport,
    /// Each started hour of charged downtime over the annual cap, counted
    /// within the contract year up to the half's end.
    DowntimeOverCap,
    /// Each maintenance window without timely notice or consent.
    LateMaintenance,
}

#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Penalty {
    pub name: String,
    pub breach: BreachKind,
    /// Only faults of this class (deadline breaches only).
    pub class: Option<FaultClass>,
    /// Yuan per breach.
    pub amount: Option<f64>,
    /// Share of the member's half-year fee per breach.
    pub share: Option<f64>,
    /// At most this many yuan per member and half-year.
    pub cap: Option<f64>,
    /// At most this share of the member's half-year fee.
    pub cap_share: Option<f64>,
}

type Invalid = (String, String);

pub fn validate_report(raw: RawReport, database: &Path) -> Result<ReportSettings, Invalid> {
    let mut formats = Vec::new();
    for (i, f) in raw.formats.iter().enumerate() {
        match ReportFormat::parse(f) {
            Some(x) => formats.push(x),
            None => {
                return Err((
                    format!("report.formats[{i}]"),
                    format!("{f:?} is not a report format; use \"pdf\", \"html\", \"md\", \"csv\" or \"json\""),
                ))
            }
        }
    }
    let dir = raw.dir.unwrap_or_else(|| {
        database
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("reports")
    });
    Ok(ReportSettings {
        dir,
        language: raw.language,
        formats,
        schedule: raw.schedule,
        font: raw.font,
    })
}

pub fn validate_money(
    members: &[Member],
    penalties: &[Penalty],
    carriers: &[String],
) -> Result<(), Invalid> {
    for (i, m) in members.iter().enumerate() {
        let key = format!("contract.member[{i}]");
        if !carriers.contains(&m.carrier) {
            return Err((
                format!("{key}.carrier"),
                format!(
                    "{:?} is no line's carrier; carriers are {carriers:?}",
                    m.carrier
                ),
            ));
        }
        if !(m.annual_fee.is_finite() && m.annual_fee >= 0.0) {
            return Err((
                format!("{key}.annual_fee"),
                format!("{} is not an amount in yuan", m.annual_fee),
            ));
        }
        if members[..i].iter().any(|o| o.carrier == m.carrier) {
            return Err((
                format!("{key}.carrier"),
                format!("{:?} has a fee already", m.carrier),
            ));
        }
    }
    for (i, p) in penalties.iter().enumerate() {
        let key = format!("contract.penalty[{i}] ({:?})", p.name);
        match (p.amount, p.share) {
            (Some(_), Some(_)) | (None, None) => {
                return Err((key, "give either amount (yuan per breach) or share (of the half-year fee per breach), not both or neither".into()))
            }
            (Some(a), None) if !(a.is_finite() && a >= 0.0) => return Err((format!("{key}.amount"), format!("{a} is not an amount in yuan"))),
            (None, Some(s)) if !(s > 0.0 && s <= 1.0) => {
                return Err((format!("{key}.share"), format!("{s} is not a share; use a number above 0 and at most 1")))
            }
            _ => {}
        }
        if p.class.is_some()
            && matches!(
                p.breach,
                BreachKind::DowntimeOverCap | BreachKind::LateMaintenance
            )
        {
            return Err((format!("{key}.class"), "only deadline breaches (response, on_site, resolution, repair_report) have a class".into()));
        }
        if p.cap_share.is_some_and(|s| !(s > 0.0 && s <= 1.0)) {
            return Err((
                format!("{key}.cap_share"),
                "is not a share; use a number above 0 and at most 1".into(),
            ));
        }
        if (p.share.is_some() || p.cap_share.is_some()) && members.is_empty() {
            return Err((
                key,
                "a share of the fee needs the fees: add [[contract.member]] with carrier and annual_fee".into(),
            ));
        }
    }
    Ok(())
}
