//! Element-wise math in SIMD lanes on the CPU backend: `erf`, the exact GELU `x Φ(x)` and its
//! derivative, `exp` and a row softmax, for the lean inference pass and the explicit backward
//! pass.
//!
//! burn's CPU backend maps `erf` and `exp` element by element through scalar library calls
//! (GELU was ~8 % of a ViT-B forward pass, the attention's softmax about as much). Here both
//! are branch-free polynomials in plain arithmetic, which the compiler vectorises:
//! - `erf` is a rational function in `z²` (a degree-6 numerator times `z`, a degree-4
//!   denominator), fitted by minimax on `[0, 4]` and clamped outside, where `erf` rounds to ±1
//!   in f32. Its error in f32 arithmetic is under 4e-7 absolute, a few units in the last place
//!   near ±1.
//! - `exp` splits `x = k ln 2 + r` (`|r| <= ln 2 / 2`; `k` rounded by adding 1.5·2²³, ln 2 in
//!   two parts), evaluates a degree-6 polynomial fitted to `e^r` and scales by `2^k` through
//!   the exponent bits: relative error under 2e-7.

use burn::tensor::{Device, Tensor, TensorData};

/// Numerator coefficients (powers of `z²`, lowest first).
const P: [f32; 7] = [
    1.128_378_6,
    0.213_956_68,
    0.052_435_108,
    0.004_293_586,
    0.000_155_550_88,
    -1.990_396_2e-6,
    1.921_725e-8,
];
/// Denominator coefficients (powers of `z²`, lowest first).
const Q: [f32; 5] = [
    1.0,
    0.522_941_8,
    0.120_804_62,
    0.015_552_154,
    0.001_098_171_6,
];

/// `erf(z)` (see the module notes for its accuracy).
#[inline(always)]
pub fn erf(z: f32) -> f32 {
    let z = z.clamp(-4.0, 4.0);
    let s = z * z;
    let mut p = P[6];
    for &c in P[..6].iter().rev() {
        p = p * s + c;
    }
    let mut q = Q[4];
    for &c in Q[..4].iter().rev() {
        q = q * s + c;
    }
    // The fit overshoots 1 by an ulp near the clamp.
    (z * p / q).clamp(-1.0, 1.0)
}

/// Polynomial for `e^r` on `[-ln 2 / 2, ln 2 / 2]` (powers of `r`, lowest first).
const E: [f32; 7] = [
    1.0,
    1.0,
    0.499_999_94,
    0.166_665_21,
    0.041_668_39,
    0.008_368_711,
    0.001_381_460_5,
];
/// ln 2 in two parts, so that `k * LN2_HI` is exact for the `k` that occur.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// 1.5·2²³: adding it rounds an f32 of magnitude under 2²² to an integer, which then sits in
/// the low mantissa bits.
const ROUNDER: f32 = 12_582_912.0;

/// `e^x` (see the module notes); arguments are clamped to `[-87, 88]` (normal results).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUNDER;
    let k = t - ROUNDER;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = E[6];
    for &c in E[..6].iter().rev() {
        p = p * r + c;
    }
    let two_k = f32::from_bits(
        t.to_bits()
            .wrapping_sub(ROUNDER.to_bits())
            .wrapping_add(127)
            << 23,
    );
    p * two_k
}

/// Lanes of a reduction (as many as an AVX-512 register holds).
const LANES: usize = 16;

/// The maximum of a slice, in [`LANES`] independent accumulators (vectorises where one
/// accumulator, a serial chain of float operations, would not).
#[inline(always)]
fn max_lanes(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = a.max(x);
        }
    }
    let mut r = acc.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    for &x in tail {
        r = r.max(x);
    }
    r
}

/// The sum of a slice in [`LANES`] independent accumulators, added lane 0 first, then the
/// tail in order: the same order at every SIMD width.
#[inline(always)]
fn sum_lanes(xs: &[f32]) -> f32 {
    sum_lanes_of(xs, |x| x)
}

/// `Σ f(x)` over a slice in the order of [`sum_lanes`].
#[inline(always)]
fn sum_lanes_of(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    let mut r = acc.iter().fold(0.0, |a, &b| a + b);
    for &x in tail {
        r += f(x);
    }
    r
}

