#!/usr/bin/env bash
# The GPU check: everything the GPU paths need checked on a machine with a real GPU, in one call
# of a few minutes, all output under $OUT (default ./device-out):
#   1. the wgpu parity tests (model logits and Chefer map, CPU/GPU metric parity, the display
#      device running burn) on the hardware adapter;
#   2. `vitscope bench --suite model --model b --device gpu` (and the same on the CPU);
#   3. `vitscope bench --suite metrics --backends cpu,gpu --sizes 224,2048`;
#   4. a workbench screenshot (`--screenshot`) when an X server can be had (xvfb-run).
#
# It uses the binaries carried in device-bin/ (`vitscope`, and `it`, the integration tests) and
# the reference fixtures carried in device-bin/fixtures/reference; without them it builds with
# cargo. README's "A GPU check" says how to prepare and run it.
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

BIN=device-bin/vitscope
TESTS=device-bin/it
if [ ! -x "$BIN" ] || [ ! -x "$TESTS" ]; then
    step "building (no carried binaries in device-bin/)"
    cargo test --release --no-run >"$OUT/build.txt" 2>&1
    ok build $?
    BIN=${CARGO_TARGET_DIR:-target}/release/vitscope
    TESTS=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/it-* 2>/dev/null | grep -v '\.d$' | head -1)
fi
if [ -d device-bin/fixtures/reference ]; then
    export VITSCOPE_REFERENCE=$PWD/device-bin/fixtures/reference
fi
"$BIN" --version | tee -a "$summary"

step "wgpu parity tests on the hardware adapter"
timeout 300 "$TESTS" --test-threads 1 \
    model::wgpu_model metrics::parity_metrics metrics::shader_validation \
    app::gui::the_display_device_runs_burn >"$OUT/tests.txt" 2>&1
ok tests $?
grep -E "^test result|FAILED|panicked" "$OUT/tests.txt" | tee -a "$summary"

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
