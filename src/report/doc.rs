//! A tiny document model for the report, written as Markdown or HTML.

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    H1(String),
    H2(String),
    H3(String),
    /// A paragraph (inline Markdown: `code` and **bold** are kept as such in HTML).
    P(String),
    List(Vec<String>),
    /// Headers, rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// File name (next to the document), alt text.
    Image(String, String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    pub blocks: Vec<Block>,
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `code` and **bold** to HTML, the rest escaped.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{}</code>", esc(part)));
        } else {
            for (j, p) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    out.push_str(&format!("<strong>{}</strong>", esc(p)));
                } else {
                    out.push_str(&esc(p));
                }
            }
        }
    }
    out
}

impl Doc {
    pub fn push(&mut self, b: Block) {
        self.blocks.push(b);
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            match b {
                Block::H1(t) => out.push_str(&format!("# {t}\n\n")),
                Block::H2(t) => out.push_str(&format!("## {t}\n\n")),
                Block::H3(t) => out.push_str(&format!("### {t}\n\n")),
                Block::P(t) => out.push_str(&format!("{t}\n\n")),
                Block::List(items) => {
                    for i in items {
                        out.push_str(&format!("- {i}\n"));
                    }
                    out.push('\n');
                }
                Block::Table(h, rows) => {
                    let line = |cells: &[String]| {
                        format!(
                            "| {} |\n",
                            cells
                                .iter()
                                .map(|c| md_cell(c))
                                .collect::<Vec<_>>()
                                .join(" | ")
                        )
                    };
                    out.push_str(&line(h));
                    out.push_str(&format!("|{}\n", "---|".repeat(h.len())));
                    for r in rows {
                        out.push_str(&line(r));
                    }
                    out.push('\n');
                }
                Block::Image(file, alt) => out.push_str(&format!("![{alt}]({file})\n\n")),
            }
        }
        out
    }

    pub fn to_html(&self, title: &str) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}code{{background:#f3f3f3}}</style></head><body>\n",
            esc(title)
        );
        for b in &self.blocks {
            match b {
                Block::H1(t) => out.push_str(&format!("<h1>{}</h1>\n", inline(t))),
                Block::H2(t) => out.push_str(&format!("<h2>{}</h2>\n", inline(t))),
                Block::H3(t) => out.push_str(&format!("<h3>{}</h3>\n", inline(t))),
                Block::P(t) => out.push_str(&format!("<p>{}</p>\n", inline(t))),
                Block::List(items) => {
                    out.push_str("<ul>\n");
                    for i in items {
                        out.push_str(&format!("<li>{}</li>\n", inline(i)));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Table(h, rows) => {
                    out.push_str("<table>\n<tr>");
                    for c in h {
                        out.push_str(&format!("<th>{}</th>", esc(c)));
                    }
                    out.push_str("</tr>\n");
                    for r in rows {
                        out.push_str("<tr>");
                        for c in r {
                            out.push_str(&format!("<td>{}</td>", esc(c)));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</table>\n");
                }
                Block::Image(file, alt) => out.push_str(&format!(
                    "<p><img src=\"{}\" alt=\"{}\"></p>\n",
                    esc(file),
                    esc(alt)
                )),
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}
