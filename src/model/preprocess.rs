//! Preprocessing from an [`Image`] to the model's input tensor, and the geometry needed to put a
//! map back onto the original image.
//!
//! Steps, as torchvision does them for the paper on PIL images: gray to 3 channels;
//! `Resize((S, S))` or `CenterCrop(S)`; then `(v - mean) / std` per channel in f32. For an S×S
//! image both modes are the identity and the tensor equals `ToTensor()` + `Normalize()` bit for
//! bit.
//!
//! **Resize** ([`ResizeMode::Resize`]) is PIL's bilinear resampler (`Image.resize(BILINEAR)`,
//! what torchvision's `Resize` calls on a PIL image), see [`pil_resize_u8`]: a separable
//! triangle filter whose support grows with the shrink factor (so it antialiases when it
//! shrinks), coefficients normalised to sum 1 per output sample, horizontal pass first. An 8-bit
//! image (every value an exact k/255) runs PIL's 8-bit path: coefficients in 22-bit fixed point,
//! each pass rounded to 8 bits; the vertical pass runs first when the height shrinks by more
//! than twice what the width shrinks (Pillow 13; older Pillow always starts horizontally, which
//! can move a pixel by 1/255). Any other image (16-bit, DICOM windowed values) runs PIL's float
//! path (mode `F`: the same coefficients in f64, f32 between the passes). [`ResizeMode::ResizeTensor`]
//! is a plain float bilinear resize without antialiasing (`interpolate(mode='bilinear',
//! align_corners=False, antialias=False)` on a tensor), for pipelines that resize tensors.
//!
//! **CenterCrop** uses torchvision's offsets, `int(round((W - S) / 2))` with Python's
//! round-half-to-even; a side smaller than S is first padded with zeros, `(S - W) // 2` before
//! and the rest after, as torchvision pads.

use crate::error::Invalid;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::io::image::Image;
use crate::model::VitConfig;

/// How an image is brought to the model's size.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Default,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    /// Stretch to S×S with PIL's bilinear resampler (antialiased when shrinking).
    #[default]
    Resize,
    /// Take the central S×S (zero padding if smaller).
    CenterCrop,
    /// Stretch to S×S with a plain float bilinear resize (`--resize resize --resize-filter tensor`).
    #[strum(message = "hidden")]
    ResizeTensor,
}

/// The resampler of `--resize resize`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
pub enum ResizeFilter {
    /// PIL's bilinear resampler, as torchvision's `Resize` on PIL images (the paper's pipelines).
    #[default]
    Pil,
    /// Plain float bilinear without antialiasing, as `Resize` on tensors with `antialias=False`.
    Tensor,
}

