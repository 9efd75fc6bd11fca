//! A report as CSV for spreadsheets: every figure box and table of the
//! document in order, each under its section's heading, with a UTF-8 byte
//! order mark so that spreadsheet programs read the Chinese correctly.

use super::doc::{Block, Doc};

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
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
                let mut head = vec![section.clone()];
                head.extend(t.head.iter().cloned());
                row(&mut s, &head);
                for r in &t.rows {
                    let mut cells = vec![section.clone()];
                    cells.extend(r.iter().cloned());
                    row(&mut s, &cells);
                }
            }
            Block::Paragraph(t) => row(&mut s, &[section.clone(), t.clone()]),
            Block::Note(_) | Block::Chart(_) => {}
        }
    }
    s
}
