//! Exact order statistics of f32 values in O(N): a radix select over order-preserving 32-bit
//! keys (16 high bits, then 16 low bits), several ranks at once. The GPU kernels
//! (`shaders/histogram_*.wgsl`, `shaders/locate_*.wgsl`) implement the same two passes.
//!
//! On the CPU a large input usually needs one pass: a small sample predicts which high-16 bins
//! hold the ranks, and the histogram pass also keeps the keys of those bins. When the
//! prediction misses, a second pass keeps the right bins. The answer is the same either way.
//! Passes split the values over the available cores (per-thread histograms, summed).

/// Maps an f32 to a u32 whose unsigned order is the float order; -0.0 and +0.0 (equal as
/// floats) get the same key, so counts of `v >= t` follow from the histograms.
#[inline(always)]
pub fn key(v: f32) -> u32 {
    let b = if v == 0.0 { 0 } else { v.to_bits() };
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Inverse of [`key`].
#[inline]
pub fn from_key(k: u32) -> f32 {
    f32::from_bits(if k & 0x8000_0000 != 0 {
        k & 0x7fff_ffff
    } else {
        !k
    })
}

/// Largest value (NaN-free input).
pub fn max_value(values: &[f32]) -> f32 {
    values.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// Walks a 65536-bin histogram from the top; returns (bin, rank inside the bin) of the element
/// with 0-based descending rank `k`.
pub fn locate(hist: &[u32], k: usize) -> (usize, usize) {
    let mut before = 0usize;
    for b in (0..hist.len()).rev() {
        let c = hist[b] as usize;
        if k < before + c {
            return (b, k - before);
        }
        before += c;
    }
    (0, 0)
}

/// Bins of each radix pass.
pub const BINS: usize = 1 << 16;
/// Below this many values one thread does the work.
const PARALLEL_MIN: usize = 1 << 16;

/// Runs `f(chunk, offset)` over contiguous chunks of `values` on up to
/// `available_parallelism` threads and returns the per-chunk results in order.
pub fn par_chunks<T: Send>(values: &[f32], f: impl Fn(&[f32], usize) -> T + Sync) -> Vec<T> {
    par_chunks_aligned(values, 1, f)
}

/// As [`par_chunks`], with chunk lengths a multiple of `align` (e.g. a row width).
pub fn par_chunks_aligned<T: Send>(
    values: &[f32],
    align: usize,
    f: impl Fn(&[f32], usize) -> T + Sync,
) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if threads < 2 || values.len() < PARALLEL_MIN || align == 0 {
        return vec![f(values, 0)];
    }
    let chunk = values.len().div_ceil(threads).div_ceil(align) * align;
    std::thread::scope(|s| {
        let handles: Vec<_> = values
            .chunks(chunk)
            .enumerate()
            .map(|(i, c)| {
                let f = &f;
                s.spawn(move || f(c, i * chunk))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Element-wise sum of equally long histograms.
pub fn sum_hists(parts: Vec<Vec<u32>>) -> Vec<u32> {
    let mut it = parts.into_iter();
    let mut total = it.next().unwrap_or_default();
    for p in it {
        for (a, b) in total.iter_mut().zip(&p) {
            *a += b;
        }
    }
    total
}

/// Copies of the high histogram a pass over many values fills in turn: on a smooth map
/// neighbours share a bin, and four counters break the chain of increments to one address.
const COPIES: usize = 4;
/// Below this many values per pass one copy is used (zeroing and summing copies would cost
/// more than they save).
const COPIES_MIN: usize = 1 << 18;

/// One pass over values: the histogram of the high 16 bits of every key and, optionally, the
/// keys whose high half is in a given set of bins (kept branch-free: every key is written,
/// the write position advances only for wanted bins).
pub struct HighPass {
    hists: Vec<u32>,
    kept: Vec<u32>,
    buf: Vec<u32>,
}

impl HighPass {
    /// Empty histogram, nothing kept, sized for a pass over about `expected` values.
    pub fn new(expected: usize) -> Self {
        let copies = if expected >= COPIES_MIN { COPIES } else { 1 };
        Self {
            hists: vec![0; copies * BINS],
            kept: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Counts `values`; with `wanted` (one flag per bin), also keeps their keys in those bins.
    #[inline(always)]
    pub fn add(&mut self, values: &[f32], wanted: Option<&[bool]>) {
        if self.hists.len() < COPIES * BINS {
            self.add_one(values, wanted);
            return;
        }
        let (h0, rest) = self.hists.split_at_mut(BINS);
        let (h1, rest) = rest.split_at_mut(BINS);
        let (h2, h3) = rest.split_at_mut(BINS);
        let body = values.len() / COPIES * COPIES;
        let Some(wanted) = wanted else {
            for q in values[..body].chunks_exact(COPIES) {
                h0[(key(q[0]) >> 16) as usize] += 1;
                h1[(key(q[1]) >> 16) as usize] += 1;
                h2[(key(q[2]) >> 16) as usize] += 1;
                h3[(key(q[3]) >> 16) as usize] += 1;
            }
            for &v in &values[body..] {
                h0[(key(v) >> 16) as usize] += 1;
            }
            return;
        };
        if self.buf.len() <= values.len() {
            self.buf.resize(values.len() + 1, 0);
        }
        let buf = &mut self.buf;
        let mut n = 0;
        for q in values[..body].chunks_exact(COPIES) {
            let k = [key(q[0]), key(q[1]), key(q[2]), key(q[3])];
            let b = k.map(|k| (k >> 16) as usize);
            h0[b[0]] += 1;
            h1[b[1]] += 1;
            h2[b[2]] += 1;
            h3[b[3]] += 1;
            for j in 0..COPIES {
                buf[n] = k[j];
                n += wanted[b[j]] as usize;
            }
        }
        for &v in &values[body..] {
            let k = key(v);
            let b = (k >> 16) as usize;
            h0[b] += 1;
            buf[n] = k;
            n += wanted[b] as usize;
        }
        self.kept.extend_from_slice(&buf[..n]);
    }

    /// [`HighPass::add`] with one histogram.
    #[inline(always)]
    fn add_one(&mut self, values: &[f32], wanted: Option<&[bool]>) {
        let h = &mut self.hists[..BINS];
        let Some(wanted) = wanted else {
            for &v in values {
                h[(key(v) >> 16) as usize] += 1;
            }
            return;
        };
        keep_wanted(values, wanted, &mut self.buf, &mut self.kept, |b| h[b] += 1);
    }

    /// The histogram (copies summed) and the kept keys.
    pub fn finish(mut self) -> (Vec<u32>, Vec<u32>) {
        let (h0, rest) = self.hists.split_at_mut(BINS);
        for part in rest.chunks_exact(BINS) {
            for (a, b) in h0.iter_mut().zip(part) {
                *a += b;
            }
        }
        self.hists.truncate(BINS);
        (self.hists, self.kept)
    }

    /// Sums the per-thread passes' histograms and concatenates their kept keys.
    pub fn merge(parts: Vec<(Vec<u32>, Vec<u32>)>) -> (Vec<u32>, Vec<u32>) {
        let (hists, kept): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        (sum_hists(hists), kept.concat())
    }
}

/// Histogram of the high 16 bits of every key.
pub fn high_histogram(values: &[f32]) -> Vec<u32> {
    sum_hists(par_chunks(values, |c, _| {
        let mut pass = HighPass::new(c.len());
        pass.add(c, None);
        pass.finish().0
    }))
}

/// A threshold found by the radix select.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The (k+1)-th largest value.
    pub value: f32,
    /// How many values are `>= value` (ties included).
    pub selected: usize,
}

/// Below this many values no bins are predicted: the second pass over a small map costs less
/// than a sample.
pub const PREDICT_MIN: usize = 1 << 18;
/// Half-width of a predicted window, in standard deviations of the sample's rank estimate.
const SIGMAS: f64 = 3.5;
/// Most bins a prediction may mark (a wide spread of exponents is left to the second pass).
const PREDICT_MAX_BINS: usize = 1024;

/// A fixed pseudo-random jitter (splitmix64), so the sample, and the speed, are reproducible.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Positions of the sample of `n` values: one jittered position in each of `m` equal strata.
fn sample_positions(n: usize) -> impl Iterator<Item = usize> {
    let m = ((n as f64).sqrt() as usize * 8)
        .clamp(4096, 1 << 15)
        .min(n / 4);
    (0..m).map(move |i| {
        let start = i * n / m;
        let width = (i + 1) * n / m - start;
        start + (mix(i as u64) % width as u64) as usize
    })
}

/// The high-16 bins that, judging by a stratified, jittered sample of `values`, hold the
/// 0-based descending ranks `ks` (each rank's window of sample positions widened by
/// [`SIGMAS`] standard deviations). `None` for small inputs or too wide a spread.
///
/// A prediction only saves the second pass: when a rank's bin was not predicted,
/// [`thresholds_from`] says so and the caller runs [`thresholds_with`].
pub fn predict_bins(values: &[f32], ks: &[usize]) -> Option<Vec<bool>> {
    let n = values.len();
    if n < PREDICT_MIN || ks.is_empty() {
        return None;
    }
    let mut sample: Vec<u32> = sample_positions(n).map(|i| key(values[i])).collect();
    let m = sample.len();
    sample.sort_unstable();
    let mut wanted = vec![false; BINS];
    let mut marked = 0;
    for &k in ks {
        let p = (k.min(n - 1) as f64 + 0.5) / n as f64;
        let centre = p * m as f64;
        let d = SIGMAS * (m as f64 * p * (1.0 - p)).sqrt() + 2.0;
        // Descending sample positions → ascending indices; a window past the sample's end is
        // open: every bin beyond the sample's extreme.
        let (top, bottom) = ((centre - d).floor(), (centre + d).ceil());
        let hi = if top < 0.0 {
            BINS as u32 - 1
        } else {
            sample[m - 1 - top as usize] >> 16
        };
        let lo = if bottom > (m - 1) as f64 {
            0
        } else {
            sample[m - 1 - bottom as usize] >> 16
        };
        if (hi - lo) as usize >= PREDICT_MAX_BINS {
            return None;
        }
        for b in lo..=hi {
            marked += !wanted[b as usize] as usize;
            wanted[b as usize] = true;
        }
        if marked > PREDICT_MAX_BINS {
            return None;
        }
    }
    Some(wanted)
}

/// (bin, rank inside the bin) of each rank, clamped to N-1.
fn rank_bins(hi: &[u32], ks: &[usize], n: usize) -> Vec<(usize, usize)> {
    ks.iter().map(|&k| locate(hi, k.min(n - 1))).collect()
}

/// Thresholds from the high histogram and keys that include every key of the ranks' bins.
fn thresholds_in(hi: &[u32], first: &[(usize, usize)], kept: &[u32]) -> Vec<Threshold> {
    let mut bins: Vec<usize> = first.iter().map(|f| f.0).collect();
    bins.sort_unstable();
    bins.dedup();
    let mut slot_of = vec![u8::MAX; BINS];
    for (slot, &b) in bins.iter().enumerate() {
        slot_of[b] = slot as u8;
    }
    let mut lo_hist = vec![0u32; bins.len() * BINS];
    for &k in kept {
        let slot = slot_of[(k >> 16) as usize];
        if slot != u8::MAX {
            lo_hist[slot as usize * BINS + (k & 0xffff) as usize] += 1;
        }
    }
    first
        .iter()
        .map(|&(bin, rank)| {
            let slot = slot_of[bin] as usize;
            let lo = &lo_hist[slot * BINS..(slot + 1) * BINS];
            let (low, _) = locate(lo, rank);
            let above: usize = hi[bin + 1..].iter().map(|&c| c as usize).sum();
            let within: usize = lo[low..].iter().map(|&c| c as usize).sum();
            Threshold {
                value: from_key(((bin as u32) << 16) | low as u32),
                selected: above + within,
            }
        })
        .collect()
}

fn no_thresholds(ks: &[usize]) -> Vec<Threshold> {
    vec![
        Threshold {
            value: f32::NAN,
            selected: 0
        };
        ks.len()
    ]
}

/// The thresholds of `ks` over `n` values, given their high histogram and the keys kept in
/// the `kept_bins` by the same pass; `None` when a rank's bin was not kept.
pub fn thresholds_from(
    hi: &[u32],
    kept: &[u32],
    kept_bins: &[bool],
    ks: &[usize],
    n: usize,
) -> Option<Vec<Threshold>> {
    if n == 0 {
        return Some(no_thresholds(ks));
    }
    let first = rank_bins(hi, ks, n);
    first
        .iter()
        .all(|&(b, _)| kept_bins[b])
        .then(|| thresholds_in(hi, &first, kept))
}

/// For each rank k in `ks` (0-based, descending; clamped to N-1), the (k+1)-th largest value
/// and the number of values `>=` it, given the high-16 histogram of `values`: a second pass
/// keeps the keys of the ranks' bins, whose low-16 histograms finish the select.
pub fn thresholds_with(values: &[f32], hi: &[u32], ks: &[usize]) -> Vec<Threshold> {
    if values.is_empty() {
        return no_thresholds(ks);
    }
    let first = rank_bins(hi, ks, values.len());
    let mut wanted = vec![false; BINS];
    for &(b, _) in &first {
        wanted[b] = true;
    }
    let kept: Vec<u32> = par_chunks(values, |c, _| {
        let mut kept = Vec::new();
        keep_wanted(c, &wanted, &mut Vec::new(), &mut kept, |_| {});
        kept
    })
    .concat();
    thresholds_in(hi, &first, &kept)
}

/// Appends to `kept` the keys of `values` whose high half is `wanted`, branch-free (every key
/// is written to `buf`, the position advances only for wanted bins), calling `bin` with each
/// key's high half.
#[inline(always)]
fn keep_wanted(
    values: &[f32],
    wanted: &[bool],
    buf: &mut Vec<u32>,
    kept: &mut Vec<u32>,
    mut bin: impl FnMut(usize),
) {
    const BLOCK: usize = 4096;
    buf.resize(BLOCK + 1, 0);
    for block in values.chunks(BLOCK) {
        let mut n = 0;
        for &v in block {
            let k = key(v);
            let b = (k >> 16) as usize;
            bin(b);
            buf[n] = k;
            n += wanted[b] as usize;
        }
        kept.extend_from_slice(&buf[..n]);
    }
}

/// The thresholds of `ks` over `values` in the fewest passes: one when a sample predicts the
/// ranks' bins and is right, two otherwise. Always exact.
pub fn thresholds(values: &[f32], ks: &[usize]) -> Vec<Threshold> {
    let wanted = predict_bins(values, ks);
    let (hist, kept) = HighPass::merge(par_chunks(values, |c, _| {
        let mut pass = HighPass::new(c.len());
        pass.add(c, wanted.as_deref());
        pass.finish()
    }));
    wanted
        .and_then(|w| thresholds_from(&hist, &kept, &w, ks, values.len()))
        .unwrap_or_else(|| thresholds_with(values, &hist, ks))
}

#[cfg(test)]
mod tests {
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

    /// Whether the sample predicts the bins of the paper's ranks (`None`: no prediction).
    fn prediction_holds(vals: &[f32]) -> Option<bool> {
        let n = vals.len();
        let ks = ranks(n, &[5.0, 10.0, 20.0, 40.0]);
        let wanted = predict_bins(vals, &ks)?;
        let mut pass = HighPass::new(n);
        pass.add(vals, Some(&wanted));
        let (h, kept) = pass.finish();
        assert_eq!(h, high_histogram(vals), "histogram");
        Some(thresholds_from(&h, &kept, &wanted, &ks, n).is_some())
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
        let (w, h) = (640, 480);
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
            // The one-pass path really runs on maps like these (bar the wild exponents).
            if !what.starts_with("infinities") {
                assert_eq!(prediction_holds(vals), Some(true), "{what}");
            }
        }
    }

    #[test]
    fn a_misleading_sample_falls_back_to_the_exact_pass() {
        // Every sampled position holds a large value, every other one a small one: the sample
        // predicts bins near 1 while the ranks lie below 0.5.
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
}
