//! Localisation metrics of an explanation map against an annotation, exactly as the paper's
//! `func_eval` computes them, plus named variants.
//!
//! - **pointing game**: 1 if any pixel equal to the map's maximum lies in the mask (every tied
//!   maximum counts).
//! - **top-k% binarisation**: `k = int(N * (p / 100))` (f64, truncation); threshold = the
//!   (k+1)-th largest value; every pixel `>= threshold` is selected, so ties can select more than
//!   k+1 pixels and a threshold of 0 can select the whole map. `k >= N` selects everything.
//! - **iou_rect** (the paper's metric): IoU of the mask with the bounding rectangle of all
//!   selected pixels. **iou_binary**: IoU with the selected pixels. **dice**: Dice of the
//!   selected pixels. IoU is `|A ∩ B| / |A ∪ B|` (NaN when both are empty).
//! - **energy** (energy pointing game / relevance mass): share of the map's sum inside the mask.
//!   When the map sums to 0 (an all-zero map) every pixel carries the same share, as in any
//!   constant map, so the energy is the mask's share of the pixels, `|mask| / N`.
//!
//! A map with a NaN or an infinite value is an error, never a score.
//!
//! The CPU reference here selects thresholds in O(N) with a radix select over the
//! order-preserving bit patterns of the f32 values (no sort; on large maps usually folded into
//! the first pass, see [`select`]); [`gpu`] runs the two-pass radix select in WGSL compute
//! shaders and must return identical counts.

pub mod gpu;
pub mod gpu_data;
pub mod select;

use serde::Serialize;

/// The paper's top-k percentages.
pub const PAPER_TOPS: [f64; 4] = [5.0, 10.0, 20.0, 40.0];

/// Errors of metric inputs.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Map and mask differ in size.
    #[error("map is {map_w}x{map_h} but mask is {mask_w}x{mask_h} (width x height)")]
    SizeMismatch {
        /// Map width.
        map_w: usize,
        /// Map height.
        map_h: usize,
        /// Mask width.
        mask_w: usize,
        /// Mask height.
        mask_h: usize,
    },
    /// The map has a NaN or an infinite value.
    #[error("map contains NaN or infinite values")]
    NaN,
    /// Bad percentage.
    #[error("top percentage {0} is outside (0, 100]")]
    Percentage(f64),
    /// Empty map.
    #[error("map is empty")]
    Empty,
    /// GPU failure.
    #[error("GPU metrics: {0}")]
    Gpu(String),
}

/// Half-open pixel rectangle `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rect {
    /// Left column (inclusive).
    pub x0: usize,
    /// Top row (inclusive).
    pub y0: usize,
    /// Right column (exclusive).
    pub x1: usize,
    /// Bottom row (exclusive).
    pub y1: usize,
}

impl Rect {
    /// Pixel count.
    pub fn area(&self) -> usize {
        (self.x1 - self.x0) * (self.y1 - self.y0)
    }
}

/// A binary mask (1 = inside), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// 0 or 1 per pixel.
    pub data: Vec<u8>,
}

impl Mask {
    /// An empty mask.
    pub fn empty(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![0; width * height],
        }
    }

    /// A mask filled inside the given rectangles (clipped to the image).
    pub fn from_rects(width: usize, height: usize, rects: &[Rect]) -> Self {
        let mut m = Self::empty(width, height);
        for r in rects {
            for y in r.y0.min(height)..r.y1.min(height) {
                m.data[y * width + r.x0.min(width)..y * width + r.x1.min(width)].fill(1);
            }
        }
        m
    }

    /// Pixels set.
    pub fn count(&self) -> usize {
        self.data.iter().map(|&v| v as usize).sum()
    }

    /// Bounding rectangle of all set pixels (the paper's "rectangle of all components").
    pub fn bbox(&self) -> Option<Rect> {
        let w = self.width;
        if w == 0 {
            return None;
        }
        // Each thread ORs its rows into one row (vectorised, in the widest SIMD the CPU has)
        // and notes the first and last row with a pixel; the columns come from the OR.
        let arch = pulp::Arch::new();
        let parts = select::par_chunks_aligned(&self.data, w, |c, off| {
            arch.dispatch(|| {
                let mut acc = vec![0u8; w];
                let mut rows = None;
                for (y, row) in c.chunks_exact(w).enumerate() {
                    let mut any = 0u8;
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a |= v;
                        any |= v;
                    }
                    if any != 0 {
                        let y = off / w + y;
                        rows = Some(rows.map_or((y, y + 1), |(y0, _)| (y0, y + 1)));
                    }
                }
                (rows, acc)
            })
        });
        let mut acc = vec![0u8; w];
        let mut rows: Option<(usize, usize)> = None;
        for (r, a) in parts {
            if let Some((y0, y1)) = r {
                rows = Some(rows.map_or((y0, y1), |(p0, _)| (p0, y1)));
                for (x, &v) in acc.iter_mut().zip(&a) {
                    *x |= v;
                }
            }
        }
        let (y0, y1) = rows?;
        Some(Rect {
            x0: acc.iter().position(|&v| v != 0)?,
            y0,
            x1: acc.iter().rposition(|&v| v != 0)? + 1,
            y1,
        })
    }

    /// Set pixels inside `r`.
    pub fn count_in(&self, r: &Rect) -> usize {
        pulp::Arch::new().dispatch(|| {
            (r.y0..r.y1)
                .map(|y| {
                    self.data[y * self.width + r.x0..y * self.width + r.x1]
                        .iter()
                        .map(|&v| (v != 0) as u32)
                        .sum::<u32>() as usize
                })
                .sum()
        })
    }
}

