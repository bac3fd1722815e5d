# Test stand-in for the redis:7 image, which cannot be pulled where the tests run: Debian 12's
# redis-server (7.0), run as the non-root user redis with uid 999 as in the official image (the
# manifests' runAsUser). Used only by tests/deploy; the product's files keep the real image.
ARG DEBIAN=debian:12.8
FROM ${DEBIAN}
RUN groupadd --system --gid 999 redis && useradd --system --uid 999 --gid redis redis \
    && apt-get update -q && apt-get install -y -q --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* && install -d -o redis -g redis /data
# Like the official image, whose build turns protected mode off (the compose file and the
# manifests give redis-server their own arguments, so it cannot be set there).
RUN printf '#!/bin/sh\nexec /usr/bin/redis-server "$@" --protected-mode no\n' \
      > /usr/local/bin/redis-server && chmod 755 /usr/local/bin/redis-server
USER redis
WORKDIR /data
EXPOSE 6379
ENTRYPOINT []
CMD ["redis-server", "--appendonly", "yes", "--dir", "/data"]
