//! SVG charts drawn by the program: line charts over time with a labelled
//! y axis, a legend and optional reference lines (the contracted bandwidth,
//! the cap). Plain SVG 1.1 with inline styles and no external references,
//! so the same file goes into the HTML and, through usvg, into the PDF.

use std::fmt::Write;

use super::doc::Chart;
use linkledger_core::text::html_escape;

/// The font the charts ask for; the PDF renderer maps it to the embedded CJK font.
pub const FONT: &str = "Noto Sans CJK SC, Noto Sans SC, sans-serif";

const W: f32 = 680.0;
const H: f32 = 230.0;
const LEFT: f32 = 62.0;
const RIGHT: f32 = 12.0;
const TOP: f32 = 26.0;
const BOTTOM: f32 = 40.0;

pub const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// One series: points at x in [0, 1] (share of the time axis).
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub points: Vec<(f32, Option<f64>)>,
    pub dashed: bool,
}

/// A horizontal reference line.
pub struct Rule {
    pub name: String,
    pub value: f64,
    pub colour: &'static str,
}

pub struct LineChart {
    pub title: String,
    /// Labels under the x axis, at x in [0, 1].
    pub x_labels: Vec<(f32, String)>,
    pub y_min: f64,
    pub y_max: f64,
    pub y_format: fn(f64) -> String,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
}

/// An axis over [min, max] with about `n` steps of a round size:
/// (low, high, step), low and high whole multiples of the step.
pub fn nice_axis(min: f64, max: f64, n: usize) -> (f64, f64, f64) {
    let (min, max) = if max > min {
        (min, max)
    } else {
        (min, min + 1.0)
    };
    let raw = (max - min) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let lo = (min / step).floor() * step;
    let hi = (max / step).ceil() * step;
    (lo, hi, step)
}

fn esc(s: &str) -> String {
    html_escape(s)
}

/// The plot area's scale: values from `lo` to `hi` up the plot, the
/// time axis (0 to 1) across it.
struct Frame {
    lo: f64,
    hi: f64,
    span: f64,
}

impl Frame {
    fn x(&self, f: f32) -> f32 {
        LEFT + f.clamp(0.0, 1.0) * (W - RIGHT - LEFT)
    }

    fn y(&self, v: f64) -> f32 {
        let (y0, y1) = (TOP, H - BOTTOM);
        y1 - ((v.clamp(self.lo, self.hi) - self.lo) / self.span) as f32 * (y1 - y0)
    }
}

