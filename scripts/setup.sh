# Sourced by scripts/test.sh and .ci/run: installs what the tests need, once (each step checks
# first, so a second run installs nothing), and exports the environment they run in.
#
# - Debian packages: lavapipe (software Vulkan) for the wgpu tests, Xvfb and the X11 client
#   libraries for the real window, xdotool and xwd (x11-apps) for the recovery flow driven by X
#   input events, a private Orthanc with its DICOMweb plugin, and dciodvfy (dicom3tools). apt runs
#   through sudo when not root.
# - Python readers that vitscope did not write, for the exports: highdicom (DICOM SEG, with
#   pydicom) and nibabel (NIfTI), into `$VITSCOPE_PYTHON` (default python3).
# - The failing-save tests mount a small tmpfs (root); elsewhere they make a folder immutable
#   with chattr, which also needs root.

need=()
for pkg in mesa-vulkan-drivers libvulkan1 xvfb xauth libx11-6 libx11-xcb1 libxcursor1 libxrandr2 \
    libxi6 libxkbcommon0 libxkbcommon-x11-0 orthanc orthanc-dicomweb dicom3tools xdotool x11-apps; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
PY="${VITSCOPE_PYTHON:-python3}"
if ! "$PY" -c "import highdicom, nibabel, pydicom" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet --disable-pip-version-check "highdicom==0.28.2" "nibabel==5.4.2"
fi
export VITSCOPE_PYTHON="$PY"

# One target dir outside the clone, so a rerun on the same machine is incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vitscope-target}"
# Test processes that open wgpu in-process (the wgpu and kittest tests) load Mesa's Vulkan layers,
# which ask libwayland for a runtime folder; a CI shell has none. The binary copes on its own
# (see `quiet_vulkan_layers`, and the bad-input harness runs it without one).
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
    export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/vitscope-runtime-$(id -u)"
    mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi
