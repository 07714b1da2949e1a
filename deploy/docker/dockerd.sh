#!/usr/bin/env bash
# A Docker daemon for development machines without one (root only):
#   deploy/docker/dockerd.sh start   starts dockerd unless one answers (idempotent)
#   deploy/docker/dockerd.sh stop    stops the one this script started
# No bridge and no iptables rules (containers use --network host), state in
# /var/lib/ptune-docker. Needs Debian's docker.io.
set -euo pipefail
DATA=/var/lib/ptune-docker
PIDFILE=/run/ptune-dockerd.pid
case "${1:-}" in
  start)
    if docker info >/dev/null 2>&1; then exit 0; fi
    command -v dockerd >/dev/null || { echo "dockerd missing: apt-get install docker.io" >&2; exit 2; }
    mkdir -p "$DATA"
    dockerd --bridge=none --iptables=false --data-root "$DATA" --pidfile "$PIDFILE" \
      >/tmp/ptune-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && exit 0
      sleep 1
    done
    echo "dockerd did not start (see /tmp/ptune-dockerd.log)" >&2
    exit 1
    ;;
  stop)
    [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
