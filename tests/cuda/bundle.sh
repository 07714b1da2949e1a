#!/usr/bin/env bash
# Packs what the one-shot GPU check (tests/cuda/device_check.sh) runs into one
# folder that travels to a GPU machine with no apt and no network: the
# CUDA build's ptune-server, ptune-inspect and ptune_cuda_test (stripped),
# the non-torch shared libraries they load (gRPC, abseil, protobuf, ICU,
# SQLite, libpq, ...: Debian 12's, which the machine image lacks), and the
# default backbone with its weights stored as bfloat16 (the fp32 file is
# 87 MiB; every figure the check compares - our fp32/bf16/fp16 forwards and
# the transformers peer - loads these same weights). LibTorch and the NVIDIA
# libraries are NOT packed: the machine's own torch 2.11.0+cu130 (its
# python's site-packages) provides them at run time.
#
#   tests/cuda/bundle.sh [cuda-build-dir] [out-dir]
#
# Defaults: build-cuda/ (deploy/local/dev.sh's CUDA build) and
# build-bundle/ptune-cuda-bundle.tar.xz (ignored by git; name it in the device
# tool's `carry`). Fails if the archive exceeds 60 MiB.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build-cuda}"
OUT="${2:-$ROOT/build-bundle}"
LIMIT_MIB=60
log() { echo "[bundle] $*" >&2; }

binaries=(
  "$BUILD/server/service/ptune-server"
  "$BUILD/server/inspect/ptune-inspect"
  "$BUILD/tests/cuda/ptune_cuda_test"
)
for b in "${binaries[@]}"; do
  [ -x "$b" ] || { log "missing $b: build $BUILD first (PTUNE_WITH_CUDA=ON)"; exit 1; }
done
grep -q "PTUNE_WITH_CUDA:BOOL=ON" "$BUILD/CMakeCache.txt" ||
  { log "$BUILD is not a PTUNE_WITH_CUDA=ON build"; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
dest="$stage/ptune-cuda-bundle"
mkdir -p "$dest/bin" "$dest/lib" "$dest/backbone"

for b in "${binaries[@]}"; do
  strip --strip-unneeded -o "$dest/bin/$(basename "$b")" "$b"
done

# Shared libraries: everything the binaries load except LibTorch, CUDA/NVIDIA
# and the C/C++ runtime, which the GPU machine has (and must be its own).
skip='^(libtorch|libc10|libcaffe2|libgomp|libcu|libnv|libnccl|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libutil\.so|ld-linux|libstdc\+\+|libgcc_s|linux-vdso)'
for b in "${binaries[@]}"; do ldd "$b"; done |
  awk '$2 == "=>" && $3 ~ /^\// { print $1 " " $3 }' | sort -u |
  while read -r name path; do
    if [[ "$name" =~ $skip ]]; then continue; fi
    cp -L "$path" "$dest/lib/$name"
  done

# The backbone: tokenizer and config files as they are, weights in bfloat16.
src="$(ls -d "${PTUNE_BACKBONE_DIR:-}" 2>/dev/null ||
       find "$HOME/.cache/ptune/backbones" -name model.safetensors -printf '%h\n' | head -n1)"
[ -f "$src/model.safetensors" ] || { log "no backbone (set PTUNE_BACKBONE_DIR)"; exit 1; }
find "$src" -maxdepth 1 -type f ! -name model.safetensors -exec cp {} "$dest/backbone/" \;
for d in "$src"/*/; do  # sentence-transformers' pooling folders
  [ -d "$d" ] && cp -r "$d" "$dest/backbone/"
done
"$BUILD/server/inspect/ptune-inspect" convert-weights --dtype bfloat16 \
  --in "$src/model.safetensors" --out "$dest/backbone/model.safetensors"

# bench-serve's request texts: SST-2's dev sentences (../shared/data).
sentences="${PTUNE_SHARED_DATA:-$ROOT/../shared/data}/cls/sst2/dev.tsv"
[ -f "$sentences" ] || { log "no $sentences (set PTUNE_SHARED_DATA)"; exit 1; }
mkdir -p "$dest/data"
cp "$sentences" "$dest/data/sentences.tsv"

cp "$ROOT/tests/cuda/hf_peer_bench.py" "$dest/"
git -C "$ROOT" rev-parse HEAD > "$dest/REVISION" 2>/dev/null || echo unknown > "$dest/REVISION"

mkdir -p "$OUT"
archive="$OUT/ptune-cuda-bundle.tar.xz"
tar -C "$stage" -cf - ptune-cuda-bundle | xz -T0 -6 > "$archive"
size=$(( $(stat -c %s "$archive") / 1024 / 1024 ))
log "$archive: ${size} MiB (unpacked $(du -sm "$dest" | cut -f1) MiB; limit ${LIMIT_MIB} MiB)"
[ "$size" -le "$LIMIT_MIB" ] || { log "the bundle exceeds ${LIMIT_MIB} MiB"; exit 1; }
echo "$archive"
