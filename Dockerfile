# ptune image: Debian 12, LibTorch (CPU) from Debian with OpenBLAS, the default
# backbone baked in. Build: docker build -t ptune .
FROM debian:12 AS build
WORKDIR /src
COPY . .
ENV PTUNE_CACHE_DIR=/opt/ptune PTUNE_BUILD_DIR=/src/build
RUN deploy/local/dev.sh build && \
    mkdir -p /opt/ptune/bin && \
    cp build/server/inspect/ptune-inspect /opt/ptune/bin/ && \
    ln -s "$(find /opt/ptune/backbones -name model.safetensors -printf '%h' -quit)" \
       /opt/ptune/default-backbone

FROM debian:12
# Runtime libraries only (the -dev packages pull the shared objects in).
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libtorch1.13 libopenblas0-pthread libgrpc++1.51 libprotobuf32 \
      libabsl20220623 libicu72 libsqlite3-0 && \
    rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/ptune /opt/ptune
ENV PATH=/opt/ptune/bin:$PATH
USER 65534:65534
ENTRYPOINT ["ptune-inspect"]
CMD ["bench-forward", "--backbone", "/opt/ptune/default-backbone", "--seconds", "2"]
