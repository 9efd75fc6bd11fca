//! A report as Markdown (GitHub-flavoured tables), for pasting into a
//! ticket or a wiki. Charts are left out; the tables carry their figures.

use std::fmt::Write;

use super::doc::{Block, Doc};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(d: &Doc) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", d.title);
    for line in &d.subtitle {
        let _ = writeln!(s, "{line}  ");
    }
    s.push('\n');
    for b in &d.blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(s, "{} {t}\n", "#".repeat(*level as usize + 1));
            }
            Block::Paragraph(t) => {
                let _ = writeln!(s, "{t}\n");
            }
            Block::Note(t) => {
                let _ = writeln!(s, "*{}*\n", t.replace('*', "\\*"));
            }
            Block::Figures(pairs) => {
                for (k, v) in pairs {
                    let _ = writeln!(s, "- {k}: **{v}**");
                }
                s.push('\n');
            }
            Block::Table(t) => {
                let _ = writeln!(
                    s,
                    "| {} |",
                    t.head
                        .iter()
                        .map(|h| cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(s, "|{}|", vec!["---"; t.head.len()].join("|"));
                for r in &t.rows {
                    let _ = writeln!(
                        s,
                        "| {} |",
                        r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                s.push('\n');
            }
            Block::Chart(_) => {}
        }
    }
    s
}
