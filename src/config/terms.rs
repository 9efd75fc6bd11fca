//! The contract's terms beyond the cap: fault deadlines, the maintenance
//! notice, degradation thresholds and fault class rules (`[contract]`),
//! and the operator API's tokens (`[api]`). Every number defaults to the
//! value of the contract linkledger was first built for.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::raw::Dur;
use crate::fault::{ClassRules, FaultClass};

fn mins(m: u64) -> Dur {
    Dur(Duration::from_secs(60 * m))
}

/// `[contract.resolution]`: time to resolve a fault, per class.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResolution {
    #[serde(default = "thirty")]
    pub general: Dur,
    #[serde(default = "two_hours")]
    pub serious: Dur,
    #[serde(default = "two_hours")]
    pub major: Dur,
}

impl Default for RawResolution {
    fn default() -> Self {
        Self {
            general: thirty(),
            serious: two_hours(),
            major: two_hours(),
        }
    }
}

pub fn thirty() -> Dur {
    mins(30)
}
fn two_hours() -> Dur {
    mins(120)
}
pub fn eight_hours() -> Dur {
    mins(480)
}
pub fn one_day() -> Dur {
    mins(24 * 60)
}
pub fn yes() -> bool {
    true
}

/// `[contract.degradation]`: when quality is bad enough to be a fault.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDegradation {
    #[serde(default = "default_loss")]
    pub loss_ratio: f64,
    #[serde(default = "five_minutes")]
    pub loss_window: Dur,
    #[serde(default = "five_minutes")]
    pub rtt_window: Dur,
    #[serde(default = "default_utilisation")]
    pub utilisation_ratio: f64,
    #[serde(default = "fifteen_minutes")]
    pub utilisation_window: Dur,
}

impl Default for RawDegradation {
    fn default() -> Self {
        Self {
            loss_ratio: default_loss(),
            loss_window: five_minutes(),
            rtt_window: five_minutes(),
            utilisation_ratio: default_utilisation(),
            utilisation_window: fifteen_minutes(),
        }
    }
}

fn default_loss() -> f64 {
    0.05
}
fn default_utilisation() -> f64 {
    0.9
}
fn five_minutes() -> Dur {
    mins(5)
}
fn fifteen_minutes() -> Dur {
    mins(15)
}

/// Validated degradation thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    pub loss_ratio: f64,
    pub loss_window: Duration,
    pub rtt_window: Duration,
    pub utilisation_ratio: f64,
    pub utilisation_window: Duration,
}

/// Where the response deadline (第二条 17) runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFrom {
    /// From 申告, the fault report to the carrier (falling back to
    /// detection while nothing was reported): the contract's reading.
    #[default]
    Reported,
    /// From detection, whether or not anybody told the carrier.
    Detected,
}

/// Who answers for a breach of the whole egress (every line down): one
/// incident is one bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EgressBreaches {
    /// Each member for its own line's fault; the egress fault's own
    /// breaches are shown, not charged again.
    #[default]
    Lines,
    /// The consortium lead, once for the incident; the line faults the
    /// incident contains are not charged for their deadlines.
    Lead,
}

/// Validated fault deadlines and rules: the terms a fault is judged by.
/// The ledger keeps their history (`contract_terms`), so a fault is judged
/// by the terms in force when it was detected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    pub response: Duration,
    pub on_site: Duration,
    /// Indexed by class: general, serious, major.
    pub resolution: [Duration; 3],
    pub repair_report: Duration,
    pub maintenance_notice: Duration,
    pub approved_maintenance_counts: bool,
    pub degradation: Degradation,
    pub classes: ClassRules,
    #[serde(default)]
    pub response_from: ResponseFrom,
    #[serde(default)]
    pub egress_breaches: EgressBreaches,
    /// Whether a block outage (the public IP block unreachable from
    /// outside while the line is up from inside) counts against the cap.
    #[serde(default = "yes")]
    pub ip_block_counts: bool,
    /// Special periods with stricter deadlines for faults detected in them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special: Vec<super::special::SpecialTerms>,
}

impl Terms {
    /// The terms a fault detected at `detected` is judged by: a special
    /// period's stricter deadlines where one was in force (never looser).
    pub fn for_fault_detected(
        &self,
        detected: chrono::DateTime<chrono::Utc>,
    ) -> std::borrow::Cow<'_, Terms> {
        let Some(p) = self
            .special
            .iter()
            .find(|p| p.from <= detected && detected < p.to)
        else {
            return std::borrow::Cow::Borrowed(self);
        };
        let mut t = self.clone();
        if let Some(d) = p.response {
            t.response = t.response.min(d);
        }
        if let Some(d) = p.on_site {
            t.on_site = t.on_site.min(d);
        }
        if let Some(d) = p.resolution {
            for r in &mut t.resolution {
                *r = (*r).min(d);
            }
        }
        std::borrow::Cow::Owned(t)
    }
    pub fn resolution_for(&self, class: FaultClass) -> Duration {
        self.resolution[class as usize]
    }
}

impl Default for Terms {
    fn default() -> Self {
        validate(
            thirty(),
            thirty(),
            RawResolution::default(),
            eight_hours(),
            one_day(),
            yes(),
            RawDegradation::default(),
            ClassRules::default(),
        )
        .expect("the contract's defaults are valid")
    }
}

