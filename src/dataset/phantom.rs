//! Synthetic, labelled, medical-looking datasets in the paper's layout (`images/`, `masks/` with
//! the same file stems, and `labels.csv` with `image,label,x0,y0,x1,y1`; half-open pixel box of
//! the mask, empty for negatives).
//!
//! - `polyp`: endoscopy-like colour frames (vignetted mucosa, folds, specular highlights); a
//!   positive holds one polyp: an elliptical, textured, slightly raised blob of varied size,
//!   contrast and position.
//! - `xray`: radiograph-like gray frames (soft tissue, one long bone); a positive holds a fracture
//!   (a thin dark gap across the bone with a small offset) or a metal implant (a bright plate).
//!
//! Both classes share the same global statistics and distractors (highlights, folds, random
//! exposure), so a classifier has to find the lesion. Generation is deterministic per seed
//! (SplitMix64, independent of any library's RNG).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::io::{image::ImageError, mask::write_mask, write_atomic};
use crate::metrics::Mask;

/// Which kind of phantom to draw.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
pub enum PhantomKind {
    /// Endoscopy-like frames with polyps.
    Polyp,
    /// Radiograph-like frames with fractures or implants.
    Xray,
}

/// Errors of dataset writing.
#[derive(Debug, thiserror::Error)]
pub enum PhantomError {
    /// An image or mask could not be written.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A folder or the label file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: crate::error::Cause,
    },
}

/// SplitMix64: a small, well-known generator with a fixed output for a given seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [a, b).
    pub fn range(&mut self, a: f32, b: f32) -> f32 {
        a + (b - a) * self.unit()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u = self.unit().max(1e-7);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

/// One generated sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// RGB planes in [0, 1], each `size * size`.
    pub rgb: [Vec<f32>; 3],
    /// Lesion mask (empty for negatives).
    pub mask: Mask,
    /// 1 positive, 0 negative.
    pub label: u8,
}

/// Smooth random field: a sum of a few random low-frequency waves, roughly in [-1, 1].
fn smooth_field(rng: &mut Rng, size: usize, waves: usize, max_freq: f32) -> Vec<f32> {
    let params: Vec<(f32, f32, f32, f32)> = (0..waves)
        .map(|_| {
            let f = rng.range(0.5, max_freq) * std::f32::consts::TAU / size as f32;
            let a = rng.range(0.0, std::f32::consts::TAU);
            (
                f * a.cos(),
                f * a.sin(),
                rng.range(0.0, std::f32::consts::TAU),
                rng.range(0.3, 1.0),
            )
        })
        .collect();
    let norm: f32 = params.iter().map(|p| p.3).sum::<f32>().max(1e-6);
    let mut out = vec![0.0; size * size];
    for y in 0..size {
        for x in 0..size {
            let s: f32 = params
                .iter()
                .map(|&(fx, fy, ph, a)| a * (fx * x as f32 + fy * y as f32 + ph).sin())
                .sum();
            out[y * size + x] = s / norm;
        }
    }
    out
}

/// Soft step: 1 inside (d < 0), 0 outside, over `width` pixels.
fn soft(d: f32, width: f32) -> f32 {
    (0.5 - d / width).clamp(0.0, 1.0)
}

fn ellipse_distance(x: f32, y: f32, cx: f32, cy: f32, a: f32, b: f32, rot: f32) -> f32 {
    let (s, c) = rot.sin_cos();
    let (dx, dy) = (x - cx, y - cy);
    let u = (dx * c + dy * s) / a;
    let v = (-dx * s + dy * c) / b;
    ((u * u + v * v).sqrt() - 1.0) * a.min(b)
}

