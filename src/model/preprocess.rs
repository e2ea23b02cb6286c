//! Preprocessing from an [`Image`] to the model's input tensor, and the geometry needed to put a
//! map back onto the original image.
//!
//! Steps, as torchvision does them for the paper: gray to 3 channels; `Resize((S, S))` (bilinear)
//! or `CenterCrop(S)` (zero padding when the image is smaller); then `(v - mean) / std` per
//! channel in f32. For an S×S image both modes are the identity and the tensor equals
//! `ToTensor()` + `Normalize()` bit for bit.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::io::image::Image;

/// How an image is brought to the model's size.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    /// Stretch to S×S with bilinear interpolation.
    #[default]
    Resize,
    /// Take the central S×S (zero padding if smaller).
    CenterCrop,
}

/// Channel statistics for normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Per-channel mean.
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
}

impl Default for Normalization {
    /// ImageNet statistics.
    fn default() -> Self {
        Self {
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

impl Normalization {
    /// Every mean finite, every standard deviation finite and positive.
    pub fn check(&self) -> Result<(), String> {
        let ok = self.mean.iter().all(|m| m.is_finite())
            && self.std.iter().all(|s| s.is_finite() && *s > 0.0);
        if ok {
            Ok(())
        } else {
            Err(format!(
                "normalisation mean {:?} / std {:?}: means must be finite and standard deviations finite and above 0",
                self.mean, self.std
            ))
        }
    }
}

/// Where the model input sits in the original image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Original width.
    pub orig_width: usize,
    /// Original height.
    pub orig_height: usize,
    /// Model input side.
    pub size: usize,
    /// Mode used.
    pub mode: ResizeMode,
}

/// A preprocessed image: CHW f32 values ready for the model, plus its geometry.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// `3 * size * size` values, channel-major.
    pub chw: Vec<f32>,
    /// Geometry.
    pub geometry: Geometry,
}

impl Prepared {
    /// As a `[1, 3, S, S]` tensor.
    pub fn tensor(&self, device: &Device) -> Tensor<4> {
        let s = self.geometry.size;
        Tensor::from_data(TensorData::new(self.chw.clone(), [1, 3, s, s]), device)
    }
}

/// Bilinear resampling of one plane with half-pixel centres and edge clamping (the rule of
/// `cv2.resize(INTER_LINEAR)` and of `interpolate(mode='bilinear', align_corners=False)`).
pub fn resize_bilinear(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
    let axis = |d: usize, s: usize| -> Vec<(usize, usize, f32)> {
        let scale = s as f32 / d as f32;
        (0..d)
            .map(|i| {
                let x = ((i as f32 + 0.5) * scale - 0.5).max(0.0);
                let x0 = (x.floor() as usize).min(s - 1);
                let x1 = (x0 + 1).min(s - 1);
                (x0, x1, x - x0 as f32)
            })
            .collect()
    };
    let xs = axis(dw, sw);
    let ys = axis(dh, sh);
    let mut out = Vec::with_capacity(dw * dh);
    for &(y0, y1, fy) in &ys {
        let (r0, r1) = (&src[y0 * sw..(y0 + 1) * sw], &src[y1 * sw..(y1 + 1) * sw]);
        for &(x0, x1, fx) in &xs {
            let top = r0[x0] * (1.0 - fx) + r0[x1] * fx;
            let bot = r1[x0] * (1.0 - fx) + r1[x1] * fx;
            out.push(top * (1.0 - fy) + bot * fy);
        }
    }
    out
}

/// Brings `img` to `size`×`size` RGB planes in [0, 1] by `mode`.
pub fn fit_planes(img: &Image, size: usize, mode: ResizeMode) -> Vec<Vec<f32>> {
    let rgb = img.to_rgb();
    let (w, h) = (img.width, img.height);
    rgb.planes
        .iter()
        .map(|p| {
            if w == size && h == size {
                return p.clone();
            }
            match mode {
                ResizeMode::Resize => resize_bilinear(p, w, h, size, size),
                ResizeMode::CenterCrop => {
                    let top = ((h as f64 - size as f64) / 2.0).round() as isize;
                    let left = ((w as f64 - size as f64) / 2.0).round() as isize;
                    let mut out = vec![0.0; size * size];
                    for y in 0..size {
                        let sy = y as isize + top;
                        if sy < 0 || sy >= h as isize {
                            continue;
                        }
                        for x in 0..size {
                            let sx = x as isize + left;
                            if sx >= 0 && sx < w as isize {
                                out[y * size + x] = p[sy as usize * w + sx as usize];
                            }
                        }
                    }
                    out
                }
            }
        })
        .collect()
}

/// Full preprocessing.
pub fn prepare(img: &Image, size: usize, mode: ResizeMode, norm: &Normalization) -> Prepared {
    let planes = fit_planes(img, size, mode);
    let mut chw = Vec::with_capacity(3 * size * size);
    for (c, p) in planes.iter().enumerate() {
        let (m, s) = (norm.mean[c], norm.std[c]);
        chw.extend(p.iter().map(|&v| (v - m) / s));
    }
    Prepared {
        chw,
        geometry: Geometry {
            orig_width: img.width,
            orig_height: img.height,
            size,
            mode,
        },
    }
}

/// Puts a map at model-input resolution back onto the original image grid: bilinear stretch for
/// `Resize`; placement at the crop offset for `CenterCrop` (pixels outside the crop get 0).
pub fn map_to_original(map: &[f32], g: &Geometry) -> Vec<f32> {
    let (w, h, s) = (g.orig_width, g.orig_height, g.size);
    if w == s && h == s {
        return map.to_vec();
    }
    match g.mode {
        ResizeMode::Resize => resize_bilinear(map, s, s, w, h),
        ResizeMode::CenterCrop => {
            let top = ((h as f64 - s as f64) / 2.0).round() as isize;
            let left = ((w as f64 - s as f64) / 2.0).round() as isize;
            let mut out = vec![0.0; w * h];
            for y in 0..s {
                let oy = y as isize + top;
                if oy < 0 || oy >= h as isize {
                    continue;
                }
                for x in 0..s {
                    let ox = x as isize + left;
                    if ox >= 0 && ox < w as isize {
                        out[oy as usize * w + ox as usize] = map[y * s + x];
                    }
                }
            }
            out
        }
    }
}
