#!/usr/bin/env bash
# Prompt pre-training (issue 15 §3.4), measured through a real ptune-server
# on a loopback port: one deep prompt (the defaults: m = 16, case
# embeddings) pre-trained on CoNLL-2003 (the main task, tagging) with SST-2
# sentences as an auxiliary classification task (auxiliary_tasks), and one
# pre-trained on CoNLL-2003 alone; then WNUT-17 trained on its first N
# training sentences from random init (the default) and from each
# pre-trained prompt (--init_prompt), each selected on WNUT-17's dev set and
# scored on its test set. (Vocabulary and text init apply to shallow
# prompts only; the default prompt is deep.) Everything else is at its
# defaults. Prints one TSV row per run.
#
#   PTUNE_BACKBONE_DIR=... tests/bench/pretraining.sh [N ...]   (default: 200 1000)
#
# Environment: PTUNE_BUILD_DIR (<repo>/build), PTUNE_SHARED_DATA
# (<repo>/../shared/data), PTUNE_BENCH_PORT (8591; the metrics port is the
# next one), PTUNE_PRETRAIN_EPOCHS (2), PTUNE_AUX_SENTENCES (5000 SST-2
# training sentences), PTUNE_BENCH_KEEP=1 keeps the work folder (server log).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${PTUNE_BUILD_DIR:-$ROOT/build}"
DATA="${PTUNE_SHARED_DATA:-$ROOT/../shared/data}"
BACKBONE="${PTUNE_BACKBONE_DIR:?set PTUNE_BACKBONE_DIR to the backbone folder}"
PORT="${PTUNE_BENCH_PORT:-8591}"
PRETRAIN_EPOCHS="${PTUNE_PRETRAIN_EPOCHS:-2}"
AUX_SENTENCES="${PTUNE_AUX_SENTENCES:-5000}"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(200 1000)

for f in "$DATA/ner/conll2003/train.txt" "$DATA/ner/wnut17/train.conll" "$DATA/cls/sst2/train.tsv"; do
  [ -f "$f" ] || { echo "missing $f (../shared/data)" >&2; exit 2; }
done
WORK="$(mktemp -d /tmp/ptune-pretraining.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ "${PTUNE_BENCH_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export PATH="$BUILD/client:$PATH" PTUNE_ADDR="127.0.0.1:$PORT"

log() { echo "[pretraining] $(date +%T) $*" >&2; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
# The first N sentences of a CoNLL file. Sentences end at a line of
# whitespace only (WNUT-17 separates most of its sentences with a tab).
first_sentences() {
  sed 's/^[[:space:]]*$//' "$1" | awk -v n="$2" 'BEGIN { RS = ""; ORS = "\n\n" } NR <= n'
}

tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 40 > "$WORK/admin.key" || true
# No serving traffic: training runs whole batches (no slices) and one job
# at a time, so that each run's wall time is its own.
"$BUILD/server/service/ptune-server" --listen="127.0.0.1:$PORT" \
  --metrics_listen="127.0.0.1:$((PORT + 1))" --data_dir="$WORK" \
  --admin_key_file="$WORK/admin.key" --backbone_dir="$BACKBONE" \
  --training_slice_rows=0 --training_slice_tokens=0 --eval_slice_rows=0 \
  --training_concurrency=1 > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 120); do ptune health > /dev/null 2>&1 && break; sleep 1; done
ptune health > /dev/null

export PTUNE_API_KEY="$(cat "$WORK/admin.key")"
TENANT="$(ptune admin create-tenant bench --json | json_field '["id"]')"
export PTUNE_API_KEY="$(ptune admin create-key "$TENANT" --json | json_field '["apiKey"]')"

upload() {  # NAME TASK FORMAT FILE -> dataset id
  ptune datasets upload --name "$1" --task "$2" --format "$3" "$4" --json | json_field '["id"]'
}
head -n "$((AUX_SENTENCES + 1))" "$DATA/cls/sst2/train.tsv" > "$WORK/sst2.tsv"
CONLL_TRAIN="$(upload conll-train tag conll "$DATA/ner/conll2003/train.txt")"
CONLL_VALID="$(upload conll-valid tag conll "$DATA/ner/conll2003/valid.txt")"
SST2="$(upload sst2-part classify tsv "$WORK/sst2.tsv")"
WNUT_DEV="$(upload wnut-dev tag conll "$DATA/ner/wnut17/dev.conll")"
WNUT_TEST="$(upload wnut-test tag conll "$DATA/ner/wnut17/test.conll")"

train() {  # NAME ARGS... -> prints the job's JSON when it ends
  local name="$1"; shift
  local job
  job="$(ptune train --name "$name" "$@" --json | json_field '["job"]["id"]')"
  ptune jobs watch "$job" > /dev/null 2>&1 || true
  ptune jobs get "$job" --json
}

pretrain() {  # NAME ARGS...
  local name="$1"; shift
  log "pre-training $name: CoNLL-2003 $* ($PRETRAIN_EPOCHS epochs)"
  local start=$(date +%s)
  train "$name" --train_dataset "$CONLL_TRAIN" --valid_dataset "$CONLL_VALID" \
    --epochs "$PRETRAIN_EPOCHS" "$@" > "$WORK/$name.json"
  [ "$(json_field '["state"]' < "$WORK/$name.json")" = JOB_STATE_SUCCEEDED ] \
    || { cat "$WORK/$name.json" >&2; exit 1; }
  log "$name: $(( $(date +%s) - start )) s, CoNLL valid F1 $(json_field '["metrics"]["valid_metric"]' < "$WORK/$name.json")"
}
pretrain multitask --aux_datasets "$SST2"
pretrain conll-only

printf 'wnut17_train_sentences\tinit\tvalid_f1\ttest_f1\tbest_epoch\twall_s\n'
for n in "${SIZES[@]}"; do
  first_sentences "$DATA/ner/wnut17/train.conll" "$n" > "$WORK/wnut-$n.conll"
  part="$(upload "wnut-train-$n" tag conll "$WORK/wnut-$n.conll")"
  for init in random multitask conll-only; do
    flags=()
    [ "$init" = random ] || flags=(--init_prompt "$init")
    start=$(date +%s)
    train "wnut-$n-$init" --train_dataset "$part" --valid_dataset "$WNUT_DEV" \
      --test_dataset "$WNUT_TEST" "${flags[@]}" > "$WORK/run.json"
    [ "$(json_field '["state"]' < "$WORK/run.json")" = JOB_STATE_SUCCEEDED ] \
      || { cat "$WORK/run.json" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$init" \
      "$(json_field '["metrics"]["valid_metric"]' < "$WORK/run.json")" \
      "$(json_field '["metrics"]["test.f1"]' < "$WORK/run.json")" \
      "$(json_field '["metrics"]["best_epoch"]' < "$WORK/run.json")" \
      "$(( $(date +%s) - start ))"
  done
done
