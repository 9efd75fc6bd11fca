//! A report as a document: headings, paragraphs, key figures, tables and
//! charts, in one language. Each report kind builds one [`Doc`]; the HTML,
//! Markdown and PDF renderers draw the same blocks, so every format shows
//! the same figures.

use linkledger_config::Language;

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading: level 1 (a line) or 2 (a part of it).
    Heading(u8, String),
    Paragraph(String),
    /// Small print: how a figure is counted.
    Note(String),
    /// Label → value pairs, shown as a two-column box.
    Figures(Vec<(String, String)>),
    Table(Table),
    Chart(Chart),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Relative column widths (used by the PDF; HTML lets the browser decide).
    pub widths: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    /// A standalone SVG document (no external references).
    pub svg: String,
    pub width: f32,
    pub height: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub language: Language,
    pub title: String,
    /// Lines under the title: contract, period, time zone, when made.
    pub subtitle: Vec<String>,
    pub blocks: Vec<Block>,
}

impl Doc {
    pub fn new(language: Language, title: String) -> Self {
        Doc {
            language,
            title,
            subtitle: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// The text in the document's language.
    pub fn t(&self, zh: &str, en: &str) -> String {
        tr(self.language, zh, en)
    }

    pub fn heading(&mut self, level: u8, text: impl Into<String>) {
        self.blocks.push(Block::Heading(level, text.into()));
    }

    pub fn paragraph(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Paragraph(text.into()));
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Note(text.into()));
    }

    pub fn figures(&mut self, pairs: Vec<(String, String)>) {
        self.blocks.push(Block::Figures(pairs));
    }

    /// A table; an empty one shows `empty` as a paragraph instead.
    pub fn table(&mut self, head: &[String], widths: &[f32], rows: Vec<Vec<String>>, empty: &str) {
        if rows.is_empty() {
            self.blocks.push(Block::Note(empty.to_string()));
            return;
        }
        self.blocks.push(Block::Table(Table {
            head: head.to_vec(),
            rows,
            widths: widths.to_vec(),
        }));
    }

    /// The sign-off at the end: who prepared it, who reviewed it, when
    /// (编制 / 审核 / 日期), for signatures on the printed copy.
    pub fn sign_off(&mut self) {
        let l = self.language;
        self.heading(2, tr(l, "签署", "Sign-off"));
        let head = heads(
            l,
            &[
                ("编制", "Prepared by"),
                ("审核", "Reviewed by"),
                ("日期", "Date"),
            ],
        );
        self.table(
            &head,
            &[1.0, 1.0, 1.0],
            vec![vec!["　".into(), "　".into(), "　".into()]],
            "",
        );
    }

    pub fn chart(&mut self, c: Option<Chart>) {
        if let Some(c) = c {
            self.blocks.push(Block::Chart(c));
        }
    }
}

pub fn tr(language: Language, zh: &str, en: &str) -> String {
    if language == Language::ZhCn { zh } else { en }.to_string()
}

/// Table headers in the document's language from (zh, en) pairs.
pub fn heads(language: Language, pairs: &[(&str, &str)]) -> Vec<String> {
    pairs.iter().map(|(z, e)| tr(language, z, e)).collect()
}
