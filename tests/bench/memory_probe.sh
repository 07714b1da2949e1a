#!/usr/bin/env bash
# Peak RSS (VmHWM) of ptune-server while it trains on one uploaded dataset
# (tests/bench/README.md §9). Usage: memory_probe.sh FILE.tsv [SECONDS]
set -euo pipefail
FILE=$1; SECS=${2:-60}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
B=${PTUNE_BACKBONE_DIR:?set PTUNE_BACKBONE_DIR to the backbone folder}
D=$(mktemp -d); od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' > $D/admin.key
$ROOT/build/server/service/ptune-server --backbone_dir=$B --data_dir=$D --admin_key_file=$D/admin.key \
  --listen=127.0.0.1:0 --metrics_listen= > $D/out 2> $D/err &
PID=$!
until grep -q grpc_port $D/out; do sleep 0.2; done
PORT=$(sed -n 's/.*"grpc_port":\([0-9]*\).*/\1/p' $D/out)
export PTUNE_ADDR=127.0.0.1:$PORT PTUNE_API_KEY=$(cat $D/admin.key)
P=$ROOT/build/client/ptune
T=$($P admin create-tenant probe --max_stored_bytes 2000000000 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
K=$($P admin create-key $T --json | python3 -c 'import json,sys; print((lambda d: d.get("apiKey") or d.get("api_key"))(json.load(sys.stdin)))')
export PTUNE_API_KEY=$K
echo "idle VmHWM: $(grep VmHWM /proc/$PID/status)"
DS=$($P datasets upload --name big --task classify --format tsv $FILE --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "after upload: $(grep VmHWM /proc/$PID/status)  $(grep VmRSS /proc/$PID/status)"
$P train --name big --task classify --train_dataset $DS --epochs 1 > /dev/null
sleep $SECS
echo "after ${SECS}s training: $(grep VmHWM /proc/$PID/status)  $(grep VmRSS /proc/$PID/status)"
$P jobs list 2>&1 | tail -2
kill -TERM $PID; wait $PID || true
rm -rf $D
