//! Exact order statistics of f32 values in O(N), several ranks at once.
//!
//! A large input usually needs one pass: a small sample predicts, for each rank, a narrow value
//! window `(lo, hi]` that holds it; the pass counts the values above each window and those equal
//! to its lower edge (vector compares) and keeps only the values inside the windows, whose
//! selects finish the job. When a prediction misses, an exact radix select over
//! order-preserving 32-bit keys (16 high bits, then 16 low bits) answers instead; the GPU
//! kernels (`shaders/histogram_*.wgsl`, `shaders/locate_*.wgsl`) implement that radix select.
//! The answer is the same either way. Passes split the values over the available cores.

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

/// Runs `f(chunk, offset)` over contiguous chunks of `values`, one per thread of rayon's pool
/// (up to 8), and returns the per-chunk results in order. The pool's threads live on, so their
/// allocator caches do too: no fresh pages to fault in per call.
pub fn par_chunks<V: Sync, T: Send>(values: &[V], f: impl Fn(&[V], usize) -> T + Sync) -> Vec<T> {
    par_chunks_aligned(values, 1, f)
}

/// As [`par_chunks`], with chunk lengths a multiple of `align` (e.g. a row width).
pub fn par_chunks_aligned<V: Sync, T: Send>(
    values: &[V],
    align: usize,
    f: impl Fn(&[V], usize) -> T + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads().min(8);
    if threads < 2 || values.len() < PARALLEL_MIN || align == 0 {
        return vec![f(values, 0)];
    }
    let chunk = values.len().div_ceil(threads).div_ceil(align) * align;
    values
        .par_chunks(chunk)
        .enumerate()
        .map(|(i, c)| f(c, i * chunk))
        .collect()
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

/// One pass over values: the histogram of the high 16 bits of every key.
pub struct HighPass {
    hists: Vec<u32>,
}

impl HighPass {
    /// Empty histogram, sized for a pass over about `expected` values.
    pub fn new(expected: usize) -> Self {
        let copies = if expected >= COPIES_MIN { COPIES } else { 1 };
        Self {
            hists: vec![0; copies * BINS],
        }
    }

    /// Counts `values`.
    #[inline(always)]
    pub fn add(&mut self, values: &[f32]) {
        if self.hists.len() < COPIES * BINS {
            let h = &mut self.hists[..BINS];
            for &v in values {
                h[(key(v) >> 16) as usize] += 1;
            }
            return;
        }
        let (h0, rest) = self.hists.split_at_mut(BINS);
        let (h1, rest) = rest.split_at_mut(BINS);
        let (h2, h3) = rest.split_at_mut(BINS);
        let body = values.len() / COPIES * COPIES;
        for q in values[..body].chunks_exact(COPIES) {
            h0[(key(q[0]) >> 16) as usize] += 1;
            h1[(key(q[1]) >> 16) as usize] += 1;
            h2[(key(q[2]) >> 16) as usize] += 1;
            h3[(key(q[3]) >> 16) as usize] += 1;
        }
        for &v in &values[body..] {
            h0[(key(v) >> 16) as usize] += 1;
        }
    }

    /// The histogram (copies summed).
    pub fn finish(mut self) -> Vec<u32> {
        let (h0, rest) = self.hists.split_at_mut(BINS);
        for part in rest.chunks_exact(BINS) {
            for (a, b) in h0.iter_mut().zip(part) {
                *a += b;
            }
        }
        self.hists.truncate(BINS);
        self.hists
    }
}

/// Histogram of the high 16 bits of every key.
pub fn high_histogram(values: &[f32]) -> Vec<u32> {
    sum_hists(par_chunks(values, |c, _| {
        let mut pass = HighPass::new(c.len());
        pass.add(c);
        pass.finish()
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

/// Below this many values no windows are predicted: a second pass over a small map costs less
/// than a sample.
pub const PREDICT_MIN: usize = 1 << 18;
/// Half-width of a predicted window, in standard deviations of the sample's rank estimate.
const SIGMAS: f64 = 3.5;
/// Most windows one pass tracks (the paper's four percentages need four).
pub const WINDOWS: usize = 4;

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
        // A multiply-shift maps the jitter onto the stratum (a 64-bit modulo costs more).
        start + (((mix(i as u64) >> 32) * width as u64) >> 32) as usize
    })
}

/// Sorts keys by their bytes, least significant first (four counting passes): a sample of
/// ~16 000 keys sorts in a fraction of what a comparison sort takes.
fn sort_keys(keys: &mut Vec<u32>) {
    let mut out = vec![0u32; keys.len()];
    for shift in [0, 8, 16, 24] {
        let mut start = [0usize; 256];
        for &k in keys.iter() {
            start[(k >> shift & 0xff) as usize] += 1;
        }
        let mut sum = 0;
        for s in start.iter_mut() {
            (*s, sum) = (sum, sum + *s);
        }
        for &k in keys.iter() {
            let d = (k >> shift & 0xff) as usize;
            out[start[d]] = k;
            start[d] += 1;
        }
        std::mem::swap(keys, &mut out);
    }
}

/// Disjoint value windows `(lo, hi]` that a sample predicts to hold the ranks.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Lower edges (excluded: values equal to one are counted, not kept); NaN pads unused
    /// windows, so every comparison with them is false.
    lo: [f32; WINDOWS],
    /// Upper edges (included).
    hi: [f32; WINDOWS],
    /// The window of each rank.
    of_rank: Vec<usize>,
    /// Share of the sample inside each window.
    share: [f64; WINDOWS],
}

/// The windows that, judging by a stratified, jittered sample of `values`, hold the 0-based
/// descending ranks `ks` (each rank's window of sample positions widened by [`SIGMAS`]
/// standard deviations; overlapping windows merged). `None` for small inputs or when the
/// ranks need more than [`WINDOWS`] windows.
///
/// A prediction only saves passes: when a rank falls outside its window,
/// [`thresholds_in_windows`] says so and [`finish`] runs the exact radix select.
pub fn predict(values: &[f32], ks: &[usize]) -> Option<Prediction> {
    let n = values.len();
    if n < PREDICT_MIN || ks.is_empty() {
        return None;
    }
    let mut sample: Vec<u32> = sample_positions(n).map(|i| key(values[i])).collect();
    let m = sample.len();
    sort_keys(&mut sample);
    let spans: Vec<(f32, f32)> = ks
        .iter()
        .map(|&k| {
            let p = (k.min(n - 1) as f64 + 0.5) / n as f64;
            let centre = p * m as f64;
            let d = SIGMAS * (m as f64 * p * (1.0 - p)).sqrt() + 2.0;
            // Descending sample positions → ascending indices; a window past the sample's end
            // is open.
            let (top, bottom) = ((centre - d).floor(), (centre + d).ceil());
            let hi = if top < 0.0 {
                f32::INFINITY
            } else {
                from_key(sample[m - 1 - top as usize])
            };
            let lo = if bottom > (m - 1) as f64 {
                f32::NEG_INFINITY
            } else {
                from_key(sample[m - 1 - bottom as usize])
            };
            (lo, hi)
        })
        .collect();
    let mut order: Vec<usize> = (0..ks.len()).collect();
    order.sort_by(|&a, &b| spans[a].0.total_cmp(&spans[b].0));
    let mut windows: Vec<(f32, f32)> = Vec::new();
    let mut of_rank = vec![0; ks.len()];
    for r in order {
        let (lo, hi) = spans[r];
        match windows.last_mut() {
            // Sorted by lower edge: (lo, hi] overlaps the last window iff lo < its upper edge.
            Some(w) if lo < w.1 => w.1 = w.1.max(hi),
            _ => windows.push((lo, hi)),
        }
        of_rank[r] = windows.len() - 1;
    }
    if windows.len() > WINDOWS {
        return None;
    }
    let mut p = Prediction {
        lo: [f32::NAN; WINDOWS],
        hi: [f32::NAN; WINDOWS],
        of_rank,
        share: [0.0; WINDOWS],
    };
    for (w, &(lo, hi)) in windows.iter().enumerate() {
        (p.lo[w], p.hi[w]) = (lo, hi);
        let inside =
            sample.partition_point(|&k| k <= key(hi)) - sample.partition_point(|&k| k <= key(lo));
        p.share[w] = inside as f64 / m as f64;
    }
    Some(p)
}

/// One pass's counts against a [`Prediction`]: per window, how many values lie above it and
/// on its lower edge (vector compares), and the values inside it.
pub struct WindowPass {
    lo: [f32; WINDOWS],
    hi: [f32; WINDOWS],
    above: [u64; WINDOWS],
    at_lo: [u64; WINDOWS],
    kept: [Vec<f32>; WINDOWS],
}

impl WindowPass {
    /// Nothing counted yet; room for what the sample predicts a pass over `expected` values
    /// keeps (one allocation per window, not a chain of regrowths into fresh pages).
    pub fn new(p: &Prediction, expected: usize) -> Self {
        Self {
            lo: p.lo,
            hi: p.hi,
            above: [0; WINDOWS],
            at_lo: [0; WINDOWS],
            kept: p
                .share
                .map(|s| Vec::with_capacity((s * 1.25 * expected as f64) as usize + 256)),
        }
    }

    /// Counts `values` in lanes of `S`; a vector with a value inside a window is looked at
    /// lane by lane, so the cost follows the (small) share of values kept.
    #[inline(always)]
    pub fn add<S: pulp::Simd>(&mut self, simd: S, values: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(&v4) = (&simd as &dyn std::any::Any).downcast_ref::<pulp::x86::V4>() {
            self.add_v4(v4, values);
            return;
        }
        let (head, tail) = S::as_simd_f32s(values);
        let lo = self.lo.map(|x| simd.splat_f32s(x));
        let hi = self.hi.map(|x| simd.splat_f32s(x));
        let (one, zero) = (simd.splat_u32s(1), simd.splat_u32s(0));
        let mut above = [zero; WINDOWS];
        let mut at_lo = [zero; WINDOWS];
        for (i, &v) in head.iter().enumerate() {
            // Plain loops, no closures: a closure would not inherit the SIMD target features.
            let mut any = simd.greater_than_f32s(v, v);
            for w in 0..WINDOWS {
                let gh = simd.greater_than_f32s(v, hi[w]);
                above[w] = simd.add_u32s(above[w], simd.select_u32s(gh, one, zero));
                let eq = simd.equal_f32s(v, lo[w]);
                at_lo[w] = simd.add_u32s(at_lo[w], simd.select_u32s(eq, one, zero));
                // v > hi implies v > lo: the xor is lo < v <= hi.
                let inside = simd.xor_m32s(simd.greater_than_f32s(v, lo[w]), gh);
                any = simd.or_m32s(any, inside);
            }
            if simd.first_true_m32s(any) < S::F32_LANES {
                let start = i * S::F32_LANES;
                self.keep(&values[start..start + S::F32_LANES]);
            }
        }
        for w in 0..WINDOWS {
            self.above[w] += lane_sum::<S>(&above[w]);
            self.at_lo[w] += lane_sum::<S>(&at_lo[w]);
        }
        self.add_scalar(tail);
    }

    /// [`WindowPass::add`] in AVX-512: one compress per window and vector packs the values
    /// inside it, so scattered kept values cost no lane-by-lane work.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn add_v4(&mut self, simd: pulp::x86::V4, values: &[f32]) {
        use pulp::Simd;
        let (head, tail) = pulp::x86::V4::as_simd_f32s(values);
        let lo = self.lo.map(|x| simd.splat_f32x16(x));
        let hi = self.hi.map(|x| simd.splat_f32x16(x));
        for &v in head {
            for w in 0..WINDOWS {
                let gh = simd.cmp_gt_f32x16(v, hi[w]).0;
                self.above[w] += gh.count_ones() as u64;
                self.at_lo[w] += simd.cmp_eq_f32x16(v, lo[w]).0.count_ones() as u64;
                // v > hi implies v > lo: the xor is lo < v <= hi.
                let inside = simd.cmp_gt_f32x16(v, lo[w]).0 ^ gh;
                if inside != 0 {
                    let packed: [f32; 16] = bytemuck::cast(
                        simd.avx512f
                            ._mm512_maskz_compress_ps(inside, bytemuck::cast(v)),
                    );
                    // All 16 lanes are written (one store), the packed ones are kept.
                    let kept = &mut self.kept[w];
                    let n = kept.len();
                    kept.extend_from_slice(&packed);
                    kept.truncate(n + inside.count_ones() as usize);
                }
            }
        }
        self.add_scalar(tail);
    }

    /// Counts and keeps `values` one at a time.
    #[inline(always)]
    fn add_scalar(&mut self, values: &[f32]) {
        for &x in values {
            for w in 0..WINDOWS {
                self.above[w] += (x > self.hi[w]) as u64;
                self.at_lo[w] += (x == self.lo[w]) as u64;
            }
        }
        self.keep(values);
    }

    /// Keeps the values inside a window.
    #[inline(always)]
    fn keep(&mut self, values: &[f32]) {
        for &x in values {
            for w in 0..WINDOWS {
                if x > self.lo[w] && x <= self.hi[w] {
                    self.kept[w].push(x);
                }
            }
        }
    }
}

