// Pass 1 of the radix select: histogram of the high 16 bits of every order key, and the maximum.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> map: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> hist_hi: array<atomic<u32>>;

var<workgroup> wg_max: atomic<u32>;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let stride = nwg.x * WG;
    var local_max = 0u;
    for (var i = gid.x; i < params.n; i += stride) {
        let k = key_of(map[i]);
        atomicAdd(&hist_hi[k >> 16u], 1u);
        local_max = max(local_max, k);
    }
    atomicMax(&wg_max, local_max);
    workgroupBarrier();
    if (lid == 0u) {
        atomicMax(&state[S_MAX], atomicLoad(&wg_max));
    }
}