/// `softmax(scale * row)` in place.
#[inline(always)]
fn softmax_row(row: &mut [f32], scale: f32) {
    let m = max_lanes(row);
    for v in row.iter_mut() {
        *v = exp((*v - m) * scale);
    }
    let inv = 1.0 / sum_lanes(row);
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// The element-wise work of this module, applied in place to a run of values.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    /// A row softmax of `scale` times rows of `cols` values.
    Softmax { cols: usize, scale: f32 },
    /// The exact GELU.
    Gelu,
    /// GELU's derivative.
    GeluDerivative,
}

/// The kernel's loop, inlined into each of the feature-specific copies below so that the
/// compiler vectorises it at their width. IEEE arithmetic without contraction: every copy
/// gives the same bits.
#[inline(always)]
fn run_kernel(values: &mut [f32], kernel: Kernel) {
    match kernel {
        Kernel::Softmax { cols, scale } => {
            for row in values.chunks_mut(cols.max(1)) {
                softmax_row(row, scale);
            }
        }
        Kernel::Gelu => {
            for v in values.iter_mut() {
                *v = gelu(*v);
            }
        }
        Kernel::GeluDerivative => {
            for v in values.iter_mut() {
                *v = gelu_derivative(*v);
            }
        }
    }
}

/// [`run_kernel`] on some values, as pulp's dispatch wants it: `with_simd` runs inside a
/// function compiled for the CPU's widest SIMD, and everything it calls is inlined into it.
struct Job<'a> {
    values: &'a mut [f32],
    kernel: Kernel,
}

impl pulp::WithSimd for Job<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        run_kernel(self.values, self.kernel)
    }
}

/// [`run_kernel`] in the widest SIMD the CPU has.
fn dispatch(values: &mut [f32], kernel: Kernel) {
    pulp::Arch::new().dispatch(Job { values, kernel })
}

/// A LayerNorm's parameters, for [`layer_norm_rows`].
#[derive(Debug, Clone, Copy)]
pub struct NormParams<'a> {
    /// Scale, one per feature.
    pub gamma: &'a [f32],
    /// Shift, one per feature.
    pub beta: Option<&'a [f32]>,
    /// Added to the variance.
    pub eps: f32,
}

/// LayerNorm of rows of `gamma.len()` values of `x` into `out` (centred mean and variance).
struct NormJob<'a> {
    x: &'a [f32],
    out: &'a mut [f32],
    params: NormParams<'a>,
}

impl pulp::WithSimd for NormJob<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let NormParams { gamma, beta, eps } = self.params;
        let d = gamma.len();
        for (row, o) in self.x.chunks_exact(d).zip(self.out.chunks_exact_mut(d)) {
            let mean = sum_lanes(row) / d as f32;
            let var = sum_lanes_of(row, |v| (v - mean) * (v - mean)) / d as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((o, &v), &g) in o.iter_mut().zip(row).zip(gamma) {
                *o = (v - mean) * (inv * g);
            }
            if let Some(beta) = beta {
                for (o, &b) in o.iter_mut().zip(beta) {
                    *o += b;
                }
            }
        }
    }
}

/// LayerNorm of each row of `params.gamma.len()` values of `x` into `out`, in the widest SIMD
/// the CPU has.
pub fn layer_norm_rows(x: &[f32], out: &mut [f32], params: NormParams) {
    pulp::Arch::new().dispatch(NormJob { x, out, params })
}

/// `softmax(scale * x)` along each run of `cols` values of `values`, in place, in the widest
/// SIMD the CPU has.
pub fn softmax_rows_in_place(values: &mut [f32], cols: usize, scale: f32) {
    dispatch(values, Kernel::Softmax { cols, scale })
}

/// The exact GELU of each value, in place, in the widest SIMD the CPU has.
pub fn gelu_in_place(values: &mut [f32]) {
    dispatch(values, Kernel::Gelu)
}

/// GELU's derivative at each value, in place, in the widest SIMD the CPU has.
pub fn gelu_derivative_in_place(values: &mut [f32]) {
    dispatch(values, Kernel::GeluDerivative)
}

/// `softmax(scale * x)` along the rows of a matrix on the CPU backend.
pub fn softmax_rows(x: Tensor<2>, scale: f32) -> Tensor<2> {
    let cols = x.dims()[1];
    map_kernel(x, Kernel::Softmax { cols, scale })
}

