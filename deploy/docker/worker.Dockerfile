# msaas-worker: takes jobs off the queue and separates them. Also holds `msaas` (and msaas-cli,
# which it starts) for `msaas models pull` in an init container. Build from the repository root
# (`make images`):
#   podman build --format docker -f deploy/docker/worker.Dockerfile -t msaas-worker:$(cat VERSION) .
# Build arguments:
#   DEBIAN, DEBIAN_SLIM  base images of the build stage and of the image (Debian 12)
#   VERSION, REVISION    for the labels
#   MODEL=htdemucs   pre-load a model into the image (/var/lib/msaas/models) at build time;
#                    empty (default): models come from a volume or an init container at run time.
#   MODELS_URL=...   a mirror of the official download root for that pull.
# --format docker keeps the HEALTHCHECK (the OCI format drops it).
ARG DEBIAN=debian:12.8
ARG DEBIAN_SLIM=debian:12.8-slim

FROM ${DEBIAN} AS build
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libtorch-dev libopenblas-dev libopenblas0-openmp \
      libavformat-dev libavcodec-dev libavutil-dev libswresample-dev \
      nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libssl-dev libcurl4-openssl-dev \
      libhiredis-dev libcpp-httplib-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt VERSION ./
COPY include include
COPY src src
COPY bench bench
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && cmake --build build --target msaas-worker msaas -j2 \
    && strip build/msaas-worker build/msaas build/msaas-cli

FROM ${DEBIAN_SLIM}
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="msaas-worker" org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      libtorch1.13 libopenblas0 libopenblas0-openmp libavformat59 libavcodec59 libavutil57 libswresample4 \
      libyaml-cpp0.7 libhiredis0.14 libcpp-httplib0.11 zlib1g libcurl4 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/msaas --create-home msaas \
    && install -d -o msaas -g msaas /var/lib/msaas/models /var/lib/msaas/work
COPY --from=build /src/build/msaas-worker /src/build/msaas /src/build/msaas-cli /usr/local/bin/
USER 10001
WORKDIR /var/lib/msaas
ENV MSAAS_MODELS=/var/lib/msaas/models MSAAS_WORK_DIR=/var/lib/msaas/work \
    MSAAS_HEARTBEAT_FILE=/tmp/msaas-heartbeat MSAAS_READY_FILE=/tmp/msaas-ready
ARG MODEL=""
ARG MODELS_URL=""
RUN if [ -n "$MODEL" ]; then \
      msaas models pull "$MODEL" ${MODELS_URL:+--url "$MODELS_URL"}; \
    fi
# Healthy while the heartbeat file is younger than three leases (90 s at the default lease) and
# the default model is loaded (a worker without its models says so in its log and takes no job).
HEALTHCHECK --interval=30s --timeout=3s --retries=2 \
  CMD test $(( $(date +%s) - $(stat -c %Y /tmp/msaas-heartbeat) )) -lt 90 && test -f /tmp/msaas-ready || exit 1
ENTRYPOINT ["/usr/local/bin/msaas-worker"]
