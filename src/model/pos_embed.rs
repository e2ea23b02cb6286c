//! Resampling the patch part of a position embedding to another grid, as PyTorch 2.15's
//! `interpolate(mode='bicubic', align_corners=False, size=(gh, gw))` does on the `[D, g0, g0]`
//! image (the call of timm's `resample_abs_pos_embed` and of the Hugging Face embeddings'
//! `interpolate_pos_encoding`). `size` is given, so the scale per axis is `in / out`.
//!
//! - [`Resample::Bicubic`] (`antialias=False`): Keys cubic with a = -0.75; source coordinate
//!   `x = scale (i + 0.5) - 0.5`, taps `floor(x) - 1 ..= floor(x) + 2` with indices clamped to
//!   the grid (border replicated).
//! - [`Resample::BicubicAntialias`] (`antialias=True`): Keys cubic with a = -0.5; support
//!   `2 max(scale, 1)` around the centre `scale (i + 0.5)`, taps `j` from
//!   `max(int(centre - support + 0.5), 0)` to `min(int(centre + support + 0.5), in)`
//!   (exclusive), weight `w((j - centre + 0.5) / max(scale, 1))`, the weights of each output
//!   divided by their sum.
//!
//! Both are separable: rows first, then columns; evaluated in f64 and rounded once to f32.

use super::vit::Resample;

/// Keys' cubic convolution kernel with parameter `a`.
fn keys(x: f64, a: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// Per output index, the taps `(source index, weight)` along one axis.
fn taps(input: usize, output: usize, rule: Resample) -> Vec<Vec<(usize, f64)>> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|i| match rule {
            Resample::Bicubic => {
                let x = scale * (i as f64 + 0.5) - 0.5;
                let x0 = x.floor();
                let t = x - x0;
                let w = [
                    keys(t + 1.0, -0.75),
                    keys(t, -0.75),
                    keys(1.0 - t, -0.75),
                    keys(2.0 - t, -0.75),
                ];
                (0..4)
                    .map(|k| {
                        let j = (x0 as i64 - 1 + k as i64).clamp(0, input as i64 - 1) as usize;
                        (j, w[k])
                    })
                    .collect()
            }
            Resample::BicubicAntialias => {
                let support = 2.0 * scale.max(1.0);
                let centre = scale * (i as f64 + 0.5);
                // Python's int() truncates toward zero.
                let lo = ((centre - support + 0.5).trunc().max(0.0)) as usize;
                let hi = ((centre + support + 0.5).trunc() as usize).min(input);
                let inv = 1.0 / scale.max(1.0);
                let mut t: Vec<(usize, f64)> = (lo..hi)
                    .map(|j| (j, keys((j as f64 - centre + 0.5) * inv, -0.5)))
                    .collect();
                let sum: f64 = t.iter().map(|(_, w)| w).sum();
                if sum != 0.0 {
                    for (_, w) in t.iter_mut() {
                        *w /= sum;
                    }
                }
                t
            }
        })
        .collect()
}

/// Resamples `values` (`[from.0 * from.1, d]`, grid cells row-major, channels last) to the grid
/// `to` (rows, cols); returns `[to.0 * to.1, d]` in the same layout.
pub fn resample(
    values: &[f32],
    d: usize,
    from: (usize, usize),
    to: (usize, usize),
    rule: Resample,
) -> Vec<f32> {
    let (rows, cols) = (taps(from.0, to.0, rule), taps(from.1, to.1, rule));
    let mut out = vec![0f32; to.0 * to.1 * d];
    let mut acc = vec![0f64; d];
    for (oy, ty) in rows.iter().enumerate() {
        for (ox, tx) in cols.iter().enumerate() {
            acc.iter_mut().for_each(|a| *a = 0.0);
            for &(sy, wy) in ty {
                for &(sx, wx) in tx {
                    let w = wy * wx;
                    let cell = &values[(sy * from.1 + sx) * d..][..d];
                    for (a, &v) in acc.iter_mut().zip(cell) {
                        *a += w * v as f64;
                    }
                }
            }
            let o = &mut out[(oy * to.1 + ox) * d..][..d];
            for (o, a) in o.iter_mut().zip(&acc) {
                *o = *a as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resampling to the same grid is the identity under both rules (the kernels interpolate).
    #[test]
    fn same_size_is_identity() {
        let v: Vec<f32> = (0..3 * 4 * 2).map(|i| (i as f32 * 0.37).sin()).collect();
        for rule in [Resample::Bicubic, Resample::BicubicAntialias] {
            let r = resample(&v, 2, (3, 4), (3, 4), rule);
            for (a, b) in r.iter().zip(&v) {
                assert!((a - b).abs() < 1e-6, "{rule:?}: {a} vs {b}");
            }
        }
    }

    /// A constant image stays constant: the weights of every output sum to 1.
    #[test]
    fn constants_survive_both_rules() {
        let v = vec![2.5f32; 9 * 9];
        for rule in [Resample::Bicubic, Resample::BicubicAntialias] {
            for to in [(12, 10), (5, 6), (1, 1)] {
                let r = resample(&v, 1, (9, 9), to, rule);
                assert!(r.iter().all(|x| (x - 2.5).abs() < 1e-5), "{rule:?} {to:?}");
            }
        }
    }
}
