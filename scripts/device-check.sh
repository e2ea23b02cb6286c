#!/usr/bin/env bash
# The GPU check: everything the GPU paths need checked on a machine with a real GPU, in one call
# of a few minutes, all output under $OUT (default ./device-out):
#   1. parity on the hardware adapter: the reference model's logits and Chefer map computed on
#      the GPU against ../shared/fixtures/reference and against the CPU, and the metric kernels
#      against the CPU twin (`parity.txt`); with the test binary at hand, also the wgpu tests
#      (`tests.txt`);
#   2. `vitscope bench --suite model --model b --device gpu` (and the same on the CPU);
#   3. `vitscope bench --suite metrics --backends cpu,gpu --sizes 224,2048`;
#   4. a workbench screenshot (`--screenshot`) when an X server can be had (xvfb-run).
#
# It runs the binaries carried in device-bin/ (`vitscope` or `vitscope.xz`, optionally `it` or
# `it.xz`, the integration tests) with the fixtures in device-bin/fixtures/reference; without
# them it builds with cargo. README's "A GPU check" says how to prepare and run it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
step() { echo "== $*" | tee -a "$summary"; }
ok() { echo "   $1: exit $2" | tee -a "$summary"; }

# Vulkan loaders carried as .gl/*.deb, and the NVIDIA driver's ICD.
if compgen -G ".gl/*.deb" >/dev/null; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
    /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
        export VK_DRIVER_FILES="$icd"
        break
    fi
done
(nvidia-smi || echo "no nvidia-smi") >"$OUT/gpu.txt" 2>&1
(command -v vulkaninfo >/dev/null && vulkaninfo --summary) >>"$OUT/gpu.txt" 2>&1

# The binaries: carried (plain or xz-compressed), else built here.
bin_dir=$(mktemp -d)
for b in vitscope it; do
    if [ -f "device-bin/$b.xz" ]; then
        xz -dc "device-bin/$b.xz" >"$bin_dir/$b" && chmod +x "$bin_dir/$b"
    elif [ -f "device-bin/$b" ]; then
        cp "device-bin/$b" "$bin_dir/$b"
    fi
done
if [ ! -x "$bin_dir/vitscope" ] && command -v cargo >/dev/null; then
    step "building (no carried binaries in device-bin/)"
    cargo test --release --no-run >"$OUT/build.txt" 2>&1
    ok build $?
    target=${CARGO_TARGET_DIR:-target}/release
    cp "$target/vitscope" "$bin_dir/vitscope"
    cp "$(ls -t "$target"/deps/it-* 2>/dev/null | grep -v '\.d$' | head -1)" "$bin_dir/it"
fi
BIN=$bin_dir/vitscope
"$BIN" --version | tee -a "$summary"
# The tests find their data from the crate's folder and the fixtures.
export CARGO_MANIFEST_DIR="$PWD"
REF=${VITSCOPE_REFERENCE:-../shared/fixtures/reference}
if [ -d device-bin/fixtures/reference ]; then
    REF=$PWD/device-bin/fixtures/reference
fi
export VITSCOPE_REFERENCE=$REF

step "parity on the hardware adapter (reference model, Chefer map, metric kernels)"
work="$OUT/parity"
mkdir -p "$work"
for dev in gpu cpu; do
    timeout 300 "$BIN" explain --weights "$REF/weights.safetensors" --config "$REF/config.json" \
        --image "$REF/image.png" --method chefer --target 1 --device "$dev" --json \
        --out-npy "$work/chefer_14_$dev.npy" --out-map "$work/chefer_224_$dev.npy" \
        >"$work/explain_$dev.json" 2>"$work/explain_$dev.err"
    ok "explain --device $dev" $?
done
for dev in gpu cpu; do
    timeout 120 "$BIN" metrics --map "$work/chefer_224_cpu.npy" --mask "$REF/mask_kvasir.png" \
        --backend "$dev" --json >"$work/metrics_$dev.json" 2>"$work/metrics_$dev.err"
    ok "metrics --backend $dev" $?
