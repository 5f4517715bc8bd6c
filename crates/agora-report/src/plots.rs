//! The report's pictures, drawn with plotters into SVG strings that the page inlines.
//!
//! Text stays text: plotters writes labels as SVG `<text>` elements (escaped), so the
//! page needs no font files and its labels can be searched and copied.

use std::collections::BTreeSet;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{ReportError, Result};

/// Width of every plot, in pixels.
const WIDTH: u32 = 760;
/// Height of one row of a row-per-category plot.
const ROW: u32 = 26;
/// Longest category label drawn in full; longer ones are cut with an ellipsis.
const LABEL_CHARS: usize = 34;

/// Colour-blind-safe colours (Okabe and Ito), one per arm or replicate in turn.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(90, 90, 90),
];

/// The colour of series number `i`.
pub fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn fail(plot: &str) -> impl Fn(String) -> ReportError + '_ {
    move |reason| ReportError::Plot {
        plot: plot.to_string(),
        reason,
    }
}

/// A label cut to at most [`LABEL_CHARS`] characters.
fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// A plot title cut to the width of the plot.
fn heading(title: &str) -> String {
    const TITLE_CHARS: usize = 80;
    if title.chars().count() <= TITLE_CHARS {
        title.to_string()
    } else {
        let mut s: String = title.chars().take(TITLE_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// An axis tick: short, without trailing zeros (`300k`, `1.5M`, `0.25`).
fn tick(x: &f64) -> String {
    let a = x.abs();
    let (v, suffix) = if a >= 1e9 {
        (x / 1e9, "G")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e4 {
        (x / 1e3, "k")
    } else {
        (*x, "")
    };
    let mut s = format!("{v:.3}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s == "-0" {
        s = "0".to_string();
    }
    format!("{s}{suffix}")
}

/// Pixels for the widest of `labels`, within sensible bounds.
fn label_width(labels: &[String]) -> u32 {
    let chars = labels
        .iter()
        .map(|l| short(l).chars().count())
        .max()
        .unwrap_or(4);
    (chars as u32 * 8 + 16).clamp(48, 290)
}

/// A finite range around `values` with a margin, widened when it is empty or a point.
fn padded_range(values: impl IntoIterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let pad = if lo.abs() > 1e-12 {
            lo.abs() * 0.1
        } else {
            1.0
        };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.06;
    (lo - pad, hi + pad)
}

/// Draw `draw` on a fresh SVG canvas of `height` pixels and return the SVG text.
fn canvas(
    plot: &str,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(plot)(e.to_string()))?;
        draw(&root).map_err(fail(plot))?;
        root.present().map_err(|e| fail(plot)(e.to_string()))?;
    }
    Ok(svg)
}

/// Category labels drawn to the left of a row-per-category chart: row `k` (0 on top)
/// sits at `y = rows - 1 - k`.
fn row_labels<X: plotters::coord::ranged1d::Ranged<ValueType = f64>>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<X, plotters::coord::types::RangedCoordf64>,
    >,
    x_left: f64,
    labels: &[String],
) -> Result<(), String> {
    let rows = labels.len();
    let style = TextStyle::from(("sans-serif", 14).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (k, label) in labels.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(x_left, (rows - 1 - k) as f64));
        root.draw(&Text::new(short(label), (x - 6, y), style.clone()))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Horizontal grouped bars: one row per category, one bar per series in each row.
///
/// `series` holds a name and one value per category (for example the share of an arm's
/// answers on each option). `x_desc` names the axis.
pub fn grouped_bars(
    plot: &str,
    title: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
    x_desc: &str,
) -> Result<String> {
    let rows = categories.len().max(1);
    let groups = series.len().max(1);
    let bar_rows = (rows * groups) as u32;
    let legend = if series.len() > 1 {
        20 * groups as u32 + 16
    } else {
        0
    };
    let height = 90 + (bar_rows * 11).max(rows as u32 * ROW).max(legend);
    let left = label_width(categories);
    let (_, mut x_max) = padded_range(series.iter().flat_map(|(_, v)| v.iter().copied()), true);
    if series.len() > 1 {
        // Room on the right for the legend, clear of the bars.
        x_max *= 1.4;
    }
    canvas(plot, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(heading(title), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(left)
            .build_cartesian_2d(0.0..x_max, -0.5..(rows as f64 - 0.5))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(x_desc)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        let band = 0.8 / groups as f64;
        for (j, (name, values)) in series.iter().enumerate() {
            let c = colour(j);
            chart
                .draw_series(values.iter().enumerate().map(|(k, &v)| {
                    let centre = (rows - 1 - k) as f64;
                    let top = centre + 0.4 - band * j as f64;
                    Rectangle::new([(0.0, top), (v.max(0.0), top - band * 0.9)], c.filled())
                }))
                .map_err(|e| e.to_string())?
                .label(short(name))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        row_labels(root, &chart, 0.0, categories)
    })
}

/// One point per observation on rows of categories, coloured by group, with a
/// vertical reference line (for example observed minus target per replicate, at 0).
pub fn dots(
    plot: &str,
    title: &str,
    rows: &[String],
    points: &[(usize, f64, usize)],
    groups: &[String],
    reference: f64,
    x_desc: &str,
) -> Result<String> {
    let n = rows.len().max(1);
    let legend = if groups.len() > 1 {
        20 * groups.len() as u32 + 16
    } else {
        0
    };
    let height = 100 + (n as u32 * ROW).max(legend);
    let left = label_width(rows);
    let (x0, mut x1) = padded_range(points.iter().map(|p| p.1).chain([reference]), false);
    if groups.len() > 1 {
        // Room on the right for the legend, clear of the points.
        x1 += (x1 - x0) * 0.35;
    }
    canvas(plot, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(heading(title), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(left)
            .build_cartesian_2d(x0..x1, -0.5..(n as f64 - 0.5))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .y_labels(0)
            .x_desc(x_desc)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                [(reference, -0.5), (reference, n as f64 - 0.5)],
                BLACK.stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
        let spread = 0.5 / groups.len().max(1) as f64;
        for (g, name) in groups.iter().enumerate() {
            let c = colour(g);
            let offset = (g as f64 - (groups.len() as f64 - 1.0) / 2.0) * spread;
            chart
                .draw_series(
                    points
                        .iter()
                        .filter(|p| p.2 == g && p.0 < n)
                        .map(|p| Circle::new((p.1, (n - 1 - p.0) as f64 + offset), 4, c.filled())),
                )
                .map_err(|e| e.to_string())?
                .label(short(name))
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        if groups.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        row_labels(root, &chart, x0, rows)
    })
}

/// One estimate with its interval per row (a forest plot), with an optional vertical
/// reference line (0 for differences).
pub fn intervals(
    plot: &str,
    title: &str,
    rows: &[(String, f64, f64, f64)],
    reference: Option<f64>,
    x_desc: &str,
) -> Result<String> {
    let n = rows.len().max(1);
    let height = 90 + n as u32 * ROW;
    let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let left = label_width(&labels);
    let (x0, x1) = padded_range(
        rows.iter().flat_map(|r| [r.1, r.2, r.3]).chain(reference),
        false,
    );
    canvas(plot, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(heading(title), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(left)
            .build_cartesian_2d(x0..x1, -0.5..(n as f64 - 0.5))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .y_labels(0)
            .x_desc(x_desc)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        if let Some(r) = reference {
            chart
                .draw_series(LineSeries::new(
                    [(r, -0.5), (r, n as f64 - 0.5)],
                    BLACK.mix(0.6).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        }
        for (k, (_, estimate, low, high)) in rows.iter().enumerate() {
            let y = (n - 1 - k) as f64;
            let c = colour(k);
            if low.is_finite() && high.is_finite() {
                chart
                    .draw_series(LineSeries::new([(*low, y), (*high, y)], c.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series([*low, *high].map(|x| {
                        PathElement::new([(x, y - 0.18), (x, y + 0.18)], c.stroke_width(2))
                    }))
                    .map_err(|e| e.to_string())?;
            }
            if estimate.is_finite() {
                chart
                    .draw_series([Circle::new((*estimate, y), 5, c.filled())])
                    .map_err(|e| e.to_string())?;
            }
        }
        row_labels(root, &chart, x0, &labels)
    })
}

/// A line per series over a numeric x axis; thin series (`bold == false`) are drawn
/// faintly behind the bold ones, and only bold series enter the legend.
pub struct Line {
    /// Legend name.
    pub name: String,
    /// Colour index.
    pub colour: usize,
    /// Whether this is a summary line (thick, in the legend) or a detail line.
    pub bold: bool,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// Lines over a numeric x axis (for example mean opinion per round, per arm).
/// `marks` are x positions drawn as dashed vertical lines (for example the rounds at
/// which an intervention fired), named `mark_name` in the legend.
pub fn lines(
    plot: &str,
    title: &str,
    series: &[Line],
    marks: &[f64],
    mark_name: &str,
    x_desc: &str,
    y_desc: &str,
) -> Result<String> {
    // Whole-number x values (rounds) get one tick each when there are few of them.
    let xs: BTreeSet<u64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|x| x.fract() == 0.0 && *x >= 0.0)
        .map(|x| x as u64)
        .collect();
    let all_whole = series
        .iter()
        .all(|s| s.points.iter().all(|p| p.0.fract() == 0.0));
    let x_ticks = if all_whole && xs.len() <= 12 {
        xs.len().max(2)
    } else {
        10
    };
    let (x0, x1) = padded_range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        false,
    );
    let (y0, y1) = padded_range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        false,
    );
    canvas(plot, 380, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(heading(title), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .x_labels(x_ticks)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        for (k, x) in marks.iter().enumerate() {
            let drawn = chart
                .draw_series(DashedLineSeries::new(
                    [(*x, y0), (*x, y1)],
                    6,
                    4,
                    BLACK.mix(0.7).stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            if k == 0 {
                drawn.label(short(mark_name)).legend(|(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.7).stroke_width(2))
                });
            }
        }
        for s in series.iter().filter(|s| !s.bold) {
            let c = colour(s.colour);
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    c.mix(0.35).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        }
        for s in series.iter().filter(|s| s.bold) {
            let c = colour(s.colour);
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(3)))
                .map_err(|e| e.to_string())?
                .label(short(&s.name))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())
    })
}

/// Points coloured by group, with the line `y = x` when `diagonal` is set (for example
/// bids against values).
pub fn scatter(
    plot: &str,
    title: &str,
    groups: &[(String, Vec<(f64, f64)>)],
    diagonal: bool,
    x_desc: &str,
    y_desc: &str,
) -> Result<String> {
    let (x0, x1) = padded_range(groups.iter().flat_map(|g| g.1.iter().map(|p| p.0)), true);
    let (y0, y1) = padded_range(groups.iter().flat_map(|g| g.1.iter().map(|p| p.1)), true);
    canvas(plot, 460, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(heading(title), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        if diagonal {
            let lo = x0.max(y0);
            let hi = x1.min(y1);
            if hi > lo {
                chart
                    .draw_series(LineSeries::new(
                        [(lo, lo), (hi, hi)],
                        BLACK.mix(0.5).stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?
                    .label("bid = value")
                    .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.5)));
            }
        }
        for (g, (name, points)) in groups.iter().enumerate() {
            let c = colour(g);
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, 3, c.mix(0.7).filled())),
                )
                .map_err(|e| e.to_string())?
                .label(short(name))
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_svg_text_and_escaped() {
        let svg = grouped_bars(
            "test",
            "Q <b>&",
            &["<script>alert(1)</script>".to_string(), "b".to_string()],
            &[("arm \"x\"".to_string(), vec![0.25, 0.75])],
            "share",
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<text"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("Q &lt;b&gt;&amp;"));
        assert!(svg.matches("<rect").count() >= 3);
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(&300000.0), "300k");
        assert_eq!(tick(&1500000.0), "1.5M");
        assert_eq!(tick(&0.25), "0.25");
        assert_eq!(tick(&2.0), "2");
        assert_eq!(tick(&-0.0001), "0");
        assert_eq!(tick(&-12.5), "-12.5");
    }

    #[test]
    fn long_labels_are_cut() {
        let long = "x".repeat(100);
        assert_eq!(short(&long).chars().count(), LABEL_CHARS);
        assert!(short(&long).ends_with('…'));
        assert_eq!(short("plan"), "plan");
    }

    #[test]
    fn ranges_are_finite_and_padded() {
        assert_eq!(padded_range([], false), (0.0, 1.0));
        let (lo, hi) = padded_range([2.0, 2.0], false);
        assert!(lo < 2.0 && hi > 2.0);
        let (lo, hi) = padded_range([f64::NAN, 1.0, 3.0], true);
        assert!(lo < 0.0 && hi > 3.0);
    }
}
