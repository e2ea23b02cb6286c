// Pass 2 of the radix select: for each rank's high-16 bin, a histogram of the low 16 bits of the
// keys that fall in it.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> map: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> hist_lo: array<atomic<u32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * WG;
    var bins: array<u32, 4>;
    for (var t = 0u; t < 4u; t++) {
        bins[t] = select(0xffffffffu, atomicLoad(&state[S_BIN + t]), t < params.num_tops);
    }
    for (var i = gid.x; i < params.n; i += stride) {
        let k = key_of(map[i]);
        let hi = k >> 16u;
        for (var t = 0u; t < 4u; t++) {
            if (hi == bins[t]) {
                atomicAdd(&hist_lo[t * BINS + (k & 0xffffu)], 1u);
            }
        }
    }
}
