# msaas-api: the REST API and page. Built without the engine (-DMSAAS_ENGINE=OFF), so the image
# carries no libtorch and stays small. Build from the repository root (`make images` does this,
# with the version from VERSION and locally made base images where none can be pulled):
#   podman build --format docker -f deploy/docker/api.Dockerfile -t msaas-api:$(cat VERSION) .
# Build arguments: the base images (DEBIAN for the build stage, DEBIAN_SLIM for the image, NODE
# for the page's assets: any Node.js >= 18 with npm), VERSION and REVISION for the labels.
# --format docker keeps the HEALTHCHECK (the OCI format drops it).
ARG DEBIAN=debian:12.8
ARG DEBIAN_SLIM=debian:12.8-slim
ARG NODE=node:20.18-bookworm-slim

# The page's assets, built from web/package-lock.json (wavesurfer.js; no dev dependencies).
FROM ${NODE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY web/build.mjs ./
COPY web/src src
RUN node build.mjs /web/dist

FROM ${DEBIAN} AS build
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libhiredis-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libssl-dev \
      libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt VERSION ./
COPY include include
COPY src src
COPY bench bench
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMSAAS_ENGINE=OFF \
    && cmake --build build --target msaas-api \
    && strip build/msaas-api

FROM ${DEBIAN_SLIM}
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="msaas-api" org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      libhiredis0.14 libcpp-httplib0.11 libcurl4 libssl3 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/msaas --create-home msaas \
    && install -d -o msaas -g msaas /var/lib/msaas/spool
COPY --from=build /src/build/msaas-api /usr/local/bin/msaas-api
COPY --from=web /web/dist /usr/share/msaas/web
USER 10001
WORKDIR /var/lib/msaas
ENV MSAAS_HOST=0.0.0.0 MSAAS_PORT=8080 MSAAS_SPOOL_DIR=/var/lib/msaas/spool \
    MSAAS_WEB_DIR=/usr/share/msaas/web
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/msaas-api"]