fn polyp(rng: &mut Rng, size: usize, positive: bool, lesion_contrast: f32) -> Sample {
    let n = size * size;
    let s = size as f32;
    let tex = smooth_field(rng, size, 6, 6.0);
    let fine = smooth_field(rng, size, 10, 24.0);
    let base = [
        rng.range(0.72, 0.9),
        rng.range(0.35, 0.5),
        rng.range(0.3, 0.42),
    ];
    let exposure = rng.range(0.75, 1.1);
    let mut rgb = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let (vx, vy) = (rng.range(0.35, 0.65) * s, rng.range(0.35, 0.65) * s);
    // Folds: dark curved bands, in both classes.
    let folds: Vec<(f32, f32, f32, f32)> = (0..rng.range(1.0, 4.0) as usize)
        .map(|_| {
            (
                rng.range(0.0, s),
                rng.range(0.0, s),
                rng.range(0.2, 0.6) * s,
                rng.range(2.0, 5.0),
            )
        })
        .collect();
    for y in 0..size {
        for x in 0..size {
            let i = y * size + x;
            let (xf, yf) = (x as f32, y as f32);
            let r = (((xf - vx) / s).powi(2) + ((yf - vy) / s).powi(2)).sqrt();
            let vignette = (1.0 - 1.6 * r * r).max(0.15);
            let mut shade = vignette * exposure * (1.0 + 0.12 * tex[i] + 0.04 * fine[i]);
            for &(fx, fy, fr, fw) in &folds {
                let d = (((xf - fx).powi(2) + (yf - fy).powi(2)).sqrt() - fr).abs();
                shade *= 1.0 - 0.25 * (-(d * d) / (2.0 * fw * fw)).exp();
            }
            for c in 0..3 {
                rgb[c][i] = base[c] * shade;
            }
        }
    }
    let mut mask = Mask::empty(size, size);
    if positive {
        let a = rng.range(0.05, 0.2) * s;
        let b = a * rng.range(0.6, 1.0);
        let (cx, cy) = (
            rng.range(a + 4.0, s - a - 4.0),
            rng.range(a + 4.0, s - a - 4.0),
        );
        let rot = rng.range(0.0, std::f32::consts::PI);
        let contrast = rng.range(0.10, 0.3) * lesion_contrast;
        let hue = [
            rng.range(0.95, 1.15),
            rng.range(0.7, 0.95),
            rng.range(0.75, 1.0),
        ]
        .map(|h| 1.0 + (h - 1.0) * lesion_contrast);
        let spots = smooth_field(rng, size, 8, 30.0);
        for y in 0..size {
            for x in 0..size {
                let i = y * size + x;
                let d = ellipse_distance(x as f32, y as f32, cx, cy, a, b, rot);
                if d < 0.0 {
                    mask.data[i] = 1;
                }
                let w = soft(d, 3.0);
                if w <= 0.0 {
                    continue;
                }
                // Raised: brighter towards the top-left, a rim of shadow, its own texture.
                let bump = (1.0 - (d / a.min(b)).abs().min(1.0)) * contrast;
                for c in 0..3 {
                    let v = rgb[c][i] * hue[c] * (1.0 + bump + 0.08 * spots[i]);
                    rgb[c][i] = rgb[c][i] * (1.0 - w) + v * w;
                }
            }
        }
    }
    // Specular highlights in both classes (distractors).
    for _ in 0..rng.range(2.0, 7.0) as usize {
        let (hx, hy, hr) = (rng.range(0.0, s), rng.range(0.0, s), rng.range(1.0, 4.0));
        for y in 0..size {
            for x in 0..size {
                let d2 = (x as f32 - hx).powi(2) + (y as f32 - hy).powi(2);
                let w = (-d2 / (2.0 * hr * hr)).exp();
                if w > 0.01 {
                    let i = y * size + x;
                    for plane in rgb.iter_mut() {
                        plane[i] = plane[i] * (1.0 - w) + w;
                    }
                }
            }
        }
    }
    noise_and_clamp(rng, &mut rgb, 0.015);
    Sample {
        rgb,
        mask,
        label: positive as u8,
    }
}

fn xray(rng: &mut Rng, size: usize, positive: bool) -> Sample {
    let n = size * size;
    let s = size as f32;
    let tissue = smooth_field(rng, size, 5, 4.0);
    let exposure = rng.range(0.8, 1.15);
    // A long bone: a band along a random direction through the middle region.
    let ang = rng.range(-0.6, 0.6)
        + if rng.unit() < 0.5 {
            0.0
        } else {
            std::f32::consts::FRAC_PI_2
        };
    let (dir_x, dir_y) = (ang.cos(), ang.sin());
    let (px, py) = (rng.range(0.35, 0.65) * s, rng.range(0.35, 0.65) * s);
    let half = rng.range(0.06, 0.11) * s;
    let cortex = rng.range(0.15, 0.3) * half;
    let mut g = vec![0.0f32; n];
    let across = |x: f32, y: f32| (x - px) * -dir_y + (y - py) * dir_x;
    let along = |x: f32, y: f32| (x - px) * dir_x + (y - py) * dir_y;
    for y in 0..size {
        for x in 0..size {
            let i = y * size + x;
            let (xf, yf) = (x as f32, y as f32);
            let t = across(xf, yf).abs();
            let soft_tissue = 0.22 + 0.06 * tissue[i] + 0.1 * (1.0 - (t / (0.45 * s)).min(1.0));
            let bone = if t < half {
                let edge = (half - t) / cortex;
                0.35 + 0.25 * (-edge).exp() + 0.1 * (1.0 - t / half)
            } else {
                0.0
            };
            g[i] = (soft_tissue + bone * soft(t - half, 1.5)) * exposure;
        }
    }
    let mut mask = Mask::empty(size, size);
    if positive {
        let at = rng.range(-0.3, 0.3) * s;
        if rng.unit() < 0.5 {
            // Fracture: a thin, slightly oblique dark gap across the bone.
            let tilt = rng.range(-0.5, 0.5);
            let gap = rng.range(1.2, 2.5);
            for y in 0..size {
                for x in 0..size {
                    let (xf, yf) = (x as f32, y as f32);
                    let t = across(xf, yf);
                    if t.abs() > half + 1.0 {
                        continue;
                    }
                    let d = (along(xf, yf) - at - tilt * t).abs();
                    let i = y * size + x;
                    if d < gap + 1.0 {
                        mask.data[i] = 1;
                    }
                    let w = soft(d - gap, 1.0);
                    g[i] *= 1.0 - 0.6 * w;
                }
            }
        } else {
            // Implant: a bright plate along the bone.
            let len = rng.range(0.12, 0.3) * s;
            let wid = rng.range(0.25, 0.5) * half;
            let off = rng.range(-0.5, 0.5) * half;
            for y in 0..size {
                for x in 0..size {
                    let (xf, yf) = (x as f32, y as f32);
                    let (u, v) = (along(xf, yf) - at, across(xf, yf) - off);
                    if u.abs() < len / 2.0 && v.abs() < wid / 2.0 {
                        let i = y * size + x;
                        mask.data[i] = 1;
                        g[i] = 0.95;
                    }
                }
            }
        }
    }
    let mut rgb = [g.clone(), g.clone(), g];
    noise_and_clamp(rng, &mut rgb, 0.02);
    // Gray: keep the three planes identical after the (shared) noise.
    let (r, rest) = rgb.split_at_mut(1);
    rest[0].copy_from_slice(&r[0]);
    rest[1].copy_from_slice(&r[0]);
    Sample {
        rgb,
        mask,
        label: positive as u8,
    }
}

