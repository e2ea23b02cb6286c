//! The CPU reference of the metrics: one scan of the map (maximum, sums, and on large maps the
//! radix histogram of [`super::select`]), the thresholds, then one pass over the mask's rows.

use super::scores::{
    MetricSet, MetricsError, RawCounts, TopKScores, finish, has_non_finite, top_k_count,
    validate_shape,
};
use super::select;
use super::shapes::{Mask, Rect};

const LANES: usize = 8;

#[inline(always)]
fn fmax(a: f32, b: f32) -> f32 {
    // NaN-free input (checked): `max` vectorises where a compare-and-select did not.
    a.max(b)
}

/// Result of the first pass over the map.
struct Scan {
    passes: Vec<select::FirstPass>,
    rows: Vec<f32>,
    cols: Vec<f32>,
    sum: f64,
}

/// [`scan`] over whole rows `c`: row maxima, column maxima and sum, then the select's first
/// pass over the same row, in the widest SIMD the CPU has (AVX-512, AVX2 or SSE2, chosen at
/// run time by `pulp`).
struct ScanRows<'a> {
    c: &'a [f32],
    width: usize,
    prediction: Option<&'a select::Prediction>,
}

impl pulp::WithSimd for ScanRows<'_> {
    type Output = (select::FirstPass, Vec<f32>, Vec<f32>, f64);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Self::Output {
        let (c, width) = (self.c, self.width);
        let mut pass = select::FirstPass::new(self.prediction, c.len());
        let mut cols = vec![f32::NEG_INFINITY; width];
        let mut rows = Vec::with_capacity(c.len() / width.max(1));
        let mut sum = 0f64;
        for row in c.chunks_exact(width) {
            let (col_head, col_tail) = S::as_mut_simd_f32s(&mut cols);
            let (row_head, row_tail) = S::as_simd_f32s(row);
            let mut m = simd.splat_f32s(f32::NEG_INFINITY);
            let mut acc = simd.splat_f32s(0.0);
            for (cm, &v) in col_head.iter_mut().zip(row_head) {
                *cm = simd.max_f32s(*cm, v);
                m = simd.max_f32s(m, v);
                acc = simd.add_f32s(acc, v);
            }
            let mut rm = simd.reduce_max_f32s(m);
            let mut rs = simd.reduce_sum_f32s(acc) as f64;
            for (cm, &v) in col_tail.iter_mut().zip(row_tail) {
                *cm = fmax(*cm, v);
                rm = fmax(rm, v);
                rs += v as f64;
            }
            sum += rs;
            pass.add(simd, row);
            rows.push(rm);
        }
        (pass, rows, cols, sum)
    }
}

/// First pass, row by row: row and column maxima and the row sums (vectorised lanes), then the
/// select's first pass over the same row while it is in cache (counts against the predicted
/// windows, or the high-16 histogram).
fn scan(map: &[f32], width: usize, prediction: Option<&select::Prediction>) -> Scan {
    let arch = pulp::Arch::new();
    let parts = select::par_chunks_aligned(map, width, |c, _| {
        arch.dispatch(ScanRows {
            c,
            width,
            prediction,
        })
    });
    let mut out = Scan {
        passes: Vec::new(),
        rows: Vec::with_capacity(map.len() / width.max(1)),
        cols: vec![f32::NEG_INFINITY; width],
        sum: 0.0,
    };
    for (p, r, c, s) in parts {
        out.passes.push(p);
        out.rows.extend(r);
        for (a, b) in out.cols.iter_mut().zip(c) {
            *a = fmax(*a, b);
        }
        out.sum += s;
    }
    out
}

/// Counts over the mask's pixels (inside its bounding box only).
#[derive(Default)]
struct MaskSide {
    inter: [u64; 4],
    pixels: u64,
    pg: bool,
    sum_in: f64,
}

// Lane loops index several parallel arrays on purpose: that shape vectorises.
#[allow(clippy::needless_range_loop)]
fn mask_side(
    map: &[f32],
    width: usize,
    mask: &Mask,
    bbox: &Rect,
    thr: &[f32; 4],
    max: f32,
) -> MaskSide {
    let rows = &map[bbox.y0 * width..bbox.y1 * width];
    let arch = pulp::Arch::new();
    let parts = select::par_chunks_aligned(rows, width, |c, off| {
        arch.dispatch(|| {
            let mut out = MaskSide::default();
            let mut inter = [[0u32; LANES]; 4];
            let mut pixels = [0u32; LANES];
            let mut pg = [false; LANES];
            let y_start = bbox.y0 + off / width;
            for (r, row) in c.chunks_exact(width).enumerate() {
                let y = y_start + r;
                let v = &row[bbox.x0..bbox.x1];
                let m = &mask.data[y * width + bbox.x0..y * width + bbox.x1];
                let body = v.len() / LANES * LANES;
                let mut sum = [0f32; LANES];
                for (vb, mb) in v[..body]
                    .chunks_exact(LANES)
                    .zip(m[..body].chunks_exact(LANES))
                {
                    for l in 0..LANES {
                        let inside = mb[l] != 0;
                        let x = vb[l];
                        sum[l] += if inside { x } else { 0.0 };
                        pixels[l] += inside as u32;
                        pg[l] |= inside & (x == max);
                        for t in 0..4 {
                            inter[t][l] += (inside & (x >= thr[t])) as u32;
                        }
                    }
                }
                out.sum_in += sum.iter().map(|&s| s as f64).sum::<f64>();
                for (&x, &mv) in v[body..].iter().zip(&m[body..]) {
                    if mv != 0 {
                        out.sum_in += x as f64;
                        out.pixels += 1;
                        out.pg |= x == max;
                        for t in 0..4 {
                            out.inter[t] += (x >= thr[t]) as u64;
                        }
                    }
                }
            }
            for t in 0..4 {
                out.inter[t] += inter[t].iter().map(|&c| c as u64).sum::<u64>();
            }
            out.pixels += pixels.iter().map(|&c| c as u64).sum::<u64>();
            out.pg |= pg.iter().any(|&p| p);
            out
        })
    });
    let mut total = MaskSide::default();
    for p in parts {
        for t in 0..4 {
            total.inter[t] += p.inter[t];
        }
        total.pixels += p.pixels;
        total.pg |= p.pg;
        total.sum_in += p.sum_in;
    }
    total
}

