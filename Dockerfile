# ptune-server image: Debian 12, LibTorch (CPU) from Debian with OpenBLAS, the
# default backbone baked in. deploy/docker/build.sh builds it (tags
# ptune:<version> and ptune:<version>-<git revision>, the base image made
# locally when no registry is reachable); tests/image/image_test.sh runs it.
#   docker build --network host -t ptune:0.1.0 .
#   docker run -p 8500:8500 -p 9090:9090 -v ptune-data:/data \
#     -v "$PWD/admin.key:/etc/ptune/admin/key:ro" ptune \
#     --listen=0.0.0.0:8500 --metrics_listen=0.0.0.0:9090 \
#     --store=sqlite:///data/ptune.db --data_dir=/data \
#     --admin_key_file=/etc/ptune/admin/key
# The GPU image (deploy/k8s/overlays/gpu, tag ptune:0.1.0-gpu) needs the
# CUDA build instead (LibTorch 2.11.0+cu130 from PyPI, -DPTUNE_WITH_CUDA=ON
# -DPTUNE_LIBTORCH_DIR=...; README "Building against LibTorch 2.x and
# CUDA"); this file does not build it yet.

# ---------------------------------------------------------------- build
FROM debian:12 AS build
# pipefail: a failing step inside a pipeline fails the build.
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
# Parallel compile jobs; each needs ~1.5 GB of memory. Empty = all cores.
ARG PTUNE_JOBS=
ENV PTUNE_CACHE_DIR=/opt/ptune/cache
WORKDIR /src

# The build machine's local CAs (an egress proxy's; build.sh copies them),
# trusted by apt and pip in this stage only.
COPY deploy/docker/extra-ca/ /usr/local/share/ca-certificates/
# System packages and the backbone first, from dev.sh alone, so that this
# layer survives source changes. dev.sh holds the one package list.
COPY deploy/local/dev.sh deploy/local/dev.sh
RUN deploy/local/dev.sh setup && \
    mkdir -p /opt/ptune && \
    cp -rL "$(find "$PTUNE_CACHE_DIR/backbones" -name model.safetensors -printf '%h' -quit)" \
       /opt/ptune/backbone && \
    rm -rf "$PTUNE_CACHE_DIR"

COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPTUNE_BUILD_TESTS=OFF && \
    cmake --build build -j"${PTUNE_JOBS:-$(nproc)}" \
      --target ptune-server ptune ptune-inspect && \
    mkdir -p /opt/ptune/bin && \
    for b in ptune-server ptune ptune-inspect; do \
      path="$(find build -type f -name "$b" -perm -u+x -print -quit)"; \
      [ -n "$path" ] || { echo "binary $b not built" >&2; exit 1; }; \
      strip --strip-unneeded -o "/opt/ptune/bin/$b" "$path"; \
    done

# The Debian packages that own the shared libraries the binaries load: the
# runtime stage installs exactly these (no -dev packages, no compiler).
RUN for b in /opt/ptune/bin/*; do ldd "$b"; done \
      | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u \
      | while read -r lib; do \
          dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" 2>/dev/null || \
            { echo "no package owns $lib" >&2; exit 1; }; \
        done \
      | cut -d: -f1 | sort -u > /opt/ptune/runtime-packages.txt && \
    cat /opt/ptune/runtime-packages.txt

# ---------------------------------------------------------------- runtime
FROM debian:12
ARG VERSION=dev
ARG GIT_REVISION=unknown
LABEL org.opencontainers.image.title="ptune-server" \
      org.opencontainers.image.description="Multi-tenant prompt-tuning gRPC service over one frozen encoder" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_REVISION}"
COPY --from=build /opt/ptune/runtime-packages.txt /tmp/runtime-packages.txt
# libopenblas0-pthread is named explicitly: without it LibTorch falls back to
# the reference BLAS, 50x slower (PLATFORM-NOTES.md).
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive xargs -a /tmp/runtime-packages.txt \
      apt-get install -y -qq --no-install-recommends libopenblas0-pthread && \
    rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt

COPY --from=build /opt/ptune/bin /opt/ptune/bin
COPY --from=build /opt/ptune/backbone /opt/ptune/backbone

# Same uid/gid as the Kubernetes securityContext (deploy/k8s/base).
RUN groupadd --system --gid 10001 ptune && \
    useradd --system --uid 10001 --gid ptune --home-dir /data --shell /usr/sbin/nologin ptune && \
    mkdir -p /data && chown ptune:ptune /data
VOLUME /data

ENV PATH=/opt/ptune/bin:$PATH \
    PTUNE_BACKBONE_DIR=/opt/ptune/backbone
USER 10001:10001
WORKDIR /data
# gRPC API (with grpc.health.v1) and Prometheus /metrics.
EXPOSE 8500 9090
# The gRPC health service (NOT_SERVING while draining); loading the
# backbone takes a few seconds. Assumes the default --listen port.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["ptune", "health", "--addr=127.0.0.1:8500", "--timeout=4"]
ENTRYPOINT ["ptune-server"]
