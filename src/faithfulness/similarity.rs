//! Similarity of two maps, for the sanity checks (Adebayo et al.): Spearman's rank correlation
//! of the values (and of their absolute values) and SSIM of the min-max normalised maps,
//! defined as scipy's `spearmanr` and scikit-image's `structural_similarity` with its defaults
//! (7×7 uniform window, sample covariance, K1 0.01, K2 0.03, data range 1, mean over the
//! window centres at least 3 pixels from the border), all in f64.

use crate::error::Invalid;
use serde::Serialize;

use crate::metrics::localisation::average_ranks;

/// The three similarities; `None` where undefined (Spearman of a constant map).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Similarity {
    /// Rank correlation of the values.
    pub spearman: Option<f64>,
    /// Rank correlation of the absolute values.
    pub spearman_abs: Option<f64>,
    /// Structural similarity of the min-max normalised maps.
    pub ssim: Option<f64>,
}

/// Compares two maps of `width × height`.
pub fn compare(a: &[f32], b: &[f32], width: usize, height: usize) -> Result<Similarity, Invalid> {
    if a.len() != b.len() || a.len() != width * height {
        return Err(Invalid::from(format!(
            "the maps have {} and {} values; {width}×{height} needs {}",
            a.len(),
            b.len(),
            width * height
        )));
    }
    crate::io::guard::check_finite(a, "the first map")?;
    crate::io::guard::check_finite(b, "the second map")?;
    let abs = |m: &[f32]| m.iter().map(|v| v.abs()).collect::<Vec<f32>>();
    Ok(Similarity {
        spearman: spearman(a, b),
        spearman_abs: spearman(&abs(a), &abs(b)),
        ssim: ssim(a, b, width, height),
    })
}

/// Pearson correlation of the average ranks; `None` when either map is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> Option<f64> {
    let (ra, rb) = (average_ranks(a), average_ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0f64, 0f64, 0f64);
    for (x, y) in ra.iter().zip(&rb) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    (saa > 0.0 && sbb > 0.0).then(|| (sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0))
}

fn minmax64(m: &[f32]) -> Vec<f64> {
    let (lo, hi) = m
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v as f64), h.max(v as f64))
        });
    let range = hi - lo;
    m.iter()
        .map(|&v| {
            if range > 0.0 {
                (v as f64 - lo) / range
            } else {
                0.0
            }
        })
        .collect()
}

/// scikit-image's SSIM (defaults, data range 1) of the min-max normalised maps; `None` for maps
/// smaller than the 7×7 window.
pub fn ssim(a: &[f32], b: &[f32], width: usize, height: usize) -> Option<f64> {
    const WIN: usize = 7;
    if width < WIN || height < WIN {
        return None;
    }
    let (x, y) = (minmax64(a), minmax64(b));
    let np = (WIN * WIN) as f64;
    let cov_norm = np / (np - 1.0);
    let (c1, c2) = (0.01f64 * 0.01, 0.03f64 * 0.03);
    let half = WIN / 2;
    let mut total = 0f64;
    let mut count = 0usize;
    // The crop keeps centres whose window lies inside the map, so no padding rule is needed.
    for cy in half..height - half {
        for cx in half..width - half {
            let (mut ux, mut uy, mut uxx, mut uyy, mut uxy) = (0f64, 0f64, 0f64, 0f64, 0f64);
            for yy in cy - half..=cy + half {
                for xx in cx - half..=cx + half {
                    let (p, q) = (x[yy * width + xx], y[yy * width + xx]);
                    ux += p;
                    uy += q;
                    uxx += p * p;
                    uyy += q * q;
                    uxy += p * q;
                }
            }
            let (ux, uy, uxx, uyy, uxy) = (ux / np, uy / np, uxx / np, uyy / np, uxy / np);
            let vx = cov_norm * (uxx - ux * ux);
            let vy = cov_norm * (uyy - uy * uy);
            let vxy = cov_norm * (uxy - ux * uy);
            let s = ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            total += s;
            count += 1;
        }
    }
    Some(total / count as f64)
}
