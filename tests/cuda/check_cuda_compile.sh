#!/usr/bin/env bash
# Compiles ptune's LibTorch-using libraries and the CUDA test against a
# CUDA-enabled LibTorch with PTUNE_WITH_CUDA=ON, on a machine without a GPU
# (nvcc and the CUDA toolkit must be installed). Not part of CI: the wheel is
# ~900 MB. What it proves: every CUDA code path (server/device, tests/cuda)
# and every file that includes LibTorch compiles against LibTorch 2.x with
# CUDA. It does not link: the PyPI wheels before 2.7 use the pre-C++11
# std::string ABI, which Debian's gRPC/abseil cannot link with; a GPU
# machine builds against a C++11-ABI CUDA LibTorch (see the Dockerfile).
#
#   tests/cuda/check_cuda_compile.sh [build-dir]
#
# Environment: PTUNE_TORCH_CUDA_DIR, a folder holding torch/ from a CUDA
# wheel (default ~/.cache/ptune/torch-cuda; downloaded from PyPI if absent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build-cuda-check}"
TORCH_PARENT="${PTUNE_TORCH_CUDA_DIR:-$HOME/.cache/ptune/torch-cuda}"
WHEEL_VERSION="torch==2.5.1"

if [ ! -f "$TORCH_PARENT/torch/share/cmake/Torch/TorchConfig.cmake" ]; then
  echo "[cuda-check] downloading the $WHEEL_VERSION wheel (CUDA 12) into $TORCH_PARENT" >&2
  mkdir -p "$TORCH_PARENT"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux1_x86_64 \
    --dest "$TORCH_PARENT" "$WHEEL_VERSION"
  (cd "$TORCH_PARENT" && python3 -m zipfile -e torch-*.whl . >/dev/null)
fi
T="$TORCH_PARENT/torch"
[ -f "$T/lib/libtorch_cuda.so" ] || { echo "$T has no libtorch_cuda.so" >&2; exit 1; }
command -v nvcc >/dev/null || { echo "nvcc not found (CUDA toolkit)" >&2; exit 1; }

# The wheel's Torch/Caffe2 configs first; NVTX 3 is header-only in CUDA 13
# (the wheel's config would otherwise ask for CUDA 12's nvToolsExt library).
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPTUNE_WITH_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$T/share/cmake" -Dnvtx3_dir="$(dirname "$(command -v nvcc)")/../include" \
  -DTORCH_LIBRARY="$T/lib/libtorch.so" -Dc10_LIBRARY="$T/lib/libc10.so" >/dev/null
# Static libraries: everything that includes LibTorch, compiled, not linked.
cmake --build "$BUILD" -j "$(nproc)" --target \
  ptune_device ptune_backbone ptune_prompts ptune_training ptune_engine \
  ptune_service
# The CUDA test's object (linking it needs the C++11 ABI, see above).
make -C "$BUILD/tests/cuda" -j "$(nproc)" cuda_serving_test.cc.o
echo "[cuda-check] OK: compiled with PTUNE_WITH_CUDA=ON against the LibTorch in $T" >&2
