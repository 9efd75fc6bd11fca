//! The contract's terms beyond the cap: fault deadlines, the maintenance
//! notice, degradation thresholds and fault class rules (`[contract]`),
//! and the operator API's tokens (`[api]`). Every number defaults to the
//! value of the contract linkledger was first built for.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::values::Dur;
use linkledger_core::fault::ClassRules;
pub use linkledger_core::terms::{Degradation, EgressBreaches, ResponseFrom, Terms};

// Every default below is read from the domain's `Terms::default()`: the
// contract's numbers are written once, in `linkledger_core::terms`.

fn terms() -> Terms {
    Terms::default()
}

pub fn default_response() -> Dur {
    Dur(terms().response)
}
pub fn default_on_site() -> Dur {
    Dur(terms().on_site)
}
pub fn default_repair_report() -> Dur {
    Dur(terms().repair_report)
}
pub fn default_maintenance_notice() -> Dur {
    Dur(terms().maintenance_notice)
}
pub fn default_approved_maintenance_counts() -> bool {
    terms().approved_maintenance_counts
}
pub fn default_ip_block_counts() -> bool {
    terms().ip_block_counts
}

/// `[contract.resolution]`: time to resolve a fault, per class.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResolution {
    #[serde(default = "resolution::general")]
    pub general: Dur,
    #[serde(default = "resolution::serious")]
    pub serious: Dur,
    #[serde(default = "resolution::major")]
    pub major: Dur,
}

mod resolution {
    use super::{terms, Dur};
    pub fn general() -> Dur {
        Dur(terms().resolution[0])
    }
    pub fn serious() -> Dur {
        Dur(terms().resolution[1])
    }
    pub fn major() -> Dur {
        Dur(terms().resolution[2])
    }
}

impl Default for RawResolution {
    fn default() -> Self {
        Self {
            general: resolution::general(),
            serious: resolution::serious(),
            major: resolution::major(),
        }
    }
}

/// `[contract.degradation]`: when quality is bad enough to be a fault.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDegradation {
    #[serde(default = "degradation::loss_ratio")]
    pub loss_ratio: f64,
    #[serde(default = "degradation::loss_window")]
    pub loss_window: Dur,
    #[serde(default = "degradation::rtt_window")]
    pub rtt_window: Dur,
    #[serde(default = "degradation::utilisation_ratio")]
    pub utilisation_ratio: f64,
    #[serde(default = "degradation::utilisation_window")]
    pub utilisation_window: Dur,
}

mod degradation {
    use super::{Degradation, Dur};
    fn d() -> Degradation {
        Degradation::default()
    }
    pub fn loss_ratio() -> f64 {
        d().loss_ratio
    }
    pub fn loss_window() -> Dur {
        Dur(d().loss_window)
    }
    pub fn rtt_window() -> Dur {
        Dur(d().rtt_window)
    }
    pub fn utilisation_ratio() -> f64 {
        d().utilisation_ratio
    }
    pub fn utilisation_window() -> Dur {
        Dur(d().utilisation_window)
    }
}

impl Default for RawDegradation {
    fn default() -> Self {
        Self {
            loss_ratio: degradation::loss_ratio(),
            loss_window: degradation::loss_window(),
            rtt_window: degradation::rtt_window(),
            utilisation_ratio: degradation::utilisation_ratio(),
            utilisation_window: degradation::utilisation_window(),
        }
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
        crate::bounds::check(key, d)?;
    }
    crate::bounds::check("contract.maintenance_notice", maintenance_notice.0)?;
    check_degradation(&degradation)?;
    check_classes(&classes)?;
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

/// Degradation windows long enough to judge by, and ratios that are
/// shares.
fn check_degradation(degradation: &RawDegradation) -> Result<(), (String, String)> {
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
        crate::bounds::check(key, d)?;
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
    Ok(())
}

/// Fault classes in order: the whole egress down is no lesser fault than a
/// line down, and a line down no lesser than a degradation.
fn check_classes(classes: &ClassRules) -> Result<(), (String, String)> {
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
    Ok(())
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
        let secret = crate::values::secret("token", t.token, t.token_env, t.token_file)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults of each `[contract]` key are read from the domain's
    /// `Terms::default()`; validated, they give exactly those terms.
    #[test]
    fn an_empty_contract_table_gives_the_domain_defaults() {
        let t = validate(
            default_response(),
            default_on_site(),
            RawResolution::default(),
            default_repair_report(),
            default_maintenance_notice(),
            default_approved_maintenance_counts(),
            RawDegradation::default(),
            ClassRules::default(),
        )
        .unwrap();
        assert_eq!(t, Terms::default());
    }
}
