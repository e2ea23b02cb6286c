//! Margin: grow or shrink a region by a distance in millimetres, with the float64 distance
//! `sqrt(a·a + b·b)` (a, b the row and column offsets times the spacing) from each pixel to the
//! nearest pixel of the other side, found by an exact two-pass distance transform (nearest
//! feature row per column, then the lower envelope of parabolas along each row).

use super::types::Grid;

/// For each pixel, the nearest feature pixel (row, column) by the spacing's metric, or `None`
/// when there is no feature.
fn nearest(features: &[bool], g: Grid, (row, col): (f64, f64)) -> Vec<Option<(usize, usize)>> {
    // Pass 1, per column: the nearest feature row.
    let mut near_row = vec![usize::MAX; g.len()];
    for j in 0..g.w {
        let mut last = None;
        for i in 0..g.h {
            if features[i * g.w + j] {
                last = Some(i);
            }
            if let Some(k) = last {
                near_row[i * g.w + j] = k;
            }
        }
        let mut next = None;
        for i in (0..g.h).rev() {
            if features[i * g.w + j] {
                next = Some(i);
            }
            if let Some(k) = next {
                let cur = near_row[i * g.w + j];
                if cur == usize::MAX || (k - i) < i.abs_diff(cur) {
                    near_row[i * g.w + j] = k;
                }
            }
        }
    }
    // Pass 2, per row: the column minimising f(l) + ((j − l)·col)², f(l) = ((i − k(l))·row)².
    let mut out = vec![None; g.len()];
    let c2 = col * col;
    let mut v = vec![0usize; g.w];
    let mut z = vec![0f64; g.w + 1];
    for i in 0..g.h {
        let f = |l: usize| {
            let k = near_row[i * g.w + l];
            if k == usize::MAX {
                f64::INFINITY
            } else {
                let a = (i as f64 - k as f64) * row;
                a * a
            }
        };
        let mut n = 0usize; // parabolas in the envelope
        for q in 0..g.w {
            let fq = f(q);
            if !fq.is_finite() {
                continue;
            }
            loop {
                if n == 0 {
                    v[0] = q;
                    z[0] = f64::NEG_INFINITY;
                    z[1] = f64::INFINITY;
                    n = 1;
                    break;
                }
                let p = v[n - 1];
                let s = ((fq + c2 * (q * q) as f64) - (f(p) + c2 * (p * p) as f64))
                    / (2.0 * c2 * (q as f64 - p as f64));
                if s <= z[n - 1] {
                    n -= 1;
                    continue;
                }
                v[n] = q;
                z[n] = s;
                z[n + 1] = f64::INFINITY;
                n += 1;
                break;
            }
        }
        if n == 0 {
            continue;
        }
        let mut k = 0;
        for j in 0..g.w {
            while z[k + 1] < j as f64 {
                k += 1;
            }
            let l = v[k];
            out[i * g.w + j] = Some((near_row[i * g.w + l], l));
        }
    }
    out
}

/// The float64 distance of the README between pixel (i, j) and (k, l).
fn dist(i: usize, j: usize, (k, l): (usize, usize), (row, col): (f64, f64)) -> f64 {
    let a = (i as f64 - k as f64) * row;
    let b = (j as f64 - l as f64) * col;
    (a * a + b * b).sqrt()
}

/// Grow (`mm` > 0) or shrink (`mm` < 0) `b`; the image border is not background.
pub fn margin(b: &[bool], g: Grid, mm: f64, spacing: (f64, f64)) -> Vec<bool> {
    if mm == 0.0 {
        return b.to_vec();
    }
    let grow = mm > 0.0;
    let d = mm.abs();
    let features: Vec<bool> = if grow {
        b.to_vec()
    } else {
        b.iter().map(|&x| !x).collect()
    };
    let near = nearest(&features, g, spacing);
    (0..g.len())
        .map(|p| {
            let (i, j) = (p / g.w, p % g.w);
            let reached = near[p].is_some_and(|q| dist(i, j, q, spacing) <= d);
            if grow {
                b[p] || reached
            } else {
                b[p] && !reached
            }
        })
        .collect()
}