impl ResizeMode {
    /// The mode with `filter` applied to a resize (a centre crop has no filter).
    pub fn with_filter(self, filter: ResizeFilter) -> Self {
        match (self, filter) {
            (ResizeMode::Resize | ResizeMode::ResizeTensor, ResizeFilter::Pil) => {
                ResizeMode::Resize
            }
            (ResizeMode::Resize | ResizeMode::ResizeTensor, ResizeFilter::Tensor) => {
                ResizeMode::ResizeTensor
            }
            (ResizeMode::CenterCrop, _) => ResizeMode::CenterCrop,
        }
    }
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
    pub fn check(&self) -> Result<(), Invalid> {
        let ok = self.mean.iter().all(|m| m.is_finite())
            && self.std.iter().all(|s| s.is_finite() && *s > 0.0);
        if ok {
            Ok(())
        } else {
            Err(Invalid::from(format!(
                "normalisation mean {:?} / std {:?}: means must be finite and standard deviations finite and above 0",
                self.mean, self.std
            )))
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
    /// Model input side (square inputs).
    pub size: usize,
    /// Mode used.
    pub mode: ResizeMode,
    /// Model input `(height, width)` when it is not `size`×`size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hw: Option<(usize, usize)>,
}

impl Geometry {
    /// Model input `(height, width)`.
    pub fn input_hw(&self) -> (usize, usize) {
        self.hw.unwrap_or((self.size, self.size))
    }
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
    /// As a `[1, 3, H, W]` tensor.
    pub fn tensor(&self, device: &Device) -> Tensor<4> {
        let (h, w) = self.geometry.input_hw();
        Tensor::from_data(TensorData::new(self.chw.clone(), [1, 3, h, w]), device)
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
    fit_planes_hw(img, (size, size), mode)
}

/// Brings `img` to `(height, width)` RGB planes in [0, 1] by `mode`.
pub fn fit_planes_hw(img: &Image, (dh, dw): (usize, usize), mode: ResizeMode) -> Vec<Vec<f32>> {
    let rgb = img.to_rgb();
    let (w, h) = (img.width, img.height);
    if w == dw && h == dh {
        return rgb.planes;
    }
    match mode {
        ResizeMode::ResizeTensor => rgb
            .planes
            .iter()
            .map(|p| resize_bilinear(p, w, h, dw, dh))
            .collect(),
        ResizeMode::Resize => {
            let (cx, cy) = (pil_coeffs(w, dw), pil_coeffs(h, dh));
            let eight_bit = rgb.planes.iter().all(|p| as_u8(p).is_some());
            rgb.planes
                .iter()
                .map(|p| match as_u8(p).filter(|_| eight_bit) {
                    Some(u) => pil_pass_u8(&u, (w, h, dw, dh), &cx, &cy)
                        .iter()
                        .map(|&v| v as f32 / 255.0)
                        .collect(),
                    None => pil_pass_f32(p, (w, h, dw, dh), &cx, &cy),
                })
                .collect()
        }
        ResizeMode::CenterCrop => {
            let (left, top) = (crop_offset(w, dw), crop_offset(h, dh));
            rgb.planes
                .iter()
                .map(|p| {
                    let mut out = vec![0.0; dw * dh];
                    for y in 0..dh {
                        let sy = y as isize + top;
                        if sy < 0 || sy >= h as isize {
                            continue;
                        }
                        for x in 0..dw {
                            let sx = x as isize + left;
                            if sx >= 0 && sx < w as isize {
                                out[y * dw + x] = p[sy as usize * w + sx as usize];
                            }
                        }
                    }
                    out
                })
                .collect()
        }
    }
}

/// Offset of the crop window along one axis of length `n` for a crop of `s`: torchvision's
/// `int(round((n - s) / 2))` (half to even) when the axis is long enough, else minus the
/// padding before it, `(s - n) // 2`.
pub fn crop_offset(n: usize, s: usize) -> isize {
    if s > n {
        -(((s - n) / 2) as isize)
    } else {
        let d = n - s;
        // (d / 2) rounded half to even: d odd gives k + 0.5, which goes to the even of k, k + 1.
        let k = d / 2;
        (if d % 2 == 1 && k % 2 == 1 { k + 1 } else { k }) as isize
    }
}

/// The plane as 8-bit values when every value is exactly k/255 (as read from an 8-bit file).
fn as_u8(p: &[f32]) -> Option<Vec<u8>> {
    p.iter()
        .map(|&v| {
            let k = (v * 255.0).round();
            ((0.0..=255.0).contains(&k) && k / 255.0 == v).then_some(k as u8)
        })
        .collect()
}

/// Per output sample of one axis: the first input index and its weights.
type Taps = [(usize, Vec<f64>)];

/// (source width, source height, output width, output height).
type Dims = (usize, usize, usize, usize);

/// Fixed-point precision of PIL's 8-bit resampling.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// PIL's `precompute_coeffs` for the bilinear filter (support 1) on one axis: per output sample
/// the first input index and its weights, normalised to sum 1.
pub fn pil_coeffs(in_size: usize, out_size: usize) -> Vec<(usize, Vec<f64>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale;
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) truncates toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let mut k: Vec<f64> = (xmin..xmax)
                .map(|x| {
                    let t = ((x as f64 - center + 0.5) * ss).abs();
                    if t < 1.0 { 1.0 - t } else { 0.0 }
                })
                .collect();
            let ww: f64 = k.iter().sum();
            if ww != 0.0 {
                for v in &mut k {
                    *v /= ww;
                }
            }
            (xmin, k)
        })
        .collect()
}

/// PIL's `normalize_coeffs_8bpc`: weights in 22-bit fixed point, rounded half away from zero.
fn fixed(k: &[f64]) -> Vec<i32> {
    let one = (1u32 << PRECISION_BITS) as f64;
    k.iter()
        .map(|&v| {
            if v < 0.0 {
                (-0.5 + v * one) as i32
            } else {
                (0.5 + v * one) as i32
            }
        })
        .collect()
}

