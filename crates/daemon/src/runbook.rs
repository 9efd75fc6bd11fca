//! `/runbook`: the alerts' runbook (`deploy/prometheus/RUNBOOK.md`) as the
//! running daemon's version has it, as HTML with one anchor per alert, so an
//! alert's `runbook_url` (`http://<instance>/runbook#<alert>`) opens at its
//! section. The Markdown is the small subset the runbook uses: headings,
//! paragraphs, numbered and bulleted lists, `code`.

use linkledger_core::text::html_escape as esc;

const RUNBOOK: &str = include_str!("../../../deploy/prometheus/RUNBOOK.md");

pub async fn page() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        render(RUNBOOK),
    )
}

/// Inline `code` spans, the rest escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out += &format!("<code>{}</code>", esc(part));
        } else {
            out += &esc(part);
        }
    }
    out
}

/// The HTML being built: the open paragraph, list and list item.
#[derive(Default)]
struct Doc<'a> {
    body: String,
    para: Vec<&'a str>,
    list: Option<&'static str>,
    item: Vec<&'a str>,
}

impl Doc<'_> {
    fn end_item(&mut self) {
        if !self.item.is_empty() {
            self.body += &format!("<li>{}</li>", inline(&self.item.join(" ")));
            self.item.clear();
        }
    }

    /// Closes the open paragraph or list.
    fn end_block(&mut self) {
        if !self.para.is_empty() {
            self.body += &format!("<p>{}</p>", inline(&self.para.join(" ")));
            self.para.clear();
        }
        self.end_item();
        if let Some(tag) = self.list.take() {
            self.body += &format!("</{tag}>");
        }
    }
}

fn render(md: &str) -> String {
    let mut d = Doc::default();
    for line in md.lines() {
        let trimmed = line.trim();
        let numbered = trimmed
            .split_once(". ")
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if let Some(h) = trimmed.strip_prefix("## ") {
            d.end_block();
            d.body += &format!("<h2 id=\"{}\">{}</h2>", h.to_lowercase(), esc(h));
        } else if let Some(h) = trimmed.strip_prefix("# ") {
            d.end_block();
            d.body += &format!("<h1>{}</h1>", esc(h));
        } else if trimmed.is_empty() {
            d.end_block();
        } else if let Some(rest) = numbered.map(|(_, r)| r).or(trimmed.strip_prefix("- ")) {
            let tag = if numbered.is_some() { "ol" } else { "ul" };
            if !d.para.is_empty() {
                d.end_block();
            }
            d.end_item();
            if d.list.is_none() {
                d.body += &format!("<{tag}>");
                d.list = Some(tag);
            }
            d.item.push(rest);
        } else if d.list.is_some() {
            d.item.push(trimmed);
        } else {
            d.para.push(trimmed);
        }
    }
    d.end_block();
    let body = d.body;
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>linkledger · runbook</title>\
         <style>body{{font-family:sans-serif;max-width:50em;margin:1.5em auto;line-height:1.45;color:#222}}\
         code{{background:#f0f0f0;padding:0 .2em}}h2{{margin-top:1.8em}}</style></head>\
         <body>{body}<p><small>linkledger {}</small></p></body></html>",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alert_has_its_anchor_and_lists_render() {
        let html = render(RUNBOOK);
        let rules = include_str!("../../../deploy/prometheus/rules/linkledger-alerts.yml");
        for name in rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- alert: "))
        {
            assert!(
                html.contains(&format!("<h2 id=\"{}\">{name}</h2>", name.to_lowercase())),
                "no anchor for {name}"
            );
        }
        let small = render("# T\n\nA `x<y` b\nc.\n\n1. one\n   more\n2. two\n\ntail");
        assert!(small.contains("<h1>T</h1><p>A <code>x&lt;y</code> b c.</p><ol><li>one more</li><li>two</li></ol><p>tail</p>"), "{small}");
    }
}
