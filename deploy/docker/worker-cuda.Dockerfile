# msaas-worker-cuda: the worker with the engine built against the official CUDA libtorch, for GPU
# nodes (deploy/k8s/components/gpu-worker). Debian has no CUDA libtorch, so the official zip is
# downloaded at build time (its "shared-with-deps" build carries the CUDA runtime, cuBLAS and
# cuDNN); the host's NVIDIA driver comes in through the NVIDIA container toolkit. Build from the
# repository root:
#   podman build --format docker -f deploy/docker/worker-cuda.Dockerfile -t msaas-worker-cuda:$(cat VERSION) .
# (`make images CUDA=1`). Build arguments:
#   DEBIAN, DEBIAN_SLIM, VERSION, REVISION   as in worker.Dockerfile
#   LIBTORCH_URL / LIBTORCH_SHA256   which libtorch (a cxx11-ABI CUDA build) and its checksum
#   MODEL / MODELS_URL               as in worker.Dockerfile
ARG DEBIAN=debian:12.8
ARG DEBIAN_SLIM=debian:12.8-slim

FROM ${DEBIAN} AS build
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      build-essential cmake ninja-build pkg-config curl unzip ca-certificates \
      libavformat-dev libavcodec-dev libavutil-dev libswresample-dev \
      nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libssl-dev libcurl4-openssl-dev \
      libhiredis-dev libcpp-httplib-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu121/libtorch-cxx11-abi-shared-with-deps-2.1.2%2Bcu121.zip
ARG LIBTORCH_SHA256=""
RUN curl -fsSL -o /tmp/libtorch.zip "$LIBTORCH_URL" \
    && if [ -n "$LIBTORCH_SHA256" ]; then echo "$LIBTORCH_SHA256  /tmp/libtorch.zip" | sha256sum -c -; fi \
    && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip
WORKDIR /src
COPY CMakeLists.txt VERSION ./
COPY include include
COPY src src
COPY bench bench
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DMSAAS_CUDA=ON -DTorch_DIR=/opt/libtorch/share/cmake/Torch \
      -DCMAKE_BUILD_RPATH=/opt/libtorch/lib \
    && cmake --build build --target msaas-worker msaas -j2 \
    && strip build/msaas-worker build/msaas build/msaas-cli

FROM ${DEBIAN_SLIM}
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="msaas-worker-cuda" org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      libavformat59 libavcodec59 libavutil57 libswresample4 libgomp1 \
      libyaml-cpp0.7 libhiredis0.14 libcpp-httplib0.11 zlib1g libcurl4 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/msaas --create-home msaas \
    && install -d -o msaas -g msaas /var/lib/msaas/models /var/lib/msaas/work
COPY --from=build /opt/libtorch/lib /opt/libtorch/lib
COPY --from=build /src/build/msaas-worker /src/build/msaas /src/build/msaas-cli /usr/local/bin/
ENV LD_LIBRARY_PATH=/opt/libtorch/lib \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001
WORKDIR /var/lib/msaas
ENV MSAAS_MODELS=/var/lib/msaas/models MSAAS_WORK_DIR=/var/lib/msaas/work \
    MSAAS_HEARTBEAT_FILE=/tmp/msaas-heartbeat MSAAS_READY_FILE=/tmp/msaas-ready MSAAS_DEVICE=cuda
ARG MODEL=""
ARG MODELS_URL=""
RUN if [ -n "$MODEL" ]; then \
      msaas models pull "$MODEL" ${MODELS_URL:+--url "$MODELS_URL"}; \
    fi
# Healthy while the heartbeat is fresh and the default model is loaded (as in worker.Dockerfile).
HEALTHCHECK --interval=30s --timeout=3s --retries=2 \
  CMD test $(( $(date +%s) - $(stat -c %Y /tmp/msaas-heartbeat) )) -lt 90 && test -f /tmp/msaas-ready || exit 1
ENTRYPOINT ["/usr/local/bin/msaas-worker"]