/// One 8-bit output sample: the accumulator starts at one half, then shifts and clips to 0..=255.
fn pass_u8(get: &dyn Fn(usize) -> u8, start: usize, k: &[i32]) -> u8 {
    let mut ss: i32 = 1 << (PRECISION_BITS - 1);
    for (i, &w) in k.iter().enumerate() {
        ss = ss.wrapping_add(get(start + i) as i32 * w);
    }
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// PIL's bilinear resize of an 8-bit plane (`Image.resize((dw, dh), BILINEAR)` on mode `L`, or
/// each band of `RGB`): two passes in Pillow 13's order ([`vertical_first`]), each rounded to 8
/// bits; a pass whose size is kept is skipped.
pub fn pil_resize_u8(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    pil_pass_u8(src, (w, h, dw, dh), &pil_coeffs(w, dw), &pil_coeffs(h, dh))
}

/// Pillow 13's order of the passes: vertical first when the height shrinks by more than twice
/// what the width shrinks (in pixels), else horizontal first (older Pillow: always horizontal).
fn vertical_first(w: usize, h: usize, dw: usize, dh: usize) -> bool {
    let (dy, dx) = (h as i64 - dh as i64, w as i64 - dw as i64);
    dy > 0 && dy > 2 * dx
}

/// One separable pass over a `w × h` plane: along rows (`horizontal`) or columns, to `n`
/// samples, with `weigh(get, start, k)` combining the inputs.
fn pass<T: Copy + Default, K>(
    src: &[T],
    w: usize,
    h: usize,
    horizontal: bool,
    taps: &[(usize, K)],
    weigh: impl Fn(&dyn Fn(usize) -> T, usize, &K) -> T,
) -> Vec<T> {
    let n = taps.len();
    if horizontal {
        let mut out = vec![T::default(); n * h];
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            for (x, (s, k)) in taps.iter().enumerate() {
                out[y * n + x] = weigh(&|i| row[i], *s, k);
            }
        }
        out
    } else {
        let mut out = vec![T::default(); w * n];
        for (y, (s, k)) in taps.iter().enumerate() {
            for x in 0..w {
                out[y * w + x] = weigh(&|i| src[i * w + x], *s, k);
            }
        }
        out
    }
}

/// Both passes in Pillow's order; a pass whose size is kept is skipped.
fn two_passes<T: Copy + Default, K>(
    src: &[T],
    (w, h, dw, dh): Dims,
    cx: &[(usize, K)],
    cy: &[(usize, K)],
    weigh: impl Fn(&dyn Fn(usize) -> T, usize, &K) -> T,
) -> Vec<T> {
    let horiz = |p: &[T], rows: usize| {
        if dw != w {
            pass(p, w, rows, true, cx, &weigh)
        } else {
            p.to_vec()
        }
    };
    let vert = |p: &[T], cols: usize| {
        if dh != h {
            pass(p, cols, h, false, cy, &weigh)
        } else {
            p.to_vec()
        }
    };
    if vertical_first(w, h, dw, dh) {
        horiz(&vert(src, w), dh)
    } else {
        vert(&horiz(src, h), dw)
    }
}

fn pil_pass_u8(src: &[u8], dims: Dims, cx: &Taps, cy: &Taps) -> Vec<u8> {
    let fixed_taps =
        |c: &Taps| -> Vec<(usize, Vec<i32>)> { c.iter().map(|(s, k)| (*s, fixed(k))).collect() };
    two_passes(
        src,
        dims,
        &fixed_taps(cx),
        &fixed_taps(cy),
        |get, start, k| pass_u8(get, start, k),
    )
}

/// PIL's bilinear resize of a float plane (mode `F`): the same coefficients, sums in f64, f32
/// between and after the passes.
pub fn pil_resize_f32(src: &[f32], w: usize, h: usize, dw: usize, dh: usize) -> Vec<f32> {
    pil_pass_f32(src, (w, h, dw, dh), &pil_coeffs(w, dw), &pil_coeffs(h, dh))
}

fn pil_pass_f32(src: &[f32], dims: Dims, cx: &Taps, cy: &Taps) -> Vec<f32> {
    two_passes(src, dims, cx, cy, |get, start, k| {
        k.iter()
            .enumerate()
            .map(|(i, &wt)| get(start + i) as f64 * wt)
            .sum::<f64>() as f32
    })
}

/// Full preprocessing to a `size`×`size` input.
pub fn prepare(img: &Image, size: usize, mode: ResizeMode, norm: &Normalization) -> Prepared {
    prepare_hw(img, (size, size), mode, norm)
}