/// Validates the terms; errors are (key, message).
#[allow(clippy::too_many_arguments)]
pub fn validate(
    response: Dur,
    on_site: Dur,
    resolution: RawResolution,
    repair_report: Dur,
    maintenance_notice: Dur,
    approved_maintenance_counts: bool,
    degradation: RawDegradation,
    classes: ClassRules,
) -> Result<Terms, (String, String)> {
    let positive = [
        ("contract.response", response.0),
        ("contract.on_site", on_site.0),
        ("contract.resolution.general", resolution.general.0),
        ("contract.resolution.serious", resolution.serious.0),
        ("contract.resolution.major", resolution.major.0),
        ("contract.repair_report", repair_report.0),
    ];
    for (key, d) in positive {
        if d.is_zero() {
            return Err((key.into(), "must be more than 0, e.g. \"30m\"".into()));
        }
    }
    for (key, d) in [
        (
            "contract.degradation.loss_window",
            degradation.loss_window.0,
        ),
        ("contract.degradation.rtt_window", degradation.rtt_window.0),
        (
            "contract.degradation.utilisation_window",
            degradation.utilisation_window.0,
        ),
    ] {
        if d < Duration::from_secs(60) {
            return Err((
                key.into(),
                format!("{d:?} is too short to judge quality by; use at least 1m"),
            ));
        }
    }
    for (key, v) in [
        ("contract.degradation.loss_ratio", degradation.loss_ratio),
        (
            "contract.degradation.utilisation_ratio",
            degradation.utilisation_ratio,
        ),
    ] {
        if !(v > 0.0 && v <= 1.0) {
            return Err((
                key.into(),
                format!(
                    "{v} is not a share; use a number above 0 and at most 1, e.g. 0.05 for 5 %"
                ),
            ));
        }
    }
    if classes.egress_down < classes.line_down {
        return Err((
            "contract.classes.egress_down".into(),
            format!(
                "{} is below line_down ({}); the whole egress down cannot be a lesser fault than one line down",
                classes.egress_down, classes.line_down
            ),
        ));
    }
    if classes.line_down < classes.degradation {
        return Err((
            "contract.classes.line_down".into(),
            format!(
                "{} is below degradation ({}); a line down cannot be a lesser fault than a degradation",
                classes.line_down, classes.degradation
            ),
        ));
    }
    Ok(Terms {
        response: response.0,
        on_site: on_site.0,
        resolution: [
            resolution.general.0,
            resolution.serious.0,
            resolution.major.0,
        ],
        repair_report: repair_report.0,
        maintenance_notice: maintenance_notice.0,
        approved_maintenance_counts,
        degradation: Degradation {
            loss_ratio: degradation.loss_ratio,
            loss_window: degradation.loss_window.0,
            rtt_window: degradation.rtt_window.0,
            utilisation_ratio: degradation.utilisation_ratio,
            utilisation_window: degradation.utilisation_window.0,
        },
        classes,
        response_from: ResponseFrom::default(),
        egress_breaches: EgressBreaches::default(),
        ip_block_counts: true,
        special: Vec::new(),
    })
}

/// `[api]`: the operator API, off unless a token is configured.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    #[serde(default, rename = "token")]
    pub tokens: Vec<RawToken>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    pub name: String,
    pub role: ApiRole,
    pub token: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// What a token may do; each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiRole {
    /// Read everything.
    Viewer,
    /// Record a fault's timeline: acknowledged, on site, repair report,
    /// carrier ticket, notes; log drills.
    Operator,
    /// Exclusions, maintenance windows, reclassification.
    Manager,
}

impl ApiRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Viewer => "viewer",
            ApiRole::Operator => "operator",
            ApiRole::Manager => "manager",
        }
    }
}

/// A bearer token; its secret never appears in Debug output.
#[derive(Clone, PartialEq)]
pub struct ApiToken {
    pub name: String,
    pub role: ApiRole,
    pub secret: String,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("secret", &"<hidden>")
            .finish()
    }
}

/// Validates `[api]`; errors are (key, message) and never show a secret.
pub fn validate_api(raw: RawApi) -> Result<Vec<ApiToken>, (String, String)> {
    let mut out: Vec<ApiToken> = Vec::new();
    for (i, t) in raw.tokens.into_iter().enumerate() {
        let key = |k: &str| format!("api.token[{i}].{k}");
        if t.name.trim().is_empty() {
            return Err((
                key("name"),
                "must not be empty; it names the token in the audit log".into(),
            ));
        }
        if out.iter().any(|o| o.name == t.name) {
            return Err((key("name"), format!("duplicate token name {:?}", t.name)));
        }
        let secret = super::snmp::secret("token", t.token, t.token_env, t.token_file)
            .map_err(|(k, m)| (key(&k), m))?
            .ok_or_else(|| {
                (
                    key("token"),
                    "give one of token, token_env and token_file".to_string(),
                )
            })?;
        if secret.chars().count() < 16 || secret.chars().any(char::is_whitespace) {
            return Err((
                key("token"),
                "a token needs at least 16 characters and no spaces (e.g. from `openssl rand -hex 24`)".into(),
            ));
        }
        if out.iter().any(|o| o.secret == secret) {
            return Err((
                key("token"),
                "the same token is given twice; each needs its own".into(),
            ));
        }
        out.push(ApiToken {
            name: t.name,
            role: t.role,
            secret,
        });
    }
    Ok(out)
}