done
python3 - "$work" "$REF" <<'PY' 2>&1 | tee -a "$summary" >"$OUT/parity.txt"
import json, struct, sys
import numpy as np
work, ref = sys.argv[1], sys.argv[2]
def expected(key):
    with open(f"{ref}/expected.safetensors", "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        a, b = head[key]["data_offsets"]
        f.seek(8 + n + a)
        return np.frombuffer(f.read(b - a), dtype=np.float32)
def line(name, got, want, tol):
    d = float(np.max(np.abs(np.asarray(got, np.float64).ravel() - np.asarray(want, np.float64).ravel())))
    print(f"   {name:<34} max |diff| {d:.3e}  {'ok' if d <= tol else 'FAILED'} (tolerance {tol:g})")
for dev in ["gpu", "cpu"]:
    try:
        doc = json.loads(open(f"{work}/explain_{dev}.json").read())
        line(f"logits {dev} vs reference", doc["logits"], expected("logits"), 1e-4)
        line(f"chefer_14 {dev} vs reference", np.load(f"{work}/chefer_14_{dev}.npy"), expected("chefer_14"), 1e-4)
        line(f"chefer_224 {dev} vs reference", np.load(f"{work}/chefer_224_{dev}.npy"), expected("chefer_224"), 1e-4)
    except Exception as e:
        print(f"   {dev}: no result ({e})")
try:
    g = json.loads(open(f"{work}/metrics_gpu.json").read())
    c = json.loads(open(f"{work}/metrics_cpu.json").read())
    # Counts, thresholds, IoU and Dice must be identical; the energy is a float sum (f32 on the
    # GPU), equal within 1e-4 as the parity tests require.
    bad = [a["metric"] for a, b in zip(g, c)
           if a["metric"] != b["metric"] or a["top_perc"] != b["top_perc"]
           or (abs(a["value"] - b["value"]) > 1e-4 if a["metric"] == "energy" else a["value"] != b["value"])]
    energy = max((abs(a["value"] - b["value"]) for a, b in zip(g, c) if a["metric"] == "energy"), default=0.0)
    verdict = "ok" if len(g) == len(c) and not bad else f"FAILED {bad}"
    print(f"   metrics gpu vs cpu: {len(g)} records, energy |diff| {energy:.1e}, the rest identical: {verdict}")
except Exception as e:
    print(f"   metrics: no result ({e})")
PY

if [ -x "$bin_dir/it" ]; then
    step "wgpu tests on the hardware adapter"
    timeout 300 "$bin_dir/it" --test-threads 1 \
        model::wgpu_model metrics::parity_metrics metrics::shader_validation \
        app::gui::the_display_device_runs_burn >"$OUT/tests.txt" 2>&1
    ok tests $?
    grep -E "^test result|FAILED|panicked" "$OUT/tests.txt" | tee -a "$summary"
fi

step "bench: model suite, ViT-B/16, GPU then CPU"
timeout 240 "$BIN" bench --suite model --model b --device gpu --iters 3 >"$OUT/bench-model-gpu.txt" 2>&1
ok "model gpu" $?
timeout 240 "$BIN" bench --suite model --model b --device cpu --iters 3 >"$OUT/bench-model-cpu.txt" 2>&1
ok "model cpu" $?

step "bench: metrics suite, CPU and GPU backends"
timeout 120 "$BIN" bench --suite metrics --backends cpu,gpu --sizes 224,2048 --iters 5 \
    >"$OUT/bench-metrics.txt" 2>&1
ok metrics $?

step "workbench screenshot"
if command -v xvfb-run >/dev/null; then
    timeout 120 xvfb-run -a -s "-screen 0 1600x1000x24" "$BIN" --screenshot "$OUT/workbench.png" \
        >"$OUT/screenshot.txt" 2>&1
    ok screenshot $?
else
    echo "   no xvfb-run here: no screenshot" | tee -a "$summary"
fi
cat "$OUT"/bench-*.txt >>"$summary"
rm -rf "$bin_dir"
