//! The scores of one map against one annotation ([`MetricSet`]), the counts both backends
//! produce before they become ratios ([`RawCounts`], [`finish`]), the top-k rule and the checks
//! of the inputs.

use serde::{Deserialize, Serialize};

use super::select;
use super::shapes::{Mask, Rect};

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

/// Scores of one top-k% binarisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
/// The energy from plain f64 sums, for a finite map whose vectorised f32 sums overflowed
/// (values near `f32::MAX`): the same definition as [`finish`], never NaN or infinite.
pub(super) fn exact_energy(map: &[f32], mask: &Mask) -> f64 {
    let (mut sum, mut sum_in, mut m) = (0f64, 0f64, 0usize);
    for (&v, &k) in map.iter().zip(&mask.data) {
        sum += v as f64;
        if k != 0 {
            sum_in += v as f64;
            m += 1;
        }
    }
    if sum == 0.0 {
        m as f64 / map.len().max(1) as f64
    } else {
        sum_in / sum
    }
}

pub(super) fn has_non_finite(map: &[f32]) -> bool {
    select::par_chunks(map, |c, _| {
        c.chunks(1024)
            .any(|b| b.iter().fold(false, |a, &v| a | !v.is_finite()))
    })
    .into_iter()
    .any(|x| x)
}

/// [`validate`] without the NaN check, which [`compute_cpu`] folds into its first pass.
pub(super) fn validate_shape(
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
