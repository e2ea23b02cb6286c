//! Threshold, paint, scissors and map → mask: regions defined pixel by pixel.

use super::types::{Grid, Scissors};

/// `lo <= v <= hi` (float64; `lo > hi` selects nothing).
pub fn threshold(v: &[f64], lo: f64, hi: f64) -> Vec<bool> {
    v.iter().map(|&x| x >= lo && x <= hi).collect()
}

/// B ∪ the disc dx·dx + dy·dy <= r·r at (x, y) (within `range` when given).
pub fn paint(
    b: &[bool],
    g: Grid,
    x: f64,
    y: f64,
    r: f64,
    range: Option<(f64, f64)>,
    v: &[f64],
) -> Vec<bool> {
    let mut out = b.to_vec();
    let (i0, i1) = (
        (y - r).floor().max(0.0),
        (y + r).ceil().min(g.h as f64 - 1.0),
    );
    let (j0, j1) = (
        (x - r).floor().max(0.0),
        (x + r).ceil().min(g.w as f64 - 1.0),
    );
    if i1 < i0 || j1 < j0 {
        return out;
    }
    for i in i0 as usize..=i1 as usize {
        for j in j0 as usize..=j1 as usize {
            let (dx, dy) = (j as f64 - x, i as f64 - y);
            let p = i * g.w + j;
            if dx * dx + dy * dy <= r * r && range.is_none_or(|(lo, hi)| v[p] >= lo && v[p] <= hi) {
                out[p] = true;
            }
        }
    }
    out
}

/// scikit-image's `point_in_polygon` (O'Rourke's crossing test, boundary included).
fn inside(xs: &[f64], ys: &[f64], x: f64, y: f64) -> bool {
    let eps = 1e-12;
    let n = xs.len();
    let (mut x1, mut y1) = (xs[n - 1] - x, ys[n - 1] - y);
    let (mut rc, mut lc) = (0u32, 0u32);
    for k in 0..n {
        let (x0, y0) = (xs[k] - x, ys[k] - y);
        if -eps < x0 && x0 < eps && -eps < y0 && y0 < eps {
            return true;
        }
        if (y0 > 0.0) != (y1 > 0.0) && (x0 * y1 - x1 * y0) / (y1 - y0) > 0.0 {
            rc += 1;
        }
        if (y0 < 0.0) != (y1 < 0.0) && (x0 * y1 - x1 * y0) / (y1 - y0) < 0.0 {
            lc += 1;
        }
        (x1, y1) = (x0, y0);
    }
    (rc % 2) != (lc % 2) || rc % 2 == 1
}

/// The pixels whose centre passes the polygon test.
pub fn polygon(g: Grid, poly: &[(f64, f64)]) -> Vec<bool> {
    let xs: Vec<f64> = poly.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = poly.iter().map(|p| p.1).collect();
    let mut out = vec![false; g.len()];
    let lo = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (i0, i1) = (
        lo(&ys).floor().max(0.0),
        hi(&ys).ceil().min(g.h as f64 - 1.0),
    );
    let (j0, j1) = (
        lo(&xs).floor().max(0.0),
        hi(&xs).ceil().min(g.w as f64 - 1.0),
    );
    if i1 < i0 || j1 < j0 {
        return out;
    }
    for i in i0 as usize..=i1 as usize {
        for j in j0 as usize..=j1 as usize {
            out[i * g.w + j] = inside(&xs, &ys, j as f64, i as f64);
        }
    }
    out
}

/// Scissors: B minus P, B ∩ P or B ∪ P.
pub fn scissors(b: &[bool], g: Grid, poly: &[(f64, f64)], mode: Scissors) -> Vec<bool> {
    let p = polygon(g, poly);
    b.iter()
        .zip(&p)
        .map(|(&b, &p)| match mode {
            Scissors::EraseInside => b && !p,
            Scissors::EraseOutside => b && p,
            Scissors::FillInside => b || p,
        })
        .collect()
}

/// The paper's top-K % binarisation: t = the (k+1)-th largest value, k = ⌊n · K/100⌋ (at most
/// n − 1); every pixel >= t.
pub fn from_map(map: &[f32], top: f64) -> Vec<bool> {
    let n = map.len();
    if n == 0 {
        return Vec::new();
    }
    let k = ((n as f64 * (top / 100.0)).floor() as usize).min(n - 1);
    let mut v = map.to_vec();
    let (_, t, _) = v.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
    let t = *t;
    map.iter().map(|&x| x >= t).collect()
}
