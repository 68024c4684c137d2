//! Results: latency summaries from HDR histograms, the JSON result file, the markdown table
//! printed at the end, and the `--plot` SVG (latency over time and its distribution), drawn
//! by hand.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency histograms count microseconds, from 1 µs to 10 minutes.
pub const MAX_MICROS: u64 = 600_000_000;

/// A histogram with three significant digits (the overall distribution).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("fixed bounds are valid")
}

/// A smaller histogram with two significant digits (one second of the timeline).
pub fn coarse_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("fixed bounds are valid")
}

/// Record a latency, clamped into the histogram's range.
pub fn record(histogram: &mut Histogram<u64>, micros: u64) {
    let _ = histogram.record(micros.clamp(1, MAX_MICROS));
}

/// A latency distribution in milliseconds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Latency {
    pub samples: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// One point per second since the load started: `[second, p50, p99, max]` (ms).
    pub timeline: Vec<[f64; 4]>,
    /// `[percentile, ms]` points of the distribution, for plotting.
    pub distribution: Vec<[f64; 2]>,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1_000.0
}

impl Latency {
    pub fn from(overall: &Histogram<u64>, timeline: &[Histogram<u64>]) -> Latency {
        if overall.is_empty() {
            return Latency::default();
        }
        let percentiles = [
            0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
        ];
        Latency {
            samples: overall.len(),
            p50_ms: ms(overall.value_at_quantile(0.50)),
            p99_ms: ms(overall.value_at_quantile(0.99)),
            p999_ms: ms(overall.value_at_quantile(0.999)),
            max_ms: ms(overall.max()),
            timeline: timeline
                .iter()
                .enumerate()
                .filter(|(_, second)| !second.is_empty())
                .map(|(index, second)| {
                    [
                        index as f64,
                        ms(second.value_at_quantile(0.50)),
                        ms(second.value_at_quantile(0.99)),
                        ms(second.max()),
                    ]
                })
                .collect(),
            distribution: percentiles
                .iter()
                .map(|p| [*p, ms(overall.value_at_quantile(p / 100.0))])
                .collect(),
        }
    }

    /// `p50 / p99 / p99.9 / max` for a table cell.
    pub fn cell(&self) -> String {
        format!(
            "{:.1} / {:.1} / {:.1} / {:.1} ms",
            self.p50_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }
}

/// Merge timelines (per-second histograms) of several readers.
pub fn merge_timeline(into: &mut Vec<Histogram<u64>>, from: &[Histogram<u64>]) {
    while into.len() < from.len() {
        into.push(coarse_histogram());
    }
    for (target, source) in into.iter_mut().zip(from) {
        let _ = target.add(source);
    }
}

/// A finished scenario: a markdown table and a JSON document.
#[derive(Debug)]
pub struct Report {
    pub title: String,
    /// Column headers after the metric name (one per measured server).
    pub columns: Vec<String>,
    pub rows: Vec<(String, Vec<String>)>,
    pub json: serde_json::Value,
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### {}\n\n| metric | {} |\n|---|",
            self.title,
            self.columns.join(" | ")
        );
        out.push_str(&"---|".repeat(self.columns.len()));
        out.push('\n');
        for (name, values) in &self.rows {
            let _ = writeln!(out, "| {name} | {} |", values.join(" | "));
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.json)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}

