// Finds, for each requested rank, the high-16 bin holding it and the rank inside that bin.
// One workgroup: 256 threads sum 256 chunks of 256 bins (from the top), then one thread per rank
// walks the chunk sums and the bins of its chunk.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> hist_hi: array<atomic<u32>>;

var<workgroup> chunk: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    var s = 0u;
    for (var j = 0u; j < 256u; j++) {
        s += atomicLoad(&hist_hi[BINS - 1u - (lid * 256u + j)]);
    }
    chunk[lid] = s;
    workgroupBarrier();
    if (lid < params.num_tops) {
        let k = params.ks[lid];
        var before = 0u;
        var c = 0u;
        loop {
            if (c >= 255u || k < before + chunk[c]) {
                break;
            }
            before += chunk[c];
            c++;
        }
        var bin = BINS - 1u - c * 256u;
        loop {
            let h = atomicLoad(&hist_hi[bin]);
            if (k < before + h || bin == 0u) {
                break;
            }
            before += h;
            bin--;
        }
        atomicStore(&state[S_BIN + lid], bin);
        atomicStore(&state[S_RANK + lid], k - before);
    }
}
