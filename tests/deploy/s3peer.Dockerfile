# Test stand-in for MinIO, which cannot be pulled where the tests run: tests/s3peer's s3rver
# behind the front that checks every request's SigV4 signature as MinIO does. Used only by
# tests/deploy; the product's files keep the real MinIO image. Credentials and region come
# from S3PEER_ACCESS_KEY, S3PEER_SECRET_KEY, S3PEER_REGION.
ARG NODE=node:20.18-bookworm-slim
FROM ${NODE}
WORKDIR /peer
COPY tests/s3peer/package.json tests/s3peer/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tests/s3peer/verifying-peer.mjs ./
# uid 1000: what the manifests' MinIO pod runs as.
RUN useradd --uid 1000 --no-create-home s3peer && install -d -o s3peer /data
USER 1000
EXPOSE 9000
ENTRYPOINT ["node", "/peer/verifying-peer.mjs"]
CMD ["--directory", "/data", "--address", "0.0.0.0", "--port", "9000"]