/// Sum of a vector's u32 lanes.
#[inline(always)]
fn lane_sum<S: pulp::Simd>(c: &S::u32s) -> u64 {
    bytemuck::cast_slice::<S::u32s, u32>(std::slice::from_ref(c))
        .iter()
        .map(|&x| x as u64)
        .sum()
}

/// The thresholds of `ks` over `n` values from passes against `p` (one per chunk of the
/// values); `None` when a rank fell outside its window. Windows are finished in parallel.
pub fn thresholds_in_windows(
    p: &Prediction,
    parts: Vec<WindowPass>,
    ks: &[usize],
    n: usize,
) -> Option<Vec<Threshold>> {
    use rayon::prelude::*;
    if n == 0 {
        return Some(no_thresholds(ks));
    }
    let parts = &parts;
    let per_window: Vec<Vec<(usize, Option<Threshold>)>> = (0..WINDOWS)
        .into_par_iter()
        .map(|w| {
            let ranks: Vec<usize> = (0..ks.len()).filter(|&r| p.of_rank[r] == w).collect();
            if ranks.is_empty() {
                return Vec::new();
            }
            let above: u64 = parts.iter().map(|part| part.above[w]).sum();
            let at_lo: u64 = parts.iter().map(|part| part.at_lo[w]).sum();
            let mut inside: Vec<u32> =
                Vec::with_capacity(parts.iter().map(|part| part.kept[w].len()).sum());
            for part in parts {
                inside.extend(part.kept[w].iter().map(|&x| key(x)));
            }
            ranks
                .into_iter()
                .map(|r| {
                    let t = rank_in_window(&mut inside, above, at_lo, ks[r].min(n - 1), p.lo[w]);
                    (r, t)
                })
                .collect()
        })
        .collect();
    let mut out = no_thresholds(ks);
    for (r, t) in per_window.into_iter().flatten() {
        out[r] = t?;
    }
    Some(out)
}

