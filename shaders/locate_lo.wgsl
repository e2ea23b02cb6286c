// Completes the radix select: walks each rank's low-16 histogram from the top to the rank found
// by locate_hi and stores the threshold key (high bin << 16 | low bin).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> hist_lo: array<atomic<u32>>;

var<workgroup> chunk: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    for (var t = 0u; t < params.num_tops; t++) {
        let base = t * BINS;
        var s = 0u;
        for (var j = 0u; j < 256u; j++) {
            s += atomicLoad(&hist_lo[base + BINS - 1u - (lid * 256u + j)]);
        }
        chunk[lid] = s;
        workgroupBarrier();
        if (lid == 0u) {
            let k = atomicLoad(&state[S_RANK + t]);
            var before = 0u;
            var c = 0u;
            loop {
                if (c >= 255u || k < before + chunk[c]) {
                    break;
                }
                before += chunk[c];
                c++;
            }
            var low = BINS - 1u - c * 256u;
            loop {
                let h = atomicLoad(&hist_lo[base + low]);
                if (k < before + h || low == 0u) {
                    break;
                }
                before += h;
                low--;
            }
            let bin = atomicLoad(&state[S_BIN + t]);
            atomicStore(&state[S_THR + t], (bin << 16u) | low);
        }
        workgroupBarrier();
    }
}
