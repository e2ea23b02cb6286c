//! Exact order statistics of f32 values in O(N): a two-pass radix select over order-preserving
//! 32-bit keys (16 high bits, then 16 low bits), several ranks at once. The GPU kernels
//! (`shaders/histogram_*.wgsl`, `shaders/locate_*.wgsl`) implement the same passes.
//!
//! Both passes split the values over the available cores (per-thread histograms, summed).

/// Maps an f32 to a u32 whose unsigned order is the float order; -0.0 and +0.0 (equal as
/// floats) get the same key, so counts of `v >= t` follow from the histograms.
#[inline]
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

/// Histogram of the high 16 bits of every key.
pub fn high_histogram(values: &[f32]) -> Vec<u32> {
    sum_hists(par_chunks(values, |c, _| {
        let mut h = vec![0u32; BINS];
        for &v in c {
            h[(key(v) >> 16) as usize] += 1;
        }
        h
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

/// For each rank k in `ks` (0-based, descending; clamped to N-1), the (k+1)-th largest value
/// and the number of values `>=` it, given the high-16 histogram of `values`.
pub fn thresholds_with(values: &[f32], hi: &[u32], ks: &[usize]) -> Vec<Threshold> {
    if values.is_empty() {
        return vec![
            Threshold {
                value: f32::NAN,
                selected: 0
            };
            ks.len()
        ];
    }
    let n = values.len();
    let first: Vec<(usize, usize)> = ks.iter().map(|&k| locate(hi, k.min(n - 1))).collect();
    let mut bins: Vec<usize> = first.iter().map(|f| f.0).collect();
    bins.sort_unstable();
    bins.dedup();
    let mut slot_of = vec![u8::MAX; BINS];
    for (slot, &b) in bins.iter().enumerate() {
        slot_of[b] = slot as u8;
    }
    let nb = bins.len();
    // Branch-free compaction of the keys whose high half is one of the bins (a slot table
    // lookup per value, no data-dependent branch), then histograms of the few survivors.
    let lo = par_chunks(values, |c, _| {
        let mut h = vec![0u32; nb * BINS];
        let mut buf = vec![0u32; 4096 + 1];
        for block in c.chunks(4096) {
            let mut n = 0usize;
            for &v in block {
                let k = key(v);
                let slot = slot_of[(k >> 16) as usize] as u32;
                buf[n] = (slot << 16) | (k & 0xffff);
                n += (slot != u8::MAX as u32) as usize;
            }
            for &e in &buf[..n] {
                h[(e >> 16) as usize * BINS + (e & 0xffff) as usize] += 1;
            }
        }
        h
    });
    let lo_total = sum_hists(lo);
    first
        .iter()
        .map(|&(bin, rank)| {
            let slot = slot_of[bin] as usize;
            let lo = &lo_total[slot * BINS..(slot + 1) * BINS];
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
