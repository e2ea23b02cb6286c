// Counts mask pixels inside each selection's bounding rectangle (for iou_rect).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;

var<workgroup> w_count: array<atomic<u32>, 4>;

fn mask_at(i: u32) -> bool {
    return ((mask[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu) != 0u;
}

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    if (lid < 4u) {
        atomicStore(&w_count[lid], 0u);
    }
    workgroupBarrier();
    let stride = nwg.x * WG;
    var rx0: array<u32, 4>;
    var ry0: array<u32, 4>;
    var rx1: array<u32, 4>;
    var ry1: array<u32, 4>;
    var count: array<u32, 4>;
    for (var t = 0u; t < 4u; t++) {
        rx0[t] = atomicLoad(&state[S_X0 + t]);
        ry0[t] = atomicLoad(&state[S_Y0 + t]);
        rx1[t] = atomicLoad(&state[S_X1 + t]);
        ry1[t] = atomicLoad(&state[S_Y1 + t]);
    }
    for (var i = gid.x; i < params.n; i += stride) {
        if (mask_at(i)) {
            let x = i % params.width;
            let y = i / params.width;
            for (var t = 0u; t < params.num_tops; t++) {
                if (x >= rx0[t] && x < rx1[t] && y >= ry0[t] && y < ry1[t]) {
                    count[t] += 1u;
                }
            }
        }
    }
    for (var t = 0u; t < 4u; t++) {
        if (count[t] > 0u) {
            atomicAdd(&w_count[t], count[t]);
        }
    }
    workgroupBarrier();
    if (lid < 4u) {
        atomicAdd(&state[S_IRECT + lid], atomicLoad(&w_count[lid]));
    }
}
