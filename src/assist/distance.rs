//! Margin: grow or shrink a region by a distance in millimetres, with the float64 distance
//! `sqrt(a·a + b·b)` (a, b the row and column offsets times the spacing) from each pixel to the
//! nearest pixel of the other side, found by an exact two-pass distance transform (nearest
//! feature row per column, then the lower envelope of parabolas along each row).

use super::types::Grid;

use rayon::prelude::*;

const NONE: u32 = u32::MAX;

/// Pass 1, per column: the nearest feature row of every pixel (`NONE`: no feature in its
/// column), the upper one on a tie. Rows are swept top-down then bottom-up over whole rows, so
/// the memory is read in order; the columns are split between threads.
fn nearest_rows(features: &[bool], g: Grid) -> Vec<u32> {
    let mut near = vec![NONE; g.len()];
    let threads = rayon::current_num_threads().max(1);
    let band = g.w.div_ceil(threads).max(64);
    let bands: Vec<(usize, usize)> = (0..g.w)
        .step_by(band)
        .map(|j0| (j0, (j0 + band).min(g.w)))
        .collect();
    let done: Vec<(usize, Vec<u32>)> = bands
        .par_iter()
        .map(|&(j0, j1)| {
            let bw = j1 - j0;
            let mut out = vec![NONE; bw * g.h];
            let mut last = vec![NONE; bw];
            for i in 0..g.h {
                let f = &features[i * g.w + j0..i * g.w + j1];
                let o = &mut out[i * bw..(i + 1) * bw];
                for ((l, o), &f) in last.iter_mut().zip(o).zip(f) {
                    if f {
                        *l = i as u32;
                    }
                    *o = *l;
                }
            }
            let mut next = vec![NONE; bw];
            for i in (0..g.h).rev() {
                let f = &features[i * g.w + j0..i * g.w + j1];
                let o = &mut out[i * bw..(i + 1) * bw];
                for ((n, o), &f) in next.iter_mut().zip(o).zip(f) {
                    if f {
                        *n = i as u32;
                    }
                    if *n != NONE && (*o == NONE || (*n - i as u32) < (i as u32).abs_diff(*o)) {
                        *o = *n;
                    }
                }
            }
            (j0, out)
        })
        .collect();
    for (j0, out) in done {
        let bw = out.len() / g.h.max(1);
        for i in 0..g.h {
            near[i * g.w + j0..i * g.w + j0 + bw].copy_from_slice(&out[i * bw..(i + 1) * bw]);
        }
    }
    near
}

/// Pass 2 on row `i`: for each column j, the feature column l minimising
/// f(l) + ((j − l)·col)², f(l) = ((i − k(l))·row)², by the lower envelope of parabolas; `visit`
/// gets (j, nearest feature (row, column)).
fn row_envelope(
    i: usize,
    near_row: &[u32],
    (row, col): (f64, f64),
    v: &mut [usize],
    z: &mut [f64],
    fv: &mut [f64],
    mut visit: impl FnMut(usize, (usize, usize)),
) {
    let w = near_row.len();
    let c2 = col * col;
    for (f, &k) in fv.iter_mut().zip(near_row) {
        *f = if k == NONE {
            f64::INFINITY
        } else {
            let a = (i as f64 - k as f64) * row;
            a * a
        };
    }
    let mut n = 0usize; // parabolas in the envelope
    for q in 0..w {
        let fq = fv[q];
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
            let s = ((fq + c2 * (q * q) as f64) - (fv[p] + c2 * (p * p) as f64))
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
        return;
    }
    let mut k = 0;
    for j in 0..w {
        while z[k + 1] < j as f64 {
            k += 1;
        }
        let l = v[k];
        visit(j, (near_row[l] as usize, l));
    }
}

/// The float64 distance of the README between pixel (i, j) and (k, l).
fn dist(i: usize, j: usize, (k, l): (usize, usize), (row, col): (f64, f64)) -> f64 {
    let a = (i as f64 - k as f64) * row;
    let b = (j as f64 - l as f64) * col;
    (a * a + b * b).sqrt()
}

/// Grow (`mm` > 0) or shrink (`mm` < 0) `b`; the image border is not background.
pub fn margin(b: &[bool], g: Grid, mm: f64, spacing: (f64, f64)) -> Vec<bool> {
    if mm == 0.0 || g.is_empty() {
        return b.to_vec();
    }
    let grow = mm > 0.0;
    let d = mm.abs();
    let features: Vec<bool> = if grow {
        b.to_vec()
    } else {
        b.iter().map(|&x| !x).collect()
    };
    let near = nearest_rows(&features, g);
    let mut out = b.to_vec();
    out.par_chunks_mut(g.w).enumerate().for_each_init(
        || (vec![0usize; g.w], vec![0f64; g.w + 1], vec![0f64; g.w]),
        |(v, z, fv), (i, o)| {
            let src = &b[i * g.w..(i + 1) * g.w];
            // Only the pixels the margin may change: outside B when growing, inside when
            // shrinking.
            if src.iter().all(|&x| x == grow) {
                return;
            }
            row_envelope(
                i,
                &near[i * g.w..(i + 1) * g.w],
                spacing,
                v,
                z,
                fv,
                |j, q| {
                    if src[j] != grow && dist(i, j, q, spacing) <= d {
                        o[j] = grow;
                    }
                },
            );
        },
    );
    out
}
