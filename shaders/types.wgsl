// Shared declarations of the metric kernels. Each kernel file is compiled as
// `types.wgsl` + the kernel (see src/metrics/gpu.rs); the Rust mirror of `Params` and of the
// state layout lives in `src/metrics/gpu_data.rs`.

struct Params {
    n: u32,          // pixels
    width: u32,      // columns
    num_tops: u32,   // 1..=4 percentages
    pad: u32,
    ks: vec4<u32>,   // 0-based descending ranks (already clamped to n - 1)
}

// Layout of the `state` buffer (u32 words).
const S_MAX: u32 = 0u;      // order key of the maximum
const S_PG: u32 = 1u;       // pointing game hit
const S_MASK: u32 = 2u;     // mask pixels
const S_BIN: u32 = 4u;      // [4] high-16 bin of each rank
const S_RANK: u32 = 8u;     // [4] rank inside that bin
const S_THR: u32 = 12u;     // [4] threshold key
const S_SEL: u32 = 16u;     // [4] selected pixels
const S_INTER: u32 = 20u;   // [4] selected ∩ mask
const S_X0: u32 = 24u;      // [4] bounding rectangle of the selection, half-open
const S_Y0: u32 = 28u;
const S_X1: u32 = 32u;
const S_Y1: u32 = 36u;
const S_IRECT: u32 = 40u;   // [4] rectangle ∩ mask

const BINS: u32 = 65536u;
const WG: u32 = 256u;

// Order-preserving map from f32 to u32 (unsigned order = float order; -0.0 and +0.0 share a key).
fn key_of(v: f32) -> u32 {
    let b = select(bitcast<u32>(v), 0u, v == 0.0);
    if ((b & 0x80000000u) != 0u) {
        return ~b;
    }
    return b | 0x80000000u;
}

fn value_of(k: u32) -> f32 {
    if ((k & 0x80000000u) != 0u) {
        return bitcast<f32>(k & 0x7fffffffu);
    }
    return bitcast<f32>(~k);
}