impl Rect {
    /// Intersection with another rectangle.
    pub fn intersect(&self, o: &Rect) -> Option<Rect> {
        let r = Rect {
            x0: self.x0.max(o.x0),
            y0: self.y0.max(o.y0),
            x1: self.x1.min(o.x1),
            y1: self.y1.min(o.y1),
        };
        (r.x0 < r.x1 && r.y0 < r.y1).then_some(r)
    }
}

/// Scores of one top-k% binarisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopKScores {
    /// Percentage p.
    pub top_perc: f64,
    /// `int(N * p / 100)`.
    pub k: usize,
    /// The (k+1)-th largest value.
    pub threshold: f32,
    /// Pixels `>= threshold`.
    pub selected: usize,
    /// Bounding rectangle of the selected pixels.
    pub rect: Option<Rect>,
    /// Selected ∩ mask.
    pub inter_binary: usize,
    /// Rectangle ∩ mask.
    pub inter_rect: usize,
    /// IoU of the mask with the rectangle (the paper's metric).
    pub iou_rect: f64,
    /// IoU of the mask with the selected pixels.
    pub iou_binary: f64,
    /// Dice of the mask with the selected pixels.
    pub dice: f64,
}

/// All metrics of one map against one mask.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSet {
    /// Map maximum.
    pub max: f32,
    /// Pointing game hit (any tied maximum inside the mask).
    pub pointing_game: bool,
    /// Share of the map's sum inside the mask.
    pub energy: f64,
    /// Mask pixels.
    pub mask_pixels: usize,
    /// Per percentage.
    pub top: Vec<TopKScores>,
}

/// `int(n * (p / 100))` as the paper's Python evaluates it.
pub fn top_k_count(n: usize, p: f64) -> usize {
    (n as f64 * (p / 100.0)).floor() as usize
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

/// Checks inputs shared by both backends.
pub fn validate(
    map: &[f32],
    width: usize,
    height: usize,
    mask: &Mask,
    tops: &[f64],
) -> Result<(), MetricsError> {
    validate_shape(map, width, height, mask, tops)?;
    if has_non_finite(map) {
        return Err(MetricsError::NaN);
    }
    Ok(())
}

/// Whether any value is NaN or infinite (blockwise OR-reductions, which vectorise, on every
/// core).
fn has_non_finite(map: &[f32]) -> bool {
    select::par_chunks(map, |c, _| {
        c.chunks(1024)
            .any(|b| b.iter().fold(false, |a, &v| a | !v.is_finite()))
    })
    .into_iter()
    .any(|x| x)
}

/// [`validate`] without the NaN check, which [`compute_cpu`] folds into its first pass.
fn validate_shape(
    map: &[f32],
    width: usize,
    height: usize,
    mask: &Mask,
    tops: &[f64],
) -> Result<(), MetricsError> {
    if mask.width != width || mask.height != height || map.len() != width * height {
        return Err(MetricsError::SizeMismatch {
            map_w: width,
            map_h: height,
            mask_w: mask.width,
            mask_h: mask.height,
        });
    }
    if map.is_empty() {
        return Err(MetricsError::Empty);
    }
    if let Some(&p) = tops.iter().find(|&&p| !(p > 0.0 && p <= 100.0)) {
        return Err(MetricsError::Percentage(p));
    }
    Ok(())
}

/// Counts shared by both backends, before they become ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCounts {
    /// Map maximum.
    pub max: f32,
    /// Any maximum inside the mask.
    pub pointing_game: bool,
    /// Σ map over the mask.
    pub sum_in: f64,
    /// Σ map.
    pub sum_all: f64,
    /// Mask pixels.
    pub mask_pixels: usize,
    /// Map pixels.
    pub pixels: usize,
    /// Per percentage: (k, threshold, selected, rect, inter_binary, inter_rect).
    pub top: Vec<(usize, f32, usize, Option<Rect>, usize, usize)>,
}

