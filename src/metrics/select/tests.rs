//! Unit tests of the radix select against sorting.

use super::*;

#[test]
fn keys_follow_float_order_and_round_trip() {
    let vals = [
        f32::NEG_INFINITY,
        -3.5e30,
        -1.0,
        -1e-40,
        -0.0,
        0.0,
        1e-40,
        0.5,
        1.0,
        7e35,
        f32::INFINITY,
    ];
    for w in vals.windows(2) {
        assert!(key(w[0]) <= key(w[1]), "{} {}", w[0], w[1]);
        assert_eq!(key(w[0]) == key(w[1]), w[0] == w[1], "{} {}", w[0], w[1]);
    }
    for v in vals {
        assert_eq!(from_key(key(v)), v);
    }
}

fn ranks(n: usize, tops: &[f64]) -> Vec<usize> {
    tops.iter()
        .map(|&p| (n as f64 * (p / 100.0)) as usize)
        .collect()
}

/// Checks [`thresholds`] (and the exact two-pass path) against a sort, at the paper's
/// percentages and at extremes.
fn check_against_sort(vals: &[f32], what: &str) {
    let n = vals.len();
    let ks = ranks(n, &[5.0, 10.0, 20.0, 40.0, 0.0, 1e-4, 99.9999, 100.0]);
    let mut sorted = vals.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let hist = high_histogram(vals);
    let one = thresholds(vals, &ks);
    let two = thresholds_with(vals, &hist, &ks);
    for ((a, b), &k) in one.iter().zip(&two).zip(&ks) {
        let want = sorted[k.min(n - 1)];
        let count = vals.iter().filter(|&&v| v >= want).count();
        assert_eq!(a.value, want, "{what}: rank {k}");
        assert_eq!(a.selected, count, "{what}: rank {k}");
        assert_eq!(b.value, want, "{what}: rank {k} (two passes)");
        assert_eq!(b.selected, count, "{what}: rank {k} (two passes)");
    }
}

/// Whether the sample predicts windows that hold the paper's ranks (`None`: no
/// prediction). The pass in the widest SIMD the CPU has and the one-lane pass agree.
fn prediction_holds(vals: &[f32]) -> Option<bool> {
    let n = vals.len();
    let ks = ranks(n, &[5.0, 10.0, 20.0, 40.0]);
    let p = predict(vals, &ks)?;
    let FirstPass::Windows(wide) = pulp::Arch::new().dispatch(Passes {
        values: vals,
        p: Some(&p),
    }) else {
        panic!("a prediction makes a window pass");
    };
    let mut narrow = WindowPass::new(&p, n);
    narrow.add(pulp::Scalar, vals);
    let wide = thresholds_in_windows(&p, vec![wide], &ks, n);
    assert_eq!(wide, thresholds_in_windows(&p, vec![narrow], &ks, n));
    Some(wide.is_some())
}

/// Uniform values in [0, 1) from a 64-bit LCG.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[test]
fn one_pass_select_equals_sorting_on_large_tie_heavy_maps() {
    // An odd width: vector passes end in a scalar tail.
    let (w, h) = (643, 479);
    let n = w * h;
    assert!(n >= PREDICT_MIN);
    let mut rng = Rng(0x51ed_270b_2a9f_3c11);
    let grid: Vec<f32> = (0..14 * 14).map(|_| rng.unit()).collect();
    let cases: Vec<(&str, Vec<f32>)> = vec![
        ("uniform", (0..n).map(|_| rng.unit()).collect()),
        (
            // the nearest-upsampled attention map: 196 plateaus
            "nearest-upsampled 14x14",
            (0..n)
                .map(|i| grid[(i / w) * 14 / h * 14 + (i % w) * 14 / w])
                .collect(),
        ),
        ("all zero", vec![0.0; n]),
        (
            // ReLU'd GradCAM: mostly zeros, with -0.0
            "mostly zero",
            (0..n)
                .map(|i| match i % 7 {
                    0 => rng.unit(),
                    1 => -0.0,
                    _ => 0.0,
                })
                .collect(),
        ),
        (
            "three values",
            (0..n).map(|_| (rng.unit() * 3.0).floor()).collect(),
        ),
        (
            "smooth with plateaus and noise",
            (0..n)
                .map(|i| {
                    let (x, y) = ((i % w) as f32 / w as f32, (i / w) as f32 / h as f32);
                    let b = (-((x - 0.6).powi(2) + (y - 0.4).powi(2)) * 8.0).exp();
                    (b * 64.0).floor() / 64.0 + rng.unit() * 0.01
                })
                .collect(),
        ),
        (
            "infinities and wide exponents",
            (0..n)
                .map(|i| match i % 11 {
                    0 => f32::INFINITY,
                    1 => f32::NEG_INFINITY,
                    _ => (rng.unit() - 0.5) * 10f32.powi((i % 60) as i32 - 30),
                })
                .collect(),
        ),
    ];
    for (what, vals) in &cases {
        check_against_sort(vals, what);
        // The one-pass path really runs on maps like these.
        assert_eq!(prediction_holds(vals), Some(true), "{what}");
    }
}

#[test]
fn a_misleading_sample_falls_back_to_the_exact_pass() {
    // Every sampled position holds a large value, every other one a small one: the sample
    // predicts windows near 1 while the ranks lie below 0.5.
    let n = 600_000;
    let mut rng = Rng(7);
    let mut vals: Vec<f32> = (0..n).map(|_| rng.unit() * 0.5).collect();
    for i in sample_positions(n) {
        vals[i] = 0.9 + rng.unit() * 0.1;
    }
    assert_eq!(prediction_holds(&vals), Some(false));
    check_against_sort(&vals, "misleading sample");
}

#[test]
fn radix_select_equals_sorting() {
    let mut s = 12345u64;
    let vals: Vec<f32> = (0..200_000)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 3 == 0 {
                ((s >> 40) % 7) as f32 // ties
            } else {
                ((s >> 33) as f32 / 2f32.powi(31)) - 0.5
            }
        })
        .collect();
    let mut sorted = vals.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let ks = [0, 1, 9_999, 66_666, 199_999, 500_000];
    let hist = high_histogram(&vals);
    for (t, &k) in thresholds_with(&vals, &hist, &ks).iter().zip(&ks) {
        let want = sorted[k.min(vals.len() - 1)];
        assert_eq!(t.value, want, "rank {k}");
        assert_eq!(
            t.selected,
            vals.iter().filter(|&&v| v >= want).count(),
            "rank {k}"
        );
    }
}
