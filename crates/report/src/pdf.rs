//! A report as PDF, laid out and written by the program (krilla): A4
//! pages, a CJK font embedded as a subset so Chinese text is selectable
//! and extracts correctly, tables that repeat their header across pages,
//! and the same SVG charts as the HTML (through usvg).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::Document;
use krilla_svg::{SurfaceExt, SvgSettings};

use super::doc::{Block, Doc, Table};
use linkledger_config::Language;

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 42.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BOTTOM: f32 = PAGE_H - MARGIN - 14.0;

/// Where fonts are looked for when `[report] font` is not set.
pub const DEFAULT_FONTS: [&str; 3] = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
];

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("no CJK font for the PDF: looked for {looked}; install Debian's fonts-noto-cjk or set [report] font to an OpenType/TrueType font with Chinese glyphs")]
    NoFont { looked: String },
    #[error("cannot read the font {path}: {source}")]
    ReadFont {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} has no usable font face with Chinese glyphs")]
    BadFont { path: String },
    #[error("cannot write the PDF: {0}")]
    Write(String),
}

/// A loaded font: its bytes, face index, and metrics for measuring text.
pub struct PdfFont {
    data: Arc<Vec<u8>>,
    index: u32,
    font: Font,
    family: String,
}

impl PdfFont {
    /// The configured font, or the first of [`DEFAULT_FONTS`] present.
    pub fn load(configured: Option<&Path>) -> Result<Self, PdfError> {
        let candidates: Vec<PathBuf> = match configured {
            Some(p) => vec![p.to_path_buf()],
            None => DEFAULT_FONTS.iter().map(PathBuf::from).collect(),
        };
        let Some(path) = candidates.iter().find(|p| p.exists()) else {
            return Err(PdfError::NoFont {
                looked: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let shown = path.display().to_string();
        let data = std::fs::read(path).map_err(|source| PdfError::ReadFont {
            path: shown.clone(),
            source,
        })?;
        let faces = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
        // Prefer the Simplified Chinese face of a CJK collection.
        let mut best: Option<(u32, String)> = None;
        for i in 0..faces {
            let Ok(face) = ttf_parser::Face::parse(&data, i) else {
                continue;
            };
            if face.glyph_index('中').is_none() {
                continue;
            }
            let family = face
                .names()
                .into_iter()
                .filter(|n| n.name_id == ttf_parser::name_id::FAMILY && n.is_unicode())
                .find_map(|n| n.to_string())
                .unwrap_or_default();
            let sc = family.contains(" SC");
            if best.is_none() || sc {
                best = Some((i, family));
                if sc {
                    break;
                }
            }
        }
        let (index, family) = best.ok_or(PdfError::BadFont {
            path: shown.clone(),
        })?;
        let data = Arc::new(data);
        let font = Font::new(krilla::Data::from(data.clone()), index)
            .ok_or(PdfError::BadFont { path: shown })?;
        Ok(PdfFont {
            data,
            index,
            font,
            family,
        })
    }

    fn face(&self) -> ttf_parser::Face<'_> {
        ttf_parser::Face::parse(&self.data, self.index).expect("parsed when loaded")
    }
}

struct Measure<'a> {
    face: ttf_parser::Face<'a>,
    upem: f32,
}

impl Measure<'_> {
    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| {
                self.face
                    .glyph_index(c)
                    .and_then(|g| self.face.glyph_hor_advance(g))
                    .map(|a| a as f32 / self.upem)
                    .unwrap_or(0.5)
            })
            .sum::<f32>()
            * size
    }

    /// Greedy line breaking: anywhere between CJK characters, at spaces
    /// otherwise, and inside a word only when it alone is too wide.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for c in para.chars() {
                let mut next = line.clone();
                next.push(c);
                if self.width(&next, size) <= width || line.is_empty() {
                    line = next;
                    continue;
                }
                if !c.is_whitespace() && (c as u32) < 0x2E80 {
                    if let Some(cut) = line.rfind(' ') {
                        let rest = line[cut + 1..].to_string();
                        lines.push(line[..cut].to_string());
                        line = rest;
                        line.push(c);
                        continue;
                    }
                }
                lines.push(std::mem::take(&mut line));
                if !c.is_whitespace() {
                    line.push(c);
                }
            }
            lines.push(line);
        }
        lines
    }
}

