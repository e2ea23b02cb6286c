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
//!
//! The CPU reference here selects thresholds in O(N) with a two-pass radix select over the
//! order-preserving bit patterns of the f32 values (no sort); [`gpu`] runs the same algorithm in
//! WGSL compute shaders and must return identical counts.

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
    /// The map has a NaN.
    #[error("map contains NaN values")]
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
        bbox_of(self.width, self.data.iter().map(|&v| v != 0))
    }

    /// Set pixels inside `r`.
    pub fn count_in(&self, r: &Rect) -> usize {
        (r.y0..r.y1)
            .map(|y| {
                self.data[y * self.width + r.x0..y * self.width + r.x1]
                    .iter()
                    .map(|&v| v as usize)
                    .sum::<usize>()
            })
            .sum()
    }
}

fn bbox_of(width: usize, bits: impl Iterator<Item = bool>) -> Option<Rect> {
    let mut r: Option<Rect> = None;
    for (i, b) in bits.enumerate() {
        if !b {
            continue;
        }
        let (x, y) = (i % width, i / width);
        r = Some(match r {
            None => Rect {
                x0: x,
                y0: y,
                x1: x + 1,
                y1: y + 1,
            },
            Some(r) => Rect {
                x0: r.x0.min(x),
                y0: r.y0.min(y),
                x1: r.x1.max(x + 1),
                y1: r.y1.max(y + 1),
            },
        });
    }
    r
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
    if map.iter().any(|v| v.is_nan()) {
        return Err(MetricsError::NaN);
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
            f64::NAN
        } else {
            raw.sum_in / raw.sum_all
        },
        mask_pixels: m,
        top,
    }
}

/// CPU reference: every metric in a few linear passes.
pub fn compute_cpu(
    map: &[f32],
    width: usize,
    height: usize,
    mask: &Mask,
    tops: &[f64],
) -> Result<MetricSet, MetricsError> {
    validate(map, width, height, mask, tops)?;
    let n = map.len();
    let ks: Vec<usize> = tops.iter().map(|&p| top_k_count(n, p)).collect();
    let thresholds = select::kth_largest_many(map, &ks);
    let max = select::max_value(map);
    let t = thresholds.len();
    let mut selected = vec![0usize; t];
    let mut inter = vec![0usize; t];
    let mut boxes = vec![(usize::MAX, usize::MAX, 0usize, 0usize); t];
    let (mut pg, mut sum_in, mut sum_all, mut mask_pixels) = (false, 0f64, 0f64, 0usize);
    for (y, (row, mrow)) in map
        .chunks_exact(width)
        .zip(mask.data.chunks_exact(width))
        .enumerate()
    {
        let (mut row_in, mut row_all) = (0f64, 0f64);
        for (x, (&v, &m)) in row.iter().zip(mrow).enumerate() {
            let inside = m != 0;
            row_all += v as f64;
            if inside {
                row_in += v as f64;
                mask_pixels += 1;
                pg |= v == max;
            }
            for j in 0..t {
                if v >= thresholds[j] {
                    selected[j] += 1;
                    inter[j] += inside as usize;
                    let b = &mut boxes[j];
                    b.0 = b.0.min(x);
                    b.1 = b.1.min(y);
                    b.2 = b.2.max(x + 1);
                    b.3 = b.3.max(y + 1);
                }
            }
        }
        sum_in += row_in;
        sum_all += row_all;
    }
    let top = (0..t)
        .map(|j| {
            let b = boxes[j];
            let rect = (selected[j] > 0).then_some(Rect {
                x0: b.0,
                y0: b.1,
                x1: b.2,
                y1: b.3,
            });
            let ir = rect.map(|r| mask.count_in(&r)).unwrap_or(0);
            (ks[j], thresholds[j], selected[j], rect, inter[j], ir)
        })
        .collect();
    Ok(finish(
        RawCounts {
            max,
            pointing_game: pg,
            sum_in,
            sum_all,
            mask_pixels,
            top,
        },
        tops,
    ))
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
    /// Value.
    pub value: f64,
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
