#!/usr/bin/env bash
# Runs a benchmark on a headless NVIDIA machine (EGL through glvnd, no display, Python 3.12):
#   bash benchmarks/on_gpu.sh python3 benchmarks/scene_gpu.py --backend egl-glvnd
# Needs, in the repository: .gl/ with Debian's libegl1, libglvnd0 and libopengl0 .deb files and
# .whl/ with cp312 wheels of moderngl, glcontext and platformdirs (see README, Performance).
set -euo pipefail
mkdir -p /tmp/gl /tmp/pkg
for deb in .gl/*.deb; do dpkg -x "$deb" /tmp/gl; done
export LD_LIBRARY_PATH=/tmp/gl/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
echo '{"file_format_version":"1.0.0","ICD":{"library_path":"/usr/local/nvidia/lib64/libEGL_nvidia.so.0"}}' \
    > /tmp/gl/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/tmp/gl/nvidia_icd.json
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
ln -sfn "$PWD" /tmp/pkg/tidewell
export PYTHONPATH=/tmp/site:/tmp/pkg PYTHONUNBUFFERED=1
"$@"