/// The threshold of rank `k` given a window's counts: `above` values lie above it, the keys
/// `inside` it, and `at_lo` values on its lower edge `lo`. `None` when the rank is not there.
fn rank_in_window(
    inside: &mut [u32],
    above: u64,
    at_lo: u64,
    k: usize,
    lo: f32,
) -> Option<Threshold> {
    let j = (k as u64).checked_sub(above)? as usize;
    if j < inside.len() {
        // In place: the count below does not depend on the order.
        let (_, &mut t, _) = inside.select_nth_unstable_by(j, |a, b| b.cmp(a));
        let within = inside.iter().filter(|&&x| x >= t).count();
        Some(Threshold {
            value: from_key(t),
            selected: above as usize + within,
        })
    } else if (j as u64) < inside.len() as u64 + at_lo {
        Some(Threshold {
            value: lo,
            selected: (above + inside.len() as u64 + at_lo) as usize,
        })
    } else {
        None
    }
}

/// The first pass over the values: counts against predicted windows, or (with no prediction)
/// the high-16 histogram.
pub enum FirstPass {
    /// No prediction: the histogram for the radix select.
    Histogram(HighPass),
    /// Counts against the predicted windows.
    Windows(WindowPass),
}

impl FirstPass {
    /// A pass over about `expected` values, against `p` if there is one.
    pub fn new(p: Option<&Prediction>, expected: usize) -> Self {
        match p {
            Some(p) => Self::Windows(WindowPass::new(p, expected)),
            None => Self::Histogram(HighPass::new(expected)),
        }
    }

