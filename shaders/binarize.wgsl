// Binarises the map at every threshold (value >= threshold, as floats) and accumulates: selected
// count, selected ∩ mask, bounding rectangle of the selection, mask count, pointing game (any
// maximum inside the mask), and per-workgroup partial sums of the map inside the mask and overall.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> map: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

var<workgroup> w_sel: array<atomic<u32>, 4>;
var<workgroup> w_inter: array<atomic<u32>, 4>;
var<workgroup> w_x0: array<atomic<u32>, 4>;
var<workgroup> w_y0: array<atomic<u32>, 4>;
var<workgroup> w_x1: array<atomic<u32>, 4>;
var<workgroup> w_y1: array<atomic<u32>, 4>;
var<workgroup> w_mask: atomic<u32>;
var<workgroup> w_pg: atomic<u32>;
var<workgroup> w_sum_in: array<f32, 256>;
var<workgroup> w_sum_all: array<f32, 256>;

fn mask_at(i: u32) -> bool {
    return ((mask[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu) != 0u;
}

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    if (lid < 4u) {
        atomicStore(&w_sel[lid], 0u);
        atomicStore(&w_inter[lid], 0u);
        atomicStore(&w_x0[lid], 0xffffffffu);
        atomicStore(&w_y0[lid], 0xffffffffu);
        atomicStore(&w_x1[lid], 0u);
        atomicStore(&w_y1[lid], 0u);
    }
    if (lid == 0u) {
        atomicStore(&w_mask, 0u);
        atomicStore(&w_pg, 0u);
    }
    workgroupBarrier();

    let stride = nwg.x * WG;
    let maxv = value_of(atomicLoad(&state[S_MAX]));
    var thr: array<f32, 4>;
    var sel: array<u32, 4>;
    var inter: array<u32, 4>;
    var x0: array<u32, 4>;
    var y0: array<u32, 4>;
    var x1: array<u32, 4>;
    var y1: array<u32, 4>;
    for (var t = 0u; t < 4u; t++) {
        thr[t] = value_of(atomicLoad(&state[S_THR + t]));
        x0[t] = 0xffffffffu;
        y0[t] = 0xffffffffu;
    }
    var mcount = 0u;
    var pg = 0u;
    var sum_in = 0.0;
    var sum_all = 0.0;
    for (var i = gid.x; i < params.n; i += stride) {
        let v = map[i];
        let m = mask_at(i);
        let x = i % params.width;
        let y = i / params.width;
        sum_all += v;
        if (m) {
            mcount += 1u;
            sum_in += v;
            if (v == maxv) {
                pg = 1u;
            }
        }
        for (var t = 0u; t < params.num_tops; t++) {
            if (v >= thr[t]) {
                sel[t] += 1u;
                inter[t] += select(0u, 1u, m);
                x0[t] = min(x0[t], x);
                y0[t] = min(y0[t], y);
                x1[t] = max(x1[t], x + 1u);
                y1[t] = max(y1[t], y + 1u);
            }
        }
    }
    for (var t = 0u; t < 4u; t++) {
        if (sel[t] > 0u) {
            atomicAdd(&w_sel[t], sel[t]);
            atomicAdd(&w_inter[t], inter[t]);
            atomicMin(&w_x0[t], x0[t]);
            atomicMin(&w_y0[t], y0[t]);
            atomicMax(&w_x1[t], x1[t]);
            atomicMax(&w_y1[t], y1[t]);
        }
    }
    if (mcount > 0u) {
        atomicAdd(&w_mask, mcount);
    }
    if (pg != 0u) {
        atomicOr(&w_pg, 1u);
    }
    w_sum_in[lid] = sum_in;
    w_sum_all[lid] = sum_all;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            w_sum_in[lid] += w_sum_in[lid + s];
            w_sum_all[lid] += w_sum_all[lid + s];
        }
        workgroupBarrier();
    }
    if (lid < 4u) {
        let c = atomicLoad(&w_sel[lid]);
        if (c > 0u) {
            atomicAdd(&state[S_SEL + lid], c);
            atomicAdd(&state[S_INTER + lid], atomicLoad(&w_inter[lid]));
            atomicMin(&state[S_X0 + lid], atomicLoad(&w_x0[lid]));
            atomicMin(&state[S_Y0 + lid], atomicLoad(&w_y0[lid]));
            atomicMax(&state[S_X1 + lid], atomicLoad(&w_x1[lid]));
            atomicMax(&state[S_Y1 + lid], atomicLoad(&w_y1[lid]));
        }
    }
    if (lid == 0u) {
        atomicAdd(&state[S_MASK], atomicLoad(&w_mask));
        atomicOr(&state[S_PG], atomicLoad(&w_pg));
        partials[wid.x * 2u] = w_sum_in[0];
        partials[wid.x * 2u + 1u] = w_sum_all[0];
    }
}
