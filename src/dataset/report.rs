//! What the reports of a dataset run share: means that skip undefined values, bootstrap
//! intervals, the summary columns that the faithfulness and sanity runs add to `summary.csv`,
//! and the SVG line charts.

use std::fmt::Write as _;

use rand::{Rng, SeedableRng};

use crate::explain::Method;

/// Mean of the values that are not NaN (NaN when there are none).
pub fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in v.filter(|x| !x.is_nan()) {
        s += x;
        n += 1;
    }
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Mean of `v` and its 95 % percentile bootstrap interval (2000 resamples, seed 0).
pub fn bootstrap(v: &[f64]) -> (f64, f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut means: Vec<f64> = (0..2000)
        .map(|_| (0..n).map(|_| v[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    (mean, means[49], means[1949])
}

/// Summary columns per (checkpoint, method): name and value, for `summary.csv`.
pub type Columns = Vec<((String, Method), Vec<(String, f64)>)>;

/// A line chart as SVG: one polyline per series, axes from 0 to 1, a legend.
pub fn svg_plot(title: &str, xlabel: &str, series: &[(String, Vec<f64>, Vec<f64>)]) -> String {
    let (w, h, l, r, t, b) = (720.0, 440.0, 60.0, 220.0, 40.0, 50.0);
    let (pw, ph) = (w - l - r, h - t - b);
    let ymax = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let ymax = if ymax <= 1.0 { 1.0 } else { ymax };
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    ];
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{l}\" y=\"24\" font-size=\"14\">{}</text>\n",
        esc(title)
    );
    let _ = writeln!(
        s,
        "<rect x=\"{l}\" y=\"{t}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>"
    );
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let (x, y) = (l + f * pw, t + ph - f * ph);
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{f:.2}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.2}</text>",
            t + ph + 16.0,
            l - 6.0,
            y + 4.0,
            f * ymax
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        l + pw / 2.0,
        h - 12.0,
        esc(xlabel)
    );
    for (i, (name, xs, ys)) in series.iter().enumerate() {
        let c = colours[i % colours.len()];
        let pts: Vec<String> = xs
            .iter()
            .zip(ys)
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    l + x.clamp(0.0, 1.0) * pw,
                    t + ph - (y / ymax).clamp(0.0, 1.0) * ph
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        );
        let ly = t + 14.0 + i as f64 * 18.0;
        let _ = writeln!(
            s,
            "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{}</text>",
            w - r + 12.0,
            w - r + 32.0,
            w - r + 38.0,
            ly + 4.0,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    s
}
