//! Islands, fill holes, and the smoothings (median, gaussian, opening, closing).

use std::collections::VecDeque;

use super::types::{Grid, Keep, reflect};

/// Neighbour offsets (row, column): edges, or edges and corners.
fn neighbours(eight: bool) -> &'static [(isize, isize)] {
    if eight {
        &[
            (-1, -1),
            (-1, 0),
            (-1, 1),
            (0, -1),
            (0, 1),
            (1, -1),
            (1, 0),
            (1, 1),
        ]
    } else {
        &[(-1, 0), (0, -1), (0, 1), (1, 0)]
    }
}

/// The in-image neighbours of pixel `p`.
fn around(p: usize, g: Grid, eight: bool) -> impl Iterator<Item = usize> {
    let (i, j) = ((p / g.w) as isize, (p % g.w) as isize);
    neighbours(eight).iter().filter_map(move |&(di, dj)| {
        let (a, c) = (i + di, j + dj);
        (a >= 0 && c >= 0 && a < g.h as isize && c < g.w as isize)
            .then(|| a as usize * g.w + c as usize)
    })
}

/// Components of `b`: a label per pixel (0 = not in b), numbered 1.. in row-major order of their
/// first pixel, and their sizes (index label − 1).
pub fn components(b: &[bool], g: Grid, eight: bool) -> (Vec<u32>, Vec<usize>) {
    let mut label = vec![0u32; g.len()];
    let mut sizes = Vec::new();
    let mut queue = VecDeque::new();
    for start in 0..g.len() {
        if !b[start] || label[start] != 0 {
            continue;
        }
        let id = sizes.len() as u32 + 1;
        label[start] = id;
        queue.push_back(start);
        let mut n = 0;
        while let Some(p) = queue.pop_front() {
            n += 1;
            for q in around(p, g, eight) {
                if b[q] && label[q] == 0 {
                    label[q] = id;
                    queue.push_back(q);
                }
            }
        }
        sizes.push(n);
    }
    (label, sizes)
}

/// Islands: keep the largest, those of at least N pixels, or the one at (x, y).
pub fn islands(b: &[bool], g: Grid, eight: bool, keep: Keep) -> Vec<bool> {
    let (label, sizes) = components(b, g, eight);
    let kept: Vec<bool> = match keep {
        Keep::Largest => {
            let mut best = None;
            for (k, &s) in sizes.iter().enumerate() {
                if best.is_none_or(|(_, bs)| s > bs) {
                    best = Some((k, s));
                }
            }
            (0..sizes.len())
                .map(|k| best.is_some_and(|(b, _)| b == k))
                .collect()
        }
        Keep::MinPx(n) => sizes.iter().map(|&s| s >= n).collect(),
        Keep::At(x, y) => {
            let l = label[y * g.w + x];
            if l == 0 {
                return b.to_vec();
            }
            (0..sizes.len()).map(|k| k as u32 + 1 == l).collect()
        }
    };
    label
        .iter()
        .map(|&l| l != 0 && kept[l as usize - 1])
        .collect()
}

/// B plus every 4-connected set of non-B pixels that does not reach the image border.
pub fn fill_holes(b: &[bool], g: Grid) -> Vec<bool> {
    let mut outside = vec![false; g.len()];
    let mut queue = VecDeque::new();
    for p in 0..g.len() {
        let (i, j) = (p / g.w, p % g.w);
        if !b[p] && (i == 0 || j == 0 || i + 1 == g.h || j + 1 == g.w) {
            outside[p] = true;
            queue.push_back(p);
        }
    }
    while let Some(p) = queue.pop_front() {
        for q in around(p, g, false) {
            if !b[q] && !outside[q] {
                outside[q] = true;
                queue.push_back(q);
            }
        }
    }
    outside.iter().map(|&o| !o).collect()
}

/// Half-widths of skimage's `disk(r)` per row offset: the offsets (di, dj) with di² + dj² <= r²
/// are, for each di in −r..=r, the dj in −a..=a.
fn disk_rows(r: usize) -> Vec<(isize, isize)> {
    let r = r as isize;
    (-r..=r)
        .map(|di| {
            let mut a = 0;
            while (a + 1) * (a + 1) + di * di <= r * r {
                a += 1;
            }
            (di, a)
        })
        .collect()
}

/// Erosion (all of the footprint's pixels inside the image are in B) or dilation (any is), by
/// the disk's rows and per-row prefix counts: O(pixels × rows of the disk).
fn morph(b: &[bool], g: Grid, rows: &[(isize, isize)], erode: bool) -> Vec<bool> {
    let stride = g.w + 1;
    let mut count = vec![0u32; g.h * stride];
    for i in 0..g.h {
        for j in 0..g.w {
            count[i * stride + j + 1] = count[i * stride + j] + b[i * g.w + j] as u32;
        }
    }
    let mut out = vec![false; g.len()];
    for i in 0..g.h as isize {
        for j in 0..g.w as isize {
            let mut v = erode;
            for &(di, a) in rows {
                let r = i + di;
                if r < 0 || r >= g.h as isize {
                    continue;
                }
                let (lo, hi) = (
                    (j - a).max(0) as usize,
                    (j + a).min(g.w as isize - 1) as usize,
                );
                let base = r as usize * stride;
                let ones = count[base + hi + 1] - count[base + lo];
                if erode && ones as usize != hi + 1 - lo {
                    v = false;
                    break;
                }
                if !erode && ones > 0 {
                    v = true;
                    break;
                }
            }
            out[i as usize * g.w + j as usize] = v;
        }
    }
    out
}