fn colour(r: u8, g: u8, b: u8) -> Fill {
    Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn rect_path(x: f32, y: f32, w: f32, h: f32) -> Option<krilla::geom::Path> {
    let mut pb = PathBuilder::new();
    pb.push_rect(Rect::from_xywh(x, y, w.max(0.1), h.max(0.1))?);
    pb.finish()
}

/// Draws blocks top to bottom, starting pages as needed.
struct Writer<'a> {
    doc: Document,
    font: &'a PdfFont,
    measure: Measure<'a>,
    /// Draw operations of the current page, replayed when it is finished.
    ops: Vec<Op>,
    y: f32,
    pages: usize,
    footer: String,
    /// The document's page count, once known (the second drawing).
    total: Option<usize>,
    language: Language,
    svg_options: usvg::Options<'static>,
}

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
        grey: u8,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        rgb: (u8, u8, u8),
    },
    Frame {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        rgb: (u8, u8, u8),
    },
    Svg {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        tree: Box<usvg::Tree>,
    },
}

impl<'a> Writer<'a> {
    fn room(&mut self, h: f32) {
        if self.y + h > BOTTOM && self.y > MARGIN + 1.0 {
            self.flush();
        }
    }

    /// Ends the page: draws its operations and its footer (第 x 页 / 共 y
    /// 页). One match over the drawing operations, kept whole.
    fn flush(&mut self) {
        self.pages += 1;
        let ops = std::mem::take(&mut self.ops);
        let n = self.pages;
        let footer = match (self.language, self.total) {
            (Language::ZhCn, Some(t)) => format!("{} · 第 {n} 页 / 共 {t} 页", self.footer),
            (Language::ZhCn, None) => format!("{} · 第 {n} 页", self.footer),
            (_, Some(t)) => format!("{} · page {n} of {t}", self.footer),
            (_, None) => format!("{} · page {n}", self.footer),
        };
        let mut page = self.doc.start_page_with(PageSettings::new(
            Size::from_wh(PAGE_W, PAGE_H).expect("A4"),
        ));
        let mut s = page.surface();
        for op in ops.into_iter().chain(std::iter::once(Op::Text {
            x: MARGIN,
            y: PAGE_H - MARGIN + 6.0,
            size: 7.5,
            text: footer,
            grey: 120,
        })) {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    text,
                    grey,
                } => {
                    s.set_fill(Some(colour(grey, grey, grey)));
                    s.draw_text(
                        Point::from_xy(x, y),
                        self.font.font.clone(),
                        size,
                        &text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Fill { x, y, w, h, rgb } => {
                    if let Some(p) = rect_path(x, y, w, h) {
                        s.set_stroke(None);
                        s.set_fill(Some(colour(rgb.0, rgb.1, rgb.2)));
                        s.draw_path(&p);
                    }
                }
                Op::Frame { x, y, w, h } => {
                    if let Some(p) = rect_path(x, y, w, h) {
                        s.set_fill(None);
                        s.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(170, 170, 170).into(),
                            width: 0.5,
                            ..Default::default()
                        }));
                        s.draw_path(&p);
                        s.set_stroke(None);
                    }
                }
                Op::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    width,
                    rgb,
                } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(x1, y1);
                    pb.line_to(x2, y2);
                    if let Some(p) = pb.finish() {
                        s.set_fill(None);
                        s.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(rgb.0, rgb.1, rgb.2).into(),
                            width,
                            ..Default::default()
                        }));
                        s.draw_path(&p);
                        s.set_stroke(None);
                    }
                }
                Op::Svg { x, y, w, h, tree } => {
                    s.push_transform(&Transform::from_translate(x, y));
                    s.draw_svg(
                        &tree,
                        Size::from_wh(w, h).expect("chart size"),
                        SvgSettings::default(),
                    );
                    s.pop();
                }
            }
        }
        s.finish();
        page.finish();
        self.y = MARGIN;
    }

    fn text_lines(&mut self, lines: &[String], x: f32, size: f32, grey: u8) {
        let lh = size * 1.45;
        for line in lines {
            self.room(lh);
            self.y += lh;
            self.ops.push(Op::Text {
                x,
                y: self.y - size * 0.3,
                size,
                text: line.clone(),
                grey,
            });
        }
    }

    fn paragraph(&mut self, text: &str, size: f32, grey: u8) {
        let lines = self.measure.wrap(text, size, CONTENT_W);
        self.text_lines(&lines, MARGIN, size, grey);
        self.y += size * 0.5;
    }

    fn heading(&mut self, level: u8, text: &str) {
        let size = if level <= 1 { 13.5 } else { 10.5 };
        self.room(size * 2.0 + 40.0);
        self.y += if level <= 1 { 12.0 } else { 6.0 };
        let lines = self.measure.wrap(text, size, CONTENT_W);
        self.text_lines(&lines, MARGIN, size, if level <= 1 { 20 } else { 40 });
        if level <= 1 {
            self.y += 2.0;
            self.ops.push(Op::Line {
                x1: MARGIN,
                y1: self.y,
                x2: MARGIN + CONTENT_W,
                y2: self.y,
                width: 1.0,
                rgb: (31, 78, 121),
            });
        }
        self.y += 4.0;
    }

    fn figures(&mut self, pairs: &[(String, String)]) {
        let size = 8.5;
        let lh = size * 1.5;
        let label_w = CONTENT_W * 0.38;
        for (k, v) in pairs {
            let kl = self.measure.wrap(k, size, label_w - 6.0);
            let vl = self.measure.wrap(v, size, CONTENT_W - label_w);
            let h = kl.len().max(vl.len()) as f32 * lh;
            self.room(h);
            for (i, t) in kl.iter().enumerate() {
                self.ops.push(Op::Text {
                    x: MARGIN,
                    y: self.y + (i + 1) as f32 * lh - size * 0.3,
                    size,
                    text: t.clone(),
                    grey: 90,
                });
            }
            for (i, t) in vl.iter().enumerate() {
                self.ops.push(Op::Text {
                    x: MARGIN + label_w,
                    y: self.y + (i + 1) as f32 * lh - size * 0.3,
                    size,
                    text: t.clone(),
                    grey: 0,
                });
            }
            self.y += h;
        }
        self.y += 6.0;
    }

    fn table(&mut self, t: &Table) {
        let size = 7.2;
        let lh = size * 1.35;
        let pad = 2.5;
        let n = t.head.len();
        let weights: Vec<f32> = (0..n)
            .map(|i| t.widths.get(i).copied().unwrap_or(1.0))
            .collect();
        let sum: f32 = weights.iter().sum();
        let widths: Vec<f32> = weights.iter().map(|w| w / sum * CONTENT_W).collect();
        let wrap_row = |m: &Measure, cells: &[String]| -> Vec<Vec<String>> {
            (0..n)
                .map(|i| {
                    m.wrap(
                        cells.get(i).map(String::as_str).unwrap_or(""),
                        size,
                        widths[i] - 2.0 * pad,
                    )
                })
                .collect()
        };
        let head = wrap_row(&self.measure, &t.head);
        let head_h = head.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 2.0 * pad;
        let rows: Vec<Vec<Vec<String>>> =
            t.rows.iter().map(|r| wrap_row(&self.measure, r)).collect();
        let draw_row = |w: &mut Writer, cells: &[Vec<String>], h: f32, header: bool| {
            let mut x = MARGIN;
            if header {
                w.ops.push(Op::Fill {
                    x: MARGIN,
                    y: w.y,
                    w: CONTENT_W,
                    h,
                    rgb: (232, 238, 245),
                });
            }
            for (i, lines) in cells.iter().enumerate() {
                w.ops.push(Op::Frame {
                    x,
                    y: w.y,
                    w: widths[i],
                    h,
                });
                for (j, line) in lines.iter().enumerate() {
                    w.ops.push(Op::Text {
                        x: x + pad,
                        y: w.y + pad + (j + 1) as f32 * lh - size * 0.3,
                        size,
                        text: line.clone(),
                        grey: 0,
                    });
                }
                x += widths[i];
            }
            w.y += h;
        };
        self.room(
            head_h
                + rows
                    .first()
                    .map(|r| r.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 2.0 * pad)
                    .unwrap_or(0.0),
        );
        draw_row(self, &head, head_h, true);
        for r in &rows {
            let h = r.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 2.0 * pad;
            if self.y + h > BOTTOM {
                self.flush();
                draw_row(self, &head, head_h, true);
            }
            draw_row(self, r, h, false);
        }
        self.y += 8.0;
    }

    fn chart(&mut self, svg: &str, width: f32, height: f32) {
        let Ok(tree) = usvg::Tree::from_str(svg, &self.svg_options) else {
            // The program made this SVG; failing to parse it is a bug, but
            // the report goes on without the chart rather than not at all.
            tracing::warn!("a report chart did not parse as SVG; left out of the PDF");
            return;
        };
        let w = CONTENT_W;
        let h = height * w / width;
        self.room(h + 6.0);
        self.ops.push(Op::Svg {
            x: MARGIN,
            y: self.y,
            w,
            h,
            tree: Box::new(tree),
        });
        self.y += h + 8.0;
    }
}

