//! A report as one standalone HTML file for A4: inline CSS, charts as
//! inline SVG, no scripts, fonts, images or links to fetch.

use std::fmt::Write;

use super::doc::{Block, Doc};
use linkledger_config::Language;
use linkledger_core::text::html_escape as esc;

const CSS: &str = "\
@page{size:A4;margin:14mm 12mm}\
body{font-family:'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif;font-size:10pt;color:#222;max-width:186mm;margin:0 auto;line-height:1.45}\
h1{font-size:17pt;margin:0 0 2mm}h2{font-size:13pt;border-bottom:1.5px solid #1f4e79;color:#1f4e79;margin:7mm 0 2mm;page-break-after:avoid}\
h3{font-size:11pt;margin:4mm 0 1.5mm;page-break-after:avoid}\
.sub{color:#555;margin:0}.note{color:#666;font-size:8.5pt;margin:1mm 0 2mm}\
table{border-collapse:collapse;width:100%;margin:1mm 0 3mm;font-size:8.5pt}thead{display:table-header-group}\
th,td{border:1px solid #bbb;padding:1mm 1.5mm;text-align:left;vertical-align:top}th{background:#e8eef5}\
tr{page-break-inside:avoid}td.n{text-align:right;font-variant-numeric:tabular-nums}\
dl.fig{display:grid;grid-template-columns:max-content 1fr;gap:0.6mm 4mm;margin:1mm 0 3mm}dl.fig dt{color:#555}dl.fig dd{margin:0;font-weight:600}\
figure{margin:2mm 0 4mm;page-break-inside:avoid}figure svg{width:100%;height:auto}\
";

fn numeric(s: &str) -> bool {
    // Durations ("1h 30m 0s", "0s") stay text, so a column aligns one way.
    let s = s.trim_end_matches('%');
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || ".,-+:".contains(c))
}

pub fn render(d: &Doc) -> String {
    let lang = if d.language == Language::ZhCn {
        "zh-CN"
    } else {
        "en"
    };
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&d.title),
        esc(&d.title)
    );
    for line in &d.subtitle {
        let _ = writeln!(s, "<p class=\"sub\">{}</p>", esc(line));
    }
    for b in &d.blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(s, "<h{0}>{1}</h{0}>", level + 1, esc(t));
            }
            Block::Paragraph(t) => {
                let _ = writeln!(s, "<p>{}</p>", esc(t));
            }
            Block::Note(t) => {
                let _ = writeln!(s, "<p class=\"note\">{}</p>", esc(t));
            }
            Block::Figures(pairs) => {
                s.push_str("<dl class=\"fig\">");
                for (k, v) in pairs {
                    let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
                }
                s.push_str("</dl>\n");
            }
            Block::Table(t) => {
                s.push_str("<table>\n<thead><tr>");
                for h in &t.head {
                    let _ = write!(s, "<th>{}</th>", esc(h));
                }
                s.push_str("</tr></thead>\n<tbody>\n");
                for r in &t.rows {
                    s.push_str("<tr>");
                    for c in r {
                        if numeric(c) {
                            let _ = write!(s, "<td class=\"n\">{}</td>", esc(c));
                        } else {
                            let _ = write!(s, "<td>{}</td>", esc(c));
                        }
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</tbody>\n</table>\n");
            }
            Block::Chart(c) => {
                let _ = writeln!(s, "<figure>{}</figure>", c.svg);
            }
        }
    }
    s.push_str("</body>\n</html>\n");
    s
}