    /// Counts `values`.
    #[inline(always)]
    pub fn add<S: pulp::Simd>(&mut self, simd: S, values: &[f32]) {
        match self {
            Self::Windows(w) => w.add(simd, values),
            Self::Histogram(h) => h.add(values),
        }
    }
}

/// The thresholds of `ks` over `values`, given the first passes over its chunks (made against
/// `p`): from the windows when every rank fell inside its own, otherwise by the exact radix
/// select (reusing the passes' histogram when they made one).
pub fn finish(
    values: &[f32],
    p: Option<&Prediction>,
    parts: Vec<FirstPass>,
    ks: &[usize],
) -> Vec<Threshold> {
    let mut hists = Vec::new();
    let mut windows = Vec::new();
    for part in parts {
        match part {
            FirstPass::Histogram(h) => hists.push(h.finish()),
            FirstPass::Windows(w) => windows.push(w),
        }
    }
    // Passes made against a prediction count windows; the others made histograms.
    if let Some(p) = p {
        if let Some(t) = thresholds_in_windows(p, windows, ks, values.len()) {
            return t;
        }
        hists = vec![high_histogram(values)];
    }
    thresholds_with(values, &sum_hists(hists), ks)
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
        keep_wanted(c, &wanted, &mut kept);
        kept
    })
    .concat();
    thresholds_in(hi, &first, &kept)
}

