//! The page's building blocks, rendered by the template in `templates/report.html`.
//!
//! Every string here is user data and is escaped by the template, except
//! [`Block::Figure`]'s SVG, which plotters wrote (its text escaped by plotters).

use serde::Serialize;

/// One section of the page, with an anchor in the table of contents.
#[derive(Debug, Serialize)]
pub struct Section {
    /// Anchor id (fixed ASCII).
    pub id: &'static str,
    /// Heading.
    pub title: String,
    /// Content, in order.
    pub blocks: Vec<Block>,
}

/// A row of a [`Block::Grid`], marked when it deserves attention (for example a
/// p-value below 0.05).
#[derive(Debug, Serialize)]
pub struct GridRow {
    /// Cell texts, one per column.
    pub cells: Vec<String>,
    /// Whether the row is highlighted.
    pub flagged: bool,
}

impl GridRow {
    /// A plain row.
    pub fn new(cells: Vec<String>) -> Self {
        Self {
            cells,
            flagged: false,
        }
    }
}

/// A piece of a section.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    /// A paragraph of text.
    Paragraph {
        /// The text.
        text: String,
    },
    /// A picture: SVG drawn by plotters, with a caption.
    Figure {
        /// The `<svg>` element.
        svg: String,
        /// What it shows.
        caption: String,
    },
    /// A table.
    Grid {
        /// Caption above the table.
        caption: String,
        /// Column headings.
        columns: Vec<String>,
        /// Rows.
        rows: Vec<GridRow>,
    },
    /// Name and value pairs.
    Facts {
        /// The pairs.
        pairs: Vec<(String, String)>,
    },
    /// Preformatted text (a scenario file).
    Code {
        /// The text.
        text: String,
    },
    /// Content shown on request.
    Details {
        /// The line that opens it.
        summary: String,
        /// Content.
        blocks: Vec<Block>,
    },
}

impl Block {
    /// A paragraph.
    pub fn text(text: impl Into<String>) -> Self {
        Block::Paragraph { text: text.into() }
    }
}

/// The whole page.
#[derive(Debug, Serialize)]
pub struct Page {
    /// Title (the scenario's name).
    pub title: String,
    /// One line under the title.
    pub subtitle: String,
    /// Sections in order.
    pub sections: Vec<Section>,
}

/// A number for a table cell: about four significant digits, `–` when missing.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_string();
    }
    let a = x.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 1e6 {
        format!("{x:.3e}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.3}")
    } else if a >= 1e-3 {
        format!("{x:.4}")
    } else {
        format!("{x:.2e}")
    }
}

/// An optional number for a table cell.
pub fn opt_num(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), num)
}

/// An interval `[low, high]`, or `–` when either end is missing.
pub fn interval(low: Option<f64>, high: Option<f64>) -> String {
    match (low, high) {
        (Some(l), Some(h)) if l.is_finite() && h.is_finite() => {
            format!("[{},\u{a0}{}]", num(l), num(h))
        }
        _ => "–".to_string(),
    }
}

/// A p-value: three decimals, `< 0.001` below that.
pub fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p.is_finite() && p < 0.001 => "<\u{a0}0.001".to_string(),
        Some(p) if p.is_finite() => format!("{p:.3}"),
        _ => "–".to_string(),
    }
}

/// A whole number with thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_reading() {
        assert_eq!(num(525.123), "525.1");
        assert_eq!(num(0.41234), "0.4123");
        assert_eq!(num(4.56789), "4.568");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(2.5e7), "2.500e7");
        assert_eq!(interval(Some(1.0), Some(2.0)), "[1.000,\u{a0}2.000]");
        assert_eq!(interval(None, Some(2.0)), "–");
        assert_eq!(p_value(Some(0.0004)), "<\u{a0}0.001");
        assert_eq!(p_value(Some(0.04)), "0.040");
        assert_eq!(p_value(None), "–");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
    }
}