/// Opening (`open`) or closing by `disk(r)`.
pub fn open_close(b: &[bool], g: Grid, r: usize, open: bool) -> Vec<bool> {
    if r == 0 {
        return b.to_vec();
    }
    let f = disk_rows(r);
    if open {
        morph(&morph(b, g, &f, true), g, &f, false)
    } else {
        morph(&morph(b, g, &f, false), g, &f, true)
    }
}

/// Majority of a kr × kc window (reflect border), kr = 2⌊S / (2·row)⌋ + 1 and likewise kc.
pub fn median(b: &[bool], g: Grid, mm: f64, (row, col): (f64, f64)) -> Vec<bool> {
    let kr = 2 * (mm / (2.0 * row)).floor() as usize + 1;
    let kc = 2 * (mm / (2.0 * col)).floor() as usize + 1;
    let (rr, rc) = ((kr / 2) as isize, (kc / 2) as isize);
    let (ph, pw) = (g.h + 2 * rr as usize, g.w + 2 * rc as usize);
    // Prefix sums over the reflect-padded region.
    let mut sum = vec![0u32; (ph + 1) * (pw + 1)];
    for a in 0..ph {
        let i = reflect(a as isize - rr, g.h);
        let mut run = 0u32;
        for c in 0..pw {
            let j = reflect(c as isize - rc, g.w);
            run += b[i * g.w + j] as u32;
            sum[(a + 1) * (pw + 1) + c + 1] = sum[a * (pw + 1) + c + 1] + run;
        }
    }
    let need = (kr * kc).div_ceil(2) as u32;
    let mut out = vec![false; g.len()];
    for i in 0..g.h {
        for j in 0..g.w {
            // Window rows i..i+kr, columns j..j+kc of the padded grid.
            let (a0, a1, c0, c1) = (i, i + kr, j, j + kc);
            let s = sum[a1 * (pw + 1) + c1] + sum[a0 * (pw + 1) + c0]
                - sum[a0 * (pw + 1) + c1]
                - sum[a1 * (pw + 1) + c0];
            out[i * g.w + j] = s >= need;
        }
    }
    out
}

/// Normalised gaussian weights of `sigma`, radius ⌊4σ + 0.5⌋.
fn weights(sigma: f64) -> Vec<f64> {
    let r = (4.0 * sigma + 0.5) as isize;
    let w: Vec<f64> = (-r..=r)
        .map(|m| (-0.5 * (m * m) as f64 / (sigma * sigma)).exp())
        .collect();
    let s: f64 = w.iter().sum();
    w.iter().map(|x| x / s).collect()
}

/// Gaussian of sigma S/spacing per axis (rows first, reflect border), then >= 0.5. Each pass
/// runs over whole rows (contiguous memory); no pixel of the fixture lies within 1e-9 of 0.5,
/// so the order of the sums does not change a mask.
pub fn gaussian(b: &[bool], g: Grid, mm: f64, (row, col): (f64, f64)) -> Vec<bool> {
    let (wr, wc) = (weights(mm / row), weights(mm / col));
    let (rr, rc) = ((wr.len() / 2) as isize, (wc.len() / 2) as isize);
    let x: Vec<f64> = b.iter().map(|&v| v as u8 as f64).collect();
    // Along axis 0: output row i is the weighted sum of the reflected rows around it.
    let mut rows = vec![0.0; g.len()];
    for i in 0..g.h {
        let out = &mut rows[i * g.w..(i + 1) * g.w];
        for (k, w) in wr.iter().enumerate() {
            let a = reflect(i as isize + k as isize - rr, g.h);
            let src = &x[a * g.w..(a + 1) * g.w];
            for (o, s) in out.iter_mut().zip(src) {
                *o += w * s;
            }
        }
    }
    // Along axis 1: each row padded by reflection once, then the taps slide over it.
    let mut out = vec![false; g.len()];
    let mut pad = vec![0.0; g.w + 2 * rc as usize];
    for i in 0..g.h {
        let line = &rows[i * g.w..(i + 1) * g.w];
        for (t, p) in pad.iter_mut().enumerate() {
            *p = line[reflect(t as isize - rc, g.w)];
        }
        for j in 0..g.w {
            let acc: f64 = wc.iter().zip(&pad[j..]).map(|(w, v)| w * v).sum();
            out[i * g.w + j] = acc >= 0.5;
        }
    }
    out
}