/// Appends to `kept` the keys of `values` whose high half is `wanted`, branch-free (every key
/// is written to a block buffer, the position advances only for wanted bins).
fn keep_wanted(values: &[f32], wanted: &[bool], kept: &mut Vec<u32>) {
    const BLOCK: usize = 4096;
    let mut buf = vec![0u32; BLOCK];
    for block in values.chunks(BLOCK) {
        let mut n = 0;
        for &v in block {
            let k = key(v);
            buf[n] = k;
            n += wanted[(k >> 16) as usize] as usize;
        }
        kept.extend_from_slice(&buf[..n]);
    }
}

/// First passes over `values` in chunks on every core, in the widest SIMD the CPU has.
struct Passes<'a> {
    values: &'a [f32],
    p: Option<&'a Prediction>,
}

impl pulp::WithSimd for Passes<'_> {
    type Output = FirstPass;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> FirstPass {
        let mut pass = FirstPass::new(self.p, self.values.len());
        pass.add(simd, self.values);
        pass
    }
}

/// The thresholds of `ks` over `values` in the fewest passes: one when a sample predicts the
/// ranks' windows and is right, two or three otherwise. Always exact.
pub fn thresholds(values: &[f32], ks: &[usize]) -> Vec<Threshold> {
    let p = predict(values, ks);
    let arch = pulp::Arch::new();
    let parts = par_chunks(values, |c, _| {
        arch.dispatch(Passes {
            values: c,
            p: p.as_ref(),
        })
    });
    finish(values, p.as_ref(), parts, ks)
}

#[cfg(test)]
mod tests;