/// Exact GELU `x Φ(x) = x (1 + erf(x / √2)) / 2`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU's derivative `Φ(x) + x φ(x)`, `φ` the standard normal density.
#[inline(always)]
pub fn gelu_derivative(x: f32) -> f32 {
    // 1 / sqrt(2π)
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    cdf + x * INV_SQRT_2PI * exp(-0.5 * x * x)
}

/// The exact GELU of every value of a tensor on the CPU backend, in the widest SIMD the CPU
/// has.
pub fn gelu_values<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    map_kernel(x, Kernel::Gelu)
}

/// GELU's derivative at every value of a tensor on the CPU backend, in the widest SIMD the
/// CPU has.
pub fn gelu_derivative_values<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    map_kernel(x, Kernel::GeluDerivative)
}

/// `kernel` applied in place to the values of a tensor on the CPU backend.
fn map_kernel<const D: usize>(x: Tensor<D>, kernel: Kernel) -> Tensor<D> {
    let (shape, device) = (x.shape(), x.device());
    debug_assert!(device == Device::flex());
    let mut values: Vec<f32> = x
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .expect("converted to f32");
    dispatch(&mut values, kernel);
    Tensor::from_data(TensorData::new(values, shape), &device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against burn's `erf` and GELU (a scalar library routine), on a dense grid.
    #[test]
    fn erf_gelu_and_its_slope_match_the_backends_scalar_routines() {
        let device = Device::flex();
        let xs: Vec<f32> = (-90_000..=90_000).map(|i| i as f32 * 1e-4).collect();
        let n = xs.len();
        let x = Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &device);
        let want_erf: Vec<f32> = x.clone().erf().into_data().try_into_vec().unwrap();
        let want_gelu: Vec<f32> = burn::tensor::activation::gelu(x.clone())
            .into_data()
            .try_into_vec()
            .unwrap();
        let got_gelu: Vec<f32> = gelu_values(x.clone()).into_data().try_into_vec().unwrap();
        // Φ(x) + x φ(x) with the backend's scalar erf and exp.
        let cdf = (x.clone() * std::f64::consts::FRAC_1_SQRT_2)
            .erf()
            .add_scalar(1.0)
            * 0.5;
        let pdf = (x.clone() * x.clone() * -0.5).exp() * (0.5 / std::f64::consts::PI).sqrt();
        let want_slope: Vec<f32> = (cdf + x.clone() * pdf).into_data().try_into_vec().unwrap();
        let got_slope: Vec<f32> = gelu_derivative_values(x)
            .into_data()
            .try_into_vec()
            .unwrap();
        let mut worst = (0f32, 0f32, 0f32);
        for i in 0..n {
            worst.0 = worst.0.max((erf(xs[i]) - want_erf[i]).abs());
            // GELU's error grows with |x| (x times that of erf).
            let scale = xs[i].abs().max(1.0);
            worst.1 = worst.1.max((got_gelu[i] - want_gelu[i]).abs() / scale);
            worst.2 = worst.2.max((got_slope[i] - want_slope[i]).abs() / scale);
        }
        assert!(worst.0 < 4e-7, "erf error {}", worst.0);
        assert!(worst.1 < 3e-7, "GELU error {} per unit of |x|", worst.1);
        assert!(
            worst.2 < 3e-7,
            "GELU slope error {} per unit of |x|",
            worst.2
        );
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(erf(9.0), 1.0);
        assert_eq!(erf(-9.0), -1.0);
    }

    /// Against the standard library's `exp`, and burn's softmax.
    #[test]
    fn exp_and_softmax_match_the_standard_routines() {
        let mut worst = 0f64;
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64) - want).abs() / want);
        }
        assert!(worst < 2e-7, "exp relative error {worst}");
        let device = Device::flex();
        let (rows, cols) = (37, 197);
        let xs: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919) % 1000) as f32 * 0.02 - 10.0)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(xs, [rows, cols]), &device);
        let want: Vec<f32> = burn::tensor::activation::softmax(x.clone() * 0.125, 1)
            .into_data()
            .try_into_vec()
            .unwrap();
        let got: Vec<f32> = softmax_rows(x, 0.125).into_data().try_into_vec().unwrap();
        let err = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs() / b)
            .fold(0f32, f32::max);
        assert!(err < 1e-6, "softmax relative error {err}");
    }
}
