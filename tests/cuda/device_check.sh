#!/usr/bin/env bash
# The one-shot GPU check, run on a GPU machine from the bundle that
# tests/cuda/bundle.sh makes here (no build, no apt, no network there; the
# machine's python provides torch 2.11.0+cu130 and transformers). Done in
# about 5 minutes on an H100:
#   1. ptune_cuda_test: bf16/fp16 parity with fp32 on the GPU, no host sync
#      in a mixed-batch forward, a training slice or an Engine::Classify;
#   2. bench-forward (ours) and transformers bf16 + SDPA (the peer,
#      hf_peer_bench.py) at batch 256 x 128 tokens, in alternating rounds,
#      and ours with each attention kernel;
#   3. bench-serve on the GPU in bf16 (p50/p99 of short Classify calls, mixed
#      prompts, training share);
# then prints ONE JSON line of figures (also written to $OUT/device_check.json
# when $OUT is set, as the device tool provides).
#
#   tests/cuda/device_check.sh [bundle.tar.xz]
#
# Environment: PTUNE_CHECK_DEVICE (cuda; "cpu" rehearses every step on this
# machine's CPU at small shapes, which is how the script itself is tested),
# PTUNE_CHECK_PYTHON (python3: the one whose site-packages hold torch),
# PTUNE_CHECK_ROUNDS (5).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARCHIVE="${1:-$ROOT/build-bundle/ptune-cuda-bundle.tar.xz}"
DEVICE="${PTUNE_CHECK_DEVICE:-cuda}"
PY="${PTUNE_CHECK_PYTHON:-python3}"
ROUNDS="${PTUNE_CHECK_ROUNDS:-5}"
WORK="$(mktemp -d /tmp/ptune-device-check.XXXXXX)"
RESULTS="$WORK/results"
mkdir -p "$RESULTS"
log() { echo "[device-check $(date +%T)] $*" >&2; }
die() { log "$*"; exit 1; }

[ -f "$ARCHIVE" ] || die "no bundle at $ARCHIVE (tests/cuda/bundle.sh makes it)"
tar -xJf "$ARCHIVE" -C "$WORK" || die "cannot unpack $ARCHIVE"
B="$WORK/ptune-cuda-bundle"
log "bundle of revision $(cat "$B/REVISION"), device $DEVICE"

# LibTorch and the NVIDIA libraries come from the machine's torch wheel
# (its libraries find their nvidia/* siblings through their own RPATH).
TORCH_LIB="$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')" ||
  die "$PY cannot import torch"
export LD_LIBRARY_PATH="$B/lib:$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
missing="$(ldd "$B"/bin/* 2>&1 | grep -E "not found|version .* not found" | sort -u)"
[ -z "$missing" ] || die "unresolved libraries: $missing"
"$PY" -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")' \
  > "$RESULTS/platform.txt" 2>&1 || die "$(cat "$RESULTS/platform.txt")"
log "$(cat "$RESULTS/platform.txt")"
if [ "$DEVICE" = cuda ]; then
  BATCH=256 SEQ=128 SECONDS_PER=2 PHASE=3 PROMPTS=1000
else
  BATCH=8 SEQ=32 SECONDS_PER=0.5 PHASE=0.5 PROMPTS=50  # a rehearsal, not a figure
fi
export PTUNE_BACKBONE_DIR="$B/backbone"

# 1. The CUDA tests (they skip without a GPU).
log "ptune_cuda_test"
timeout 240 "$B/bin/ptune_cuda_test" --gtest_output="json:$RESULTS/cuda_test.json" \
  > "$RESULTS/cuda_test.log" 2>&1
echo $? > "$RESULTS/cuda_test.rc"
tail -n 3 "$RESULTS/cuda_test.log" >&2

