# msaas-api: the REST API and page. Built without the engine (-DMSAAS_ENGINE=OFF), so the image
# carries no libtorch and stays small. Build from the repository root:
#   docker build -f deploy/docker/api.Dockerfile -t msaas-api:0.1.0 .
ARG DEBIAN=debian:12.8

# The page's assets, built from web/package-lock.json (wavesurfer.js; no dev dependencies).
FROM node:20.18-bookworm-slim AS web
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
COPY CMakeLists.txt ./
COPY include include
COPY src src
COPY bench bench
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMSAAS_ENGINE=OFF \
    && cmake --build build --target msaas-api \
    && strip build/msaas-api

FROM ${DEBIAN}-slim
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      libhiredis0.14 libcpp-httplib0.11 libcurl4 libssl3 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/msaas --create-home msaas
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