fn noise_and_clamp(rng: &mut Rng, rgb: &mut [Vec<f32>; 3], sigma: f32) {
    for plane in rgb.iter_mut() {
        for v in plane.iter_mut() {
            *v = (*v + sigma * rng.normal()).clamp(0.0, 1.0);
        }
    }
}

/// Draws sample `index` of a dataset: the label alternates so that classes are balanced, and
/// every sample has its own generator derived from (seed, index).
pub fn sample(kind: PhantomKind, seed: u64, index: usize, size: usize) -> Sample {
    sample_with(kind, seed, index, size, 1.0)
}

/// [`sample`] with the polyp's colour and relief contrast scaled by `lesion_contrast` (1 = the
/// default range; the draws are the same, so only the lesion's strength changes).
pub fn sample_with(
    kind: PhantomKind,
    seed: u64,
    index: usize,
    size: usize,
    lesion_contrast: f32,
) -> Sample {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xa076_1d64_78bd_642f));
    rng.next_u64();
    let positive = index.is_multiple_of(2);
    match kind {
        PhantomKind::Polyp => polyp(&mut rng, size, positive, lesion_contrast),
        PhantomKind::Xray => xray(&mut rng, size, positive),
    }
}

/// Writes `n` samples into `out` (images/, masks/, labels.csv) and returns the CSV text.
pub fn write_dataset(
    out: &Path,
    kind: PhantomKind,
    n: usize,
    seed: u64,
    size: usize,
    lesion_contrast: f32,
    progress: &dyn crate::progress::Progress,
) -> Result<String, PhantomError> {
    let io = |path: &Path, e: std::io::Error| PhantomError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    };
    for sub in ["images", "masks"] {
        let d = out.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
    }
    progress.set_len(n as u64);
    let mut csv = String::from("image,label,x0,y0,x1,y1\n");
    for i in 0..n {
        let smp = sample_with(kind, seed, i, size, lesion_contrast);
        let name = format!("{:?}_{i:05}.png", kind).to_lowercase();
        let q = |v: f32| (v * 255.0).round() as u8;
        let img = image::RgbImage::from_fn(size as u32, size as u32, |x, y| {
            let j = y as usize * size + x as usize;
            image::Rgb([q(smp.rgb[0][j]), q(smp.rgb[1][j]), q(smp.rgb[2][j])])
        });
        crate::io::image::write_rgb8(&out.join("images").join(&name), &img)?;
        write_mask(&out.join("masks").join(&name), &smp.mask)?;
        match smp.mask.bbox() {
            Some(r) if smp.label == 1 => {
                let _ = writeln!(csv, "{name},1,{},{},{},{}", r.x0, r.y0, r.x1, r.y1);
            }
            _ => {
                let _ = writeln!(csv, "{name},{},,,,", smp.label);
            }
        }
        progress.inc(1);
    }
    let labels = out.join("labels.csv");
    write_atomic(&labels, csv.as_bytes()).map_err(|e| io(&labels, e))?;
    progress.finish();
    Ok(csv)
}
