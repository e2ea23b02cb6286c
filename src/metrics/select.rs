//! Exact order statistics of f32 values in O(N): a two-pass radix select over order-preserving
//! 32-bit keys (16 high bits, then 16 low bits), several ranks at once. The GPU kernels
//! (`shaders/histogram_*.wgsl`) implement the same passes.

/// Maps an f32 to a u32 whose unsigned order is the float order (-0.0 sorts just below +0.0,
/// which compare equal as floats, so thresholds are unaffected).
#[inline]
pub fn key(v: f32) -> u32 {
    let b = v.to_bits();
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

/// For each rank k in `ks` (0-based, descending; clamped to N-1), the (k+1)-th largest value.
pub fn kth_largest_many(values: &[f32], ks: &[usize]) -> Vec<f32> {
    if values.is_empty() {
        return vec![f32::NAN; ks.len()];
    }
    let n = values.len();
    let ks: Vec<usize> = ks.iter().map(|&k| k.min(n - 1)).collect();
    let mut hi = vec![0u32; 1 << 16];
    for &v in values {
        hi[(key(v) >> 16) as usize] += 1;
    }
    let first: Vec<(usize, usize)> = ks.iter().map(|&k| locate(&hi, k)).collect();
    let mut bins: Vec<usize> = first.iter().map(|f| f.0).collect();
    bins.sort_unstable();
    bins.dedup();
    let mut lo = vec![vec![0u32; 1 << 16]; bins.len()];
    for &v in values {
        let kk = key(v);
        let h = (kk >> 16) as usize;
        if let Some(slot) = bins.iter().position(|&b| b == h) {
            lo[slot][(kk & 0xffff) as usize] += 1;
        }
    }
    first
        .iter()
        .map(|&(bin, rank)| {
            let slot = bins.iter().position(|&b| b == bin).unwrap_or(0);
            let (low, _) = locate(&lo[slot], rank);
            from_key(((bin as u32) << 16) | low as u32)
        })
        .collect()
}
