#!/usr/bin/env bash
# What an ensemble of 3 prompts gains over its best member (issue 15 §3):
# three deep prompts that differ only in their seed, each trained with the
# same budget, then every member and the ensemble evaluated on the test set
# (`ptune-inspect eval --prompt A,B,C` averages probabilities, as the
# service's Classify/TagEntities `ensemble` field does).
#
#   tests/bench/ensemble_bench.sh BACKBONE_DIR DATA_DIR OUT_DIR
#
# DATA_DIR is ../shared/data. Prints one line per member and the ensemble.
set -euo pipefail
B="$1" D="$2" OUT="$3"
I="${PTUNE_INSPECT:-build/server/inspect/ptune-inspect}"
mkdir -p "$OUT"

run() {  # name task train valid test examples epochs
  local name="$1" task="$2" train="$3" valid="$4" test="$5" n="$6" epochs="$7"
  local members=()
  for seed in 1 2 3; do
    local dir="$OUT/$name-seed$seed"
    "$I" train --backbone "$B" --task "$task" --train "$train" --valid "$valid" \
      --max_train_examples "$n" --epochs "$epochs" --seed "$seed" --out "$dir" \
      > "$dir.train.json" 2> "$dir.train.log"
    echo "$name seed $seed: $("$I" eval --backbone "$B" --prompt "$dir" --data "$test")"
    members+=("$dir")
  done
  local joined
  joined="$(IFS=,; echo "${members[*]}")"
  echo "$name ensemble of 3: $("$I" eval --backbone "$B" --prompt "$joined" --data "$test")"
}

run sst2 classify "$D/cls/sst2/train.tsv" "$D/cls/sst2/dev.tsv" "$D/cls/sst2/test-labeled.tsv" 4000 1
run conll tag "$D/ner/conll2003/train.txt" "$D/ner/conll2003/valid.txt" "$D/ner/conll2003/test.txt" 3000 1