/// The size the model sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSize {
    /// The image's own size (a whole number of patches each way).
    Native,
    /// `(height, width)`, reached by the resize mode.
    Fixed(usize, usize),
}

impl std::str::FromStr for InputSize {
    type Err = Invalid;

    /// `native`, `H,W` or `S` (square), sides from 1 to 8192 px.
    fn from_str(s: &str) -> Result<Self, Invalid> {
        if s.eq_ignore_ascii_case("native") {
            return Ok(InputSize::Native);
        }
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let num = |p: &str| {
            p.parse::<usize>()
                .ok()
                .filter(|&v| (1..=8192).contains(&v))
                .ok_or_else(|| {
                    Invalid::from(format!("'{p}' is not a side length from 1 to 8192 px"))
                })
        };
        match parts[..] {
            [s] => num(s).map(|v| InputSize::Fixed(v, v)),
            [h, w] => Ok(InputSize::Fixed(num(h)?, num(w)?)),
            _ => Err(Invalid::from(format!("'{s}': expected native, H,W or S"))),
        }
    }
}

/// An input size a model cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputSizeError {
    /// The image's own size is not usable (`InputSize::Native`).
    #[error("the image is {0}")]
    Native(#[source] Invalid),
    /// The requested `(height, width)` is not usable.
    #[error("{reason}")]
    Fixed {
        /// Height asked for.
        h: usize,
        /// Width asked for.
        w: usize,
        /// Why the model cannot take it.
        #[source]
        reason: Invalid,
    },
}

/// Preprocesses `img` for a model of `config` at `size` (default: the model's own square input),
/// reached by `mode`. An input the model cannot take (not a whole number of patches, too large)
/// is an error.
pub fn prepare_for(
    config: &VitConfig,
    img: &Image,
    size: Option<InputSize>,
    mode: ResizeMode,
    norm: &Normalization,
) -> Result<Prepared, InputSizeError> {
    let s = config.img_size;
    let (h, w) = match size {
        None => (s, s),
        Some(InputSize::Native) => (img.height, img.width),
        Some(InputSize::Fixed(h, w)) => (h, w),
    };
    config.grid_for(h, w).map_err(|message| match size {
        Some(InputSize::Native) => InputSizeError::Native(message),
        _ => InputSizeError::Fixed {
            h,
            w,
            reason: message,
        },
    })?;
    Ok(prepare_hw(img, (h, w), mode, norm))
}

/// Full preprocessing to a `(height, width)` input.
pub fn prepare_hw(
    img: &Image,
    hw: (usize, usize),
    mode: ResizeMode,
    norm: &Normalization,
) -> Prepared {
    let planes = fit_planes_hw(img, hw, mode);
    let mut chw = Vec::with_capacity(3 * hw.0 * hw.1);
    for (c, p) in planes.iter().enumerate() {
        let (m, s) = (norm.mean[c], norm.std[c]);
        chw.extend(p.iter().map(|&v| (v - m) / s));
    }
    Prepared {
        chw,
        geometry: Geometry {
            orig_width: img.width,
            orig_height: img.height,
            size: hw.0.max(hw.1),
            mode,
            hw: (hw.0 != hw.1).then_some(hw),
        },
    }
}

/// Puts a map at model-input resolution back onto the original image grid: bilinear stretch for
/// `Resize`; placement at the crop offset for `CenterCrop` (pixels outside the crop get 0).
pub fn map_to_original(map: &[f32], g: &Geometry) -> Vec<f32> {
    let (w, h) = (g.orig_width, g.orig_height);
    let (sh, sw) = g.input_hw();
    if w == sw && h == sh {
        return map.to_vec();
    }
    match g.mode {
        ResizeMode::Resize | ResizeMode::ResizeTensor => resize_bilinear(map, sw, sh, w, h),
        ResizeMode::CenterCrop => {
            let (left, top) = (crop_offset(w, sw), crop_offset(h, sh));
            let mut out = vec![0.0; w * h];
            for y in 0..sh {
                let oy = y as isize + top;
                if oy < 0 || oy >= h as isize {
                    continue;
                }
                for x in 0..sw {
                    let ox = x as isize + left;
                    if ox >= 0 && ox < w as isize {
                        out[oy as usize * w + ox as usize] = map[y * sw + x];
                    }
                }
            }
            out
        }
    }
}