/// Half-open index span of the entries `>= t`.
fn span(maxima: &[f32], t: f32) -> Option<(usize, usize)> {
    let first = maxima.iter().position(|&m| m >= t)?;
    let last = maxima.iter().rposition(|&m| m >= t)?;
    Some((first, last + 1))
}

/// CPU reference: every metric in a few linear passes, split over the available cores:
/// (1) row/column maxima and sum, with counts against the value windows a sample predicts for
/// the ranks, keeping the values inside them, whose selects give the thresholds and the
/// selected counts (on small maps, or when the prediction missed: the high-16 histogram and
/// a pass keeping the keys of the ranks' bins, whose low-16 histograms give them); (2) the
/// mask's pixels only (intersections, pointing game, energy). Rectangles follow from the
/// row/column maxima.
pub fn compute_cpu(
    map: &[f32],
    width: usize,
    height: usize,
    mask: &Mask,
    tops: &[f64],
) -> Result<MetricSet, MetricsError> {
    validate_shape(map, width, height, mask, tops)?;
    let n = map.len();
    let ks: Vec<usize> = tops.iter().map(|&p| top_k_count(n, p)).collect();
    let prediction = select::predict(map, &ks);
    let scan = scan(map, width, prediction.as_ref());
    // A NaN makes the sum NaN (as does +inf plus -inf, hence the exact check).
    if !scan.sum.is_finite() && has_non_finite(map) {
        return Err(MetricsError::NaN);
    }
    let max = select::max_value(&scan.rows);
    let mask_box = mask.bbox();
    let thresholds = select::finish(map, prediction.as_ref(), scan.passes, &ks);
    let mut top = Vec::with_capacity(tops.len());
    let mut side = MaskSide::default();
    for (group, kgroup) in thresholds.chunks(4).zip(ks.chunks(4)) {
        let mut thr = [f32::INFINITY; 4];
        for (slot, t) in thr.iter_mut().zip(group) {
            *slot = t.value;
        }
        if let Some(b) = &mask_box {
            side = mask_side(map, width, mask, b, &thr, max);
        }
        for (j, (t, &k)) in group.iter().zip(kgroup).enumerate() {
            let rect = span(&scan.rows, t.value)
                .zip(span(&scan.cols, t.value))
                .map(|((y0, y1), (x0, x1))| Rect { x0, y0, x1, y1 });
            let ir = rect
                .zip(mask_box)
                .and_then(|(r, b)| r.intersect(&b))
                .map(|r| mask.count_in(&r))
                .unwrap_or(0);
            top.push((k, t.value, t.selected, rect, side.inter[j] as usize, ir));
        }
    }
    let mut set = finish(
        RawCounts {
            max,
            pointing_game: side.pg,
            sum_in: side.sum_in,
            sum_all: scan.sum,
            mask_pixels: side.pixels as usize,
            pixels: n,
            top,
        },
        tops,
    );
    if !set.energy.is_finite() {
        set.energy = super::scores::exact_energy(map, mask);
    }
    Ok(set)
}

/// Scores of the pixels at or above an absolute `threshold` (one plain scan): the live view's
/// absolute-threshold mode. `top_perc` is the selected share in percent and `k` the count.
pub fn scores_at(
    map: &[f32],
    width: usize,
    height: usize,
    mask: &Mask,
    threshold: f32,
) -> TopKScores {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    let (mut selected, mut inter) = (0usize, 0usize);
    for (y, (row, mrow)) in map
        .chunks_exact(width)
        .zip(mask.data.chunks_exact(width))
        .take(height)
        .enumerate()
    {
        for (x, (&v, &m)) in row.iter().zip(mrow).enumerate() {
            if v >= threshold {
                selected += 1;
                inter += m as usize;
                x0 = x0.min(x);
                x1 = x1.max(x + 1);
                y0 = y0.min(y);
                y1 = y1.max(y + 1);
            }
        }
    }
    let rect = (selected > 0).then_some(Rect { x0, y0, x1, y1 });
    let inter_rect = rect.map(|r| mask.count_in(&r)).unwrap_or(0);
    let raw = RawCounts {
        max: 0.0,
        pointing_game: false,
        sum_in: 0.0,
        sum_all: 0.0,
        mask_pixels: mask.count(),
        pixels: map.len(),
        top: vec![(selected, threshold, selected, rect, inter, inter_rect)],
    };
    let share = 100.0 * selected as f64 / (width * height).max(1) as f64;
    finish(raw, &[share]).top.remove(0)
}