/// Draw latency over time (p50, p99, max per second) and the latency distribution of one or
/// more runs into an SVG file. Latency axes are logarithmic.
pub fn plot(path: &Path, title: &str, runs: &[(&str, &Latency)]) -> Result<()> {
    const WIDTH: f64 = 900.0;
    const PANEL: f64 = 300.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 20.0;
    let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let all_ms = runs.iter().flat_map(|(_, latency)| {
        latency
            .timeline
            .iter()
            .flat_map(|point| point[1..].to_vec())
            .chain(latency.distribution.iter().map(|point| point[1]))
    });
    let (low, high) = all_ms.fold((f64::MAX, f64::MIN), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    let low = low.max(0.01).log10().floor();
    let high = high.max(0.1).log10().ceil().max(low + 1.0);
    let seconds = runs
        .iter()
        .flat_map(|(_, latency)| latency.timeline.iter().map(|point| point[0]))
        .fold(1.0f64, f64::max);
    let plot_width = WIDTH - LEFT - RIGHT;
    let y_of = |top: f64, value: f64| {
        let fraction = (value.max(0.01).log10() - low) / (high - low);
        top + PANEL - 40.0 - fraction * (PANEL - 70.0)
    };
    let mut svg = String::new();
    let height = 2.0 * PANEL + 40.0;
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="20" font-size="15">{}</text>"#,
        escape(title)
    );
    for (panel, heading) in [
        (
            0,
            "latency over time (solid p50, dashed p99, dotted max), ms",
        ),
        (1, "latency distribution by percentile, ms"),
    ] {
        let top = 30.0 + panel as f64 * PANEL;
        let bottom = top + PANEL - 40.0;
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{}">{heading}</text>"#,
            top + 20.0
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{}" width="{plot_width}" height="{}" fill="none" stroke="#888"/>"##,
            top + 30.0,
            PANEL - 70.0
        );
        let mut decade = low;
        while decade <= high {
            let value = 10f64.powf(decade);
            let y = y_of(top, value);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + plot_width,
                LEFT - 5.0,
                y + 4.0,
                format_ms(value)
            );
            decade += 1.0;
        }
        if panel == 0 {
            let step = (seconds / 10.0).ceil().max(1.0);
            let mut second = 0.0;
            while second <= seconds {
                let x = LEFT + second / seconds * plot_width;
                let _ = writeln!(
                    svg,
                    r#"<text x="{x:.1}" y="{}" text-anchor="middle">{second} s</text>"#,
                    bottom + 15.0
                );
                second += step;
            }
        } else {
            for (label, nines) in [
                ("0", 0.0),
                ("90", 1.0),
                ("99", 2.0),
                ("99.9", 3.0),
                ("99.99", 4.0),
                ("99.999", 5.0),
            ] {
                let x = LEFT + nines / 5.0 * plot_width;
                let _ = writeln!(
                    svg,
                    r#"<text x="{x:.1}" y="{}" text-anchor="middle">p{label}</text>"#,
                    bottom + 15.0
                );
            }
        }
    }
    for (index, (name, latency)) in runs.iter().enumerate() {
        let colour = colours[index % colours.len()];
        let legend_y = 45.0 + index as f64 * 15.0;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{legend_y}" fill="{colour}">{}</text>"#,
            WIDTH - 250.0,
            escape(name)
        );
        for (column, dash) in [(1, ""), (2, "6,3"), (3, "2,3")] {
            let points: Vec<String> = latency
                .timeline
                .iter()
                .map(|point| {
                    format!(
                        "{:.1},{:.1}",
                        LEFT + point[0] / seconds * plot_width,
                        y_of(30.0, point[column])
                    )
                })
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" stroke-dasharray="{dash}" points="{}"/>"#,
                points.join(" ")
            );
        }
        let points: Vec<String> = latency
            .distribution
            .iter()
            .map(|point| {
                let nines = if point[0] >= 100.0 {
                    5.0
                } else {
                    (-(1.0 - point[0] / 100.0).log10()).min(5.0)
                };
                format!(
                    "{:.1},{:.1}",
                    LEFT + nines / 5.0 * plot_width,
                    y_of(30.0 + PANEL, point[1])
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

fn format_ms(value: f64) -> String {
    if value < 1.0 {
        format!("{value}")
    } else {
        format!("{value:.0}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A count with thousands separators.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234), "1,234");
        assert_eq!(count(2_000_000), "2,000,000");
    }

    #[test]
    fn a_plot_is_an_svg_document() {
        let mut overall = histogram();
        let mut second = coarse_histogram();
        for micros in [100, 2_000, 50_000] {
            record(&mut overall, micros);
            record(&mut second, micros);
        }
        let latency = Latency::from(&overall, &[second]);
        let path = std::env::temp_dir().join(format!("plot-test-{}.svg", std::process::id()));
        plot(&path, "test", &[("run", &latency)]).expect("plot is written");
        let svg = std::fs::read_to_string(&path).expect("plot is readable");
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
