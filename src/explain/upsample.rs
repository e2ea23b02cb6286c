//! From the patch grid to model-input resolution, the way the reference code does it per method:
//!
//! - attention: `np.kron(map, ones(p, p))` (nearest, every patch a constant block), then min-max;
//! - Chefer (and rollout / cam-attn): `interpolate(scale_factor=p, mode='bilinear')` with
//!   `align_corners=False`, then min-max in f32;
//! - GradCAM: `cv2.resize` INTER_LINEAR (the same half-pixel rule), inside grad-cam's own scaling
//!   (see `gradcam`).
//!
//! Min-max is `(a - min) / (max - min)`; a constant map becomes all zeros (the reference would
//! divide by zero).

use super::shared::{Map2, PatchMap};
use crate::model::preprocess::resize_bilinear;

/// `(a - min) / (max - min)` in f32 (f64 for the kron'd attention map, as numpy does there).
pub fn minmax(values: &mut [f32]) {
    let (lo, hi) = min_max(values);
    let range = hi - lo;
    for v in values.iter_mut() {
        *v = if range > 0.0 { (*v - lo) / range } else { 0.0 };
    }
}

/// Smallest and largest value (0, 0 for an empty slice).
pub fn min_max(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .fold(None, |acc: Option<(f32, f32)>, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
        .unwrap_or((0.0, 0.0))
}

/// Nearest (block) upsampling by `p`, then min-max evaluated in f64 like the paper's float64
/// array, rounded to f32.
pub fn nearest_minmax(grid: &PatchMap, p: usize) -> Map2 {
    let (h, w) = (grid.height * p, grid.width * p);
    let (lo, hi) = min_max(&grid.values);
    let (lo, range) = (lo as f64, hi as f64 - lo as f64);
    let norm: Vec<f32> = grid
        .values
        .iter()
        .map(|&v| {
            if range > 0.0 {
                ((v as f64 - lo) / range) as f32
            } else {
                0.0
            }
        })
        .collect();
    let mut values = Vec::with_capacity(h * w);
    for y in 0..h {
        let row = &norm[(y / p) * grid.width..(y / p + 1) * grid.width];
        values.extend((0..w).map(|x| row[x / p]));
    }
    Map2 {
        height: h,
        width: w,
        values,
    }
}

/// Bilinear upsampling by `p` (half-pixel centres, edge clamp), then min-max in f32.
pub fn bilinear_minmax(grid: &PatchMap, p: usize) -> Map2 {
    let (h, w) = (grid.height * p, grid.width * p);
    let mut values = resize_bilinear(&grid.values, grid.width, grid.height, w, h);
    minmax(&mut values);
    Map2 {
        height: h,
        width: w,
        values,
    }
}
