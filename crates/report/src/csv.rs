//! A report as CSV for spreadsheets: every figure box and table of the
//! document in order, each under its section's heading, with a UTF-8 byte
//! order mark so that spreadsheet programs read the Chinese correctly.

use super::doc::{Block, Doc};

fn field(s: &str) -> String {
    let s = &neutral(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A cell a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+cmd`,
/// `@SUM`, a leading tab or carriage return) gets a leading apostrophe, the
/// usual rule; numbers, signed durations and percentages stay as they are.
fn neutral(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && s.trim().parse::<f64>().is_err() && seconds(s).is_none() && ratio(s).is_none() {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn row(out: &mut String, cells: &[String]) {
    out.push_str(&cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
    out.push_str("\r\n");
}

pub fn render(d: &Doc) -> String {
    let mut s = String::from("\u{feff}");
    row(&mut s, std::slice::from_ref(&d.title));
    for line in &d.subtitle {
        row(&mut s, std::slice::from_ref(line));
    }
    let mut section = String::new();
    for b in &d.blocks {
        match b {
            Block::Heading(_, t) => section = t.clone(),
            Block::Figures(pairs) => {
                s.push_str("\r\n");
                for (k, v) in pairs {
                    row(&mut s, &[section.clone(), k.clone(), v.clone()]);
                }
            }
            Block::Table(t) => {
                s.push_str("\r\n");
                // A column of durations or percentages gets a numeric twin
                // (seconds, ratio) beside it, for a spreadsheet to add up.
                let kinds: Vec<Option<Numeric>> = (0..t.head.len())
                    .map(|c| column_kind(t.rows.iter().filter_map(|r| r.get(c))))
                    .collect();
                let mut head = vec![section.clone()];
                for (h, k) in t.head.iter().zip(&kinds) {
                    head.push(h.clone());
                    if let Some(k) = k {
                        head.push(k.header(d.language, h));
                    }
                }
                row(&mut s, &head);
                for r in &t.rows {
                    let mut cells = vec![section.clone()];
                    for (i, c) in r.iter().enumerate() {
                        cells.push(c.clone());
                        if let Some(Some(k)) = kinds.get(i) {
                            cells.push(k.parse(c).map(number).unwrap_or_default());
                        }
                    }
                    row(&mut s, &cells);
                }
            }
            Block::Paragraph(t) => row(&mut s, &[section.clone(), t.clone()]),
            Block::Note(_) | Block::Chart(_) => {}
        }
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Numeric {
    Seconds,
    Ratio,
}

impl Numeric {
    fn header(self, l: linkledger_config::Language, h: &str) -> String {
        match (self, l) {
            (Numeric::Seconds, linkledger_config::Language::ZhCn) => format!("{h}（秒）"),
            (Numeric::Seconds, _) => format!("{h} (s)"),
            (Numeric::Ratio, linkledger_config::Language::ZhCn) => format!("{h}（比率）"),
            (Numeric::Ratio, _) => format!("{h} (ratio)"),
        }
    }

    fn parse(self, cell: &str) -> Option<f64> {
        match self {
            Numeric::Seconds => seconds(cell),
            Numeric::Ratio => ratio(cell),
        }
    }
}

/// Whether every filled cell of a column (at least one) is a duration as
/// the reports write them, or a percentage; "—" is an empty cell.
fn column_kind<'a>(cells: impl Iterator<Item = &'a String>) -> Option<Numeric> {
    let filled: Vec<&String> = cells.filter(|c| !c.is_empty() && *c != "—").collect();
    if filled.is_empty() {
        return None;
    }
    if filled.iter().all(|c| ratio(c).is_some()) {
        Some(Numeric::Ratio)
    } else if filled.iter().all(|c| seconds(c).is_some()) {
        Some(Numeric::Seconds)
    } else {
        None
    }
}

/// "12.5%" → 0.125.
fn ratio(cell: &str) -> Option<f64> {
    cell.trim()
        .strip_suffix('%')?
        .trim()
        .parse::<f64>()
        .ok()
        .map(|v| v / 100.0)
}

/// A duration as `notify::message::duration` writes it ("2小时15分",
/// "3分12秒", "42秒", "2h 15m", "3m 12s"), signed; seconds.
fn seconds(cell: &str) -> Option<f64> {
    let t = cell.trim();
    let (sign, t) = match t.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, t),
    };
    let mut total = 0.0;
    let mut rest = t.trim_start();
    let mut any = false;
    while !rest.is_empty() {
        let n_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n_len == 0 {
            return None;
        }
        let n: f64 = rest[..n_len].parse().ok()?;
        rest = &rest[n_len..];
        let (unit, len) = [
            ("小时", 3600.0),
            ("分钟", 60.0),
            ("分", 60.0),
            ("秒", 1.0),
            ("h", 3600.0),
            ("m", 60.0),
            ("s", 1.0),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, v)| (v, u.len()))?;
        total += n * unit;
        rest = rest[len..].trim_start();
        any = true;
    }
    any.then_some(sign * total)
}

fn number(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        assert_eq!(
            field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(field("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("-2+3"), "'-2+3");
        assert_eq!(field("-1"), "-1");
        assert_eq!(field("+1"), "+1");
        assert_eq!(field("-42秒"), "-42秒");
        assert_eq!(field("typhoon"), "typhoon");
    }

    #[test]
    fn durations_and_percentages_read_back_as_numbers() {
        assert_eq!(seconds("2小时15分"), Some(8100.0));
        assert_eq!(seconds("3分12秒"), Some(192.0));
        assert_eq!(seconds("15分钟"), Some(900.0));
        assert_eq!(seconds("-42秒"), Some(-42.0));
        assert_eq!(seconds("2h 15m"), Some(8100.0));
        assert_eq!(seconds("3m 12s"), Some(192.0));
        assert_eq!(seconds("telecom"), None);
        assert_eq!(seconds("2025-01-01"), None);
        assert_eq!(ratio("12.50%"), Some(0.125));
        assert_eq!(number(0.125), "0.125");
        assert_eq!(number(192.0), "192");
        let col = ["3分12秒".to_string(), "—".into(), "42秒".into()];
        assert_eq!(column_kind(col.iter()), Some(Numeric::Seconds));
        let mixed = ["3分12秒".to_string(), "telecom".into()];
        assert_eq!(column_kind(mixed.iter()), None);
    }
}