/// Turns counts into a [`MetricSet`].
pub fn finish(raw: RawCounts, tops: &[f64]) -> MetricSet {
    let m = raw.mask_pixels;
    let top = raw
        .top
        .iter()
        .zip(tops)
        .map(|(&(k, threshold, selected, rect, ib, ir), &p)| {
            let area = rect.map(|r| r.area()).unwrap_or(0);
            TopKScores {
                top_perc: p,
                k,
                threshold,
                selected,
                rect,
                inter_binary: ib,
                inter_rect: ir,
                iou_rect: ratio(ir, area + m - ir),
                iou_binary: ratio(ib, selected + m - ib),
                dice: if selected + m == 0 {
                    f64::NAN
                } else {
                    2.0 * ib as f64 / (selected + m) as f64
                },
            }
        })
        .collect();
    MetricSet {
        max: raw.max,
        pointing_game: raw.pointing_game,
        energy: if raw.sum_all == 0.0 {
            // Σ map = 0: every pixel has the same share (see the module documentation).
            m as f64 / raw.pixels.max(1) as f64
        } else {
            raw.sum_in / raw.sum_all
        },
        mask_pixels: m,
        top,
    }
}

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
    Ok(finish(
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
    ))
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

/// One record shaped like the reference `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Map name.
    pub map: String,
    /// Mask name.
    pub mask: String,
    /// `pointing_game`, `iou_rect`, `iou_binary`, `dice` or `energy`.
    pub metric: String,
    /// Percentage (None for the pointing game and energy).
    pub top_perc: Option<f64>,
    /// Value (NaN, written as null, where undefined).
    pub value: f64,
    /// k of the `top_k_intersection` record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
}

/// Flattens a [`MetricSet`] into records in the reference order (pointing game, then per
/// percentage `iou_rect`, `iou_binary`), followed by this tool's extras (`dice`, `energy`).
pub fn records(set: &MetricSet, map: &str, mask: &str) -> Vec<Record> {
    let rec = |metric: &str, top_perc: Option<f64>, value: f64| Record {
        map: map.to_string(),
        mask: mask.to_string(),
        metric: metric.to_string(),
        top_perc,
        value,
        k: None,
    };
    let mut out = vec![rec(
        "pointing_game",
        None,
        if set.pointing_game { 1.0 } else { 0.0 },
    )];
    for t in &set.top {
        out.push(rec("iou_rect", Some(t.top_perc), t.iou_rect));
        out.push(rec("iou_binary", Some(t.top_perc), t.iou_binary));
    }
    for t in &set.top {
        out.push(rec("dice", Some(t.top_perc), t.dice));
    }
    out.push(rec("energy", None, set.energy));
    out
}

/// Records of the localisation metrics beyond the paper (relevance mass, relevance rank,
/// ROC-AUC, top-k intersection with its k), shaped like [`records`]' records.
pub fn localisation_records(
    loc: &crate::faithfulness::localisation::Localisation,
    map: &str,
    mask: &str,
) -> Vec<Record> {
    let rec = |metric: &str, value: Option<f64>, k: Option<usize>| Record {
        map: map.to_string(),
        mask: mask.to_string(),
        metric: metric.to_string(),
        top_perc: None,
        value: value.unwrap_or(f64::NAN),
        k,
    };
    vec![
        rec("relevance_mass", loc.relevance_mass, None),
        rec("relevance_rank", loc.relevance_rank, None),
        rec("roc_auc", loc.roc_auc, None),
        rec(
            "top_k_intersection",
            loc.top_k_intersection,
            Some(crate::faithfulness::localisation::TOP_K),
        ),
    ]
}
