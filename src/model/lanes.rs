//! Element-wise math of the lean inference pass in SIMD lanes on the CPU backend: `erf` and the
//! exact GELU `x Φ(x)`.
//!
//! burn's CPU backend maps `erf` element by element through a scalar library call (GELU was
//! ~8 % of a ViT-B forward pass). Here `erf` is a branch-free rational function in `z²` (a
//! degree-6 numerator times `z`, a degree-4 denominator), fitted by minimax on `[0, 4]` and
//! clamped outside, where `erf` rounds to ±1 in f32; the compiler vectorises it in the widest
//! SIMD the CPU has. Its error in f32 arithmetic is under 4e-7 absolute, a few units in the
//! last place near ±1.

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

/// Exact GELU `x Φ(x) = x (1 + erf(x / √2)) / 2`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `f` applied to every value of a tensor on the CPU backend, in the widest SIMD the CPU has.
pub fn map_values<const D: usize>(x: Tensor<D>, f: impl Fn(f32) -> f32) -> Tensor<D> {
    let (shape, device) = (x.shape(), x.device());
    debug_assert!(device == Device::flex());
    let mut values: Vec<f32> = x
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .expect("converted to f32");
    pulp::Arch::new().dispatch(|| {
        for v in values.iter_mut() {
            *v = f(*v);
        }
    });
    Tensor::from_data(TensorData::new(values, shape), &device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against burn's `erf` and GELU (a scalar library routine), on a dense grid.
    #[test]
    fn erf_and_gelu_match_the_backends_scalar_routines() {
        let device = Device::flex();
        let xs: Vec<f32> = (-90_000..=90_000).map(|i| i as f32 * 1e-4).collect();
        let n = xs.len();
        let x = Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &device);
        let want_erf: Vec<f32> = x.clone().erf().into_data().try_into_vec().unwrap();
        let want_gelu: Vec<f32> = burn::tensor::activation::gelu(x.clone())
            .into_data()
            .try_into_vec()
            .unwrap();
        let got_gelu: Vec<f32> = map_values(x, gelu).into_data().try_into_vec().unwrap();
        let mut worst = (0f32, 0f32);
        for i in 0..n {
            worst.0 = worst.0.max((erf(xs[i]) - want_erf[i]).abs());
            // GELU's error grows with |x| (x times that of erf).
            let scale = xs[i].abs().max(1.0);
            worst.1 = worst.1.max((got_gelu[i] - want_gelu[i]).abs() / scale);
        }
        assert!(worst.0 < 4e-7, "erf error {}", worst.0);
        assert!(worst.1 < 3e-7, "GELU error {} per unit of |x|", worst.1);
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(9.0), 1.0);
        assert_eq!(erf(-9.0), -1.0);
    }
}
