//! Rust mirrors of the shader-side data: the `Params` uniform and the `state` buffer layout of
//! `shaders/types.wgsl`. Sizes are asserted at compile time.

/// Mirror of `Params` in `types.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// Pixels.
    pub n: u32,
    /// Columns.
    pub width: u32,
    /// Percentages in use (1..=4).
    pub num_tops: u32,
    /// Padding.
    pub pad: u32,
    /// 0-based descending ranks, clamped to n - 1.
    pub ks: [u32; 4],
}

const _: () = assert!(size_of::<Params>() == 32);

/// Words of the state buffer.
pub const STATE_WORDS: usize = 44;
/// Order key of the maximum.
pub const S_MAX: usize = 0;
/// Pointing-game hit.
pub const S_PG: usize = 1;
/// Mask pixels.
pub const S_MASK: usize = 2;
/// High bins.
pub const S_BIN: usize = 4;
/// Ranks inside the bins.
pub const S_RANK: usize = 8;
/// Threshold keys.
pub const S_THR: usize = 12;
/// Selected counts.
pub const S_SEL: usize = 16;
/// Selected ∩ mask.
pub const S_INTER: usize = 20;
/// Rectangle left.
pub const S_X0: usize = 24;
/// Rectangle top.
pub const S_Y0: usize = 28;
/// Rectangle right (exclusive).
pub const S_X1: usize = 32;
/// Rectangle bottom (exclusive).
pub const S_Y1: usize = 36;
/// Rectangle ∩ mask.
pub const S_IRECT: usize = 40;

const _: () = assert!(S_IRECT + 4 == STATE_WORDS);

/// State before a run: minima at `u32::MAX`, everything else 0.
pub fn initial_state() -> [u32; STATE_WORDS] {
    let mut s = [0u32; STATE_WORDS];
    s[S_X0..S_X0 + 4].fill(u32::MAX);
    s[S_Y0..S_Y0 + 4].fill(u32::MAX);
    s
}