/// The document as PDF bytes.
pub fn render(d: &Doc, font: &PdfFont) -> Result<Vec<u8>, PdfError> {
    // Drawn twice: the first time to count the pages, so each footer can
    // say "第 x 页 / 共 y 页".
    let (_, pages) = draw(d, font, None)?;
    let (doc, _) = draw(d, font, Some(pages))?;
    doc.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

fn draw(d: &Doc, font: &PdfFont, total: Option<usize>) -> Result<(Document, usize), PdfError> {
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(font.data.as_ref().clone());
    let svg_options = usvg::Options {
        font_family: font.family.clone(),
        fontdb: Arc::new(db),
        ..Default::default()
    };
    let mut w = Writer {
        doc: Document::new(),
        font,
        measure: Measure {
            face: font.face(),
            upem: font.face().units_per_em() as f32,
        },
        ops: Vec::new(),
        y: MARGIN,
        pages: 0,
        footer: d.title.clone(),
        total,
        language: d.language,
        svg_options,
    };
    let title = w.measure.wrap(&d.title, 16.0, CONTENT_W);
    w.text_lines(&title, MARGIN, 16.0, 0);
    w.y += 4.0;
    for s in &d.subtitle {
        w.paragraph(s, 8.5, 80);
    }
    for b in &d.blocks {
        match b {
            Block::Heading(level, t) => w.heading(*level, t),
            Block::Paragraph(t) => w.paragraph(t, 9.0, 0),
            Block::Note(t) => w.paragraph(t, 7.5, 100),
            Block::Figures(pairs) => w.figures(pairs),
            Block::Table(t) => w.table(t),
            Block::Chart(c) => w.chart(&c.svg, c.width, c.height),
        }
    }
    w.flush();
    let pages_done = w.pages;
    let mut doc = w.doc;
    doc.set_metadata(
        krilla::metadata::Metadata::new()
            .title(d.title.clone())
            .creator(format!("linkledger {}", env!("CARGO_PKG_VERSION")))
            .language(
                if d.language == Language::ZhCn {
                    "zh-CN"
                } else {
                    "en"
                }
                .to_string(),
            ),
    );
    Ok((doc, pages_done))
}