impl LineChart {
    /// The chart, or None when no series has a point to draw.
    pub fn render(&self) -> Option<Chart> {
        if self
            .series
            .iter()
            .all(|s| s.points.iter().all(|p| p.1.is_none()))
        {
            return None;
        }
        // Round ticks: the axis widened to whole steps of 1, 2, 2.5 or 5 × 10ⁿ.
        let (lo, hi, step) = nice_axis(self.y_min, self.y_max, 4);
        let fr = Frame {
            lo,
            hi,
            span: (hi - lo).max(f64::MIN_POSITIVE),
        };
        let x0 = LEFT;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="{FONT}" font-size="10">"#
        );
        let _ = write!(
            s,
            r##"<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>"##
        );
        let _ = write!(
            s,
            r##"<text x="{x0}" y="15" font-size="12" font-weight="bold" fill="#222222">{}</text>"##,
            esc(&self.title)
        );
        self.axes(&mut s, &fr, step);
        self.lines(&mut s, &fr);
        self.legend(&mut s);
        s.push_str("</svg>");
        Some(Chart {
            title: self.title.clone(),
            svg: s,
            width: W,
            height: H,
        })
    }

    /// The grid and its value labels, the time axis and its labels, and
    /// the reference rules.
    fn axes(&self, s: &mut String, fr: &Frame, step: f64) {
        let (lo, hi) = (fr.lo, fr.hi);
        let (x0, x1, y1) = (LEFT, W - RIGHT, H - BOTTOM);
        let ticks = ((hi - lo) / step).round() as usize;
        for i in 0..=ticks {
            let v = lo + step * i as f64;
            let yy = fr.y(v);
            let _ = write!(
                s,
                r##"<line x1="{x0}" y1="{yy:.1}" x2="{x1}" y2="{yy:.1}" stroke="#dddddd" stroke-width="0.6"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555555">{}</text>"##,
                x0 - 4.0,
                yy + 3.5,
                esc(&(self.y_format)(v))
            );
        }
        let _ = write!(
            s,
            r##"<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="#888888" stroke-width="0.8"/>"##
        );
        for (f, label) in &self.x_labels {
            let xx = fr.x(*f);
            let _ = write!(
                s,
                r##"<line x1="{xx:.1}" y1="{y1}" x2="{xx:.1}" y2="{:.1}" stroke="#888888" stroke-width="0.8"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#555555">{}</text>"##,
                y1 + 4.0,
                y1 + 15.0,
                esc(label)
            );
        }
        for r in &self.rules {
            let yy = fr.y(r.value);
            let _ = write!(
                s,
                r#"<line x1="{x0}" y1="{yy:.1}" x2="{x1}" y2="{yy:.1}" stroke="{}" stroke-width="1" stroke-dasharray="5 3"/>"#,
                r.colour
            );
        }
    }

    /// Each series as polylines, broken where it has no point.
    fn lines(&self, s: &mut String, fr: &Frame) {
        for se in &self.series {
            // A gap (None) breaks the line.
            let mut runs: Vec<Vec<(f32, f32)>> = vec![Vec::new()];
            for (f, v) in &se.points {
                match v {
                    Some(v) => runs.last_mut().expect("one run").push((fr.x(*f), fr.y(*v))),
                    None if !runs.last().expect("one run").is_empty() => runs.push(Vec::new()),
                    None => {}
                }
            }
            for run in runs.iter().filter(|r| !r.is_empty()) {
                let pts: Vec<String> = run.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
                let pts = if pts.len() == 1 {
                    vec![
                        pts[0].clone(),
                        format!("{:.1},{:.1}", run[0].0 + 1.5, run[0].1),
                    ]
                } else {
                    pts
                };
                let _ = write!(
                    s,
                    r#"<polyline fill="none" stroke="{}" stroke-width="1.3"{} points="{}"/>"#,
                    se.colour,
                    if se.dashed {
                        r#" stroke-dasharray="3 2""#
                    } else {
                        ""
                    },
                    pts.join(" ")
                );
            }
        }
    }

    /// The legend under the axis labels: series, then rules.
    fn legend(&self, s: &mut String) {
        let x0 = LEFT;
        // Legend under the axis labels.
        let mut lx = x0;
        let ly = H - 8.0;
        let entries = self
            .series
            .iter()
            .map(|se| (se.name.as_str(), se.colour, se.dashed))
            .chain(self.rules.iter().map(|r| (r.name.as_str(), r.colour, true)));
        for (name, colour, dashed) in entries {
            let _ = write!(
                s,
                r##"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"{}/><text x="{:.1}" y="{ly:.1}" fill="#333333">{}</text>"##,
                ly - 3.5,
                lx + 16.0,
                ly - 3.5,
                if dashed {
                    r#" stroke-dasharray="4 2""#
                } else {
                    ""
                },
                lx + 20.0,
                esc(name)
            );
            lx += 28.0 + text_width(name) * 10.0;
        }
    }
}

/// Approximate width of text in ems (CJK full width, the rest about half).
pub fn text_width(t: &str) -> f32 {
    t.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 1.0 } else { 0.56 })
        .sum()
}

#[cfg(test)]
mod axis_tests {
    use super::nice_axis;

    #[test]
    fn ticks_fall_on_round_values() {
        assert_eq!(nice_axis(0.0, 14400.0, 4), (0.0, 15000.0, 5000.0));
        let (lo, hi, step) = nice_axis(0.9993, 1.0, 4);
        assert!(
            (step - 0.0002).abs() < 1e-12 && (hi - 1.0).abs() < 1e-9 && lo <= 0.9993,
            "{lo} {hi} {step}"
        );
        assert_eq!(nice_axis(0.0, 37.0, 4), (0.0, 40.0, 10.0));
        assert_eq!(nice_axis(5.0, 5.0, 4).0, 5.0);
    }
}
