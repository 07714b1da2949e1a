#!/usr/bin/env bash
# Builds the ptune-server CPU image from the Dockerfile at the repository
# root, tagged ptune:<version> (CMakeLists.txt's project version) and
# ptune:<version>-<git revision>; never "latest".
#
#   deploy/docker/build.sh            build (starts nothing; needs a Docker daemon)
#
# No registry may be reachable: when the debian:12 base image is missing it is
# made locally with debootstrap (--variant=minbase bookworm, from apt's own
# Debian mirror) and `docker import`. The build uses --network host (apt and
# PyPI inside the build). Environment: PTUNE_DOCKER (docker), PTUNE_JOBS
# (compile jobs in the build).
#
# A Docker daemon on a development machine: apt-get install docker.io, then
#   dockerd --bridge=none --iptables=false --data-root /var/lib/ptune-docker &
# (deploy/docker/dockerd.sh start does that).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOCKER="${PTUNE_DOCKER:-docker}"
VERSION="$(sed -n 's/^project(ptune VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
REVISION="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"

log() { echo "[build.sh] $*" >&2; }

if ! "$DOCKER" info >/dev/null 2>&1; then
  log "no Docker daemon answers; start one (deploy/docker/dockerd.sh start)"
  exit 2
fi

# The Debian mirror apt uses here (deb822 or one-line sources).
debian_mirror() {
  local uri
  uri="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | head -n1)"
  [ -n "$uri" ] || uri="$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1)"
  echo "${uri:-http://deb.debian.org/debian}"
}

if ! "$DOCKER" image inspect debian:12 >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || {
    log "debian:12 is not present and debootstrap is missing (apt-get install debootstrap)"
    exit 2
  }
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  log "making the debian:12 base image with debootstrap from $(debian_mirror)"
  debootstrap --variant=minbase bookworm "$rootfs" "$(debian_mirror)" >&2
  tar -C "$rootfs" -c . | "$DOCKER" import - debian:12 >/dev/null
fi

# This machine's local CAs (e.g. an egress proxy's) for apt and pip inside
# the build stage (deploy/docker/extra-ca/README.md).
rm -f "$ROOT"/deploy/docker/extra-ca/*.crt
cp /usr/local/share/ca-certificates/*.crt "$ROOT/deploy/docker/extra-ca/" 2>/dev/null || true

log "building ptune:$VERSION (revision $REVISION)"
start=$(date +%s)
"$DOCKER" build --network host \
  --build-arg VERSION="$VERSION" --build-arg GIT_REVISION="$REVISION" \
  ${PTUNE_JOBS:+--build-arg PTUNE_JOBS="$PTUNE_JOBS"} \
  -t "ptune:$VERSION" -t "ptune:$VERSION-$REVISION" "$ROOT"
log "built ptune:$VERSION and ptune:$VERSION-$REVISION in $(( $(date +%s) - start )) s"
echo "ptune:$VERSION"