# 2. Forward throughput, ours and the peer in alternating rounds.
inspect() {
  local limit="$1"
  shift
  timeout "$limit" "$B/bin/ptune-inspect" "$@" --backbone "$B/backbone" --device "$DEVICE"
}
for round in $(seq 1 "$ROUNDS"); do
  log "forward round $round/$ROUNDS"
  inspect 120 bench-forward --dtype bfloat16 --batch "$BATCH" --seq "$SEQ" --prompt 0 \
    --seconds "$SECONDS_PER" 2>>"$RESULTS/forward.log" | tail -n1 >> "$RESULTS/ours.jsonl"
  timeout 120 "$PY" "$B/hf_peer_bench.py" --backbone "$B/backbone" --device "$DEVICE" \
    --dtype bfloat16 --batch "$BATCH" --seq "$SEQ" --seconds "$SECONDS_PER" \
    2>>"$RESULTS/forward.log" | tail -n1 >> "$RESULTS/peer.jsonl"
done
for attention in sdpa matmul; do
  inspect 120 bench-forward --dtype bfloat16 --attention "$attention" --batch "$BATCH" \
    --seq "$SEQ" --prompt 0 --seconds "$SECONDS_PER" 2>>"$RESULTS/forward.log" |
    tail -n1 >> "$RESULTS/attention.jsonl"
done
inspect 120 bench-forward --dtype float32 --batch "$BATCH" --seq "$SEQ" --prompt 0 \
  --seconds "$SECONDS_PER" 2>>"$RESULTS/forward.log" | tail -n1 > "$RESULTS/fp32.jsonl"

# 3. The serving engine on the device (short SST-2 sentences).
log "bench-serve"
inspect 300 bench-serve --dtype bfloat16 --phase_seconds "$PHASE" --rounds 2 \
  --prompts "$PROMPTS" --sentences "$B/data/sentences.tsv" 2>"$RESULTS/serve.log" |
  tail -n1 > "$RESULTS/serve.json"
echo "${PIPESTATUS[0]}" > "$RESULTS/serve.rc"

summary="$("$PY" - "$RESULTS" <<'EOF'
import json, os, sys
r = sys.argv[1]
def lines(name):
    path = os.path.join(r, name)
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path):
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out
ours, peer = lines("ours.jsonl"), lines("peer.jsonl")
s = {"platform": open(os.path.join(r, "platform.txt")).read().strip()}
tests = lines("cuda_test.json")
s["cuda_test_rc"] = int(open(os.path.join(r, "cuda_test.rc")).read())
if tests:
    t = tests[0]
    s["cuda_tests"] = {"tests": t.get("tests"), "failures": t.get("failures"),
                       "disabled": t.get("disabled")}
if ours and peer:
    best_ours = max(o["seq_per_s"] for o in ours)
    best_peer = max(p["seq_per_s"] for p in peer)
    s["forward"] = {"batch": ours[0]["batch"], "seq": ours[0]["seq"], "dtype": "bfloat16",
                    "ours_seq_per_s": [round(o["seq_per_s"], 1) for o in ours],
                    "peer_seq_per_s": [round(p["seq_per_s"], 1) for p in peer],
                    "best_ours": round(best_ours, 1), "best_peer": round(best_peer, 1),
                    "ratio_best": round(best_ours / best_peer, 3),
                    "ratios_per_round": [round(o["seq_per_s"] / p["seq_per_s"], 3)
                                         for o, p in zip(ours, peer)]}
s["attention"] = {a["attention"]: round(a["seq_per_s"], 1) for a in lines("attention.jsonl")}
fp32 = lines("fp32.jsonl")
if fp32:
    s["forward_fp32_seq_per_s"] = round(fp32[0]["seq_per_s"], 1)
serve = lines("serve.json")
s["serve_rc"] = int(open(os.path.join(r, "serve.rc")).read())
if serve:
    s["serve"] = serve[0]
print(json.dumps(s, sort_keys=True))
EOF
)"
echo "$summary"
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  echo "$summary" > "$OUT/device_check.json"
  cp -r "$RESULTS" "$OUT/results"
fi
